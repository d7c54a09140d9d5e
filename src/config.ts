import type { ApnsEnvironment, ProviderId } from "./domain/registration";

/** A configuration variable that is set but unusable. Start-up stops with its message. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`configuration: ${variable} ${problem}`);
    this.name = "ConfigError";
  }
}

/** How a provider is reached. */
export type ProviderRoute = "direct" | "sns";

/**
 * How one provider reads its settings (docs/architecture.md section 4.1): from the single-app variables
 * of the default app, and from its part of an `APPS` entry. Each provider's descriptor has one; the
 * configuration stores what it returns and hands it back to the same descriptor.
 */
export interface ProviderConfigReader {
  readonly id: ProviderId;
  /** The default app's settings, or undefined when none of its variables is set. */
  fromEnvironment(env: ConfigSource): object | undefined;
  /** Its settings in an `APPS` entry (the variables give what every app shares, such as endpoints). */
  fromAppsEntry(entry: Readonly<Record<string, unknown>>, appId: string, env: ConfigSource): object | undefined;
}

/** One app on the gateway: its id and the settings of each provider it configures, by provider id. */
export interface AppConfig {
  readonly id: string;
  readonly settings: ReadonlyMap<ProviderId, object>;
}

/** Bounds on what callers may make the gateway keep and do (docs/security.md). */
export interface GatewayLimits {
  /** Live XMPP registrations one account may have (`MAX_REGISTRATIONS_PER_ACCOUNT`). */
  readonly registrationsPerAccount: number;
  /** Live REST registrations one app's API credential may have (`MAX_REST_REGISTRATIONS_PER_APP`). */
  readonly restRegistrationsPerApp: number;
  /** Requests per minute one client may make on the unauthenticated routes (`RATE_LIMIT_PER_MINUTE`). */
  readonly ratePerMinute: number;
  /** How long a deleted node is remembered as deleted (`TOMBSTONE_TTL_SECONDS`). */
  readonly tombstoneTtlSeconds: number;
}

/** The whole configuration, parsed once at start-up (docs/protocol.md section 8). */
export interface GatewayConfig {
  readonly pushJid: string;
  readonly gatewayToken?: string;
  /** Bearer token of `GET /metrics` on Node (`METRICS_TOKEN`); without it that route answers `404`. */
  readonly metricsToken?: string;
  /** Key for nodes that prove their mint time (docs/protocol.md section 5). */
  readonly nodeMacKey?: string;
  /**
   * The server key (`SERVER_KEY`): publish secrets are derived from it and the node, so the store alone
   * reveals none. A runtime without one supplies its own (see `buildGateway`).
   */
  readonly serverKey?: string;
  /** REST API credentials by app id (`REST_API_KEYS`); empty: REST registration is off. */
  readonly restKeys: ReadonlyMap<string, string>;
  /** Proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`, Node only). */
  readonly trustedProxies: readonly string[];
  readonly limits: GatewayLimits;
  readonly apps: ReadonlyMap<string, AppConfig>;
  readonly defaultApp: string;
  readonly maxBodyBytes: number;
}

/** The environment as each runtime hands it over: strings, or JSON values from wrangler.toml `[vars]`. */
export type ConfigSource = Readonly<Record<string, unknown>>;

export const DEFAULT_APP = "default";
const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
/** RFC 6120 stanzas stay small; more only buys a hostile sender parsing time (docs/security.md). */
export const MAX_MAX_BODY_BYTES = 256 * 1024;
/** Shortest key material accepted for `SERVER_KEY` and `REST_API_KEYS` (characters). */
export const MIN_KEY_LENGTH = 32;
/**
 * A tombstone must outlive the window in which an absent node still counts as "just minted"
 * (two minutes, `RECENT_MINT_MS`) plus KV's propagation (60 s), or "deleted" could read as "not yet visible".
 */
export const MIN_TOMBSTONE_TTL_SECONDS = 180;

/** The defaults of {@link GatewayLimits}, stated in docs/security.md. */
export const DEFAULT_LIMITS: GatewayLimits = {
  registrationsPerAccount: 100,
  restRegistrationsPerApp: 100_000,
  ratePerMinute: 60,
  tombstoneTtlSeconds: 24 * 60 * 60,
};
/** Whether `value` can be the push service's JID: a domain, no local part or resource (docs/protocol.md 8). */
export function isDomainJid(value: string): boolean {
  return /^[^\s@/"&'<>:]+$/.test(value);
}

/** A helper of the provider config readers (src/providers/<id>/config.ts). */
export function optionalString(env: ConfigSource, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new ConfigError(name, "must be a string");
  return value;
}

/** A helper of the provider config readers (src/providers/<id>/config.ts). */
export function jsonValue(env: ConfigSource, name: string): unknown {
  const value = env[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new ConfigError(name, "is not valid JSON");
  }
}

/** A helper of the provider config readers (src/providers/<id>/config.ts). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A helper of the provider config readers (src/providers/<id>/config.ts). */
export function requireField(record: Record<string, unknown>, field: string, variable: string): string {
  const value = record[field];
  if (typeof value !== "string" || value.trim() === "") throw new ConfigError(variable, `has no ${field}`);
  return value;
}

/** A helper of the provider config readers (src/providers/<id>/config.ts). */
export function parseUrl(value: string, variable: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(variable, "is not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConfigError(variable, "must be an http(s) URL");
  return value.replace(/\/+$/, "");
}

/** A helper of the provider config readers (src/providers/<id>/config.ts). */
export function parseEnvironment(value: unknown, variable: string): ApnsEnvironment {
  if (value === undefined || value === null || value === "") return "production";
  if (value === "production" || value === "sandbox") return value;
  throw new ConfigError(variable, "must be production or sandbox");
}

/** A helper of the provider config readers (src/providers/<id>/config.ts). */
export function parseRoute(env: ConfigSource, name: string): ProviderRoute {
  const value = optionalString(env, name) ?? "direct";
  if (value === "direct" || value === "sns") return value;
  throw new ConfigError(name, "must be direct or sns");
}

/** The PEM label of an unencrypted PKCS #8 key (RFC 7468 section 10), as Apple's .p8 files and Google's service accounts have it. */
const PKCS8_LABEL = "PRIVATE KEY";
const PEM_PRIVATE_KEY = new RegExp(
  `-----BEGIN ${PKCS8_LABEL}-----\\s*([A-Za-z0-9+/=\\s]+?)\\s*-----END ${PKCS8_LABEL}-----`,
);

/** Checks that a PEM holds a PKCS #8 private key whose base64 decodes; the provider imports it. */
/** A helper of the provider config readers (src/providers/<id>/config.ts). */
export function checkPkcs8(pem: string, variable: string): string {
  const normalized = pem.replace(/\\n/g, "\n");
  const match = PEM_PRIVATE_KEY.exec(normalized);
  if (!match?.[1]) throw new ConfigError(variable, `is not a PKCS #8 PEM private key (BEGIN ${PKCS8_LABEL})`);
  try {
    atob(match[1].replace(/\s+/g, ""));
  } catch {
    throw new ConfigError(variable, "has a private key whose base64 does not decode");
  }
  return normalized;
}

function parseAppsEntry(
  entry: unknown,
  index: number,
  env: ConfigSource,
  readers: readonly ProviderConfigReader[],
): AppConfig {
  if (!isRecord(entry)) throw new ConfigError("APPS", `entry ${index} is not an object`);
  const id = entry.id;
  if (typeof id !== "string" || !/^[A-Za-z0-9._-]{1,100}$/.test(id))
    throw new ConfigError("APPS", `entry ${index} needs an id of letters, digits, '.', '_' or '-'`);
  const settings = new Map<ProviderId, object>();
  for (const reader of readers) {
    const read = reader.fromAppsEntry(entry, id, env);
    if (read !== undefined) settings.set(reader.id, read);
  }
  return { id, settings };
}

/**
 * Parses the configuration of docs/protocol.md section 8 once, at start-up. A variable that is set but
 * invalid throws a {@link ConfigError} naming it; an unset provider is simply not offered.
 */
export function parseConfig(env: ConfigSource, readers: readonly ProviderConfigReader[]): GatewayConfig {
  const pushJid = optionalString(env, "PUSH_JID") ?? "push.localhost";
  if (!isDomainJid(pushJid)) throw new ConfigError("PUSH_JID", "must be a domain JID such as push.example.net");
  const defaults = new Map<ProviderId, object>();
  for (const reader of readers) {
    const read = reader.fromEnvironment(env);
    if (read !== undefined) defaults.set(reader.id, read);
  }
  const apps = new Map<string, AppConfig>();
  apps.set(DEFAULT_APP, { id: DEFAULT_APP, settings: defaults });
  const list = jsonValue(env, "APPS");
  if (list !== undefined) {
    if (!Array.isArray(list)) throw new ConfigError("APPS", "must be a JSON array");
    list.forEach((entry, index) => {
      const app = parseAppsEntry(entry, index, env, readers);
      if (app.id !== DEFAULT_APP && apps.has(app.id)) throw new ConfigError("APPS", `repeats the id ${app.id}`);
      const base = apps.get(app.id);
      // An APPS entry named "default" fills in what the single-app variables left unset.
      apps.set(app.id, base ? { id: app.id, settings: new Map([...base.settings, ...app.settings]) } : app);
    });
  }
  const maxBodyBytes = integerSetting(env, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024, MAX_MAX_BODY_BYTES);
  const nodeMacKey = optionalString(env, "NODE_MAC_KEY");
  if (nodeMacKey !== undefined && nodeMacKey.length < 16)
    throw new ConfigError("NODE_MAC_KEY", "must have at least 16 characters");
  const serverKey = optionalString(env, "SERVER_KEY");
  if (serverKey !== undefined && serverKey.length < MIN_KEY_LENGTH)
    throw new ConfigError("SERVER_KEY", `must have at least ${MIN_KEY_LENGTH} characters`);
  const gatewayToken = optionalString(env, "GATEWAY_TOKEN");
  const metricsToken = optionalString(env, "METRICS_TOKEN");
  if (metricsToken !== undefined && (metricsToken.length < MIN_KEY_LENGTH || /\s/.test(metricsToken)))
    throw new ConfigError("METRICS_TOKEN", `must be at least ${MIN_KEY_LENGTH} characters, no spaces`);
  return {
    pushJid: pushJid.toLowerCase(),
    ...(gatewayToken !== undefined ? { gatewayToken } : {}),
    ...(metricsToken !== undefined ? { metricsToken } : {}),
    ...(nodeMacKey !== undefined ? { nodeMacKey } : {}),
    ...(serverKey !== undefined ? { serverKey } : {}),
    restKeys: parseRestKeys(env, apps),
    trustedProxies: parseTrustedProxies(env),
    limits: {
      registrationsPerAccount: integerSetting(
        env,
        "MAX_REGISTRATIONS_PER_ACCOUNT",
        DEFAULT_LIMITS.registrationsPerAccount,
        1,
        100_000,
      ),
      restRegistrationsPerApp: integerSetting(
        env,
        "MAX_REST_REGISTRATIONS_PER_APP",
        DEFAULT_LIMITS.restRegistrationsPerApp,
        1,
        100_000_000,
      ),
      ratePerMinute: integerSetting(env, "RATE_LIMIT_PER_MINUTE", DEFAULT_LIMITS.ratePerMinute, 1, 1_000_000),
      tombstoneTtlSeconds: integerSetting(
        env,
        "TOMBSTONE_TTL_SECONDS",
        DEFAULT_LIMITS.tombstoneTtlSeconds,
        MIN_TOMBSTONE_TTL_SECONDS,
        365 * 24 * 60 * 60,
      ),
    },
    apps,
    defaultApp: DEFAULT_APP,
    maxBodyBytes,
  };
}

/** An integer variable within `[min, max]`, or `fallback` when unset. */
function integerSetting(env: ConfigSource, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === null || raw === "") return fallback;
  const value = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new ConfigError(name, `must be an integer from ${min} to ${max}`);
  return value;
}

/**
 * `REST_API_KEYS`: a JSON object from app id to that app's REST credential. REST registration is off
 * without it (docs/protocol.md section 2, "Ownership"); each key names an app of `APPS` or `default`.
 */
function parseRestKeys(env: ConfigSource, apps: ReadonlyMap<string, AppConfig>): ReadonlyMap<string, string> {
  const value = jsonValue(env, "REST_API_KEYS");
  const keys = new Map<string, string>();
  if (value === undefined) return keys;
  if (!isRecord(value)) throw new ConfigError("REST_API_KEYS", 'must be a JSON object such as {"default": "KEY"}');
  const seen = new Set<string>();
  for (const [app, key] of Object.entries(value)) {
    if (!apps.has(app)) throw new ConfigError("REST_API_KEYS", `names an unknown app ${app.slice(0, 64)}`);
    if (typeof key !== "string" || key.length < MIN_KEY_LENGTH || /\s/.test(key))
      throw new ConfigError("REST_API_KEYS", `key of ${app} must be at least ${MIN_KEY_LENGTH} characters, no spaces`);
    if (seen.has(key)) throw new ConfigError("REST_API_KEYS", "gives two apps the same key");
    seen.add(key);
    keys.set(app, key);
  }
  return keys;
}

/** `TRUSTED_PROXIES`: comma-separated IP addresses whose `X-Forwarded-For` is believed. */
function parseTrustedProxies(env: ConfigSource): readonly string[] {
  const value = optionalString(env, "TRUSTED_PROXIES");
  if (value === undefined) return [];
  const list = value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const entry of list)
    if (!/^[0-9.]+$/.test(entry) && !/^[0-9A-Fa-f:.]+$/.test(entry))
      throw new ConfigError("TRUSTED_PROXIES", `has ${entry.slice(0, 64)}, which is not an IP address`);
  return list.map((entry) => entry.toLowerCase());
}
