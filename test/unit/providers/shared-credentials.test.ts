import { describe, expect, it } from "vitest";
import { MemoryCredentialCache } from "../../../src/providers/memory-credentials";
import { SharedCredentialCache } from "../../../src/providers/shared-credentials";
import { MemoryKv } from "../../shared/memory-kv";

function world() {
  const clock = { now: 1_750_000_000_000 };
  const now = () => clock.now;
  const kv = new MemoryKv(now);
  let mints = 0;
  const mint = async () => {
    mints += 1;
    return { value: `token-${mints}`, expiresAt: clock.now + 50 * 60_000 };
  };
  const isolate = () => new SharedCredentialCache(new MemoryCredentialCache(now), kv, now);
  return { clock, kv, mint, isolate, mints: () => mints };
}

describe("SharedCredentialCache (provider tokens shared between Worker isolates through KV)", () => {
  it("mints once for two isolates: the second reads what the first wrote", async () => {
    const w = world();
    expect(await w.isolate().get("apns:T:K", w.mint)).toBe("token-1");
    expect(await w.isolate().get("apns:T:K", w.mint)).toBe("token-1");
    expect(w.mints()).toBe(1);
  });

  it("keeps concurrent callers of one isolate to a single mint", async () => {
    const w = world();
    const cache = w.isolate();
    const values = await Promise.all([1, 2, 3].map(() => cache.get("fcm:a@b", w.mint)));
    expect(values).toEqual(["token-1", "token-1", "token-1"]);
    expect(w.mints()).toBe(1);
  });

  it("mints again when the shared credential is about to expire", async () => {
    const w = world();
    await w.isolate().get("apns:T:K", w.mint);
    w.clock.now += 49.5 * 60_000;
    expect(await w.isolate().get("apns:T:K", w.mint)).toBe("token-2");
  });

  it("drops the shared credential a provider refused, so that the next isolate mints", async () => {
    const w = world();
    const first = w.isolate();
    await first.get("apns:T:K", w.mint);
    await first.invalidate("apns:T:K", "token-1");
    expect(await w.isolate().get("apns:T:K", w.mint)).toBe("token-2");
  });

  it("does not drop a newer shared credential when an old one is invalidated", async () => {
    const w = world();
    await w.isolate().get("apns:T:K", w.mint);
    await w.isolate().invalidate("apns:T:K", "token-1");
    await w.isolate().get("apns:T:K", w.mint);
    await w.isolate().invalidate("apns:T:K", "token-1");
    expect(await w.isolate().get("apns:T:K", w.mint)).toBe("token-2");
  });

  it("mints when the shared value is corrupt, and still works when KV fails", async () => {
    const w = world();
    await w.kv.put("cred:apns:T:K", "{not json");
    expect(await w.isolate().get("apns:T:K", w.mint)).toBe("token-1");
    const broken = new SharedCredentialCache(
      new MemoryCredentialCache(() => w.clock.now),
      {
        get: async () => {
          throw new Error("KV down");
        },
        put: async () => {
          throw new Error("KV down");
        },
        delete: async () => {},
      },
      () => w.clock.now,
    );
    expect(await broken.get("apns:T:K", w.mint)).toBe("token-2");
  });
});
