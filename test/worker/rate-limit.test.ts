import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { WorkerRateLimiter } from "../../src/runtime/worker-rate-limiter";

/** The top-level `[[ratelimits]]` limit in wrangler.toml (requests per client and route per minute). */
const LIMIT = 60;
/**
 * The local binding (miniflare) counts in fixed 60 s windows and clears every key when a window ends,
 * so a run that straddles a minute boundary may need up to twice the limit before it is refused.
 */
const MAX_TRIES = 2 * LIMIT + 1;

function health(client: string): Promise<Response> {
  return exports.default.fetch(new Request("http://gateway.test/health", { headers: { "cf-connecting-ip": client } }));
}

describe("the Workers rate-limiting binding, inside workerd", () => {
  it("is bound from wrangler.toml", () => {
    expect(typeof env.RATE_LIMITER?.limit).toBe("function");
  });

  it("refuses a client past the limit with 429 on /health; another client is unaffected", async () => {
    const limited = "203.0.113.10";
    let passed = 0;
    let refused: Response | undefined;
    for (let i = 0; i < MAX_TRIES && refused === undefined; i += 1) {
      const response = await health(limited);
      if (response.status === 429) refused = response;
      else {
        expect(response.status).toBe(200);
        passed += 1;
      }
      await response.body?.cancel();
    }
    expect(refused?.status).toBe(429);
    expect(refused?.headers.get("retry-after")).toBe("60");
    expect(passed).toBeGreaterThanOrEqual(LIMIT);

    const other = await health("203.0.113.11");
    expect(other.status).toBe(200);
    expect(await other.json()).toMatchObject({ status: "ok" });
  });

  it("counts an IPv6 client by its /64", async () => {
    let refusedAt: number | undefined;
    for (let i = 0; i < MAX_TRIES && refusedAt === undefined; i += 1) {
      // A different address of the same /64 each time: still one client.
      const response = await health(`2001:db8:77:1::${(i + 1).toString(16)}`);
      if (response.status === 429) refusedAt = i;
      await response.body?.cancel();
    }
    expect(refusedAt).toBeGreaterThanOrEqual(LIMIT);
    expect((await health("2001:db8:77:2::1")).status).toBe(200);
  });

  it("drives the adapter over the real binding: refuses a key past the limit", async () => {
    const limiter = new WorkerRateLimiter(env.RATE_LIMITER);
    let allowed = 0;
    let refused = false;
    for (let i = 0; i < MAX_TRIES && !refused; i += 1) {
      if (await limiter.allow("adapter-test-key")) allowed += 1;
      else refused = true;
    }
    expect(refused).toBe(true);
    expect(allowed).toBeGreaterThanOrEqual(LIMIT);
    expect(await limiter.allow("adapter-test-other-key")).toBe(true);
  });
});
