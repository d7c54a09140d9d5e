import { describe, expect, it } from "vitest";
import { CredentialUnavailable, type MintedCredential } from "../../../src/ports/credentials";
import { MemoryCredentialCache } from "../../../src/providers/memory-credentials";
import { ManualClock } from "./provider-test-kit";

function countingMint(clock: ManualClock, lifetimeMs = 1000) {
  let mints = 0;
  const mint = async (): Promise<MintedCredential> => {
    mints += 1;
    await new Promise((resolve) => setTimeout(resolve, 1));
    return { value: `credential-${mints}`, expiresAt: clock.now() + lifetimeMs };
  };
  return { mint, count: () => mints };
}

describe("MemoryCredentialCache", () => {
  it("mints once for concurrent callers of one key", async () => {
    const clock = new ManualClock();
    const cache = new MemoryCredentialCache(clock.now);
    const { mint, count } = countingMint(clock);
    const values = await Promise.all(Array.from({ length: 10 }, () => cache.get("k", mint)));
    expect(new Set(values)).toEqual(new Set(["credential-1"]));
    expect(count()).toBe(1);
  });

  it("keeps keys apart", async () => {
    const clock = new ManualClock();
    const cache = new MemoryCredentialCache(clock.now);
    const { mint, count } = countingMint(clock);
    await Promise.all([cache.get("a", mint), cache.get("b", mint)]);
    expect(count()).toBe(2);
  });

  it("reuses the credential until it expires, then mints again", async () => {
    const clock = new ManualClock();
    const cache = new MemoryCredentialCache(clock.now);
    const { mint, count } = countingMint(clock, 1000);
    await cache.get("k", mint);
    clock.advance(999);
    expect(await cache.get("k", mint)).toBe("credential-1");
    clock.advance(1);
    expect(await cache.get("k", mint)).toBe("credential-2");
    expect(count()).toBe(2);
  });

  it("invalidates only the credential that was refused, so a re-mint happens once", async () => {
    const clock = new ManualClock();
    const cache = new MemoryCredentialCache(clock.now);
    const { mint, count } = countingMint(clock);
    const refused = await cache.get("k", mint);
    await cache.invalidate("k", refused);
    const fresh = await cache.get("k", mint);
    await cache.invalidate("k", refused);
    expect(await cache.get("k", mint)).toBe(fresh);
    expect(count()).toBe(2);
  });

  it("shares one re-mint between concurrent callers refused with the same credential", async () => {
    const clock = new ManualClock();
    const cache = new MemoryCredentialCache(clock.now);
    const { mint, count } = countingMint(clock);
    const refused = await cache.get("k", mint);
    const again = await Promise.all(
      Array.from({ length: 5 }, async () => {
        await cache.invalidate("k", refused);
        return cache.get("k", mint);
      }),
    );
    expect(new Set(again)).toEqual(new Set(["credential-2"]));
    expect(count()).toBe(2);
  });

  it("does not cache a failed mint, and every waiting caller gets the failure", async () => {
    const clock = new ManualClock();
    const cache = new MemoryCredentialCache(clock.now);
    const failure = new CredentialUnavailable({ kind: "retry-later", reason: "token endpoint down" });
    let calls = 0;
    const failing = async (): Promise<MintedCredential> => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 1));
      throw failure;
    };
    const results = await Promise.allSettled([cache.get("k", failing), cache.get("k", failing)]);
    expect(results.map((result) => result.status)).toEqual(["rejected", "rejected"]);
    expect(calls).toBe(1);
    const { mint } = countingMint(clock);
    expect(await cache.get("k", mint)).toBe("credential-1");
  });
});
