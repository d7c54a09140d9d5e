export { type BackoffOptions, DEFAULT_BACKOFF, reconnectDelay } from "./backoff";
export { type Bridge, type BridgeObserver, type BridgeOptions, startBridge } from "./bridge";
export {
  type BridgeConfig,
  type BridgeEnv,
  type ComponentConfig,
  parseBridgeConfig,
  parseComponentConfig,
} from "./config";
export { gatewayPoster } from "./gateway-client";
export {
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_RELAY_TIMEOUT_MS,
  type GatewayAnswer,
  type PostStanza,
  Relay,
  type RelayOptions,
  type RelayOutcome,
  type RelayProblem,
  type SendText,
} from "./relay";
export { buildWaitError, domainOf, type IncomingStanza, isIqRequest, type StanzaHead } from "./stanza";
