import type { KvLike, KvPutOptions } from "../../src/ports/key-value";

interface Entry {
  readonly value: string;
  /** Milliseconds of the injected clock after which the key is gone. */
  readonly expiresAt?: number;
}

/** How many operations of each kind a {@link MemoryKv} served (KV bills and limits them separately). */
export interface KvOperationCounts {
  reads: number;
  writes: number;
  deletes: number;
}

/**
 * An in-memory KV namespace for node tests: immediately consistent, like local KV, and as strict as the
 * real one about key length (512 bytes) and `expirationTtl` (at least 60 s), with expiry on an injected
 * clock and operation counts.
 * @see https://developers.cloudflare.com/kv/platform/limits/
 */
export class MemoryKv implements KvLike {
  private readonly entries = new Map<string, Entry>();
  readonly operations: KvOperationCounts = { reads: 0, writes: 0, deletes: 0 };

  constructor(private readonly now: () => number = Date.now) {}

  async get(key: string, _type: "text"): Promise<string | null> {
    checkKey(key);
    this.operations.reads += 1;
    return this.live(key)?.value ?? null;
  }

  async put(key: string, value: string, options: KvPutOptions = {}): Promise<void> {
    checkKey(key);
    const { expirationTtl } = options;
    if (expirationTtl !== undefined && !(expirationTtl >= 60)) {
      throw new Error(
        `KV PUT failed: 400 Invalid expiration_ttl of ${expirationTtl}. Expiration TTL must be at least 60.`,
      );
    }
    this.operations.writes += 1;
    this.entries.set(
      key,
      expirationTtl === undefined ? { value } : { value, expiresAt: this.now() + expirationTtl * 1000 },
    );
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    this.operations.deletes += 1;
    this.entries.delete(key);
  }

  /** The live keys, sorted, as `wrangler kv key list` would show them. */
  keys(): string[] {
    return [...this.entries.keys()].filter((key) => this.live(key) !== undefined).sort();
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

function checkKey(key: string): void {
  if (key === "" || key === "." || key === "..") throw new Error(`KV refuses the key ${JSON.stringify(key)}`);
  if (new TextEncoder().encode(key).byteLength > 512) throw new Error("KV key longer than 512 bytes");
}
