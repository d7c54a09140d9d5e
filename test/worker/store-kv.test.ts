import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableObjectEndpointLedger, DurableObjectOwnerIndex } from "../../src/runtime/registration-index";
import { KvRegistrationStore } from "../../src/store";
import { withBulkReads } from "../../src/store/kv";
import { describeKvEventualConsistency } from "../shared/delayed-kv";
import { describeStoreContract, sampleRegistration, seed } from "../shared/store-contract";

/** KV with the Durable Object index and ledger, as the Worker builds it; a fresh prefix makes a fresh store. */
function kvStore(options: { tombstoneTtlSeconds?: number; prefix?: string; bulk?: boolean } = {}): KvRegistrationStore {
  const { prefix = `${crypto.randomUUID()}/`, bulk = true, ...rest } = options;
  return new KvRegistrationStore(bulk ? withBulkReads(env.REGISTRATIONS) : env.REGISTRATIONS, {
    index: new DurableObjectOwnerIndex(env.REGISTRATION_INDEX, prefix),
    endpoints: new DurableObjectEndpointLedger(env.REGISTRATION_INDEX, prefix),
    keyPrefix: prefix,
    ...rest,
  });
}

describeStoreContract(
  "Workers KV with the Durable Object index, bulk reads (as the Worker builds it)",
  ({ tombstoneTtlSeconds }) => kvStore({ tombstoneTtlSeconds }),
  {
    expiresOnInjectedClock: false,
  },
);
describeStoreContract(
  "Workers KV with the Durable Object index, one get per key",
  ({ tombstoneTtlSeconds }) => kvStore({ tombstoneTtlSeconds, bulk: false }),
  {
    expiresOnInjectedClock: false,
  },
);
describeKvEventualConsistency("Workers KV", () => env.REGISTRATIONS);

describe("Workers KV registration store in workerd", () => {
  it("lists no key that names the account, the device or the token", async () => {
    const store = new KvRegistrationStore(env.REGISTRATIONS);
    const registration = await seed(
      store,
      sampleRegistration({
        style: "device",
        provider: "fcm",
        account: "nurse@capulet.example",
        device: "android-id-9c1e",
        muc: "orchard@rooms.capulet.example",
        token: "fcm-token-EEEE:ffff",
        secured: true,
      }),
    );
    const gone = await seed(store, sampleRegistration({ account: "tybalt@capulet.example", token: "apns-token-gggg" }));
    await store.delete(gone, "token-dead");

    const { keys } = await env.REGISTRATIONS.list();
    const names = keys.map((key) => key.name);
    expect(names).toContain(`reg:${registration.node}`);
    expect(names).toContain(`dead:${gone.node}`);
    for (const name of names) {
      expect(name).toMatch(/^(reg:|dead:|cred:|[0-9a-f-]{36}\/(reg|dead):)/);
      for (const value of ["capulet", "android-id", "fcm-token", "apns-token", "hidden-secret"]) {
        expect(name).not.toContain(value);
      }
    }
  });

  it("gives the tombstone an expiration", async () => {
    const store = new KvRegistrationStore(env.REGISTRATIONS);
    const registration = await seed(store, sampleRegistration());
    await store.delete(registration, "unregistered");

    const { keys } = await env.REGISTRATIONS.list({ prefix: `dead:${registration.node}` });
    expect(keys).toHaveLength(1);
    expect(keys[0]?.expiration).toBeGreaterThan(Date.now() / 1000 + 23 * 60 * 60);
  });

  it.each([
    ["text that is not JSON", "{not json"],
    ["JSON null", "null"],
    ["a later version", JSON.stringify({ v: 3, ...sampleRegistration({ node: "corrupt-node" }) })],
    ["a record without its token", JSON.stringify({ v: 2, ...sampleRegistration({ node: "corrupt-node" }), token: 7 })],
  ])("reads %s under reg: as absent", async (_name, value) => {
    await env.REGISTRATIONS.put("reg:corrupt-node", value);
    expect(await new KvRegistrationStore(env.REGISTRATIONS).get("corrupt-node")).toEqual({ kind: "absent" });
    expect(await new KvRegistrationStore(withBulkReads(env.REGISTRATIONS)).get("corrupt-node")).toEqual({
      kind: "absent",
    });
  });
});

describe("Durable Object endpoint ledger in workerd", () => {
  const ARN = "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/1";

  it("counts simultaneous attaches through two isolates' ledgers once each, within the cap", async () => {
    const prefix = `${crypto.randomUUID()}/`;
    const [first, second] = [kvStore({ prefix }), kvStore({ prefix })];
    const key = "ab".repeat(32);
    const outcomes = await Promise.all(
      Array.from({ length: 16 }, (_, i) => (i % 2 ? first : second).endpoints.attach(key, ARN, `node-${i}`, 10)),
    );
    const counts = outcomes.flatMap((outcome) => (outcome.kind === "attached" ? [outcome.users] : []));
    expect(counts.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await second.endpoints.users(key)).toHaveLength(10);
    // Another prefix is another ledger.
    expect(await kvStore().endpoints.users(key)).toEqual([]);
  });

  it("keeps the endpoint in its Durable Object only, never in KV", async () => {
    const prefix = `${crypto.randomUUID()}/`;
    const store = kvStore({ prefix });
    await store.endpoints.attach("cd".repeat(32), ARN, "node-1", 5);
    const { keys } = await env.REGISTRATIONS.list({ prefix });
    expect(keys).toEqual([]);
    const id = env.REGISTRATION_INDEX.idFromName(`${prefix}endpoint:${"cd".repeat(32)}`);
    await runInDurableObject(env.REGISTRATION_INDEX.get(id), async (_instance, state) => {
      expect(await state.storage.get("endpoint")).toEqual({ arn: ARN, users: ["node-1"] });
    });
    await store.endpoints.detach("cd".repeat(32), "node-1");
    await runInDurableObject(env.REGISTRATION_INDEX.get(id), async (_instance, state) => {
      expect(await state.storage.get("endpoint")).toBeUndefined();
    });
  });
});
