import { describe, expect, it } from "vitest";
import type { Registration, RegistrationIdentity } from "../../src/domain/registration";
import type { KvLike, KvPutOptions } from "../../src/ports/key-value";
import type { RegistrationStore } from "../../src/ports/store";
import { MemoryEndpointLedger } from "../../src/store/endpoint-ledger";
import { KvRegistrationStore } from "../../src/store/kv";
import { MemoryOwnerIndex } from "../../src/store/owner-index";
import { requestFor, sampleRegistration, seed } from "./store-contract";

/** A clock that moves only when told to. */
export class ManualClock {
  constructor(private current = 1_700_000_000_000) {}

  /** Milliseconds since the epoch. */
  readonly now = (): number => this.current;

  advance(ms: number): void {
    this.current += ms;
  }
}

/** Options of {@link DelayedKv}. */
export interface DelayedKvOptions {
  /** How long a write takes to become visible at other locations: one figure, or one per key. */
  readonly delayMs: number | ((key: string) => number);
  /** The injected clock, in milliseconds. */
  readonly now: () => number;
}

interface PendingWrite {
  readonly sequence: number;
  readonly location: string;
  readonly key: string;
  /** `null` for a delete. */
  readonly value: string | null;
  readonly options: KvPutOptions | undefined;
  readonly visibleAt: number;
}

/**
 * Workers KV as seen from several edge locations. A write made at one location is visible there at once
 * and reaches `inner` (what every location reads) only when the injected clock has moved on by the delay,
 * as KV takes about 60 s to reach other locations. Local KV and {@link MemoryKv} are immediately
 * consistent; wrap them in this to test what the gateway answers in between.
 * @see https://developers.cloudflare.com/kv/concepts/how-kv-works/#consistency
 */
export class DelayedKv {
  private pending: PendingWrite[] = [];
  private sequence = 0;
  private applying: Promise<void> = Promise.resolve();
  private readonly delayFor: (key: string) => number;

  constructor(
    private readonly inner: KvLike,
    private readonly options: DelayedKvOptions,
  ) {
    const { delayMs } = options;
    this.delayFor = typeof delayMs === "number" ? () => delayMs : delayMs;
  }

  /** The namespace as the Worker at location `name` sees it. */
  location(name: string): KvLike {
    return {
      get: async (key) => {
        await this.settle();
        const own = this.pending.filter((write) => write.location === name && write.key === key).at(-1);
        return own === undefined ? this.inner.get(key, "text") : own.value;
      },
      put: async (key, value, options) => {
        this.enqueue(name, key, value, options);
      },
      delete: async (key) => {
        this.enqueue(name, key, null, undefined);
      },
    };
  }

  /** Keys with writes not yet visible everywhere. */
  pendingKeys(): string[] {
    return [...new Set(this.pending.map((write) => write.key))].sort();
  }

  /** Applies, in order, every write whose delay has passed. */
  settle(): Promise<void> {
    this.applying = this.applying.then(() => this.applyDue());
    return this.applying;
  }

  private enqueue(location: string, key: string, value: string | null, options: KvPutOptions | undefined): void {
    this.sequence += 1;
    const visibleAt = this.options.now() + this.delayFor(key);
    this.pending.push({ sequence: this.sequence, location, key, value, options, visibleAt });
  }

  private async applyDue(): Promise<void> {
    const now = this.options.now();
    const due = this.pending
      .filter((write) => write.visibleAt <= now)
      .sort((a, b) => a.visibleAt - b.visibleAt || a.sequence - b.sequence);
    this.pending = this.pending.filter((write) => write.visibleAt > now);
    for (const write of due) {
      if (write.value === null) await this.inner.delete(write.key);
      else await this.inner.put(write.key, write.value, write.options);
    }
  }
}

function identityOf(registration: Registration): RegistrationIdentity {
  const { style, provider, account, device, muc } = registration;
  return muc === undefined ? { style, provider, account, device } : { style, provider, account, device, muc };
}

let minted = 0;

/** What the register use case does with a store: refresh the identity's node, or mint a new one. */
async function register(store: RegistrationStore, registration: Registration): Promise<Registration> {
  minted += 1;
  const outcome = await store.register(requestFor(registration, { candidateNode: `${registration.node}-m${minted}` }));
  if (outcome.kind !== "created" && outcome.kind !== "refreshed") throw new Error(`not registered: ${outcome.kind}`);
  return outcome.registration;
}

/** A registration whose identity no other test uses (tests may share one namespace). */
function freshRegistration(): Registration {
  const unique = crypto.randomUUID();
  return sampleRegistration({ account: `user-${unique}@example.org`, node: `n-${unique}` });
}

/**
 * What the KV store answers at a second location while writes made at the first have not reached it.
 * `makeInner` returns the namespace both locations share (it may hold other tests' keys).
 */
export function describeKvEventualConsistency(name: string, makeInner: () => KvLike) {
  const delayMs = 60_000;

  function twoLocations(delay: DelayedKvOptions["delayMs"] = delayMs) {
    const clock = new ManualClock();
    const kv = new DelayedKv(makeInner(), { delayMs: delay, now: clock.now });
    // Every location asks the same strongly consistent index and endpoint ledger, as every Worker asks
    // the same Durable Objects.
    const index = new MemoryOwnerIndex();
    const endpoints = new MemoryEndpointLedger();
    return {
      clock,
      here: new KvRegistrationStore(kv.location("here"), { now: clock.now, index, endpoints }),
      there: new KvRegistrationStore(kv.location("there"), { now: clock.now, index, endpoints }),
    };
  }

  describe(`${name}: eventual consistency between locations`, () => {
    it("answers absent at another location until a fresh registration is visible there", async () => {
      const { clock, here, there } = twoLocations();
      const registration = await seed(here, freshRegistration());

      expect(await here.get(registration.node)).toEqual({ kind: "found", registration });
      expect(await there.get(registration.node)).toEqual({ kind: "absent" });
      // The identity is decided by the index, strongly consistent: a second registration there refreshes it.
      expect(await there.findByIdentity(identityOf(registration))).toEqual(registration);
      clock.advance(delayMs - 1);
      expect(await there.get(registration.node)).toEqual({ kind: "absent" });
      clock.advance(1);
      expect(await there.get(registration.node)).toEqual({ kind: "found", registration });
      expect(await there.findByIdentity(identityOf(registration))).toEqual(registration);
    });

    it("answers deleted at another location once the tombstone is visible there", async () => {
      const { clock, here, there } = twoLocations();
      const registration = await seed(here, freshRegistration());
      clock.advance(delayMs);

      await here.delete(registration, "token-dead");

      expect(await here.get(registration.node)).toEqual({ kind: "deleted" });
      expect(await there.get(registration.node)).toEqual({ kind: "found", registration });
      clock.advance(delayMs);
      expect(await there.get(registration.node)).toEqual({ kind: "deleted" });
      expect(await there.findByIdentity(identityOf(registration))).toBeUndefined();
    });

    it("lets a visible tombstone win over a registration whose removal is not visible yet", async () => {
      const { clock, here, there } = twoLocations((key) => (key.startsWith("dead:") ? 1_000 : delayMs));
      const registration = await seed(here, freshRegistration());
      clock.advance(delayMs);

      await here.delete(registration, "unregistered");
      clock.advance(1_000);

      expect(await there.get(registration.node)).toEqual({ kind: "deleted" });
      expect(await there.findByIdentity(identityOf(registration))).toBeUndefined();
    });

    it("answers absent where the removal is visible before the tombstone (why NODE_MAC_KEY decides)", async () => {
      const { clock, here, there } = twoLocations((key) => (key.startsWith("dead:") ? delayMs : 1_000));
      const registration = await seed(here, freshRegistration());
      clock.advance(delayMs);

      await here.delete(registration, "unregistered");
      clock.advance(1_000);
      expect(await there.get(registration.node)).toEqual({ kind: "absent" });
      clock.advance(delayMs);
      expect(await there.get(registration.node)).toEqual({ kind: "deleted" });
    });

    it("mints a new node when the identity registers again after its deletion", async () => {
      const { clock, here, there } = twoLocations();
      const first = await register(here, freshRegistration());
      clock.advance(delayMs);
      await here.delete(first, "token-dead");
      clock.advance(delayMs);

      const second = await register(there, { ...first, token: "token-2", tokenUpdatedAt: first.tokenUpdatedAt + 1 });

      expect(second.node).not.toBe(first.node);
      expect(await there.get(first.node)).toEqual({ kind: "deleted" });
      clock.advance(delayMs);
      expect(await here.get(first.node)).toEqual({ kind: "deleted" });
      expect(await here.findByIdentity(identityOf(first))).toEqual(second);
    });

    it("shares the endpoint ledger between locations at once: it is never kept in KV", async () => {
      const { here, there } = twoLocations();
      const key = crypto.randomUUID().replaceAll("-", "");
      expect(await here.endpoints.attach(key, "arn:endpoint/1", "node-1", 2)).toEqual({ kind: "attached", users: 1 });
      expect(await there.endpoints.attach(key, "arn:endpoint/1", "node-2", 2)).toEqual({ kind: "attached", users: 2 });
      expect(await here.endpoints.attach(key, "arn:endpoint/1", "node-3", 2)).toEqual({ kind: "full" });
      expect(await there.endpoints.detach(key, "node-1")).toEqual({ arn: "arn:endpoint/1", remaining: 1 });
      expect(await here.endpoints.users(key)).toEqual(["node-2"]);
    });

    it("keeps a node dead when a token refresh elsewhere rewrote it before the deletion arrived", async () => {
      const { clock, here, there } = twoLocations();
      const first = await register(here, freshRegistration());
      clock.advance(delayMs);

      // The refresh there is decided first; its reg: write is still on its way when the deletion lands here.
      const refreshed = await register(there, { ...first, token: "token-2", tokenUpdatedAt: first.tokenUpdatedAt + 1 });
      expect(refreshed.node).toBe(first.node);
      await here.delete(first, "unregistered");
      clock.advance(delayMs);

      expect(await there.get(first.node)).toEqual({ kind: "deleted" });
      expect(await here.get(first.node)).toEqual({ kind: "deleted" });
      expect(await there.findByIdentity(identityOf(first))).toBeUndefined();
      const again = await register(there, refreshed);
      expect(again.node).not.toBe(first.node);
    });
  });
}
