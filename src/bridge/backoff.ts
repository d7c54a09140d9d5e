/** Bounds of the reconnect back-off. */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter (ms). */
  readonly baseMs: number;
  /** Largest delay, before jitter (ms). */
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, capMs: 60_000 };

/**
 * The delay before reconnect attempt `attempt` (0 for the first): exponential, capped, with "equal
 * jitter" (half fixed, half random), so that bridges restarted together do not reconnect in step and
 * the delay is never zero.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function reconnectDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
