import type { AttachOutcome, EndpointLedger } from "../ports/store";

/** One shared endpoint as a ledger keeps it: its ARN and the nodes that use it (never empty when stored). */
export interface EndpointEntry {
  readonly arn: string;
  readonly users: readonly string[];
}

/** What {@link EndpointLedger.detach} answers. */
export type DetachResult = { readonly arn: string; readonly remaining: number } | undefined;

/**
 * Adds `node` to `entry` (absent: a new endpoint). Returns the entry to store, or undefined when the
 * endpoint already has `cap` other users (nothing changes then, not even the ARN). The same rule in
 * every backend: a node that is already a user always re-attaches, and the newest ARN wins.
 */
export function attachEntry(
  entry: EndpointEntry | undefined,
  arn: string,
  node: string,
  cap: number,
): { readonly entry: EndpointEntry; readonly outcome: AttachOutcome } | undefined {
  const users = entry?.users ?? [];
  if (users.includes(node)) return { entry: { arn, users }, outcome: { kind: "attached", users: users.length } };
  if (users.length >= cap) return undefined;
  const next = [...users, node];
  return { entry: { arn, users: next }, outcome: { kind: "attached", users: next.length } };
}

/**
 * Removes `node` from `entry`. Returns undefined when the entry is absent or `node` is not a user
 * (nothing changes); otherwise the entry to store (undefined: forget the key) and the answer.
 */
export function detachEntry(
  entry: EndpointEntry | undefined,
  node: string,
): { readonly entry: EndpointEntry | undefined; readonly result: NonNullable<DetachResult> } | undefined {
  if (entry === undefined || !entry.users.includes(node)) return undefined;
  const users = entry.users.filter((user) => user !== node);
  return {
    entry: users.length === 0 ? undefined : { arn: entry.arn, users },
    result: { arn: entry.arn, remaining: users.length },
  };
}

/** Reads a stored entry defensively: anything but `{ arn: string, users: string[] }` with users is absent. */
export function decodeEndpointEntry(value: unknown): EndpointEntry | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { arn, users } = value as { arn?: unknown; users?: unknown };
  if (typeof arn !== "string" || !Array.isArray(users) || users.length === 0) return undefined;
  if (!users.every((user): user is string => typeof user === "string")) return undefined;
  return { arn, users: [...new Set(users)] };
}

/**
 * An {@link EndpointLedger} in process memory: for the memory store, and the default of the KV store
 * outside Workers (tests, one Node process). Each operation runs without yielding, so it is atomic in
 * its process.
 */
export class MemoryEndpointLedger implements EndpointLedger {
  private readonly entries = new Map<string, EndpointEntry>();

  async attach(key: string, arn: string, node: string, cap: number): Promise<AttachOutcome> {
    const attached = attachEntry(this.entries.get(key), arn, node, cap);
    if (attached === undefined) return { kind: "full" };
    this.entries.set(key, attached.entry);
    return attached.outcome;
  }

  async detach(key: string, node: string): Promise<DetachResult> {
    const detached = detachEntry(this.entries.get(key), node);
    if (detached === undefined) return undefined;
    if (detached.entry === undefined) this.entries.delete(key);
    else this.entries.set(key, detached.entry);
    return detached.result;
  }

  async users(key: string): Promise<readonly string[]> {
    return [...(this.entries.get(key)?.users ?? [])];
  }

  /** How many endpoints are known (for tests). */
  get size(): number {
    return this.entries.size;
  }
}
