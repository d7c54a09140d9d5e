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
  /**
   * Several keys in one read, when the namespace can (Workers KV's `get(keys, "text")`, at most 100
   * keys); without it the store reads them one `get` each.
   * @see https://developers.cloudflare.com/kv/api/read-key-value-pairs/
   */
  getMany?(keys: readonly string[]): Promise<ReadonlyMap<string, string | null>>;
  put(key: string, value: string, options?: KvPutOptions): Promise<void>;
  delete(key: string): Promise<void>;
}

/** A namespace with Workers KV's bulk read: `get` of an array of keys gives a map of their values. */
export interface KvBulkReadable extends KvLike {
  get(key: string, type: "text"): Promise<string | null>;
  get(keys: string[], type: "text"): Promise<Map<string, string | null>>;
}
