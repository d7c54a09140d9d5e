import type { RegisterOutcome, RegisterRequest, Registration, RegistrationIdentity } from "../domain/registration";
import type { KvBulkReadable, KvLike } from "../ports/key-value";
import type { DeletionReason, EndpointLedger, NodeLookup, RegistrationStore } from "../ports/store";
import { decodeRegistration, encodeRegistration } from "./codec";
import { MemoryEndpointLedger } from "./endpoint-ledger";
import { MemoryOwnerIndex, type OwnerIndex } from "./owner-index";
import { DEFAULT_TOMBSTONE_TTL_SECONDS } from "./tombstones";

/** Options of {@link KvRegistrationStore}. */
export interface KvRegistrationStoreOptions {
  /**
   * Where identities, nodes and counts per owner are decided atomically: on Workers the Durable Object
   * index; default a {@link MemoryOwnerIndex}, atomic within one isolate only.
   */
  readonly index?: OwnerIndex;
  /**
   * Who uses each shared delivery endpoint, atomically per key (KV has no compare-and-set): on Workers
   * the Durable Object ledger; default a {@link MemoryEndpointLedger}, atomic within one isolate only.
   */
  readonly endpoints?: EndpointLedger;
  /** Seconds a tombstone lives; at least 60 (KV's minimum). Default {@link DEFAULT_TOMBSTONE_TTL_SECONDS}. */
  readonly tombstoneTtlSeconds?: number;
  /** Prepended to every key, for several stores in one namespace. Default: none. */
  readonly keyPrefix?: string;
  /** Milliseconds since the epoch, written into tombstones. Default `Date.now`. */
  readonly now?: () => number;
}

/** KV refuses an `expirationTtl` below this many seconds. */
export const KV_MIN_EXPIRATION_TTL_SECONDS = 60;

export { DEFAULT_TOMBSTONE_TTL_SECONDS };

/** KV's limit on key length, in UTF-8 bytes. */
const KV_MAX_KEY_BYTES = 512;

const TOMBSTONE_VERSION = 1;

const encoder = new TextEncoder();

/**
 * Registrations in Workers KV (schema in docs/storage.md): `reg:{node}` holds the registration that
 * publishes read, `dead:{node}` a tombstone with a TTL. KV is eventually consistent between locations
 * (about 60 s) and has no compare-and-set, so identities, nodes and counts are decided by an
 * {@link OwnerIndex} (a Durable Object per owner on Workers) and only then written to KV. A tombstone,
 * once visible, wins over a stale registration. Shared delivery endpoints are never kept in KV: the
 * injected {@link EndpointLedger} keeps them (a Durable Object per endpoint on Workers).
 * @see https://developers.cloudflare.com/kv/concepts/how-kv-works/#consistency
 */
export class KvRegistrationStore implements RegistrationStore {
  readonly endpoints: EndpointLedger;
  private readonly index: OwnerIndex;
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
    this.index = options.index ?? new MemoryOwnerIndex();
    this.endpoints = options.endpoints ?? new MemoryEndpointLedger();
    this.keyPrefix = options.keyPrefix ?? "";
    this.now = options.now ?? Date.now;
  }

  /** Reads `reg:` and `dead:` together; any value under `dead:` means deleted, whatever `reg:` says. */
  async get(node: string): Promise<NodeLookup> {
    if (!this.isStorableNode(node)) return { kind: "absent" };
    const registrationKey = this.registrationKey(node);
    const tombstoneKey = this.tombstoneKey(node);
    let stored: string | null;
    let tombstone: string | null;
    if (this.kv.getMany !== undefined) {
      // One bulk read instead of two: a publish's one store call costs a single KV operation's overhead.
      const values = await this.kv.getMany([registrationKey, tombstoneKey]);
      stored = values.get(registrationKey) ?? null;
      tombstone = values.get(tombstoneKey) ?? null;
    } else
      [stored, tombstone] = await Promise.all([
        this.kv.get(registrationKey, "text"),
        this.kv.get(tombstoneKey, "text"),
      ]);
    if (tombstone !== null) return { kind: "deleted" };
    const registration = decodeRegistration(stored, node);
    return registration === undefined ? { kind: "absent" } : { kind: "found", registration };
  }

  async findByIdentity(identity: RegistrationIdentity): Promise<Registration | undefined> {
    return this.index.find(identity);
  }

  /** The index decides; then `reg:` is written, one KV write for a new registration or a refresh. */
  async register(request: RegisterRequest): Promise<RegisterOutcome> {
    if (!this.isStorableNode(request.candidateNode)) throw new RangeError("registration node does not fit in a KV key");
    const outcome = await this.index.register(request);
    if (outcome.kind === "created" || outcome.kind === "refreshed") await this.write(outcome.registration);
    return outcome;
  }

  async update(registration: Registration): Promise<void> {
    if (await this.index.update(registration)) await this.write(registration);
  }

  /** Writes the tombstone first, then removes `reg:` and the index entry if it still names this node. */
  async delete(registration: Registration, reason: DeletionReason): Promise<void> {
    const { node } = registration;
    if (!this.isStorableNode(node)) return;
    await this.kv.put(this.tombstoneKey(node), encodeTombstone(reason, this.now()), {
      expirationTtl: this.tombstoneTtlSeconds,
    });
    await this.kv.delete(this.registrationKey(node));
    await this.index.remove(registration);
  }

  /** Nothing to release: the binding belongs to the Worker. */
  async close(): Promise<void> {}

  private async write(registration: Registration): Promise<void> {
    await this.kv.put(this.registrationKey(registration.node), encodeRegistration(registration));
  }

  private registrationKey(node: string): string {
    return `${this.keyPrefix}reg:${node}`;
  }

  private tombstoneKey(node: string): string {
    return `${this.keyPrefix}dead:${node}`;
  }

  /** Whether every key of `node` (the longest is `dead:`) fits KV's key limit. */
  private isStorableNode(node: string): boolean {
    return node.length > 0 && encoder.encode(this.tombstoneKey(node)).byteLength <= KV_MAX_KEY_BYTES;
  }
}

function encodeTombstone(reason: DeletionReason, at: number): string {
  return JSON.stringify({ v: TOMBSTONE_VERSION, reason, at });
}

/**
 * A Workers KV binding as the store's namespace, with its bulk read as {@link KvLike.getMany}, so that a
 * lookup reads `reg:` and `dead:` in one call.
 * @see https://developers.cloudflare.com/kv/api/read-key-value-pairs/
 */
export function withBulkReads(kv: KvBulkReadable): KvLike {
  return {
    get: (key, type) => kv.get(key, type),
    put: (key, value, options) => kv.put(key, value, options),
    delete: (key) => kv.delete(key),
    getMany: (keys) => kv.get([...keys], "text"),
  };
}
