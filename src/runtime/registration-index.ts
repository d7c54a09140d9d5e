import { DurableObject } from "cloudflare:workers";
import {
  originOf,
  ownerKey,
  type RegisterOutcome,
  type RegisterRequest,
  type Registration,
  type RegistrationIdentity,
  requestOwnerKey,
} from "../domain/registration";
import {
  identityHash,
  identityOwnerKey,
  type LedgerStorage,
  type OwnerIndex,
  OwnerLedger,
  sha256Hex,
} from "../store/owner-index";

/** A Durable Object's storage as an {@link LedgerStorage}: several keys are written in one atomic put. */
class DurableLedgerStorage implements LedgerStorage {
  constructor(private readonly storage: DurableObjectStorage) {}

  async get(key: string): Promise<string | undefined> {
    const value = await this.storage.get<string>(key);
    return typeof value === "string" ? value : undefined;
  }

  async put(entries: Readonly<Record<string, string>>): Promise<void> {
    await this.storage.put(entries);
  }

  async delete(keys: readonly string[]): Promise<void> {
    await this.storage.delete([...keys]);
  }
}

/**
 * One owner's registrations (an account, or a REST app), strongly consistent: the single writer that
 * Workers KV cannot be. Each call runs alone (`blockConcurrencyWhile`), so simultaneous registrations
 * of one identity yield one node and the owner's count never passes its cap. Publishes never come
 * here: they read registrations from KV.
 * @see https://developers.cloudflare.com/durable-objects/api/state/#blockconcurrencywhile
 */
export class RegistrationIndex extends DurableObject {
  private readonly ledger = new OwnerLedger(new DurableLedgerStorage(this.ctx.storage));

  register(request: RegisterRequest, hash: string | undefined): Promise<RegisterOutcome> {
    return this.ctx.blockConcurrencyWhile(() => this.ledger.register(request, hash));
  }

  find(hash: string): Promise<Registration | undefined> {
    return this.ctx.blockConcurrencyWhile(() => this.ledger.find(hash));
  }

  update(registration: Registration, hash: string | undefined): Promise<boolean> {
    return this.ctx.blockConcurrencyWhile(() => this.ledger.update(registration, hash));
  }

  remove(registration: Registration, hash: string | undefined): Promise<void> {
    return this.ctx.blockConcurrencyWhile(() => this.ledger.remove(registration, hash));
  }
}

/**
 * The {@link OwnerIndex} of the Worker: one {@link RegistrationIndex} object per owner, named by a
 * SHA-256 of the owner so that object names never carry an account.
 */
export class DurableObjectOwnerIndex implements OwnerIndex {
  /** `prefix` keeps several stores in one namespace apart (tests; the KV store's `keyPrefix`). */
  constructor(
    private readonly namespace: DurableObjectNamespace<RegistrationIndex>,
    private readonly prefix = "",
  ) {}

  async register(request: RegisterRequest): Promise<RegisterOutcome> {
    const hash = request.origin === "xmpp" ? await identityHash(request.identity) : undefined;
    return (await this.stub(requestOwnerKey(request))).register(request, hash);
  }

  async find(identity: RegistrationIdentity): Promise<Registration | undefined> {
    const hash = await identityHash(identity);
    return (await this.stub(identityOwnerKey(identity))).find(hash);
  }

  async update(registration: Registration): Promise<boolean> {
    const hash = originOf(registration) === "xmpp" ? await identityHash(registration) : undefined;
    return (await this.stub(ownerKey(registration))).update(registration, hash);
  }

  async remove(registration: Registration): Promise<void> {
    const hash = originOf(registration) === "xmpp" ? await identityHash(registration) : undefined;
    await (await this.stub(ownerKey(registration))).remove(registration, hash);
  }

  private async stub(owner: string): Promise<DurableObjectStub<RegistrationIndex>> {
    return this.namespace.get(this.namespace.idFromName(this.prefix + (await sha256Hex(owner))));
  }
}
