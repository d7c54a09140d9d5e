import type { Registration, RegistrationIdentity } from "./registration";

/** What a store knows of a node. */
export type NodeLookup =
  | { readonly kind: "found"; readonly registration: Registration }
  /** Deleted (dead token or unregister) and remembered by a tombstone: never "not yet visible". */
  | { readonly kind: "deleted" }
  | { readonly kind: "absent" };

/** Why a registration was deleted, kept in its tombstone for operators. */
export type DeletionReason = "token-dead" | "unregistered";

/**
 * Where registrations live (one implementation per backend: memory, Workers KV, DynamoDB, SQLite).
 * Every backend passes the same contract tests (test/shared/store-contract.ts).
 */
export interface RegistrationStore {
  /** The registration under `node`, or whether it was deleted. */
  get(node: string): Promise<NodeLookup>;
  /** The live registration of an identity (PROTOCOL.md 3.2), if any. */
  findByIdentity(identity: RegistrationIdentity): Promise<Registration | undefined>;
  /** Creates or replaces the registration and its identity index. */
  put(registration: Registration): Promise<void>;
  /** Removes the registration and its identity index, leaving a tombstone so the node stays dead. */
  delete(registration: Registration, reason: DeletionReason): Promise<void>;
}
