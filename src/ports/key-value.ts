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
