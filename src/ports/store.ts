import type { RegisterOutcome, RegisterRequest, Registration, RegistrationIdentity } from "../domain/registration";

/** What a store knows of a node. */
export type NodeLookup =
  | { readonly kind: "found"; readonly registration: Registration }
  /** Deleted (dead token or unregister) and remembered by a tombstone: never "not yet visible". */
  | { readonly kind: "deleted" }
  | { readonly kind: "absent" };

/** Why a registration was deleted, kept in its tombstone for operators. */
export type DeletionReason = "token-dead" | "unregistered";

/**
 * Where registrations live (one implementation per backend: memory, Workers KV with a Durable Object,
 * SQLite). Every backend passes the same contract tests (test/shared/store-contract.ts). Schema and
 * guarantees per backend: docs/storage.md.
 */
export interface RegistrationStore {
  /** The registration under `node`, or whether it was deleted (tombstones expire; then `absent`). */
  get(node: string): Promise<NodeLookup>;
  /** The live XMPP registration of an identity (docs/protocol.md 3.2), if any; never a REST one. */
  findByIdentity(identity: RegistrationIdentity): Promise<Registration | undefined>;
  /**
   * Creates or refreshes a registration in one atomic step, so that one identity has one node however
   * many registrations arrive at once, and an owner never passes its cap.
   */
  register(request: RegisterRequest): Promise<RegisterOutcome>;
  /** Rewrites what a delivery learned (the environment that worked) if the node is still live. */
  update(registration: Registration): Promise<void>;
  /** Removes the registration and its identity, leaving a tombstone so the node stays dead. */
  delete(registration: Registration, reason: DeletionReason): Promise<void>;
  /** Releases what the store holds open (a database file); the store is not used afterwards. */
  close(): Promise<void>;
}
