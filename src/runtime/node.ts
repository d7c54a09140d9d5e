import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import { getRequestListener, type ServerType } from "@hono/node-server";
import { ConfigError, type GatewayConfig, MIN_KEY_LENGTH } from "../config";
import { jsonLogger, type Logger } from "../log";
import type { RegistrationStore } from "../ports/store";
import { createSnsRoute } from "../providers/sns/route";
import { MemoryRegistrationStore } from "../store/memory";
import { buildGateway, configSource, type Gateway } from "./gateway";
import { Http2Transport } from "./http2-transport";
import { LineBuffer } from "./line-buffer";
import { MemoryRateLimiter } from "./memory-rate-limiter";
import { nodeClientAddress } from "./node-client-address";
import { nodeXmppHandler } from "./node-xmpp";
import { PrometheusMetrics } from "./prometheus-metrics";
import { snsClientsFromEnv } from "./sns-sdk";
import { SqliteRegistrationStore } from "./sqlite-store";

/** Where the Node server listens unless `PORT` / `HOST` say otherwise. */
export const DEFAULT_PORT = 8788;
export const DEFAULT_HOST = "127.0.0.1";
/** How long a shutdown waits for requests in flight before closing their connections. */
export const SHUTDOWN_GRACE_MS = 10_000;
/** Open connections the Node server holds at most unless `MAX_CONNECTIONS` says otherwise. */
export const DEFAULT_MAX_CONNECTIONS = 1024;

/** How long the Node server waits for a client (slow clients must not hold connections open). */
export interface NodeServerTimeouts {
  /** Until the request's headers are in. */
  readonly headersMs: number;
  /** Until the whole request (headers and body) is in: above the 25 s publish bound, so never cuts one. */
  readonly requestMs: number;
  /** An idle keep-alive connection between requests. */
  readonly keepAliveMs: number;
}

export const DEFAULT_TIMEOUTS: NodeServerTimeouts = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 };

export interface NodeGatewayOptions {
  /** The variables of docs/protocol.md section 8 plus `PORT` and `HOST`; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Overrides `PORT` (0 picks a free port). */
  readonly port?: number;
  /** Overrides `HOST`. */
  readonly hostname?: string;
  /** The providers' HTTP/2 transport; default a new {@link Http2Transport}. Closed with the gateway. */
  readonly transport?: Http2Transport;
  readonly log?: Logger;
  /** Overrides {@link DEFAULT_TIMEOUTS} (tests use short ones). */
  readonly timeouts?: Partial<NodeServerTimeouts>;
  /** The gateway's metrics, served by `GET /metrics` when `METRICS_TOKEN` is set; default a new registry. */
  readonly metrics?: PrometheusMetrics;
}

/** A gateway listening on Node. */
export interface RunningNodeGateway {
  readonly gateway: Gateway;
  readonly transport: Http2Transport;
  /** What `GET /metrics` serves (docs/operations.md section 3). */
  readonly metrics: PrometheusMetrics;
  readonly server: ServerType;
  /** `http://HOST:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections, lets requests in flight finish, closes the HTTP/2 sessions. */
  close(): Promise<void>;
}

/**
 * The registration store of the Node entry: the one place that chooses it. `STORE_PATH` names an
 * SQLite file (created if missing, readable by this user only); without it registrations live in
 * memory, as long as the process. Tombstones expire after `TOMBSTONE_TTL_SECONDS`.
 */
export function createRegistrationStore(
  env: Readonly<Record<string, string | undefined>>,
  config: Pick<GatewayConfig, "limits">,
): RegistrationStore {
  const tombstones = { tombstoneTtlSeconds: config.limits.tombstoneTtlSeconds };
  const path = env.STORE_PATH?.trim();
  if (path === undefined || path === "") return new MemoryRegistrationStore(tombstones);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // SQLite creates -wal and -shm with the database file's mode: 0600 here keeps all three private.
    closeSync(openSync(path, "a", 0o600));
    chmodSync(path, 0o600);
    return new SqliteRegistrationStore(path, tombstones);
  } catch (error) {
    throw new ConfigError(
      "STORE_PATH",
      `cannot be opened as an SQLite file: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/**
 * The server key when `SERVER_KEY` is unset (see `buildGateway`): with an SQLite store, a random key kept
 * in `{STORE_PATH}.key` (created 0600, reused on restart), so that publish secrets survive restarts
 * while the database file alone reveals none; with the memory store, a random key for this process.
 */
export function fallbackServerKey(env: Readonly<Record<string, string | undefined>>): string {
  const path = env.STORE_PATH?.trim();
  const fresh = () => randomBytes(32).toString("base64url");
  if (path === undefined || path === "") return fresh();
  const keyPath = `${path}.key`;
  try {
    const existing = readFileSync(keyPath, "utf8").trim();
    if (existing.length >= MIN_KEY_LENGTH) return existing;
    throw new ConfigError(
      "SERVER_KEY",
      `is unset and ${keyPath} holds a key shorter than ${MIN_KEY_LENGTH} characters`,
    );
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT")
      throw new ConfigError("SERVER_KEY", `is unset and ${keyPath} cannot be read: ${String(error)}`);
  }
  const key = fresh();
  mkdirSync(dirname(keyPath), { recursive: true, mode: 0o700 });
  writeFileSync(keyPath, `${key}\n`, { mode: 0o600, flag: "wx" });
  return key;
}

/** Reads `PORT` (default {@link DEFAULT_PORT}) and `HOST` (default {@link DEFAULT_HOST}). */
export function listenAddress(env: Readonly<Record<string, string | undefined>>): { port: number; hostname: string } {
  const rawPort = env.PORT === undefined || env.PORT === "" ? undefined : env.PORT;
  const port = rawPort === undefined ? DEFAULT_PORT : Number(rawPort);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError("PORT", "must be a port number");
  const hostname = env.HOST === undefined || env.HOST === "" ? DEFAULT_HOST : env.HOST;
  return { port, hostname };
}

/** Reads `MAX_CONNECTIONS` (default {@link DEFAULT_MAX_CONNECTIONS}): open connections held at most. */
export function connectionLimit(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env.MAX_CONNECTIONS?.trim();
  if (raw === undefined || raw === "") return DEFAULT_MAX_CONNECTIONS;
  const limit = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(limit) || limit < 1 || limit > 1_000_000)
    throw new ConfigError("MAX_CONNECTIONS", "must be an integer from 1 to 1000000");
  return limit;
}

interface ListenOptions {
  readonly port: number;
  readonly hostname: string;
  readonly timeouts: NodeServerTimeouts;
  readonly maxConnections: number;
}

/**
 * Serves the app with the server's own limits: Node drops connections past `maxConnections` as they
 * arrive, answers 408 and closes a connection whose headers or request take too long (slow-body
 * clients), and closes idle keep-alive connections.
 * @see https://nodejs.org/docs/latest-v20.x/api/http.html#httpcreateserveroptions-requestlistener
 */
function listen(gateway: Gateway, options: ListenOptions): Promise<{ server: ServerType; port: number }> {
  const { port, hostname, timeouts, maxConnections } = options;
  return new Promise((resolve, reject) => {
    const app = getRequestListener(gateway.app.fetch, { hostname });
    const xmpp = nodeXmppHandler(gateway.deps);
    const server = createServer(
      {
        headersTimeout: timeouts.headersMs,
        requestTimeout: timeouts.requestMs,
        keepAliveTimeout: timeouts.keepAliveMs,
        // Node checks these timeouts on this interval (default 30 s, which would let a slow client
        // hold its connection up to twice requestMs).
        connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(timeouts.headersMs / 4))),
      },
      // `POST /xmpp`, the route of every message, is answered without the web Request/Response layer
      // (src/runtime/node-xmpp.ts); everything else, `/xmpp?…` included, goes to the app.
      (request, response) => {
        if (request.method === "POST" && request.url === "/xmpp") xmpp(request, response);
        else void app(request, response);
      },
    );
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve({ server, port: (server.address() as AddressInfo).port });
    });
    // Set before the first connection is accepted: listen() has only started.
    server.maxConnections = maxConnections;
    server.once("error", reject);
  });
}

function closeServer(server: ServerType): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      if ("closeAllConnections" in server) server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    if ("closeIdleConnections" in server) server.closeIdleConnections();
  });
}

/**
 * Starts the gateway on Node: configuration from the environment through the same
 * {@link buildGateway} as every runtime (a bad variable throws a {@link ConfigError} naming it),
 * providers over {@link Http2Transport} (APNs speaks HTTP/2 only), the store of
 * {@link createRegistrationStore}, served by @hono/node-server.
 * @see https://github.com/honojs/node-server
 */
export async function startNodeGateway(options: NodeGatewayOptions = {}): Promise<RunningNodeGateway> {
  const env = options.env ?? process.env;
  const address = listenAddress(env);
  const port = options.port ?? address.port;
  const hostname = options.hostname ?? address.hostname;
  const maxConnections = connectionLimit(env);
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  // One write per turn of the event loop, flushed on close and at exit (src/runtime/line-buffer.ts).
  const lines = options.log === undefined ? new LineBuffer() : undefined;
  const log = options.log ?? jsonLogger((line) => lines?.write(line));
  const transport = options.transport ?? new Http2Transport();
  const metrics = options.metrics ?? new PrometheusMetrics();
  let gateway: Gateway;
  let listening: { server: ServerType; port: number };
  let store: RegistrationStore | undefined;
  const closeStore = async () => {
    await store?.close();
  };
  try {
    gateway = await buildGateway(configSource(env), {
      store: (config) => {
        store = createRegistrationStore(env, config);
        return store;
      },
      serverKey: () => fallbackServerKey(env),
      transport: transport.fetch,
      metrics,
      sns: (routeStore, routeLog) =>
        createSnsRoute({ client: snsClientsFromEnv(env), ledger: routeStore.endpoints, log: routeLog }),
      log,
      http: (config) => ({
        rateLimiter: new MemoryRateLimiter({ ratePerMinute: config.limits.ratePerMinute }),
        clientAddress: nodeClientAddress(config.trustedProxies),
        metricsExposition: metrics,
      }),
    });
    listening = await listen(gateway, { port, hostname, timeouts, maxConnections });
  } catch (error) {
    await transport.close();
    await closeStore();
    lines?.close();
    throw error;
  }
  const { server } = listening;
  const url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${listening.port}`;
  let closing: Promise<void> | undefined;
  return {
    gateway,
    transport,
    metrics,
    server,
    url,
    port: listening.port,
    close() {
      closing ??= (async () => {
        await closeServer(server);
        await transport.close();
        await closeStore();
        lines?.close();
      })();
      return closing;
    },
  };
}
