import type { RateLimiter } from "../http/rate-limit";

/** How many clients one process tracks at most (about 100 bytes each: ~10 MB at the cap). */
export const DEFAULT_MAX_KEYS = 100_000;
/** The window the limit counts over: a minute, as `RATE_LIMIT_PER_MINUTE` says. */
export const WINDOW_MS = 60_000;
/** Expired windows dropped per request at most, so that one request never pays for a long idle spell. */
const SWEEP_PER_REQUEST = 4;

export interface MemoryRateLimiterOptions {
  /** Requests one key may make per window (`config.limits.ratePerMinute`). */
  readonly ratePerMinute: number;
  /** Milliseconds since the epoch; default `Date.now` (tests pass a fake clock). */
  readonly now?: () => number;
  /** Keys tracked at most; default {@link DEFAULT_MAX_KEYS}. */
  readonly maxKeys?: number;
}

interface Window {
  readonly start: number;
  count: number;
}

/**
 * A per-process rate limiter for the Node entry, a fixed window per key: a key may make `ratePerMinute`
 * requests in the minute that starts with its first request, then waits for the next one (so at most
 * twice the limit can pass in 60 s straddling two windows, as with the Workers binding).
 *
 * Memory is bounded whatever the clients do: windows sit in one `Map` in the order they started (a key
 * whose window restarts moves to the end), so the oldest window is always the first entry. Each request
 * drops a few expired windows from the front and, at `maxKeys`, evicts the oldest window, which gives
 * that key a fresh budget rather than refusing a new client. Every operation is O(1).
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #limit: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, Window>();

  constructor(options: MemoryRateLimiterOptions) {
    const { ratePerMinute, now = Date.now, maxKeys = DEFAULT_MAX_KEYS } = options;
    if (!Number.isInteger(ratePerMinute) || ratePerMinute < 1)
      throw new RangeError("ratePerMinute must be a positive integer");
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError("maxKeys must be a positive integer");
    this.#limit = ratePerMinute;
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /** Keys tracked now (windows not yet dropped). */
  get size(): number {
    return this.#windows.size;
  }

  async allow(key: string): Promise<boolean> {
    const now = this.#now();
    this.#sweep(now);
    const window = this.#windows.get(key);
    if (window !== undefined && this.#current(window, now)) {
      if (window.count >= this.#limit) return false;
      window.count += 1;
      return true;
    }
    if (window !== undefined) this.#windows.delete(key);
    else if (this.#windows.size >= this.#maxKeys) {
      const oldest = this.#windows.keys().next();
      if (oldest.done !== true) this.#windows.delete(oldest.value);
    }
    this.#windows.set(key, { start: now, count: 1 });
    return true;
  }

  #current(window: Window, now: number): boolean {
    // A clock that went back starts a new window rather than stretching the old one.
    const elapsed = now - window.start;
    return elapsed >= 0 && elapsed < WINDOW_MS;
  }

  #sweep(now: number): void {
    let dropped = 0;
    for (const [key, window] of this.#windows) {
      if (dropped >= SWEEP_PER_REQUEST || this.#current(window, now)) return;
      this.#windows.delete(key);
      dropped += 1;
    }
  }
}
