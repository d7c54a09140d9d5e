import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/config";
import {
  type ClientAddress,
  canonicalAddress,
  type RateLimiter,
  rateLimit,
  rateLimitKey,
} from "../../../src/http/rate-limit";
import { silentLogger } from "../../../src/log";
import { DEFAULT_MAX_KEYS, MemoryRateLimiter, WINDOW_MS } from "../../../src/runtime/memory-rate-limiter";
import { nodeClientAddress, socketAddress } from "../../../src/runtime/node-client-address";
import {
  cloudflareClientAddress,
  type RateLimitBinding,
  WorkerRateLimiter,
  workerRateLimiter,
} from "../../../src/runtime/worker-rate-limiter";

function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe("rateLimitKey", () => {
  it("keeps an IPv4 address as is", () => {
    expect(rateLimitKey("192.0.2.7")).toBe("192.0.2.7");
    expect(rateLimitKey(" 192.0.2.7 ")).toBe("192.0.2.7");
  });

  it("folds IPv6 addresses of one /64 into one key, whatever their spelling", () => {
    const key = rateLimitKey("2001:db8:aa:bb::1");
    expect(key).toBe("2001:db8:aa:bb::/64");
    expect(rateLimitKey("2001:0DB8:00aa:00bb:ffff:ffff:ffff:ffff")).toBe(key);
    expect(rateLimitKey("2001:db8:aa:bb:1:2:3:4")).toBe(key);
    expect(rateLimitKey("2001:db8:aa:bc::1")).not.toBe(key);
    expect(rateLimitKey("::1")).toBe("0:0:0:0::/64");
    expect(rateLimitKey("2001:db8::")).toBe("2001:db8:0:0::/64");
  });

  it("counts an IPv4-mapped IPv6 address as its IPv4, dotted or in hex", () => {
    expect(rateLimitKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(rateLimitKey("::FFFF:192.0.2.7")).toBe("192.0.2.7");
    expect(rateLimitKey("::ffff:c000:207")).toBe("192.0.2.7");
    expect(rateLimitKey("[::ffff:192.0.2.7]")).toBe("192.0.2.7");
  });

  it("strips brackets, ports and zone ids", () => {
    expect(rateLimitKey("[2001:db8:aa:bb::1]")).toBe("2001:db8:aa:bb::/64");
    expect(rateLimitKey("[2001:db8:aa:bb::1]:4711")).toBe("2001:db8:aa:bb::/64");
    expect(rateLimitKey("192.0.2.7:4711")).toBe("192.0.2.7");
    expect(rateLimitKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });

  it("places an embedded IPv4 tail in the last 32 bits", () => {
    expect(canonicalAddress("::1:2:3:4:5:192.0.2.7")).toBe("0:1:2:3:4:5:c000:207");
    expect(rateLimitKey("::1:2:3:4:5:192.0.2.7")).toBe("0:1:2:3::/64");
  });

  it("keeps text that is no IP literal short", () => {
    expect(rateLimitKey("unknown")).toBe("unknown");
    expect(rateLimitKey("x".repeat(10_000))).toHaveLength(64);
  });
});

describe("canonicalAddress", () => {
  it("refuses what is not an IP literal", () => {
    for (const text of ["", "unknown", "1.2.3", "256.1.1.1", "01.2.3.4", "1:2:3:4:5:6:7", "1::2::3", ":::", "g::1"])
      expect(canonicalAddress(text), text).toBeUndefined();
    expect(canonicalAddress("1:2:3:4:5:6:7:8:9")).toBeUndefined();
    expect(canonicalAddress(`${"1:".repeat(60)}1`)).toBeUndefined();
  });

  it("spells equal addresses the same", () => {
    expect(canonicalAddress("0:0:0:0:0:0:0:1")).toBe(canonicalAddress("::1"));
    expect(canonicalAddress("::ffff:127.0.0.1")).toBe("127.0.0.1");
  });
});

describe("MemoryRateLimiter", () => {
  it("allows ratePerMinute requests per key in a window, then refuses until the window rolls over", async () => {
    const clock = fakeClock();
    const limiter = new MemoryRateLimiter({ ratePerMinute: 3, now: clock.now });
    for (let i = 0; i < 3; i += 1) expect(await limiter.allow("a")).toBe(true);
    expect(await limiter.allow("a")).toBe(false);
    expect(await limiter.allow("b")).toBe(true);
    clock.advance(WINDOW_MS - 1);
    expect(await limiter.allow("a")).toBe(false);
    clock.advance(1);
    for (let i = 0; i < 3; i += 1) expect(await limiter.allow("a")).toBe(true);
    expect(await limiter.allow("a")).toBe(false);
  });

  it("starts a new window when the clock goes back rather than stretching the old one", async () => {
    const clock = fakeClock();
    const limiter = new MemoryRateLimiter({ ratePerMinute: 1, now: clock.now });
    expect(await limiter.allow("a")).toBe(true);
    expect(await limiter.allow("a")).toBe(false);
    clock.advance(-1);
    expect(await limiter.allow("a")).toBe(true);
  });

  it("holds at most maxKeys keys, evicting the oldest window first", async () => {
    const clock = fakeClock();
    const limiter = new MemoryRateLimiter({ ratePerMinute: 1, now: clock.now, maxKeys: 3 });
    for (const key of ["a", "b", "c"]) {
      expect(await limiter.allow(key)).toBe(true);
      clock.advance(1);
    }
    expect(await limiter.allow("b")).toBe(false);
    expect(await limiter.allow("d")).toBe(true); // evicts "a", the oldest window
    expect(limiter.size).toBe(3);
    expect(await limiter.allow("b")).toBe(false);
    expect(await limiter.allow("c")).toBe(false);
    expect(await limiter.allow("a")).toBe(true); // forgotten: a fresh budget; evicts "b"
    expect(await limiter.allow("b")).toBe(true);
    expect(limiter.size).toBe(3);
  });

  it("evicts by window start: a key whose window restarted outlives keys that started before it", async () => {
    const clock = fakeClock();
    const limiter = new MemoryRateLimiter({ ratePerMinute: 1, now: clock.now, maxKeys: 3 });
    await limiter.allow("a");
    clock.advance(WINDOW_MS / 2);
    await limiter.allow("b");
    await limiter.allow("c");
    clock.advance(WINDOW_MS / 2);
    expect(await limiter.allow("a")).toBe(true); // a's window rolled over: it is now the newest
    expect(await limiter.allow("d")).toBe(true); // at the cap: evicts b, not a
    expect(await limiter.allow("a")).toBe(false);
    expect(await limiter.allow("c")).toBe(false);
    expect(await limiter.allow("b")).toBe(true); // forgotten, so a fresh window (evicts c)
    expect(limiter.size).toBe(3);
  });

  it("stays bounded under a flood of distinct keys", async () => {
    const clock = fakeClock();
    const limiter = new MemoryRateLimiter({ ratePerMinute: 5, now: clock.now, maxKeys: 1_000 });
    for (let i = 0; i < 20_000; i += 1) await limiter.allow(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    expect(limiter.size).toBe(1_000);
    expect(DEFAULT_MAX_KEYS).toBe(100_000);
  });

  it("drops expired windows as requests come", async () => {
    const clock = fakeClock();
    const limiter = new MemoryRateLimiter({ ratePerMinute: 5, now: clock.now });
    for (let i = 0; i < 8; i += 1) await limiter.allow(`k${i}`);
    clock.advance(WINDOW_MS);
    await limiter.allow("fresh"); // sweeps a few
    await limiter.allow("fresh");
    await limiter.allow("fresh");
    expect(limiter.size).toBe(1);
  });

  it("refuses a limit that is not a positive integer", () => {
    expect(() => new MemoryRateLimiter({ ratePerMinute: 0 })).toThrow(RangeError);
    expect(() => new MemoryRateLimiter({ ratePerMinute: 1.5 })).toThrow(RangeError);
    expect(() => new MemoryRateLimiter({ ratePerMinute: 1, maxKeys: 0 })).toThrow(RangeError);
  });
});

/** An app limited on `/limited/*` and `/limited`, whose client is what `env.client` says. */
function limitedApp(limiter: RateLimiter, clientAddress: ClientAddress) {
  const app = new Hono();
  app.use("/limited", rateLimit(limiter, clientAddress, "/limited"));
  app.use("/limited/*", rateLimit(limiter, clientAddress, "/limited/*"));
  app.get("/limited", (c) => c.text("ok"));
  app.get("/limited/:x", (c) => c.text("ok"));
  return app;
}

describe("rateLimit", () => {
  it("answers 429 with Retry-After once a client is over its limit, and counts each request once", async () => {
    const keys: string[] = [];
    const inner = new MemoryRateLimiter({ ratePerMinute: 2 });
    const limiter: RateLimiter = {
      allow(key) {
        keys.push(key);
        return inner.allow(key);
      },
    };
    const app = limitedApp(limiter, (c) => c.req.header("x-client"));
    const get = (path: string, client: string) => app.request(path, { headers: { "x-client": client } });
    expect((await get("/limited", "192.0.2.1")).status).toBe(200);
    expect((await get("/limited", "192.0.2.1")).status).toBe(200);
    const refused = await get("/limited", "192.0.2.1");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect((await get("/limited", "192.0.2.2")).status).toBe(200);
    expect((await get("/limited/x", "192.0.2.1")).status).toBe(200);
    expect(keys).toEqual([
      "/limited|192.0.2.1",
      "/limited|192.0.2.1",
      "/limited|192.0.2.1",
      "/limited|192.0.2.2",
      "/limited/*|192.0.2.1",
    ]);
  });

  it("counts requests without an address under one shared key", async () => {
    const app = limitedApp(new MemoryRateLimiter({ ratePerMinute: 1 }), () => undefined);
    expect((await app.request("/limited")).status).toBe(200);
    expect((await app.request("/limited")).status).toBe(429);
  });
});

/** A Hono app answering the client address that `clientAddress` finds for a request from `peer`. */
function whoAmI(clientAddress: ClientAddress) {
  const app = new Hono();
  app.get("/", (c) => c.text(clientAddress(c) ?? "none"));
  return async (peer: string | undefined, forwardedFor?: string) => {
    const headers: Record<string, string> = forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor };
    const env = { incoming: { socket: { remoteAddress: peer } } };
    return (await app.request("/", { headers }, env)).text();
  };
}

describe("nodeClientAddress", () => {
  it("counts the socket address when no proxy is trusted, whatever X-Forwarded-For claims", async () => {
    const ask = whoAmI(nodeClientAddress([]));
    expect(await ask("198.51.100.9")).toBe("198.51.100.9");
    expect(await ask("198.51.100.9", "203.0.113.1")).toBe("198.51.100.9");
    expect(await ask("::ffff:198.51.100.9", "203.0.113.1, 203.0.113.2")).toBe("198.51.100.9");
  });

  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", async () => {
    const ask = whoAmI(nodeClientAddress(["10.0.0.1"]));
    expect(await ask("198.51.100.9", "203.0.113.1")).toBe("198.51.100.9");
  });

  it("takes the rightmost untrusted address behind trusted proxies", async () => {
    const ask = whoAmI(nodeClientAddress(["10.0.0.1", "10.0.0.2", "2001:db8::1"]));
    expect(await ask("10.0.0.1", "203.0.113.5")).toBe("203.0.113.5");
    expect(await ask("::ffff:10.0.0.1", "203.0.113.5")).toBe("203.0.113.5");
    expect(await ask("10.0.0.1", "203.0.113.5, 10.0.0.2")).toBe("203.0.113.5");
    expect(await ask("2001:DB8:0:0::1", "2001:db8:aa::7")).toBe("2001:db8:aa:0:0:0:0:7");
    expect(await ask("10.0.0.1", "[2001:db8:aa::7]:4711")).toBe("2001:db8:aa:0:0:0:0:7");
  });

  it("does not let a client behind a trusted proxy pick its address by sending its own header", async () => {
    const ask = whoAmI(nodeClientAddress(["10.0.0.1"]));
    // The client sent "X-Forwarded-For: 192.0.2.66, 10.0.0.2"; the proxy appended the real address.
    expect(await ask("10.0.0.1", "192.0.2.66, 10.0.0.2, 203.0.113.5")).toBe("203.0.113.5");
    expect(await ask("10.0.0.1", "192.0.2.66,203.0.113.5")).toBe("203.0.113.5");
  });

  it("stops at the last trusted hop on garbage, and takes the leftmost when every hop is trusted", async () => {
    const ask = whoAmI(nodeClientAddress(["10.0.0.1", "10.0.0.2"]));
    expect(await ask("10.0.0.1", "203.0.113.5, unknown")).toBe("10.0.0.1");
    expect(await ask("10.0.0.1", "203.0.113.5, unknown, 10.0.0.2")).toBe("10.0.0.2");
    expect(await ask("10.0.0.1", "10.0.0.2, 10.0.0.1")).toBe("10.0.0.2");
    expect(await ask("10.0.0.1")).toBe("10.0.0.1");
    expect(await ask("10.0.0.1", "")).toBe("10.0.0.1");
  });

  it("answers undefined without a socket address and refuses a trusted proxy that is no IP", async () => {
    expect(await whoAmI(nodeClientAddress([]))(undefined)).toBe("none");
    expect(socketAddress(undefined)).toBeUndefined();
    expect(socketAddress({ incoming: {} })).toBeUndefined();
    expect(() => nodeClientAddress(["10.0.0"])).toThrow(ConfigError);
    expect(() => nodeClientAddress([":::"])).toThrow(/TRUSTED_PROXIES/);
  });
});

describe("the Workers adapter", () => {
  function fakeBinding(limit: number): RateLimitBinding & { keys: string[] } {
    const counts = new Map<string, number>();
    const keys: string[] = [];
    return {
      keys,
      async limit({ key }) {
        keys.push(key);
        const count = counts.get(key) ?? 0;
        if (count >= limit) return { success: false };
        counts.set(key, count + 1);
        return { success: true };
      },
    };
  }

  it("asks the binding with the key and answers its success", async () => {
    const binding = fakeBinding(1);
    const limiter = new WorkerRateLimiter(binding);
    expect(await limiter.allow("k")).toBe(true);
    expect(await limiter.allow("k")).toBe(false);
    expect(binding.keys).toEqual(["k", "k"]);
  });

  it("falls back to memory with one warning when the binding is missing", async () => {
    const warnings: string[] = [];
    const limiter = workerRateLimiter(undefined, 1, { log: (_level, event) => warnings.push(event) });
    expect(limiter).toBeInstanceOf(MemoryRateLimiter);
    expect(await limiter.allow("k")).toBe(true);
    expect(await limiter.allow("k")).toBe(false);
    expect(warnings).toEqual(["rate-limit-binding-missing"]);
    expect(workerRateLimiter(fakeBinding(1), 1, silentLogger)).toBeInstanceOf(WorkerRateLimiter);
  });

  it("reads the client from CF-Connecting-IP", async () => {
    const app = new Hono();
    app.get("/", (c) => c.text(cloudflareClientAddress(c) ?? "none"));
    expect(await (await app.request("/", { headers: { "cf-connecting-ip": "2001:db8::5" } })).text()).toBe(
      "2001:db8::5",
    );
    expect(await (await app.request("/", { headers: { "x-forwarded-for": "192.0.2.1" } })).text()).toBe("none");
  });
});
