import { ConfigError, isDomainJid } from "../config";

/** Where the component connects and as whom (docs/protocol.md section 8). */
export interface ComponentConfig {
  /** The XMPP server's component port, `xmpp://host:port` (port 5347 when left out). */
  readonly service: string;
  /** The component's shared secret (XEP-0114 handshake). */
  readonly secret: string;
  /** The push service's JID, which the bridge connects as. */
  readonly pushJid: string;
}

/** What the stand-alone bridge needs to know: the component, and the gateway it posts to. */
export interface BridgeConfig extends ComponentConfig {
  /** The gateway's base URL, without a trailing slash; stanzas go to `{gatewayUrl}/xmpp`. */
  readonly gatewayUrl: string;
  /** Bearer token for `/xmpp`. */
  readonly gatewayToken: string;
}

/** The environment as Node hands it over. */
export type BridgeEnv = Readonly<Record<string, string | undefined>>;

function required(env: BridgeEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === "") throw new ConfigError(name, "is missing");
  return value;
}

function parseService(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError("XMPP_COMPONENT_SERVICE", "is not a URL such as xmpp://127.0.0.1:5347");
  }
  if (url.protocol !== "xmpp:") throw new ConfigError("XMPP_COMPONENT_SERVICE", "must be an xmpp:// URL");
  if (url.hostname === "") throw new ConfigError("XMPP_COMPONENT_SERVICE", "has no host");
  if (url.pathname !== "" && url.pathname !== "/")
    throw new ConfigError("XMPP_COMPONENT_SERVICE", "must be xmpp://host:port, without a path");
  return `xmpp://${url.host}`;
}

function parseGatewayUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError("GATEWAY_URL", "is not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConfigError("GATEWAY_URL", "must be http(s)");
  if (url.search !== "" || url.hash !== "") throw new ConfigError("GATEWAY_URL", "must not have a query or fragment");
  return value.replace(/\/+$/, "");
}

/**
 * Parses the component's variables: `XMPP_COMPONENT_SERVICE` and `XMPP_COMPONENT_SECRET` are required,
 * `PUSH_JID` defaults to `push.localhost`; a missing or unusable one throws a {@link ConfigError} naming it.
 */
export function parseComponentConfig(env: BridgeEnv): ComponentConfig {
  const service = parseService(required(env, "XMPP_COMPONENT_SERVICE"));
  const secret = required(env, "XMPP_COMPONENT_SECRET");
  const pushJid = env.PUSH_JID?.trim() || "push.localhost";
  if (!isDomainJid(pushJid)) throw new ConfigError("PUSH_JID", "must be a domain JID such as push.example.net");
  return { service, secret, pushJid };
}

/**
 * Parses the stand-alone bridge's variables once, at start-up: the component's, plus `GATEWAY_URL`
 * and `GATEWAY_TOKEN`, both required.
 */
export function parseBridgeConfig(env: BridgeEnv): BridgeConfig {
  const { service, secret, pushJid } = parseComponentConfig(env);
  const gatewayUrl = parseGatewayUrl(required(env, "GATEWAY_URL"));
  const gatewayToken = required(env, "GATEWAY_TOKEN");
  return { service, secret, pushJid, gatewayUrl, gatewayToken };
}
