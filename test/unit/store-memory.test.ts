import { describe, expect, it } from "vitest";
import { MemoryRegistrationStore } from "../../src/store";
import { describeStoreContract, sampleRegistration, seed } from "../shared/store-contract";

describeStoreContract("memory", (options) => new MemoryRegistrationStore(options));

describe("memory store tombstones", () => {
  it("does not keep a tombstone per register-then-delete cycle past the TTL", async () => {
    let now = 1_800_000_000_000;
    const store = new MemoryRegistrationStore({ now: () => now, tombstoneTtlSeconds: 180 });
    for (let i = 0; i < 1_000; i++) {
      const registration = await seed(store, sampleRegistration({ device: `d${i}`, token: `d${i}`, node: `n${i}` }));
      await store.delete(registration, "unregistered");
      now += 1_000;
    }
    expect(store.size).toBe(0);
    expect(store.tombstoneCount).toBeLessThanOrEqual(181);
  });
});
