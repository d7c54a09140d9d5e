/** Options every store shares for its tombstones. */
export interface TombstoneOptions {
  /**
   * Seconds a deleted node is remembered as deleted, then forgotten (it reads `absent`, which answers
   * the same `item-not-found` once the node is too old to be "just minted"). Default one day; never
   * below `MIN_TOMBSTONE_TTL_SECONDS` of the configuration.
   */
  readonly tombstoneTtlSeconds?: number;
  /** Milliseconds since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

/** One day: see `DEFAULT_LIMITS.tombstoneTtlSeconds` in the configuration. */
export const DEFAULT_TOMBSTONE_TTL_SECONDS = 24 * 60 * 60;
