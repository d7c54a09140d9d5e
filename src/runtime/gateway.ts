import type { Hono } from "hono";
import { ConfigError, type ConfigSource, type GatewayConfig } from "../config";
import { failure, type Result, success } from "../domain/result";
import { type GatewayDeps, realSleep, webCryptoRandomBytes } from "../gateway/deps";
import { createKeyring } from "../gateway/keys";
import { type AppOptions, createApp } from "../http/app";
import type { Logger } from "../log";
import type { CredentialCache, HttpTransport } from "../ports";
import { type Metrics, NO_METRICS } from "../ports/metrics";
import type { RegistrationStore } from "../ports/store";
import { countTokenMints, createProviderDirectory, MemoryCredentialCache, parseGatewayConfig } from "../providers";
import type { SnsRouteFactory } from "../providers/descriptor";
import { countStoreFailures } from "../store/counted-store";

/** What a runtime adapter supplies: where registrations live, how providers are reached, where logs go. */
export interface RuntimeParts {
  readonly store: (config: GatewayConfig) => RegistrationStore;
  readonly transport: HttpTransport;
  readonly log: Logger;
  readonly credentials?: CredentialCache;
  /**
   * Where the counters and histograms of docs/operations.md go: Prometheus on Node, a batch written per
   * request (Workers) or per invocation (Lambda); default {@link NO_METRICS}. The store's failures and
   * the providers' token mints are counted here too.
   */
  readonly metrics?: Metrics;
  readonly now?: () => number;
  /**
   * The server key when `SERVER_KEY` is unset: a runtime that can keep one safely supplies it (a key file
   * beside the SQLite store, a random key for a store that dies with the process); Workers cannot.
   */
  readonly serverKey?: (config: GatewayConfig) => string;
  /** Per-client limits of the unauthenticated routes (built from the parsed configuration). */
  readonly http?: (config: GatewayConfig) => AppOptions;
  /**
   * The SNS delivery route, from entries that offer it (`APNS_VIA=sns`, `FCM_VIA=sns`): built over the
   * store, whose ledger counts who uses each platform endpoint. Without it, `sns` stops start-up.
   */
  readonly sns?: (store: RegistrationStore, log: Logger) => SnsRouteFactory;
}

/** A gateway ready to serve: its app and the dependencies behind it. */
export interface Gateway {
  readonly app: Hono;
  readonly deps: GatewayDeps;
}

/**
 * Builds the gateway from configuration the same way on every runtime: parse the variables once
 * (a bad one throws a ConfigError naming it), import the provider keys, wire the use cases.
 */
export async function buildGateway(source: ConfigSource, parts: RuntimeParts): Promise<Gateway> {
  const config = parseGatewayConfig(source);
  const now = parts.now ?? Date.now;
  const serverKey = config.serverKey ?? parts.serverKey?.(config);
  if (serverKey === undefined)
    throw new ConfigError("SERVER_KEY", "is missing: set it to a random secret of at least 32 characters");
  const metrics = parts.metrics ?? NO_METRICS;
  const store = countStoreFailures(parts.store(config), metrics);
  const sns = parts.sns?.(store, parts.log);
  const providers = await createProviderDirectory(config, {
    transport: parts.transport,
    credentials: countTokenMints(parts.credentials ?? new MemoryCredentialCache(now), metrics),
    now,
    ...(sns !== undefined ? { sns } : {}),
  });
  const deps: GatewayDeps = {
    config,
    store,
    providers,
    keys: createKeyring(serverKey),
    log: parts.log,
    metrics,
    now,
    randomBytes: webCryptoRandomBytes,
    sleep: realSleep,
  };
  return { app: createApp(deps, parts.http?.(config) ?? {}), deps };
}

/** Copies a runtime's environment object into a plain record for {@link parseGatewayConfig}. */
export function configSource(env: object): ConfigSource {
  const source: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) source[name] = value;
  return source;
}

/**
 * Builds once per isolate or container and remembers the outcome: a {@link ConfigError} is logged once
 * and kept (every request then answers 500 naming the variable); any other failure (a secret store
 * that did not answer) is thrown and the next request tries again.
 */
export function buildOnce<T>(build: () => Promise<T>, log: Logger): () => Promise<Result<T, ConfigError>> {
  let built: Promise<Result<T, ConfigError>> | undefined;
  const attempt = async (): Promise<Result<T, ConfigError>> => {
    try {
      return success(await build());
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      log.log("error", "configuration-error", { variable: error.variable, detail: error.message });
      return failure(error);
    }
  };
  return async () => {
    built ??= attempt();
    try {
      return await built;
    } catch (error) {
      built = undefined;
      throw error;
    }
  };
}
