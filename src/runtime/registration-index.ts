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
import type { AttachOutcome, EndpointLedger } from "../ports/store";
import {
  attachEntry,
  type DetachResult,
  decodeEndpointEntry,
  detachEntry,
  type EndpointEntry,
} from "../store/endpoint-ledger";
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

/** The storage key of the one endpoint an endpoint object holds. */
const ENDPOINT_KEY = "endpoint";

/**
 * One owner's registrations (an account, or a REST app), strongly consistent: the single writer that
 * Workers KV cannot be. Each call runs alone (`blockConcurrencyWhile`), so simultaneous registrations
 * of one identity yield one node and the owner's count never passes its cap. Publishes never come
 * here: they read registrations from KV.
 *
 * The same class also holds one shared delivery endpoint (an SNS platform endpoint) per object named
 * `endpoint:{key}` (see {@link DurableObjectEndpointLedger}): one value `{ arn, users }` under the key
 * `endpoint`, read and written by one call at a time. An object holds either an owner or an endpoint,
 * never both; reusing the class needs no new wrangler.toml migration.
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

  /** The endpoint of this object: adds `node` to its users (see {@link EndpointLedger.attach}). */
  attachEndpoint(arn: string, node: string, cap: number): Promise<AttachOutcome> {
    return this.ctx.blockConcurrencyWhile(async () => {
      const attached = attachEntry(await this.endpoint(), arn, node, cap);
      if (attached === undefined) return { kind: "full" };
      await this.ctx.storage.put(ENDPOINT_KEY, attached.entry);
      return attached.outcome;
    });
  }

  /** The endpoint of this object: removes `node`, forgetting the endpoint with its last user. */
  detachEndpoint(node: string): Promise<DetachResult> {
    return this.ctx.blockConcurrencyWhile(async () => {
      const detached = detachEntry(await this.endpoint(), node);
      if (detached === undefined) return undefined;
      if (detached.entry === undefined) await this.ctx.storage.delete(ENDPOINT_KEY);
      else await this.ctx.storage.put(ENDPOINT_KEY, detached.entry);
      return detached.result;
    });
  }

  /** The nodes using the endpoint of this object. */
  endpointUsers(): Promise<readonly string[]> {
    return this.ctx.blockConcurrencyWhile(async () => [...((await this.endpoint())?.users ?? [])]);
  }

  private async endpoint(): Promise<EndpointEntry | undefined> {
    return decodeEndpointEntry(await this.ctx.storage.get(ENDPOINT_KEY));
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

/**
 * The {@link EndpointLedger} of the Worker: one {@link RegistrationIndex} object per endpoint, named
 * `endpoint:{key}` (the key is already a SHA-256 hash, so names carry no token). Each call is one
 * Durable Object call, run alone in its object, so every step is atomic per key.
 */
export class DurableObjectEndpointLedger implements EndpointLedger {
  /** `prefix` keeps several stores in one namespace apart (tests; the KV store's `keyPrefix`). */
  constructor(
    private readonly namespace: DurableObjectNamespace<RegistrationIndex>,
    private readonly prefix = "",
  ) {}

  attach(key: string, arn: string, node: string, cap: number): Promise<AttachOutcome> {
    return this.stub(key).attachEndpoint(arn, node, cap);
  }

  detach(key: string, node: string): Promise<DetachResult> {
    return this.stub(key).detachEndpoint(node);
  }

  async users(key: string): Promise<readonly string[]> {
    return this.stub(key).endpointUsers();
  }

  private stub(key: string): DurableObjectStub<RegistrationIndex> {
    return this.namespace.get(this.namespace.idFromName(`${this.prefix}endpoint:${key}`));
  }
}
