import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableObjectOwnerIndex } from "../../src/runtime/registration-index";
import { KvRegistrationStore } from "../../src/store";
import { describeKvEventualConsistency } from "../shared/delayed-kv";
import { describeStoreContract, sampleRegistration, seed } from "../shared/store-contract";

/** KV with the Durable Object index, as the Worker builds it; a fresh prefix makes a fresh store. */
function kvStore(options: { tombstoneTtlSeconds?: number } = {}): KvRegistrationStore {
  const prefix = `${crypto.randomUUID()}/`;
  return new KvRegistrationStore(env.REGISTRATIONS, {
    index: new DurableObjectOwnerIndex(env.REGISTRATION_INDEX, prefix),
    keyPrefix: prefix,
    ...options,
  });
}

describeStoreContract(
  "Workers KV with the Durable Object index",
  ({ tombstoneTtlSeconds }) => kvStore({ tombstoneTtlSeconds }),
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
  });
});
