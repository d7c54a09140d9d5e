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
  /** Who uses each shared delivery endpoint (the SNS route's platform endpoints). */
  readonly endpoints: EndpointLedger;
  /** Releases what the store holds open (a database file); the store is not used afterwards. */
  close(): Promise<void>;
}

/** What {@link EndpointLedger.attach} did. */
export type AttachOutcome =
  | { readonly kind: "attached"; readonly users: number }
  /** The endpoint already has `cap` other users: this node was not added. */
  | { readonly kind: "full" };

/**
 * Who uses each shared delivery endpoint: one SNS platform endpoint per (platform application, token)
 * serves every registration of that token (one phone, several accounts), so it is deleted only when its
 * last user goes (docs/storage.md, "Endpoint ledger"). Keys are hashes that name no token. Users are a
 * set of nodes, so a repeated attach or detach (a retry) counts once. Every step is atomic per key.
 */
export interface EndpointLedger {
  /** Adds `node` to the users of `key`, whose endpoint is now `arn` (the newest ARN wins). */
  attach(key: string, arn: string, node: string, cap: number): Promise<AttachOutcome>;
  /**
   * Removes `node` from the users of `key`; forgets the key when no user is left. Returns the ARN and
   * how many users remain, or undefined when the key is unknown or `node` was not a user.
   */
  detach(key: string, node: string): Promise<{ readonly arn: string; readonly remaining: number } | undefined>;
  /** The nodes using `key` (empty when unknown). */
  users(key: string): Promise<readonly string[]>;
}
