import {
  type ApnsEnvironment,
  type IdentityStyle,
  identityKey,
  PROVIDER_IDS,
  type ProviderId,
  type Registration,
  type RegistrationIdentity,
} from "./registration";
import type { DeletionReason, NodeLookup, RegistrationStore } from "./store";

/** Options of a KV write: only what this store uses. */
export interface KvPutOptions {
  /** Seconds until KV drops the key; KV refuses less than 60. */
  readonly expirationTtl?: number;
}

/**
 * The part of Cloudflare's `KVNamespace` this store uses, so that the real binding, a wrapper that
 * delays visibility (tests) or an in-memory map all fit.
 * @see https://developers.cloudflare.com/kv/api/
 */
export interface KvLike {
  get(key: string, type: "text"): Promise<string | null>;
  put(key: string, value: string, options?: KvPutOptions): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Options of {@link KvRegistrationStore}. */
export interface KvRegistrationStoreOptions {
  /** Seconds a tombstone lives; at least 60 (KV's minimum). Default {@link DEFAULT_TOMBSTONE_TTL_SECONDS}. */
  readonly tombstoneTtlSeconds?: number;
  /** Prepended to every key, for several stores in one namespace. Default: none. */
  readonly keyPrefix?: string;
  /** Milliseconds since the epoch, written into tombstones. Default `Date.now`. */
  readonly now?: () => number;
}

/** KV refuses an `expirationTtl` below this many seconds. */
export const KV_MIN_EXPIRATION_TTL_SECONDS = 60;

/**
 * 30 days: far longer than KV's propagation (about 60 s) and edge caching, so every location answers
 * "deleted" rather than "not yet visible"; long enough to outlast slow user servers that keep publishing
 * (Prosody gives up after 16 errors) and to keep a racing token refresh that re-wrote `reg:` from
 * reviving the node; short enough that tombstones do not pile up. See docs/storage.md.
 */
export const DEFAULT_TOMBSTONE_TTL_SECONDS = 30 * 24 * 60 * 60;

/** KV's limit on key length, in UTF-8 bytes. */
const KV_MAX_KEY_BYTES = 512;

const REGISTRATION_VERSION = 1;
const TOMBSTONE_VERSION = 1;

const encoder = new TextEncoder();

/**
 * Registrations in Workers KV (schema in docs/storage.md): `reg:{node}` holds the registration,
 * `id:{sha256(identity)}` the node of an identity, `dead:{node}` a tombstone with a TTL. KV is eventually
 * consistent between locations (about 60 s): a tombstone, once visible, wins over a stale registration.
 * @see https://developers.cloudflare.com/kv/concepts/how-kv-works/#consistency
 */
export class KvRegistrationStore implements RegistrationStore {
  private readonly tombstoneTtlSeconds: number;
  private readonly keyPrefix: string;
  private readonly now: () => number;

  constructor(
    private readonly kv: KvLike,
    options: KvRegistrationStoreOptions = {},
  ) {
    const ttl = options.tombstoneTtlSeconds ?? DEFAULT_TOMBSTONE_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < KV_MIN_EXPIRATION_TTL_SECONDS) {
      throw new RangeError(`tombstoneTtlSeconds must be an integer >= ${KV_MIN_EXPIRATION_TTL_SECONDS}, got ${ttl}`);
    }
    this.tombstoneTtlSeconds = ttl;
    this.keyPrefix = options.keyPrefix ?? "";
    this.now = options.now ?? Date.now;
  }

  /** Reads `reg:` and `dead:` together; any value under `dead:` means deleted, whatever `reg:` says. */
  async get(node: string): Promise<NodeLookup> {
    if (!this.isStorableNode(node)) return { kind: "absent" };
    const [stored, tombstone] = await Promise.all([
      this.kv.get(this.registrationKey(node), "text"),
      this.kv.get(this.tombstoneKey(node), "text"),
    ]);
    if (tombstone !== null) return { kind: "deleted" };
    const registration = decodeRegistration(stored, node);
    return registration === undefined ? { kind: "absent" } : { kind: "found", registration };
  }

  async findByIdentity(identity: RegistrationIdentity): Promise<Registration | undefined> {
    const node = await this.kv.get(await this.identityIndexKey(identity), "text");
    if (node === null || !this.isStorableNode(node)) return undefined;
    const lookup = await this.get(node);
    if (lookup.kind !== "found") return undefined;
    return identityKey(lookup.registration) === identityKey(identity) ? lookup.registration : undefined;
  }

  /** Writes `reg:` first, then the identity index unless it already names this node (saves a write). */
  async put(registration: Registration): Promise<void> {
    if (!this.isStorableNode(registration.node)) {
      throw new RangeError("registration node does not fit in a KV key");
    }
    await this.kv.put(this.registrationKey(registration.node), encodeRegistration(registration));
    const indexKey = await this.identityIndexKey(registration);
    if ((await this.kv.get(indexKey, "text")) !== registration.node) {
      await this.kv.put(indexKey, registration.node);
    }
  }

  /** Writes the tombstone first, then removes `reg:` and the identity index if it still names this node. */
  async delete(registration: Registration, reason: DeletionReason): Promise<void> {
    const { node } = registration;
    if (!this.isStorableNode(node)) return;
    await this.kv.put(this.tombstoneKey(node), encodeTombstone(reason, this.now()), {
      expirationTtl: this.tombstoneTtlSeconds,
    });
    await this.kv.delete(this.registrationKey(node));
    const indexKey = await this.identityIndexKey(registration);
    if ((await this.kv.get(indexKey, "text")) === node) await this.kv.delete(indexKey);
  }

  private registrationKey(node: string): string {
    return `${this.keyPrefix}reg:${node}`;
  }

  private tombstoneKey(node: string): string {
    return `${this.keyPrefix}dead:${node}`;
  }

  private async identityIndexKey(identity: RegistrationIdentity): Promise<string> {
    return `${this.keyPrefix}id:${await sha256Hex(identityKey(identity))}`;
  }

  /** Whether every key of `node` (the longest is `dead:`) fits KV's key limit. */
  private isStorableNode(node: string): boolean {
    return node.length > 0 && encoder.encode(this.tombstoneKey(node)).byteLength <= KV_MAX_KEY_BYTES;
  }
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function encodeRegistration(registration: Registration): string {
  const { node, style, provider, account, device, muc, secret, token, voipToken, app } = registration;
  const { environment, endpointArn, createdAt, tokenUpdatedAt } = registration;
  return JSON.stringify({
    v: REGISTRATION_VERSION,
    node,
    style,
    provider,
    account,
    device,
    muc,
    secret,
    token,
    voipToken,
    app,
    environment,
    endpointArn,
    createdAt,
    tokenUpdatedAt,
  });
}

function encodeTombstone(reason: DeletionReason, at: number): string {
  return JSON.stringify({ v: TOMBSTONE_VERSION, reason, at });
}

type JsonRecord = Readonly<Record<string, unknown>>;

function parseRecord(text: string | null): JsonRecord | undefined {
  if (text === null) return undefined;
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

function isStyle(value: unknown): value is IdentityStyle {
  return value === "token" || value === "device";
}

function isProvider(value: unknown): value is ProviderId {
  return PROVIDER_IDS.some((id) => id === value);
}

function isEnvironment(value: unknown): value is ApnsEnvironment {
  return value === "production" || value === "sandbox";
}

/** A `reg:` value, or `undefined` when it is missing, corrupt, of another version or of another node. */
function decodeRegistration(text: string | null, node: string): Registration | undefined {
  const record = parseRecord(text);
  if (record === undefined || record.v !== REGISTRATION_VERSION || record.node !== node) return undefined;
  const { style, provider, environment } = record;
  const account = requiredString(record, "account");
  const device = requiredString(record, "device");
  const token = requiredString(record, "token");
  const app = requiredString(record, "app");
  const createdAt = timestamp(record, "createdAt");
  const tokenUpdatedAt = timestamp(record, "tokenUpdatedAt");
  const muc = optionalString(record, "muc");
  const secret = optionalString(record, "secret");
  const voipToken = optionalString(record, "voipToken");
  const endpointArn = optionalString(record, "endpointArn");
  if (!isStyle(style) || !isProvider(provider)) return undefined;
  if (environment !== undefined && !isEnvironment(environment)) return undefined;
  if (account === undefined || device === undefined || token === undefined || app === undefined) return undefined;
  if (createdAt === undefined || tokenUpdatedAt === undefined) return undefined;
  if (muc === null || secret === null || voipToken === null || endpointArn === null) return undefined;
  return {
    style,
    provider,
    account,
    device,
    ...(muc === undefined ? {} : { muc }),
    node,
    ...(secret === undefined ? {} : { secret }),
    token,
    ...(voipToken === undefined ? {} : { voipToken }),
    app,
    ...(environment === undefined ? {} : { environment }),
    ...(endpointArn === undefined ? {} : { endpointArn }),
    createdAt,
    tokenUpdatedAt,
  };
}
