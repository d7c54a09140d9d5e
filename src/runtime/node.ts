import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { ConfigError } from "../config";
import { jsonLogger, type Logger } from "../gateway/log";
import { MemoryRegistrationStore } from "../store/memory";
import { SqliteRegistrationStore } from "../store/sqlite";
import type { RegistrationStore } from "../store/store";
import { buildGateway, configSource, type Gateway } from "./gateway";
import { Http2Transport } from "./http2-transport";

/** Where the Node server listens unless `PORT` / `HOST` say otherwise. */
export const DEFAULT_PORT = 8788;
export const DEFAULT_HOST = "127.0.0.1";
/** How long a shutdown waits for requests in flight before closing their connections. */
export const SHUTDOWN_GRACE_MS = 10_000;

export interface NodeGatewayOptions {
  /** The variables of PROTOCOL.md section 8 plus `PORT` and `HOST`; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Overrides `PORT` (0 picks a free port). */
  readonly port?: number;
  /** Overrides `HOST`. */
  readonly hostname?: string;
  /** The providers' HTTP/2 transport; default a new {@link Http2Transport}. Closed with the gateway. */
  readonly transport?: Http2Transport;
  readonly log?: Logger;
}

/** A gateway listening on Node. */
export interface RunningNodeGateway {
  readonly gateway: Gateway;
  readonly transport: Http2Transport;
  readonly server: ServerType;
  /** `http://HOST:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections, lets requests in flight finish, closes the HTTP/2 sessions. */
  close(): Promise<void>;
}

/**
 * The registration store of the Node entry: the one place that chooses it. `STORE_PATH` names an
 * SQLite file (created if missing); without it registrations live in memory, as long as the process.
 */
export function createRegistrationStore(env: Readonly<Record<string, string | undefined>>): RegistrationStore {
  const path = env.STORE_PATH?.trim();
  if (path === undefined || path === "") return new MemoryRegistrationStore();
  try {
    mkdirSync(dirname(path), { recursive: true });
    return new SqliteRegistrationStore(path);
  } catch (error) {
    throw new ConfigError(
      "STORE_PATH",
      `cannot be opened as an SQLite file: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** Reads `PORT` (default {@link DEFAULT_PORT}) and `HOST` (default {@link DEFAULT_HOST}). */
export function listenAddress(env: Readonly<Record<string, string | undefined>>): { port: number; hostname: string } {
  const rawPort = env.PORT === undefined || env.PORT === "" ? undefined : env.PORT;
  const port = rawPort === undefined ? DEFAULT_PORT : Number(rawPort);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError("PORT", "must be a port number");
  const hostname = env.HOST === undefined || env.HOST === "" ? DEFAULT_HOST : env.HOST;
  return { port, hostname };
}

function listen(gateway: Gateway, port: number, hostname: string): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: gateway.app.fetch, port, hostname }, (info: AddressInfo) => {
      server.off("error", reject);
      resolve({ server, port: info.port });
    });
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
  const log = options.log ?? jsonLogger((line) => console.log(line));
  const transport = options.transport ?? new Http2Transport();
  let gateway: Gateway;
  let listening: { server: ServerType; port: number };
  let store: RegistrationStore | undefined;
  const closeStore = () => {
    if (store instanceof SqliteRegistrationStore) store.close();
  };
  try {
    gateway = await buildGateway(configSource(env), {
      store: () => {
        store = createRegistrationStore(env);
        return store;
      },
      transport: transport.fetch,
      log,
    });
    listening = await listen(gateway, port, hostname);
  } catch (error) {
    await transport.close();
    closeStore();
    throw error;
  }
  const { server } = listening;
  const url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${listening.port}`;
  let closing: Promise<void> | undefined;
  return {
    gateway,
    transport,
    server,
    url,
    port: listening.port,
    close() {
      closing ??= (async () => {
        await closeServer(server);
        await transport.close();
        closeStore();
      })();
      return closing;
    },
  };
}
