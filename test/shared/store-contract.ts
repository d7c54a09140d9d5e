import { describe, expect, it } from "vitest";
import type {
  RegisterOutcome,
  RegisterRequest,
  Registration,
  RegistrationIdentity,
} from "../../src/domain/registration";
import type { RegistrationStore } from "../../src/ports/store";

/** A registration with sensible defaults, for store and use-case tests. */
export function sampleRegistration(overrides: Partial<Registration> = {}): Registration {
  return {
    style: "token",
    provider: "apns",
    account: "romeo@montague.example",
    device: "token-1",
    node: `node-${Math.random().toString(36).slice(2)}`,
    secured: false,
    token: "token-1",
    app: "default",
    createdAt: 1_700_000_000_000,
    tokenUpdatedAt: 1_700_000_000_000,
    ...overrides,
  };
}

export function identityOf(registration: Registration): RegistrationIdentity {
  const { style, provider, account, device, muc } = registration;
  return muc === undefined ? { style, provider, account, device } : { style, provider, account, device, muc };
}

/** The request that creates `registration` (its node as the candidate) or refreshes its identity. */
export function requestFor(registration: Registration, overrides: Partial<RegisterRequest> = {}): RegisterRequest {
  return {
    origin: registration.origin ?? "xmpp",
    identity: identityOf(registration),
    candidateNode: registration.node,
    secured: registration.secured,
    token: registration.token,
    ...(registration.voipToken !== undefined ? { voipToken: registration.voipToken } : {}),
    app: registration.app,
    ...(registration.environment !== undefined ? { environment: registration.environment } : {}),
    now: registration.tokenUpdatedAt,
    cap: 1_000,
    ...overrides,
  };
}

/** Registers `registration` as new (the store must not hold its identity yet) and returns what was stored. */
export async function seed(store: RegistrationStore, registration: Registration): Promise<Registration> {
  const outcome = await store.register(requestFor(registration));
  if (outcome.kind !== "created") throw new Error(`expected created, got ${outcome.kind}`);
  return outcome.registration;
}

function registrationOf(outcome: RegisterOutcome): Registration {
  if (outcome.kind !== "created" && outcome.kind !== "refreshed") throw new Error(`no registration: ${outcome.kind}`);
  return outcome.registration;
}

/** What a contract run may set on a fresh store: its clock and tombstone TTL. */
export interface StoreTestOptions {
  readonly now: () => number;
  readonly tombstoneTtlSeconds: number;
}

export interface StoreCapabilities {
  /** Whether tombstones expire on the injected clock (workerd's KV expires them on the wall clock). */
  readonly expiresOnInjectedClock?: boolean;
}

const TTL_SECONDS = 180;

/**
 * The contract every RegistrationStore backend passes (memory, Workers KV, SQLite, DynamoDB).
 * `makeStore` returns a fresh, empty store on the given clock and tombstone TTL.
 */
export function describeStoreContract(
  name: string,
  makeStore: (options: StoreTestOptions) => Promise<RegistrationStore> | RegistrationStore,
  capabilities: StoreCapabilities = {},
) {
  const fresh = () => makeStore({ now: Date.now, tombstoneTtlSeconds: TTL_SECONDS });

  describe(`${name} store contract`, () => {
    it("finds a registration by node and by identity", async () => {
      const store = await fresh();
      const registration = await seed(store, sampleRegistration());
      expect(await store.get(registration.node)).toEqual({ kind: "found", registration });
      expect(await store.findByIdentity(identityOf(registration))).toEqual(registration);
    });

    it("answers absent for a node it never had", async () => {
      const store = await fresh();
      expect(await store.get("never-minted")).toEqual({ kind: "absent" });
      expect(
        await store.findByIdentity({ style: "token", provider: "apns", account: "a@b.example", device: "x" }),
      ).toBeUndefined();
    });

    it("keeps two accounts on one device token apart", async () => {
      const store = await fresh();
      const romeo = await seed(store, sampleRegistration({ account: "romeo@montague.example" }));
      const juliet = await seed(store, sampleRegistration({ account: "juliet@capulet.example" }));
      expect(await store.findByIdentity(identityOf(romeo))).toEqual(romeo);
      expect(await store.findByIdentity(identityOf(juliet))).toEqual(juliet);
    });

    it("never finds a token-style registration by a device-style identity with the same value", async () => {
      const store = await fresh();
      const registration = await seed(store, sampleRegistration({ device: "abc", token: "abc" }));
      expect(await store.findByIdentity({ ...identityOf(registration), style: "device" })).toBeUndefined();
    });

    it("tells device-style identities apart by muc", async () => {
      const store = await fresh();
      const plain = await seed(
        store,
        sampleRegistration({ style: "device", provider: "fcm", device: "dev-1", token: "t" }),
      );
      const muc = await seed(
        store,
        sampleRegistration({
          style: "device",
          provider: "fcm",
          device: "dev-1",
          muc: "room@conference.example",
          token: "t",
        }),
      );
      expect((await store.findByIdentity(identityOf(plain)))?.node).toBe(plain.node);
      expect((await store.findByIdentity(identityOf(muc)))?.node).toBe(muc.node);
    });

    it("refreshes the identity's registration: same node, new token, the candidate node unused", async () => {
      const store = await fresh();
      const registration = await seed(store, sampleRegistration({ environment: "sandbox", secured: true }));
      const outcome = await store.register(
        requestFor(registration, {
          candidateNode: "never-used",
          token: "token-2",
          now: registration.tokenUpdatedAt + 5,
          secured: false,
        }),
      );
      const refreshed = { ...registration, token: "token-2", tokenUpdatedAt: registration.tokenUpdatedAt + 5 };
      // Nothing takes a secret away from a registration or adds one.
      const expected = refreshed;
      expect(outcome).toEqual({ kind: "refreshed", registration: expected });
      expect(await store.get(registration.node)).toEqual({ kind: "found", registration: expected });
      expect(await store.get("never-used")).toEqual({ kind: "absent" });
    });

    it("gives simultaneous registrations of one identity one node", async () => {
      const store = await fresh();
      const base = sampleRegistration();
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.register(requestFor(base, { candidateNode: `${base.node}-${i}`, token: `token-${i}` })),
        ),
      );
      const nodes = new Set(outcomes.map((outcome) => registrationOf(outcome).node));
      expect(nodes.size).toBe(1);
      expect(outcomes.filter((outcome) => outcome.kind === "created")).toHaveLength(1);
      const [node = ""] = nodes;
      await store.delete(registrationOf(outcomes[0] as RegisterOutcome), "unregistered");
      expect(await store.findByIdentity(identityOf(base))).toBeUndefined();
      expect(await store.get(node)).toEqual({ kind: "deleted" });
      for (let i = 0; i < 50; i++) expect((await store.get(`${base.node}-${i}`)).kind).not.toBe("found");
    });

    it("refuses a new registration past the owner's cap, never a refresh, and counts owners apart", async () => {
      const store = await fresh();
      const cap = 3;
      const own = (i: number) => sampleRegistration({ device: `d${i}`, token: `d${i}` });
      const made: Registration[] = [];
      for (let i = 0; i < cap; i++) made.push(registrationOf(await store.register(requestFor(own(i), { cap }))));
      expect((await store.register(requestFor(own(cap), { cap }))).kind).toBe("over-cap");
      expect((await store.register(requestFor(own(0), { cap, token: "new" }))).kind).toBe("refreshed");
      const other = sampleRegistration({ account: "benvolio@montague.example" });
      expect((await store.register(requestFor(other, { cap }))).kind).toBe("created");
      await store.delete(made[1] as Registration, "unregistered");
      expect((await store.register(requestFor(own(cap), { cap }))).kind).toBe("created");
    });

    it("keeps REST registrations out of the XMPP identity space and counts them per app", async () => {
      const store = await fresh();
      const xmpp = await seed(store, sampleRegistration());
      const claim = sampleRegistration({ origin: "rest", secured: true });
      const rest = registrationOf(await store.register(requestFor(claim, { cap: 2 })));
      expect(rest.node).not.toBe(xmpp.node);
      expect(rest.origin).toBe("rest");
      expect(await store.findByIdentity(identityOf(xmpp))).toEqual(xmpp);
      // The same claim again, without proof of the first, is a registration of its own.
      const second = registrationOf(
        await store.register(requestFor(claim, { candidateNode: `${claim.node}-2`, cap: 2 })),
      );
      expect(second.node).not.toBe(rest.node);
      expect((await store.register(requestFor(claim, { candidateNode: `${claim.node}-3`, cap: 2 }))).kind).toBe(
        "over-cap",
      );
      // An XMPP account at its cap is unaffected by REST registrations claiming it, and the reverse.
      expect(
        (await store.register(requestFor(sampleRegistration({ device: "x2", token: "x2" }), { cap: 2 }))).kind,
      ).toBe("created");
      expect(await store.get(xmpp.node)).toEqual({ kind: "found", registration: xmpp });
    });

    it("refreshes a REST registration only by its node, within its app, while it lives", async () => {
      const store = await fresh();
      const xmpp = await seed(store, sampleRegistration());
      const rest = await seed(store, sampleRegistration({ origin: "rest", secured: true }));
      const refresh = (node: string, app = "default") =>
        store.register(
          requestFor(rest, { origin: "rest", refreshNode: node, candidateNode: "unused", token: "t2", app, now: 2 }),
        );
      expect(await refresh(xmpp.node)).toEqual({ kind: "gone" });
      expect(await refresh(rest.node, "other-app")).toEqual({ kind: "gone" });
      expect(await refresh(rest.node)).toEqual({
        kind: "refreshed",
        registration: { ...rest, token: "t2", tokenUpdatedAt: 2 },
      });
      await store.delete(rest, "unregistered");
      expect(await refresh(rest.node)).toEqual({ kind: "gone" });
      expect(await store.get("unused")).toEqual({ kind: "absent" });
    });

    it("leaves a tombstone so a deleted node stays dead, and mints a new node for the identity", async () => {
      const store = await fresh();
      const registration = await seed(store, sampleRegistration());
      await store.delete(registration, "token-dead");
      expect(await store.get(registration.node)).toEqual({ kind: "deleted" });
      expect(await store.findByIdentity(identityOf(registration))).toBeUndefined();
      const again = await store.register(requestFor(registration, { candidateNode: `${registration.node}-new` }));
      expect(again.kind).toBe("created");
      expect(registrationOf(again).node).toBe(`${registration.node}-new`);
      expect(await store.get(registration.node)).toEqual({ kind: "deleted" });
    });

    it("keeps the new node of a re-registered identity when the old one is deleted late", async () => {
      const store = await fresh();
      const old = await seed(store, sampleRegistration());
      await store.delete(old, "unregistered");
      const fresher = await seed(store, { ...old, node: `${old.node}-new` });
      await store.delete(old, "unregistered");
      expect(await store.findByIdentity(identityOf(fresher))).toEqual(fresher);
      expect(await store.get(old.node)).toEqual({ kind: "deleted" });
    });

    it("updates a live registration and never revives a deleted one", async () => {
      const store = await fresh();
      const registration = await seed(store, sampleRegistration());
      const learned = { ...registration, environment: "sandbox" as const };
      await store.update(learned);
      expect(await store.get(registration.node)).toEqual({ kind: "found", registration: learned });
      expect(await store.findByIdentity(identityOf(registration))).toEqual(learned);
      await store.delete(learned, "token-dead");
      await store.update(learned);
      expect(await store.get(registration.node)).toEqual({ kind: "deleted" });
    });

    it("stores every optional field", async () => {
      const store = await fresh();
      const registration = await seed(
        store,
        sampleRegistration({
          style: "device",
          device: "dev-9",
          muc: "room@conference.example",
          secured: true,
          voipToken: "voip-1",
          environment: "sandbox",
        }),
      );
      const full = { ...registration, endpointArn: "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/1" };
      await store.update(full);
      expect(await store.get(registration.node)).toEqual({ kind: "found", registration: full });
    });

    if (capabilities.expiresOnInjectedClock !== false)
      it("forgets a tombstone after its TTL, never before", async () => {
        let now = 1_800_000_000_000;
        const store = await makeStore({ now: () => now, tombstoneTtlSeconds: TTL_SECONDS });
        const registration = await seed(store, sampleRegistration());
        await store.delete(registration, "unregistered");
        now += TTL_SECONDS * 1000 - 1;
        expect(await store.get(registration.node)).toEqual({ kind: "deleted" });
        now += 2;
        expect(await store.get(registration.node)).toEqual({ kind: "absent" });
      });
  });
}
