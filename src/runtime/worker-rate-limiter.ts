import type { ClientAddress, RateLimiter } from "../http/rate-limit";
import type { Logger } from "../log";
import { MemoryRateLimiter } from "./memory-rate-limiter";

/**
 * The Workers rate-limiting binding as this gateway uses it (`RateLimit` in the generated
 * `worker-configuration.d.ts`). Its limit and period live in wrangler.toml (`[[ratelimits]]`), not in
 * `RATE_LIMIT_PER_MINUTE`.
 * @see https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/
 */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/**
 * {@link RateLimiter} over the Workers rate-limiting binding: counted per Cloudflare location and
 * eventually consistent, which is what the binding offers, and enough to bound abuse (see the page).
 * @see https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/
 */
export class WorkerRateLimiter implements RateLimiter {
  readonly #binding: RateLimitBinding;

  constructor(binding: RateLimitBinding) {
    this.#binding = binding;
  }

  async allow(key: string): Promise<boolean> {
    const { success } = await this.#binding.limit({ key });
    return success;
  }
}

/**
 * The client address on Workers: `CF-Connecting-IP`, which Cloudflare's edge sets to the address the
 * connection came from (replacing any value the client sent), so it cannot be spoofed from outside.
 * @see https://developers.cloudflare.com/fundamentals/reference/http-headers/#cf-connecting-ip
 */
export const cloudflareClientAddress: ClientAddress = (c) => c.req.header("cf-connecting-ip")?.trim() || undefined;

/**
 * The Worker's limiter: the binding when wrangler.toml declares it; without it, a per-isolate
 * {@link MemoryRateLimiter} at `ratePerMinute` (weaker: each isolate counts alone), with one warning.
 */
export function workerRateLimiter(
  binding: RateLimitBinding | undefined,
  ratePerMinute: number,
  log: Logger,
): RateLimiter {
  if (binding !== undefined) return new WorkerRateLimiter(binding);
  log.log("warn", "rate-limit-binding-missing", {
    detail: "RATE_LIMITER is not bound (see wrangler.toml): limiting per isolate in memory",
  });
  return new MemoryRateLimiter({ ratePerMinute });
}
