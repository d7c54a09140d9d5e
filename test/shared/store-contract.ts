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
      const full = {
        ...registration,
        route: { endpoint: "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/1", endpointKey: "ab12" },
      };
      await store.update(full);
      expect(await store.get(registration.node)).toEqual({ kind: "found", registration: full });
    });

    describe("endpoint ledger", () => {
      const ARN_A = "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/aaaa";
      const ARN_B = "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/bbbb";
      const ARN_C = "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/cccc";
      /** A fresh key, shaped like the SNS route's (a SHA-256 hex of application ARN and token). */
      const endpointKey = () =>
        Array.from(crypto.getRandomValues(new Uint8Array(32)), (byte) => byte.toString(16).padStart(2, "0")).join("");
      const sorted = (nodes: readonly string[]) => [...nodes].sort();

      it("counts each node once, however often it attaches", async () => {
        const { endpoints } = await fresh();
        const key = endpointKey();
        expect(await endpoints.attach(key, ARN_A, "node-1", 5)).toEqual({ kind: "attached", users: 1 });
        expect(await endpoints.attach(key, ARN_A, "node-1", 5)).toEqual({ kind: "attached", users: 1 });
        expect(await endpoints.attach(key, ARN_A, "node-2", 5)).toEqual({ kind: "attached", users: 2 });
        expect(await endpoints.attach(key, ARN_A, "node-2", 5)).toEqual({ kind: "attached", users: 2 });
        expect(sorted(await endpoints.users(key))).toEqual(["node-1", "node-2"]);
      });

      it("keeps the newest ARN, also from a node that was already a user", async () => {
        const { endpoints } = await fresh();
        const key = endpointKey();
        await endpoints.attach(key, ARN_A, "node-1", 5);
        await endpoints.attach(key, ARN_B, "node-2", 5);
        expect(await endpoints.detach(key, "node-1")).toEqual({ arn: ARN_B, remaining: 1 });
        expect(await endpoints.attach(key, ARN_C, "node-2", 5)).toEqual({ kind: "attached", users: 1 });
        expect(await endpoints.detach(key, "node-2")).toEqual({ arn: ARN_C, remaining: 0 });
      });

      it("detaches once per node, and forgets the key with its last user", async () => {
        const { endpoints } = await fresh();
        const key = endpointKey();
        await endpoints.attach(key, ARN_A, "node-1", 5);
        await endpoints.attach(key, ARN_A, "node-2", 5);
        expect(await endpoints.detach(key, "node-3")).toBeUndefined(); // never a user: nothing changes
        expect(await endpoints.detach(key, "node-1")).toEqual({ arn: ARN_A, remaining: 1 });
        expect(await endpoints.detach(key, "node-1")).toBeUndefined(); // a retry
        expect(await endpoints.users(key)).toEqual(["node-2"]);
        expect(await endpoints.detach(key, "node-2")).toEqual({ arn: ARN_A, remaining: 0 });
        expect(await endpoints.users(key)).toEqual([]);
        expect(await endpoints.detach(key, "node-2")).toBeUndefined();
        expect(await endpoints.detach(endpointKey(), "node-1")).toBeUndefined(); // a key never seen
        expect(await endpoints.users(endpointKey())).toEqual([]);
        // A forgotten key starts again from nothing.
        expect(await endpoints.attach(key, ARN_B, "node-4", 5)).toEqual({ kind: "attached", users: 1 });
        expect(await endpoints.detach(key, "node-4")).toEqual({ arn: ARN_B, remaining: 0 });
      });

      it("refuses a new user past the cap, never one already there", async () => {
        const { endpoints } = await fresh();
        const key = endpointKey();
        expect(await endpoints.attach(key, ARN_A, "node-1", 2)).toEqual({ kind: "attached", users: 1 });
        expect(await endpoints.attach(key, ARN_A, "node-2", 2)).toEqual({ kind: "attached", users: 2 });
        expect(await endpoints.attach(key, ARN_B, "node-3", 2)).toEqual({ kind: "full" });
        expect(sorted(await endpoints.users(key))).toEqual(["node-1", "node-2"]);
        expect(await endpoints.attach(key, ARN_C, "node-1", 2)).toEqual({ kind: "attached", users: 2 });
        // The refused attach changed nothing, not even the ARN; the re-attach did.
        expect(await endpoints.detach(key, "node-2")).toEqual({ arn: ARN_C, remaining: 1 });
        expect(await endpoints.attach(key, ARN_C, "node-3", 2)).toEqual({ kind: "attached", users: 2 });
        expect(await endpoints.attach(key, ARN_C, "node-4", 0)).toEqual({ kind: "full" });
      });

      it("keeps keys apart", async () => {
        const { endpoints } = await fresh();
        const [first, second] = [endpointKey(), endpointKey()];
        await endpoints.attach(first, ARN_A, "node-1", 5);
        await endpoints.attach(second, ARN_B, "node-1", 5);
        await endpoints.attach(second, ARN_B, "node-2", 5);
        expect(await endpoints.detach(first, "node-1")).toEqual({ arn: ARN_A, remaining: 0 });
        expect(await endpoints.users(first)).toEqual([]);
        expect(sorted(await endpoints.users(second))).toEqual(["node-1", "node-2"]);
        expect(await endpoints.detach(second, "node-2")).toEqual({ arn: ARN_B, remaining: 1 });
      });

      it("counts every one of simultaneous attaches of distinct nodes (a read-modify-write would lose some)", async () => {
        const { endpoints } = await fresh();
        const key = endpointKey();
        const nodes = Array.from({ length: 25 }, (_, i) => `node-${i}`);
        const outcomes = await Promise.all(nodes.map((node) => endpoints.attach(key, ARN_A, node, 100)));
        // Each attach saw the ones before it: the counts are 1..25, each once.
        const counts = outcomes.map((outcome) => (outcome.kind === "attached" ? outcome.users : 0));
        expect(counts.sort((a, b) => a - b)).toEqual(nodes.map((_, i) => i + 1));
        expect(sorted(await endpoints.users(key))).toEqual(sorted(nodes));
      });

      it("never passes the cap under simultaneous attaches", async () => {
        const { endpoints } = await fresh();
        const key = endpointKey();
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) => endpoints.attach(key, ARN_A, `node-${i}`, 5)),
        );
        expect(outcomes.filter((outcome) => outcome.kind === "attached")).toHaveLength(5);
        expect(outcomes.filter((outcome) => outcome.kind === "full")).toHaveLength(15);
        expect(await endpoints.users(key)).toHaveLength(5);
      });

      it("reaches zero exactly once under simultaneous detaches", async () => {
        const { endpoints } = await fresh();
        const key = endpointKey();
        const nodes = Array.from({ length: 12 }, (_, i) => `node-${i}`);
        for (const node of nodes) await endpoints.attach(key, ARN_A, node, 100);
        const results = await Promise.all([...nodes, ...nodes].map((node) => endpoints.detach(key, node)));
        const remaining = results.flatMap((result) => (result === undefined ? [] : [result.remaining]));
        expect(remaining.sort((a, b) => a - b)).toEqual(nodes.map((_, i) => i));
        expect(results.filter((result) => result === undefined)).toHaveLength(nodes.length);
        expect(await endpoints.users(key)).toEqual([]);
      });
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
