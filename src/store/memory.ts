import { identityKey, type Registration, type RegistrationIdentity } from "./registration";
import type { DeletionReason, NodeLookup, RegistrationStore } from "./store";

/**
 * Registrations in process memory: for tests and for a single Node process that may lose them on
 * restart. Strongly consistent, tombstones kept for the life of the process.
 */
export class MemoryRegistrationStore implements RegistrationStore {
  private readonly byNode = new Map<string, Registration>();
  private readonly byIdentity = new Map<string, string>();
  private readonly tombstones = new Map<string, DeletionReason>();

  async get(node: string): Promise<NodeLookup> {
    const registration = this.byNode.get(node);
    if (registration) return { kind: "found", registration };
    return this.tombstones.has(node) ? { kind: "deleted" } : { kind: "absent" };
  }

  async findByIdentity(identity: RegistrationIdentity): Promise<Registration | undefined> {
    const node = this.byIdentity.get(identityKey(identity));
    return node === undefined ? undefined : this.byNode.get(node);
  }

  async put(registration: Registration): Promise<void> {
    this.byNode.set(registration.node, registration);
    this.byIdentity.set(identityKey(registration), registration.node);
  }

  async delete(registration: Registration, reason: DeletionReason): Promise<void> {
    this.byNode.delete(registration.node);
    const key = identityKey(registration);
    if (this.byIdentity.get(key) === registration.node) this.byIdentity.delete(key);
    this.tombstones.set(registration.node, reason);
  }

  /** How many live registrations there are (for tests and health). */
  get size(): number {
    return this.byNode.size;
  }
}
