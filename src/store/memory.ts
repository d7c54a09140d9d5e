import {
  decideRegistration,
  identityKey,
  originOf,
  ownerKey,
  type RegisterOutcome,
  type RegisterRequest,
  type Registration,
  type RegistrationIdentity,
  requestOwnerKey,
} from "../domain/registration";
import type { DeletionReason, NodeLookup, RegistrationStore } from "../ports/store";
import { MemoryEndpointLedger } from "./endpoint-ledger";
import { DEFAULT_TOMBSTONE_TTL_SECONDS, type TombstoneOptions } from "./tombstones";

/**
 * Registrations in process memory: for tests and for a single Node process that may lose them on
 * restart. Strongly consistent: each operation runs to completion without yielding, so simultaneous
 * registrations of one identity see each other. Tombstones expire after their TTL. Shared delivery
 * endpoints are kept in a {@link MemoryEndpointLedger}.
 */
export class MemoryRegistrationStore implements RegistrationStore {
  readonly endpoints = new MemoryEndpointLedger();
  private readonly byNode = new Map<string, Registration>();
  private readonly byIdentity = new Map<string, string>();
  private readonly byOwner = new Map<string, Set<string>>();
  /** Node → deletion time; insertion order is deletion order, so expiry trims from the front. */
  private readonly tombstones = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: TombstoneOptions = {}) {
    this.ttlMs = (options.tombstoneTtlSeconds ?? DEFAULT_TOMBSTONE_TTL_SECONDS) * 1000;
    this.now = options.now ?? Date.now;
  }

  async get(node: string): Promise<NodeLookup> {
    const registration = this.byNode.get(node);
    if (registration) return { kind: "found", registration };
    this.expireTombstones();
    return this.tombstones.has(node) ? { kind: "deleted" } : { kind: "absent" };
  }

  async findByIdentity(identity: RegistrationIdentity): Promise<Registration | undefined> {
    const node = this.byIdentity.get(identityKey(identity));
    return node === undefined ? undefined : this.byNode.get(node);
  }

  async register(request: RegisterRequest): Promise<RegisterOutcome> {
    const existing =
      request.refreshNode !== undefined
        ? this.liveRest(request.refreshNode, request.app)
        : request.origin === "xmpp"
          ? this.byNodeOf(this.byIdentity.get(identityKey(request.identity)))
          : undefined;
    const outcome = decideRegistration(existing, this.byOwner.get(requestOwnerKey(request))?.size ?? 0, request);
    if (outcome.kind === "created" || outcome.kind === "refreshed") this.write(outcome.registration);
    return outcome;
  }

  async update(registration: Registration): Promise<void> {
    if (this.byNode.has(registration.node)) this.byNode.set(registration.node, registration);
  }

  async delete(registration: Registration, reason: DeletionReason): Promise<void> {
    void reason;
    const stored = this.byNode.get(registration.node);
    if (stored !== undefined) {
      this.byNode.delete(stored.node);
      const key = identityKey(stored);
      if (this.byIdentity.get(key) === stored.node) this.byIdentity.delete(key);
      const owner = this.byOwner.get(ownerKey(stored));
      owner?.delete(stored.node);
      if (owner?.size === 0) this.byOwner.delete(ownerKey(stored));
    }
    this.tombstones.delete(registration.node);
    this.tombstones.set(registration.node, this.now());
    this.expireTombstones();
  }

  async close(): Promise<void> {}

  /** How many live registrations there are (for tests and health). */
  get size(): number {
    return this.byNode.size;
  }

  /** How many tombstones are remembered (for tests of their expiry). */
  get tombstoneCount(): number {
    this.expireTombstones();
    return this.tombstones.size;
  }

  private byNodeOf(node: string | undefined): Registration | undefined {
    return node === undefined ? undefined : this.byNode.get(node);
  }

  private liveRest(node: string, app: string): Registration | undefined {
    const registration = this.byNode.get(node);
    return registration !== undefined && originOf(registration) === "rest" && registration.app === app
      ? registration
      : undefined;
  }

  private write(registration: Registration): void {
    this.byNode.set(registration.node, registration);
    if (originOf(registration) === "xmpp") this.byIdentity.set(identityKey(registration), registration.node);
    const owner = ownerKey(registration);
    let nodes = this.byOwner.get(owner);
    if (nodes === undefined) {
      nodes = new Set();
      this.byOwner.set(owner, nodes);
    }
    nodes.add(registration.node);
  }

  private expireTombstones(): void {
    const oldest = this.now() - this.ttlMs;
    for (const [node, at] of this.tombstones) {
      if (at >= oldest) break;
      this.tombstones.delete(node);
    }
  }
}
