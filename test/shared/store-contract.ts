import { describe, expect, it } from "vitest";
import type { Registration, RegistrationIdentity, RegistrationStore } from "../../src/store";

/** A registration with sensible defaults, for store and use-case tests. */
export function sampleRegistration(overrides: Partial<Registration> = {}): Registration {
  return {
    style: "token",
    provider: "apns",
    account: "romeo@montague.example",
    device: "token-1",
    node: `node-${Math.random().toString(36).slice(2)}`,
    token: "token-1",
    app: "default",
    createdAt: 1_700_000_000_000,
    tokenUpdatedAt: 1_700_000_000_000,
    ...overrides,
  };
}

function identityOf(registration: Registration): RegistrationIdentity {
  const { style, provider, account, device, muc } = registration;
  return muc === undefined ? { style, provider, account, device } : { style, provider, account, device, muc };
}

/**
 * The contract every RegistrationStore backend passes (memory, Workers KV, SQLite, DynamoDB).
 * `makeStore` returns a fresh, empty store.
 */
export function describeStoreContract(name: string, makeStore: () => Promise<RegistrationStore> | RegistrationStore) {
  describe(`${name} store contract`, () => {
    it("finds a registration by node and by identity", async () => {
      const store = await makeStore();
      const registration = sampleRegistration();
      await store.put(registration);
      expect(await store.get(registration.node)).toEqual({ kind: "found", registration });
      expect(await store.findByIdentity(identityOf(registration))).toEqual(registration);
    });

    it("answers absent for a node it never had", async () => {
      const store = await makeStore();
      expect(await store.get("never-minted")).toEqual({ kind: "absent" });
      expect(
        await store.findByIdentity({ style: "token", provider: "apns", account: "a@b.example", device: "x" }),
      ).toBeUndefined();
    });

    it("keeps two accounts on one device token apart", async () => {
      const store = await makeStore();
      const romeo = sampleRegistration({ account: "romeo@montague.example" });
      const juliet = sampleRegistration({ account: "juliet@capulet.example" });
      await store.put(romeo);
      await store.put(juliet);
      expect(await store.findByIdentity(identityOf(romeo))).toEqual(romeo);
      expect(await store.findByIdentity(identityOf(juliet))).toEqual(juliet);
    });

    it("never finds a token-style registration by a device-style identity with the same value", async () => {
      const store = await makeStore();
      const registration = sampleRegistration({ device: "abc", token: "abc" });
      await store.put(registration);
      expect(await store.findByIdentity({ ...identityOf(registration), style: "device" })).toBeUndefined();
    });

    it("tells device-style identities apart by muc", async () => {
      const store = await makeStore();
      const plain = sampleRegistration({ style: "device", provider: "fcm", device: "dev-1", token: "t" });
      const muc = sampleRegistration({
        style: "device",
        provider: "fcm",
        device: "dev-1",
        muc: "room@conference.example",
        token: "t",
      });
      await store.put(plain);
      await store.put(muc);
      expect((await store.findByIdentity(identityOf(plain)))?.node).toBe(plain.node);
      expect((await store.findByIdentity(identityOf(muc)))?.node).toBe(muc.node);
    });

    it("replaces a registration on put with the same node", async () => {
      const store = await makeStore();
      const registration = sampleRegistration();
      await store.put(registration);
      const refreshed = { ...registration, token: "token-2", tokenUpdatedAt: registration.tokenUpdatedAt + 1 };
      await store.put(refreshed);
      expect(await store.get(registration.node)).toEqual({ kind: "found", registration: refreshed });
      expect(await store.findByIdentity(identityOf(registration))).toEqual(refreshed);
    });

    it("leaves a tombstone so a deleted node stays dead", async () => {
      const store = await makeStore();
      const registration = sampleRegistration();
      await store.put(registration);
      await store.delete(registration, "token-dead");
      expect(await store.get(registration.node)).toEqual({ kind: "deleted" });
      expect(await store.findByIdentity(identityOf(registration))).toBeUndefined();
    });

    it("keeps the new node of a re-registered identity when the old one is deleted late", async () => {
      const store = await makeStore();
      const old = sampleRegistration();
      await store.put(old);
      await store.delete(old, "unregistered");
      const fresh = sampleRegistration({ node: `${old.node}-new` });
      await store.put(fresh);
      await store.delete(old, "unregistered");
      expect(await store.findByIdentity(identityOf(fresh))).toEqual(fresh);
      expect(await store.get(old.node)).toEqual({ kind: "deleted" });
    });

    it("stores every optional field", async () => {
      const store = await makeStore();
      const registration = sampleRegistration({
        secret: "s3cret",
        voipToken: "voip-1",
        environment: "sandbox",
        endpointArn: "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/1",
      });
      await store.put(registration);
      expect(await store.get(registration.node)).toEqual({ kind: "found", registration });
    });
  });
}
