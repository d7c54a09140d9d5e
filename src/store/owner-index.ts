import {
  decideRegistration,
  identityKey,
  originOf,
  ownerKey,
  type RegisterOutcome,
  type RegisterRequest,
  type Registration,
  type RegistrationIdentity,
  requestOwnerKey,
} from "../domain/registration";
import { decodeRegistration, encodeRegistration } from "./codec";

/**
 * The strongly consistent half of a store whose registrations are read from an eventually consistent
 * place (Workers KV): per owner (an account, or a REST app), its identities, their nodes and how many
 * there are. On Workers one Durable Object per owner holds it (`src/runtime/registration-index.ts`);
 * {@link MemoryOwnerIndex} holds it in one process. KV cannot: it has no compare-and-set.
 */
export interface OwnerIndex {
  /** Decides and records a registration atomically for its owner (see `decideRegistration`). */
  register(request: RegisterRequest): Promise<RegisterOutcome>;
  /** The live XMPP registration of an identity. */
  find(identity: RegistrationIdentity): Promise<Registration | undefined>;
  /** Rewrites a live registration (same node); false when it is no longer live. */
  update(registration: Registration): Promise<boolean>;
  /** Forgets a registration if the owner still holds this node. */
  remove(registration: Registration): Promise<void>;
}

/** Where one owner's ledger keeps its entries: a Durable Object's storage, or a map. */
export interface LedgerStorage {
  get(key: string): Promise<string | undefined>;
  /** Writes all entries at once (a Durable Object writes several keys atomically). */
  put(entries: Readonly<Record<string, string>>): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
}

const COUNT_KEY = "count";

/** The owner of an XMPP identity: its account (see `ownerKey`). */
export function identityOwnerKey(identity: RegistrationIdentity): string {
  return ownerKey({ account: identity.account, app: "" });
}

/** Lower-case hex SHA-256 (WebCrypto, the same on Workers and Node). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The SHA-256 of an identity, so that ledger keys never name an account, device or token. */
export function identityHash(identity: RegistrationIdentity): Promise<string> {
  return sha256Hex(identityKey(identity));
}

/** The ledger key of a registration: its identity for XMPP ones, its node for REST ones. */
export function ledgerKey(origin: "xmpp" | "rest", hash: string | undefined, node: string): string {
  return origin === "xmpp" && hash !== undefined ? `i:${hash}` : `n:${node}`;
}

/**
 * One owner's registrations and their count. The caller runs each method alone (a Durable Object's
 * `blockConcurrencyWhile`, or {@link MemoryOwnerIndex}'s per-owner queue): that is what makes a
 * registration atomic. `hash` is the {@link identityHash} of an XMPP identity, computed by the caller.
 */
export class OwnerLedger {
  constructor(private readonly storage: LedgerStorage) {}

  async register(request: RegisterRequest, hash: string | undefined): Promise<RegisterOutcome> {
    let key: string | undefined;
    let existing: Registration | undefined;
    if (request.refreshNode !== undefined) {
      key = `n:${request.refreshNode}`;
      const stored = decodeRegistration(await this.storage.get(key));
      existing = stored !== undefined && originOf(stored) === "rest" && stored.app === request.app ? stored : undefined;
    } else if (request.origin === "xmpp" && hash !== undefined) {
      key = `i:${hash}`;
      existing = decodeRegistration(await this.storage.get(key));
    }
    const count = Number((await this.storage.get(COUNT_KEY)) ?? "0");
    const outcome = decideRegistration(existing, count, request);
    if (outcome.kind === "refreshed" && key !== undefined)
      await this.storage.put({ [key]: encodeRegistration(outcome.registration) });
    if (outcome.kind === "created") {
      const createdKey = ledgerKey(request.origin, hash, outcome.registration.node);
      await this.storage.put({
        [createdKey]: encodeRegistration(outcome.registration),
        [COUNT_KEY]: String(count + 1),
      });
    }
    return outcome;
  }

  async find(hash: string): Promise<Registration | undefined> {
    return decodeRegistration(await this.storage.get(`i:${hash}`));
  }

  async update(registration: Registration, hash: string | undefined): Promise<boolean> {
    const key = ledgerKey(originOf(registration), hash, registration.node);
    const stored = decodeRegistration(await this.storage.get(key));
    if (stored?.node !== registration.node) return false;
    await this.storage.put({ [key]: encodeRegistration(registration) });
    return true;
  }

  async remove(registration: Registration, hash: string | undefined): Promise<void> {
    const key = ledgerKey(originOf(registration), hash, registration.node);
    const stored = decodeRegistration(await this.storage.get(key));
    if (stored?.node !== registration.node) return;
    const count = Number((await this.storage.get(COUNT_KEY)) ?? "1");
    if (count <= 1) await this.storage.delete([key, COUNT_KEY]);
    else {
      await this.storage.delete([key]);
      await this.storage.put({ [COUNT_KEY]: String(count - 1) });
    }
  }
}

class MapStorage implements LedgerStorage {
  readonly entries = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.entries.get(key);
  }

  async put(entries: Readonly<Record<string, string>>): Promise<void> {
    for (const [key, value] of Object.entries(entries)) this.entries.set(key, value);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }
}

/**
 * An {@link OwnerIndex} in process memory: one ledger per owner, each owner's operations queued one
 * after the other. Right for one process (tests, the KV store outside Workers); across Worker
 * isolates only the Durable Object index is.
 */
export class MemoryOwnerIndex implements OwnerIndex {
  private readonly owners = new Map<string, { ledger: OwnerLedger; storage: MapStorage; queue: Promise<unknown> }>();

  async register(request: RegisterRequest): Promise<RegisterOutcome> {
    const hash = request.origin === "xmpp" ? await identityHash(request.identity) : undefined;
    return this.serially(requestOwnerKey(request), (ledger) => ledger.register(request, hash));
  }

  async find(identity: RegistrationIdentity): Promise<Registration | undefined> {
    const hash = await identityHash(identity);
    return this.serially(identityOwnerKey(identity), (ledger) => ledger.find(hash));
  }

  async update(registration: Registration): Promise<boolean> {
    const hash = originOf(registration) === "xmpp" ? await identityHash(registration) : undefined;
    return this.serially(ownerKey(registration), (ledger) => ledger.update(registration, hash));
  }

  async remove(registration: Registration): Promise<void> {
    const hash = originOf(registration) === "xmpp" ? await identityHash(registration) : undefined;
    await this.serially(ownerKey(registration), (ledger) => ledger.remove(registration, hash));
  }

  private serially<T>(owner: string, work: (ledger: OwnerLedger) => Promise<T>): Promise<T> {
    let entry = this.owners.get(owner);
    if (entry === undefined) {
      const storage = new MapStorage();
      entry = { ledger: new OwnerLedger(storage), storage, queue: Promise.resolve() };
      this.owners.set(owner, entry);
    }
    const { ledger } = entry;
    const result = entry.queue.then(() => work(ledger));
    entry.queue = result.catch(() => undefined);
    return result;
  }
}
