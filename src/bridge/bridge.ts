import { component, type XmppElement, type XmppStatus } from "@xmpp/component";
import type { Logger } from "../log";
import { type BackoffOptions, DEFAULT_BACKOFF, reconnectDelay } from "./backoff";
import type { ComponentConfig } from "./config";
import { type PostStanza, Relay } from "./relay";
import type { IncomingStanza } from "./stanza";

/** What the bridge reports about its stream, as it happens (`serve` turns it into metrics, docs/operations.md). */
export interface BridgeObserver {
  /** The component is now online (authenticated), or not (at start, and when its stream ends). */
  connection(online: boolean): void;
  /** A reconnection was scheduled after the stream ended or an attempt failed. */
  reconnectScheduled(): void;
}

export interface BridgeOptions {
  readonly config: ComponentConfig;
  readonly log: Logger;
  /** How stanzas reach the gateway: `gatewayPoster()` over HTTP, or in process (`npm run serve`). */
  readonly post: PostStanza;
  /** Gateway time limit per stanza (ms), default 30 s. */
  readonly timeoutMs?: number;
  /** Most stanzas posted at once, default 64. */
  readonly maxInFlight?: number;
  readonly backoff?: BackoffOptions;
  /** How long connecting and authenticating may take before the attempt is dropped (ms), default 10 s. */
  readonly connectTimeoutMs?: number;
  /** How long shutdown waits for stanzas in flight before answering them `wait` (ms), default 10 s. */
  readonly shutdownGraceMs?: number;
  readonly random?: () => number;
  readonly observer?: BridgeObserver;
}

/** A running bridge. */
export interface Bridge {
  /** Whether the component is connected and authenticated right now. */
  readonly online: boolean;
  /** Resolves when the component is online (at once if it is); rejects after `timeoutMs`. */
  waitOnline(timeoutMs?: number): Promise<void>;
  /** Stanzas posted to the gateway and not yet settled. */
  readonly inFlight: number;
  /**
   * Graceful shutdown: stops reconnecting, answers new IQ requests `wait`, finishes (or answers `wait`)
   * the stanzas in flight, then closes the stream.
   */
  stop(): Promise<void>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

function headOf(element: XmppElement): IncomingStanza["head"] {
  const { type, id, from, to } = element.attrs;
  return { name: element.name, type, id, from, to };
}

/**
 * The XEP-0114 component bridge (docs/protocol.md section 1): connects to the XMPP server's component port
 * as the push JID, relays every stanza addressed to it to the gateway and writes the gateway's replies
 * back, reconnecting with capped exponential back-off and jitter.
 * @see https://xmpp.org/extensions/xep-0114.html
 */
export function startBridge(options: BridgeOptions): Bridge {
  const { config, log } = options;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const random = options.random ?? Math.random;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const observer = options.observer;
  observer?.connection(false);
  const xmpp = component({ service: config.service, domain: config.pushJid, password: config.secret });
  // @xmpp/component mounts an IQ callee that answers every IQ request itself (service-unavailable);
  // the bridge relays every stanza, so that listener goes, and so does the fixed-delay reconnect.
  xmpp.removeAllListeners("element");
  xmpp.reconnect.stop();

  const relay = new Relay({
    jid: config.pushJid,
    post: options.post,
    send: async (text) => {
      if (xmpp.status !== "online") throw new Error(`stream is ${xmpp.status}`);
      await xmpp.write(text);
    },
    log,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight }),
  });

  let stopping = false;
  let attempt = 0;
  /** Counts connection attempts, so that a late failure of an abandoned attempt does not end a newer one. */
  let generation = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const onlineWaiters = new Set<() => void>();

  const dropConnection = () => {
    xmpp.disconnect().catch(() => undefined);
  };

  const connect = async () => {
    retryTimer = undefined;
    if (stopping) return;
    attempt += 1;
    generation += 1;
    const current = generation;
    log.log("info", "bridge-connecting", { service: config.service, jid: config.pushJid, attempt });
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      if (xmpp.status === "online" || stopping) return;
      log.log("warn", "bridge-connect-timeout", { status: xmpp.status, timeoutMs: connectTimeoutMs });
      dropConnection();
    }, connectTimeoutMs);
    try {
      await xmpp.connect(config.service);
      await xmpp.open({ domain: config.pushJid });
    } catch (error) {
      if (current !== generation || stopping) return;
      log.log("warn", "bridge-connect-failed", { detail: String(error).slice(0, 200) });
      if (xmpp.status === "disconnect" || xmpp.status === "offline") scheduleReconnect();
      else dropConnection();
    }
  };

  const scheduleReconnect = () => {
    if (stopping || retryTimer !== undefined) return;
    clearTimeout(watchdog);
    const delayMs = reconnectDelay(Math.max(0, attempt - 1), backoff, random);
    log.log("info", "bridge-reconnect-scheduled", { delayMs, attempt });
    observer?.reconnectScheduled();
    retryTimer = setTimeout(() => void connect(), delayMs);
  };

  xmpp.on("status", (status: XmppStatus) => {
    if (status === "online") {
      clearTimeout(watchdog);
      attempt = 0;
      log.log("info", "bridge-online", { jid: config.pushJid });
      observer?.connection(true);
      for (const resolve of onlineWaiters) resolve();
      onlineWaiters.clear();
    } else if (status === "disconnect") {
      log.log(stopping ? "info" : "warn", "bridge-disconnected", { jid: config.pushJid });
      observer?.connection(false);
      scheduleReconnect();
    }
  });
  xmpp.on("error", (error: Error) => {
    log.log("warn", "bridge-stream-error", { detail: error.message.slice(0, 200) });
  });
  xmpp.on("stanza", (element: XmppElement) => {
    void relay.relay({ text: element.toString(), head: headOf(element) });
  });

  void connect();

  return {
    get online() {
      return xmpp.status === "online";
    },
    get inFlight() {
      return relay.inFlight;
    },
    waitOnline(timeoutMs = 30_000) {
      if (xmpp.status === "online") return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          onlineWaiters.delete(done);
          reject(new Error(`bridge not online after ${timeoutMs} ms (status ${xmpp.status})`));
        }, timeoutMs);
        onlineWaiters.add(done);
      });
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      clearTimeout(retryTimer);
      clearTimeout(watchdog);
      log.log("info", "bridge-stopping", { inFlight: relay.inFlight });
      await relay.close(options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
      if (xmpp.status === "online") await xmpp.stop().catch(() => undefined);
      else await xmpp.disconnect().catch(() => undefined);
      log.log("info", "bridge-stopped", {});
    },
  };
}
