import { type Bridge, type BridgeObserver, type PostStanza, parseComponentConfig, startBridge } from "../bridge";
import { ConfigError } from "../config";
import { type GatewayDeps, webCryptoRandomBytes } from "../gateway/deps";
import { mintSecret } from "../gateway/tokens";
import { answerXmppText } from "../http/xmpp";
import { jsonLogger, type Logger } from "../log";
import type { Metrics } from "../ports/metrics";
import type { Http2Transport } from "./http2-transport";
import { LineBuffer } from "./line-buffer";
import { type RunningNodeGateway, startNodeGateway } from "./node";

/** Where `npm run serve` keeps its registrations unless `STORE_PATH` says otherwise. */
export const DEFAULT_STORE_PATH = "data/registrations.sqlite";

export interface ServeOptions {
  /** docs/protocol.md section 8 plus `XMPP_COMPONENT_SERVICE`, `XMPP_COMPONENT_SECRET`, `STORE_PATH`, `PORT`, `HOST`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Overrides `PORT` (0 picks a free port). */
  readonly port?: number;
  /** The providers' HTTP/2 transport; default a new one (see {@link startNodeGateway}). Closed with the gateway. */
  readonly transport?: Http2Transport;
  readonly log?: Logger;
}

/** The push service in one process: the gateway (with its HTTP surface) and the component. */
export interface RunningServe {
  readonly gateway: RunningNodeGateway;
  readonly bridge: Bridge;
  close(): Promise<void>;
}

/**
 * Hands each stanza straight to the gateway's use cases: the same answers as `POST /xmpp`, without an
 * HTTP hop (and without its bearer token: nothing leaves the process).
 */
export function inProcessPoster(deps: GatewayDeps): PostStanza {
  return (text) => answerXmppText(deps, text);
}

/** The component's connection as metrics: `xmpp_push_bridge_connected` and its reconnections. */
export function bridgeMetrics(metrics: Metrics): BridgeObserver {
  return {
    connection: (online) => metrics.set("bridgeConnected", {}, online ? 1 : 0),
    reconnectScheduled: () => metrics.count("bridgeReconnects", {}),
  };
}

/**
 * Starts the whole push service for a small self-hosted XMPP server: the Node gateway with its
 * registrations in SQLite (`STORE_PATH`, default {@link DEFAULT_STORE_PATH}) and the XEP-0114 component
 * posting to it in process. A bad variable throws a {@link ConfigError} naming it.
 */
export async function startServe(options: ServeOptions = {}): Promise<RunningServe> {
  const given = options.env ?? process.env;
  // The component needs no HTTP hop; without a configured token, /xmpp over HTTP stays closed
  // behind a random one rather than open to anyone who reaches the port.
  const gatewayToken = given.GATEWAY_TOKEN?.trim() || mintSecret(webCryptoRandomBytes);
  const storePath = given.STORE_PATH?.trim() || DEFAULT_STORE_PATH;
  const env = { ...given, STORE_PATH: storePath, GATEWAY_TOKEN: gatewayToken };
  // One write per turn of the event loop, flushed on close and at exit (src/runtime/line-buffer.ts).
  const lines = options.log === undefined ? new LineBuffer() : undefined;
  const log = options.log ?? jsonLogger((line) => lines?.write(line));
  const component = parseComponentConfig(env);
  const gateway = await startNodeGateway({
    env,
    log,
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.transport !== undefined ? { transport: options.transport } : {}),
  });
  if (gateway.gateway.deps.config.pushJid !== component.pushJid.toLowerCase()) {
    await gateway.close();
    lines?.close();
    throw new ConfigError("PUSH_JID", "differs between the gateway and the component");
  }
  const bridge = startBridge({
    config: component,
    log,
    post: inProcessPoster(gateway.gateway.deps),
    observer: bridgeMetrics(gateway.gateway.deps.metrics),
  });
  let closing: Promise<void> | undefined;
  return {
    gateway,
    bridge,
    close() {
      closing ??= (async () => {
        await bridge.stop();
        await gateway.close();
        lines?.close();
      })();
      return closing;
    },
  };
}
