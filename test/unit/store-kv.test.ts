import { describe, expect, it } from "vitest";
import { KvRegistrationStore } from "../../src/store";
import { REGISTRATION_VERSION } from "../../src/store/codec";
import { DEFAULT_TOMBSTONE_TTL_SECONDS } from "../../src/store/kv";
import { MemoryOwnerIndex } from "../../src/store/owner-index";
import { DelayedKv, describeKvEventualConsistency, ManualClock } from "../shared/delayed-kv";
import { MemoryKv } from "../shared/memory-kv";
import { describeStoreContract, requestFor, sampleRegistration, seed } from "../shared/store-contract";

describeStoreContract(
  "KV over memory",
  ({ now, tombstoneTtlSeconds }) => new KvRegistrationStore(new MemoryKv(now), { now, tombstoneTtlSeconds }),
);
describeStoreContract(
  "KV with a key prefix",
  ({ now, tombstoneTtlSeconds }) =>
    new KvRegistrationStore(new MemoryKv(now), { keyPrefix: "t1/", now, tombstoneTtlSeconds }),
);
describeStoreContract(
  "KV at one location of a delayed namespace",
  ({ now, tombstoneTtlSeconds }) => {
    const clock = new ManualClock();
    return new KvRegistrationStore(
      new DelayedKv(new MemoryKv(now), { delayMs: 60_000, now: clock.now }).location("here"),
      { now, tombstoneTtlSeconds },
    );
    // This location's own pending writes do not expire on the test's clock; expiry is covered above.
  },
  { expiresOnInjectedClock: false },
);
describeKvEventualConsistency("KV over memory", () => new MemoryKv());

const secretive = sampleRegistration({
  style: "device",
  provider: "fcm",
  account: "juliet@capulet.example",
  device: "device-id-7f3a",
  muc: "balcony@rooms.capulet.example",
  token: "fcm-token-AAAA:bbbb",
  secured: true,
  voipToken: "voip-token-cccc",
});

describe("KvRegistrationStore key schema", () => {
  it("names keys by node only, never by account, device or token", async () => {
    const kv = new MemoryKv();
    const store = new KvRegistrationStore(kv);
    const gone = sampleRegistration({ account: "romeo@montague.example", token: "apns-token-dddd" });
    await seed(store, secretive);
    await seed(store, gone);
    await store.delete(gone, "token-dead");

    const keys = kv.keys();
    expect(keys).toEqual([`dead:${gone.node}`, `reg:${secretive.node}`].sort());
    for (const key of keys) {
      for (const value of ["juliet", "capulet", "romeo", "device-id", "fcm-token", "voip", "apns-token"]) {
        expect(key).not.toContain(value);
      }
    }
  });

  it("stores a versioned registration without a secret and a versioned tombstone with the deletion time", async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const kv = new MemoryKv(clock.now);
    const store = new KvRegistrationStore(kv, { now: clock.now });
    await seed(store, secretive);
    const stored = JSON.parse((await kv.get(`reg:${secretive.node}`, "text")) ?? "null");
    expect(stored).toEqual({ v: REGISTRATION_VERSION, ...secretive });
    expect(Object.keys(stored)).not.toContain("secret");

    await store.delete(secretive, "unregistered");
    expect(JSON.parse((await kv.get(`dead:${secretive.node}`, "text")) ?? "null")).toEqual({
      v: 1,
      reason: "unregistered",
      at: 1_800_000_000_000,
    });
  });
});

describe("KvRegistrationStore reads values defensively", () => {
  const node = "node-under-test";
  const valid = { v: REGISTRATION_VERSION, ...sampleRegistration({ node }) };
  const corrupt: ReadonlyArray<readonly [string, string]> = [
    ["text that is not JSON", "{not json"],
    ["an empty value", ""],
    ["JSON null", "null"],
    ["a JSON array", "[1,2]"],
    ["a JSON string", '"reg"'],
    ["an object without a version", JSON.stringify({ ...valid, v: undefined })],
    ["a later version", JSON.stringify({ ...valid, v: REGISTRATION_VERSION + 1 })],
    ["version 1, which kept secrets in clear", JSON.stringify({ ...valid, v: 1, secret: "s" })],
    ["the record of another node", JSON.stringify({ ...valid, node: "other-node" })],
    ["an unknown provider", JSON.stringify({ ...valid, provider: "xmpp" })],
    ["an unknown style", JSON.stringify({ ...valid, style: "both" })],
    ["an unknown origin", JSON.stringify({ ...valid, origin: "smtp" })],
    ["an unknown environment", JSON.stringify({ ...valid, environment: "staging" })],
    ["a numeric token", JSON.stringify({ ...valid, token: 42 })],
    ["an empty account", JSON.stringify({ ...valid, account: "" })],
    ["a secured flag that is a string", JSON.stringify({ ...valid, secured: "yes" })],
    ["a missing createdAt", JSON.stringify({ ...valid, createdAt: undefined })],
    ["a timestamp that is a string", JSON.stringify({ ...valid, tokenUpdatedAt: "yesterday" })],
  ];

  it.each(corrupt)("reads %s under reg: as absent", async (_name, value) => {
    const kv = new MemoryKv();
    await kv.put(`reg:${node}`, value);
    expect(await new KvRegistrationStore(kv).get(node)).toEqual({ kind: "absent" });
  });

  it("reads a well-formed value under reg: as found", async () => {
    const kv = new MemoryKv();
    await kv.put(`reg:${node}`, JSON.stringify(valid));
    expect(await new KvRegistrationStore(kv).get(node)).toMatchObject({ kind: "found", registration: { node } });
  });

  it("treats any value under dead:, even a corrupt one, as a tombstone", async () => {
    const kv = new MemoryKv();
    await kv.put(`reg:${node}`, JSON.stringify(valid));
    await kv.put(`dead:${node}`, "{garbage");
    expect(await new KvRegistrationStore(kv).get(node)).toEqual({ kind: "deleted" });
  });

  it("answers absent for a node too long to be a KV key, without asking KV", async () => {
    const kv = new MemoryKv();
    expect(await new KvRegistrationStore(kv).get("n".repeat(600))).toEqual({ kind: "absent" });
    expect(kv.operations.reads).toBe(0);
  });
});

describe("KvRegistrationStore tombstones and write budget", () => {
  it("refuses a tombstone TTL that KV would refuse", () => {
    expect(() => new KvRegistrationStore(new MemoryKv(), { tombstoneTtlSeconds: 59 })).toThrow(RangeError);
    expect(() => new KvRegistrationStore(new MemoryKv(), { tombstoneTtlSeconds: 90.5 })).toThrow(RangeError);
  });

  it("keeps tombstones one day by default", () => {
    expect(DEFAULT_TOMBSTONE_TTL_SECONDS).toBe(86_400);
  });

  it("spends one KV write on a new registration and one on a token refresh (the index decides)", async () => {
    const kv = new MemoryKv();
    const store = new KvRegistrationStore(kv, { index: new MemoryOwnerIndex() });
    const registration = await seed(store, sampleRegistration());
    expect(kv.operations.writes).toBe(1);
    await store.register(requestFor(registration, { token: "token-2", now: registration.tokenUpdatedAt + 1 }));
    expect(kv.operations.writes).toBe(2);
  });

  it("spends one write and one delete on a deletion", async () => {
    const kv = new MemoryKv();
    const store = new KvRegistrationStore(kv);
    const registration = await seed(store, sampleRegistration());
    await store.delete(registration, "unregistered");
    expect(kv.operations).toMatchObject({ writes: 2, deletes: 1 });
    expect(kv.keys()).toEqual([`dead:${registration.node}`]);
  });

  it("refuses to register a node that does not fit in a KV key", async () => {
    await expect(
      new KvRegistrationStore(new MemoryKv()).register(requestFor(sampleRegistration({ node: "n".repeat(600) }))),
    ).rejects.toThrow(RangeError);
  });
});
