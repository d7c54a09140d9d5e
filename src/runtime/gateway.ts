import type { Hono } from "hono";
import { type ConfigSource, type GatewayConfig, parseConfig } from "../config";
import { type GatewayDeps, realSleep, webCryptoRandomBytes } from "../gateway/deps";
import type { Logger } from "../gateway/log";
import { createApp } from "../http/app";
import { type CredentialCache, createProviderDirectory, type HttpTransport, MemoryCredentialCache } from "../providers";
import type { RegistrationStore } from "../store/store";

/** What a runtime adapter supplies: where registrations live, how providers are reached, where logs go. */
export interface RuntimeParts {
  readonly store: (config: GatewayConfig) => RegistrationStore;
  readonly transport: HttpTransport;
  readonly log: Logger;
  readonly credentials?: CredentialCache;
  readonly now?: () => number;
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
  const config = parseConfig(source);
  const now = parts.now ?? Date.now;
  const providers = await createProviderDirectory(config, {
    transport: parts.transport,
    credentials: parts.credentials ?? new MemoryCredentialCache(now),
    now,
  });
  const deps: GatewayDeps = {
    config,
    store: parts.store(config),
    providers,
    log: parts.log,
    now,
    randomBytes: webCryptoRandomBytes,
    sleep: realSleep,
  };
  return { app: createApp(deps), deps };
}

/** Copies a runtime's environment object into a plain record for {@link parseConfig}. */
export function configSource(env: object): ConfigSource {
  const source: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) source[name] = value;
  return source;
}
