import {
  type ApnsEnvironment,
  type IdentityStyle,
  isProviderId,
  type Registration,
  ROUTE_STATE_LIMITS,
  type RouteState,
} from "../domain/registration";

/**
 * Version of the stored registration record. 2: REST registrations carry `origin`, and the publish
 * secret is no longer stored (`secured` says whether one is required; it is derived from the server key).
 * Records of version 1 are not read: they held secrets in clear (docs/storage.md).
 */
export const REGISTRATION_VERSION = 2;

/** The stored form of a registration, the same in every backend (docs/storage.md). */
export function encodeRegistration(registration: Registration): string {
  const { node, origin, domain, style, provider, account, device, muc, secured, token, voipToken, app } = registration;
  const { environment, route, createdAt, tokenUpdatedAt } = registration;
  return JSON.stringify({
    v: REGISTRATION_VERSION,
    node,
    origin,
    domain,
    style,
    provider,
    account,
    device,
    muc,
    secured,
    token,
    voipToken,
    app,
    environment,
    route,
    createdAt,
    tokenUpdatedAt,
  });
}

type JsonRecord = Readonly<Record<string, unknown>>;

function parseRecord(text: string | null | undefined): JsonRecord | undefined {
  if (text === null || text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonRecord) : undefined;
}

/** Missing or a string: `undefined` stands for "absent", `null` for "present but not a string". */
function optionalString(record: JsonRecord, name: string): string | undefined | null {
  const value = record[name];
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : null;
}

function requiredString(record: JsonRecord, name: string): string | undefined {
  const value = record[name];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

function timestamp(record: JsonRecord, name: string): number | undefined {
  const value = record[name];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

const ROUTE_KEY = /^[A-Za-z][A-Za-z0-9]*$/;

/** A route's state: absent, a small object of strings, or `null` when it is anything else. */
function routeState(record: JsonRecord): RouteState | undefined | null {
  const value = record.route;
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const entries = Object.entries(value);
  if (entries.length > ROUTE_STATE_LIMITS.entries) return null;
  const state: Record<string, string> = {};
  for (const [key, text] of entries) {
    // Keys are the route's own identifiers; anything else (`__proto__`) is not a record it wrote.
    if (!ROUTE_KEY.test(key) || key.length > ROUTE_STATE_LIMITS.keyLength || typeof text !== "string") return null;
    if (text.length > ROUTE_STATE_LIMITS.valueLength) return null;
    state[key] = text;
  }
  return state;
}

function isStyle(value: unknown): value is IdentityStyle {
  return value === "token" || value === "device";
}

function isEnvironment(value: unknown): value is ApnsEnvironment {
  return value === "production" || value === "sandbox";
}

/**
 * A stored registration, or `undefined` when it is missing, corrupt, of another version or (when
 * `node` is given) of another node: a store never hands on a record it cannot vouch for.
 */
export function decodeRegistration(text: string | null | undefined, node?: string): Registration | undefined {
  const record = parseRecord(text);
  if (record === undefined || record.v !== REGISTRATION_VERSION) return undefined;
  const storedNode = requiredString(record, "node");
  if (storedNode === undefined || (node !== undefined && storedNode !== node)) return undefined;
  const { style, provider, environment, origin, secured } = record;
  const account = requiredString(record, "account");
  const device = requiredString(record, "device");
  const token = requiredString(record, "token");
  const app = requiredString(record, "app");
  const createdAt = timestamp(record, "createdAt");
  const tokenUpdatedAt = timestamp(record, "tokenUpdatedAt");
  const muc = optionalString(record, "muc");
  const voipToken = optionalString(record, "voipToken");
  const route = routeState(record);
  const domain = optionalString(record, "domain");
  if (!isStyle(style) || !isProviderId(provider) || typeof secured !== "boolean") return undefined;
  if (origin !== undefined && origin !== "rest") return undefined;
  if (environment !== undefined && !isEnvironment(environment)) return undefined;
  if (account === undefined || device === undefined || token === undefined || app === undefined) return undefined;
  if (createdAt === undefined || tokenUpdatedAt === undefined) return undefined;
  if (muc === null || voipToken === null || route === null || domain === null || domain === "") return undefined;
  return {
    style,
    provider,
    account,
    device,
    ...(muc === undefined ? {} : { muc }),
    ...(origin === undefined ? {} : { origin }),
    ...(domain === undefined ? {} : { domain }),
    node: storedNode,
    secured,
    token,
    ...(voipToken === undefined ? {} : { voipToken }),
    app,
    ...(environment === undefined ? {} : { environment }),
    ...(route === undefined ? {} : { route }),
    createdAt,
    tokenUpdatedAt,
  };
}
