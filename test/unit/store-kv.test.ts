import { describe, expect, it } from "vitest";
import { KvRegistrationStore } from "../../src/store";
import { DEFAULT_TOMBSTONE_TTL_SECONDS } from "../../src/store/kv";
import { DelayedKv, describeKvEventualConsistency, ManualClock } from "../shared/delayed-kv";
import { MemoryKv } from "../shared/memory-kv";
import { describeStoreContract, sampleRegistration } from "../shared/store-contract";

describeStoreContract("KV over memory", () => new KvRegistrationStore(new MemoryKv()));
describeStoreContract("KV with a key prefix", () => new KvRegistrationStore(new MemoryKv(), { keyPrefix: "t1/" }));
describeStoreContract("KV at one location of a delayed namespace", () => {
  const clock = new ManualClock();
  return new KvRegistrationStore(new DelayedKv(new MemoryKv(), { delayMs: 60_000, now: clock.now }).location("here"));
});
describeKvEventualConsistency("KV over memory", () => new MemoryKv());

const secretive = sampleRegistration({
  style: "device",
  provider: "fcm",
  account: "juliet@capulet.example",
  device: "device-id-7f3a",
  muc: "balcony@rooms.capulet.example",
  token: "fcm-token-AAAA:bbbb",
  secret: "s3cret-value",
  voipToken: "voip-token-cccc",
});

describe("KvRegistrationStore key schema", () => {
  it("names keys by node and by a SHA-256 of the identity, never by account, device or token", async () => {
    const kv = new MemoryKv();
    const store = new KvRegistrationStore(kv);
    const gone = sampleRegistration({ account: "romeo@montague.example", token: "apns-token-dddd" });
    await store.put(secretive);
    await store.put(gone);
    await store.delete(gone, "token-dead");

    const keys = kv.keys();
    expect(keys).toHaveLength(3);
    expect(keys).toContain(`reg:${secretive.node}`);
    expect(keys).toContain(`dead:${gone.node}`);
    expect(keys.filter((key) => /^id:[0-9a-f]{64}$/.test(key))).toHaveLength(1);
    for (const key of keys) {
      for (const value of ["juliet", "capulet", "romeo", "device-id", "fcm-token", "voip", "s3cret", "apns-token"]) {
        expect(key).not.toContain(value);
      }
    }
  });

  it("stores a versioned registration and a versioned tombstone with the deletion time", async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const kv = new MemoryKv(clock.now);
    const store = new KvRegistrationStore(kv, { now: clock.now });
    await store.put(secretive);
    expect(JSON.parse((await kv.get(`reg:${secretive.node}`, "text")) ?? "null")).toEqual({ v: 1, ...secretive });

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
  const valid = { v: 1, ...sampleRegistration({ node }) };
  const corrupt: ReadonlyArray<readonly [string, string]> = [
    ["text that is not JSON", "{not json"],
    ["an empty value", ""],
    ["JSON null", "null"],
    ["a JSON array", "[1,2]"],
    ["a JSON string", '"reg"'],
    ["an object without a version", JSON.stringify({ ...valid, v: undefined })],
    ["a later version", JSON.stringify({ ...valid, v: 2 })],
    ["the record of another node", JSON.stringify({ ...valid, node: "other-node" })],
    ["an unknown provider", JSON.stringify({ ...valid, provider: "xmpp" })],
    ["an unknown style", JSON.stringify({ ...valid, style: "both" })],
    ["an unknown environment", JSON.stringify({ ...valid, environment: "staging" })],
    ["a numeric token", JSON.stringify({ ...valid, token: 42 })],
    ["an empty account", JSON.stringify({ ...valid, account: "" })],
    ["a secret that is an object", JSON.stringify({ ...valid, secret: { value: "x" } })],
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

  it("finds nothing when the identity index names a corrupt, foreign or impossible node", async () => {
    const kv = new MemoryKv();
    const store = new KvRegistrationStore(kv);
    const registration = sampleRegistration();
    await store.put(registration);
    const [indexKey] = kv.keys().filter((key) => key.startsWith("id:"));
    expect(indexKey).toBeDefined();
    const key = indexKey ?? "";
    const other = sampleRegistration({ account: "mercutio@verona.example" });
    await store.put(other);

    await kv.put(key, other.node);
    expect(await store.findByIdentity(registration)).toBeUndefined();
    await kv.put(key, "");
    expect(await store.findByIdentity(registration)).toBeUndefined();
    await kv.put(key, "x".repeat(600));
    expect(await store.findByIdentity(registration)).toBeUndefined();
    await kv.put(`reg:${registration.node}`, "{corrupt");
    await kv.put(key, registration.node);
    expect(await store.findByIdentity(registration)).toBeUndefined();
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

  it("keeps tombstones 30 days by default", () => {
    expect(DEFAULT_TOMBSTONE_TTL_SECONDS).toBe(2_592_000);
  });

  it("lets the tombstone expire after its TTL, after which the node reads absent", async () => {
    const clock = new ManualClock();
    const kv = new MemoryKv(clock.now);
    const store = new KvRegistrationStore(kv, { tombstoneTtlSeconds: 60, now: clock.now });
    const registration = sampleRegistration();
    await store.put(registration);
    await store.delete(registration, "token-dead");

    clock.advance(59_999);
    expect(await store.get(registration.node)).toEqual({ kind: "deleted" });
    clock.advance(1);
    expect(await store.get(registration.node)).toEqual({ kind: "absent" });
  });

  it("spends two writes on a new registration and one on a token refresh", async () => {
    const kv = new MemoryKv();
    const store = new KvRegistrationStore(kv);
    const registration = sampleRegistration();
    await store.put(registration);
    expect(kv.operations.writes).toBe(2);
    await store.put({ ...registration, token: "token-2", tokenUpdatedAt: registration.tokenUpdatedAt + 1 });
    expect(kv.operations.writes).toBe(3);
  });

  it("spends one write and two deletes on a deletion", async () => {
    const kv = new MemoryKv();
    const store = new KvRegistrationStore(kv);
    const registration = sampleRegistration();
    await store.put(registration);
    await store.delete(registration, "unregistered");
    expect(kv.operations).toMatchObject({ writes: 3, deletes: 2 });
    expect(kv.keys()).toEqual([`dead:${registration.node}`]);
  });

  it("refuses to store a node that does not fit in a KV key", async () => {
    await expect(
      new KvRegistrationStore(new MemoryKv()).put(sampleRegistration({ node: "n".repeat(600) })),
    ).rejects.toThrow(RangeError);
  });
});
