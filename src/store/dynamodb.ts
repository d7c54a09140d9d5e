import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import {
  decideRegistration,
  identityKey,
  originOf,
  type RegisterOutcome,
  type RegisterRequest,
  type Registration,
  type RegistrationIdentity,
  requestOwnerKey,
} from "../domain/registration";
import type { AttachOutcome, DeletionReason, EndpointLedger, NodeLookup, RegistrationStore } from "../ports/store";
import { decodeRegistration, encodeRegistration } from "./codec";
import type { DetachResult } from "./endpoint-ledger";
import { sha256Hex } from "./owner-index";
import { DEFAULT_TOMBSTONE_TTL_SECONDS, type TombstoneOptions } from "./tombstones";

/** The TTL attribute of tombstones (epoch seconds), enabled by {@link createRegistrationsTable}. */
export const EXPIRES_AT_ATTRIBUTE = "expiresAt";

/** How many times `register` reads and tries again after a simultaneous call changed what it read. */
const MAX_ATTEMPTS = 8;

type Item = Record<string, AttributeValue>;

const regKey = (node: string) => `reg#${node}`;
const identityItemKey = (hash: string) => `id#${hash}`;
const ownerItemKey = (hash: string) => `owner#${hash}`;
const deadKey = (node: string) => `dead#${node}`;
const endpointItemKey = (key: string) => `ep#${key}`;

function key(pk: string): Item {
  return { pk: { S: pk } };
}

function stringAttribute(item: Item | undefined, name: string): string | undefined {
  const value = item?.[name];
  return value !== undefined && "S" in value && typeof value.S === "string" ? value.S : undefined;
}

function stringSetAttribute(item: Item | undefined, name: string): readonly string[] {
  const value = item?.[name];
  return value !== undefined && "SS" in value && Array.isArray(value.SS) ? value.SS : [];
}

function numberAttribute(item: Item | undefined, name: string): number | undefined {
  const value = item?.[name];
  if (value === undefined || !("N" in value) || typeof value.N !== "string") return undefined;
  const number = Number(value.N);
  return Number.isFinite(number) ? number : undefined;
}

/** Whether `error` is a failed `ConditionExpression`: what the condition guarded changed first. */
function conditionFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

/** A short jittered pause before attempt `attempt + 1`, growing with it: 0–2, 0–4, … ms, at most 0–64. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(64, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Creates the registrations table: partition key `pk` (string) only, on-demand billing, and then tries
 * to turn on the TTL attribute `expiresAt` (so that DynamoDB eventually removes expired tombstones).
 * Servers without `UpdateTimeToLive` (dynalite answers `UnknownOperationException`) keep the table
 * without TTL: nothing depends on it, since the store checks a tombstone's expiry on read; expired
 * tombstones then stay stored. For tests and for operators who do not create the table with
 * infrastructure as code. See the DynamoDB API reference:
 * [CreateTable](https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html),
 * [UpdateTimeToLive](https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html).
 * @param waitSeconds how long to wait for the table to become `ACTIVE` before enabling the TTL
 */
export async function createRegistrationsTable(client: DynamoDBClient, table: string, waitSeconds = 60): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: waitSeconds, minDelay: 1 }, { TableName: table });
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: EXPIRES_AT_ATTRIBUTE, Enabled: true },
      }),
    );
  } catch (error) {
    if (!(error instanceof Error) || error.name !== "UnknownOperationException") throw error;
  }
}

/** What a `reg#` item says besides its record. */
interface StoredRegistration {
  readonly item: Item;
  readonly registration: Registration | undefined;
}

/**
 * Registrations in one DynamoDB table (docs/storage.md, "DynamoDB"), for the AWS Lambda runtime and any
 * Node process that shares its registrations. Every read is `ConsistentRead`; every write is one
 * single-item `PutItem`, `UpdateItem` or `DeleteItem`, atomic and guarded by a `ConditionExpression`.
 * No transactions: dynalite (the tests' server) and DynamoDB Local lack them, and the two guarantees
 * need none:
 * - an owner never passes its cap: a new registration first claims a slot with one conditional
 *   `UpdateItem` of `owner#` (`live + 1` only while `live < cap`);
 * - one identity has one node: the conditional `PutItem` of `id#` (only if absent) decides which
 *   candidate node wins; a loser gives its slot back and refreshes the winner's node.
 *
 * The steps of one call are separate writes, so a process that stops between them leaves:
 * - a claimed slot without a registration (stopped after the claim, or before giving back a lost
 *   one): the owner's cap is one lower, until the `live` count is corrected by hand
 *   (docs/storage.md);
 * - an `id#` without its `reg#` (stopped between the two puts): the next registration of the identity
 *   writes the missing `reg#` for that node (its slot was already claimed) and refreshes it; if a
 *   tombstone says the node was deleted (a `delete` stopped before removing `id#`), it removes `id#`
 *   instead and the identity gets a new node;
 * - after a tombstone, a `reg#` not yet deleted: `get` still finds it until a `delete` runs again.
 *
 * Tombstones carry the TTL attribute `expiresAt` and are also checked for expiry on read (DynamoDB
 * removes expired items only within a few days; dynalite never).
 *
 * Shared delivery endpoints live in the same table, one `ep#` item each ({@link DynamoDbEndpointLedger}).
 */
export class DynamoDbRegistrationStore implements RegistrationStore {
  readonly endpoints: EndpointLedger;
  private readonly ttlMs: number;
  private readonly now: () => number;

  /**
   * @param client an SDK client built by the runtime (region, credentials; `endpoint` for tests)
   * @param table the table's name (`REGISTRATIONS_TABLE`), made as {@link createRegistrationsTable} does
   */
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    options: TombstoneOptions = {},
  ) {
    this.ttlMs = (options.tombstoneTtlSeconds ?? DEFAULT_TOMBSTONE_TTL_SECONDS) * 1000;
    this.now = options.now ?? Date.now;
    this.endpoints = new DynamoDbEndpointLedger(client, table);
  }

  async get(node: string): Promise<NodeLookup> {
    const stored = await this.readRegistration(node);
    if (stored?.registration !== undefined) return { kind: "found", registration: stored.registration };
    const tombstone = await this.read(deadKey(node));
    if (tombstone === undefined) return { kind: "absent" };
    // DynamoDB deletes expired items late (dynalite never): an expired tombstone reads as absent.
    const at = numberAttribute(tombstone, "at");
    const expiresAt = numberAttribute(tombstone, EXPIRES_AT_ATTRIBUTE);
    const expired =
      at !== undefined ? at < this.now() - this.ttlMs : expiresAt !== undefined && expiresAt * 1000 <= this.now();
    return expired ? { kind: "absent" } : { kind: "deleted" };
  }

  async findByIdentity(identity: RegistrationIdentity): Promise<Registration | undefined> {
    const node = stringAttribute(await this.read(identityItemKey(await sha256Hex(identityKey(identity)))), "node");
    if (node === undefined) return undefined;
    const registration = (await this.readRegistration(node))?.registration;
    return registration !== undefined && originOf(registration) === "xmpp" ? registration : undefined;
  }

  async register(request: RegisterRequest): Promise<RegisterOutcome> {
    if (request.refreshNode !== undefined) return this.refreshNode(request, request.refreshNode);
    const ownerHash = await sha256Hex(requestOwnerKey(request));
    if (request.origin === "rest") return this.createRest(request, ownerHash);
    return this.registerIdentity(request, ownerHash, await sha256Hex(identityKey(request.identity)));
  }

  async update(registration: Registration): Promise<void> {
    await this.rewrite(registration);
  }

  /**
   * Puts the tombstone, then deletes `reg#` and, only if that delete removed an item (so one of two
   * simultaneous deletes), gives the owner's slot back and deletes `id#` if it still names the node.
   */
  async delete(registration: Registration, reason: DeletionReason): Promise<void> {
    const { node } = registration;
    const at = this.now();
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          ...key(deadKey(node)),
          reason: { S: reason },
          at: { N: String(at) },
          [EXPIRES_AT_ATTRIBUTE]: { N: String(Math.ceil((at + this.ttlMs) / 1000)) },
        },
      }),
    );
    const { Attributes: removed } = await this.client.send(
      new DeleteItemCommand({ TableName: this.table, Key: key(regKey(node)), ReturnValues: "ALL_OLD" }),
    );
    if (removed === undefined) return;
    const ownerHash = stringAttribute(removed, "owner");
    const identityHash = stringAttribute(removed, "identity");
    await Promise.all([
      ownerHash === undefined ? undefined : this.releaseSlot(ownerHash),
      identityHash === undefined ? undefined : this.deleteIdentity(identityHash, node),
    ]);
  }

  /** Destroys the SDK client (its sockets); the store is not used afterwards. */
  async close(): Promise<void> {
    this.client.destroy();
  }

  /** A REST refresh: the node's live REST registration of the same app, rewritten while it lives. */
  private async refreshNode(request: RegisterRequest, node: string): Promise<RegisterOutcome> {
    const registration = (await this.readRegistration(node))?.registration;
    const live = registration !== undefined && originOf(registration) === "rest" && registration.app === request.app;
    const outcome = decideRegistration(live ? registration : undefined, 0, request);
    if (outcome.kind !== "refreshed") return outcome;
    // Deleted since the read: nodes never come back, so it is gone.
    return (await this.rewrite(outcome.registration)) ? outcome : { kind: "gone" };
  }

  /** A new REST registration: claim a slot, then put the candidate node. */
  private async createRest(request: RegisterRequest, ownerHash: string): Promise<RegisterOutcome> {
    const outcome = decideRegistration(undefined, 0, request);
    if (outcome.kind !== "created") return outcome;
    if (!(await this.claimSlot(ownerHash, request.cap))) return { kind: "over-cap" };
    if (!(await this.putRegistration(outcome.registration, ownerHash, undefined))) {
      await this.releaseSlot(ownerHash);
      throw new Error("DynamoDB registration store: the candidate node is already taken");
    }
    return outcome;
  }

  /**
   * An XMPP registration: refresh the identity's live node, or claim a slot, then `id#`, then put
   * `reg#`. Reads again after losing `id#` to a simultaneous registration (then refreshes the winner's
   * node), after a refresh of a node deleted meanwhile, and after repairing an `id#` without `reg#`.
   */
  private async registerIdentity(
    request: RegisterRequest,
    ownerHash: string,
    identityHash: string,
  ): Promise<RegisterOutcome> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (attempt > 1) await backoff(attempt - 1);
      const identityNode = stringAttribute(await this.read(identityItemKey(identityHash)), "node");
      let replacing: string | undefined;
      if (identityNode !== undefined) {
        const stored = await this.readRegistration(identityNode);
        if (stored === undefined) {
          await this.repair(identityNode, request, ownerHash, identityHash);
          continue;
        }
        const existing = stored.registration;
        if (existing !== undefined && originOf(existing) === "xmpp") {
          const outcome = decideRegistration(existing, 0, request);
          if (outcome.kind !== "refreshed") return outcome;
          if (await this.rewrite(outcome.registration)) return outcome;
          continue; // deleted meanwhile: its delete removes `id#` next, then the identity is new
        }
        // The record is unreadable: the identity gets a new node, replacing `id#` only if unchanged.
        replacing = identityNode;
      }
      const outcome = decideRegistration(undefined, 0, request);
      if (outcome.kind !== "created") return outcome;
      if (!(await this.claimSlot(ownerHash, request.cap))) return { kind: "over-cap" };
      if (!(await this.claimIdentity(identityHash, outcome.registration.node, replacing))) {
        // A simultaneous registration of the identity won: give the slot back and refresh its node.
        await this.releaseSlot(ownerHash);
        continue;
      }
      if (!(await this.putRegistration(outcome.registration, ownerHash, identityHash)))
        // A simultaneous registration found our `id#` before our `reg#` and repaired it: ours is the record.
        await this.rewrite(outcome.registration);
      return outcome;
    }
    throw new Error(`DynamoDB registration store: register lost ${MAX_ATTEMPTS} races in a row`);
  }

  /**
   * `id#` names `node`, whose `reg#` is missing. If a tombstone says the node was deleted, a `delete`
   * stopped (or is still running) between removing `reg#` and `id#`: remove `id#`, so the identity gets
   * a new node. Otherwise a registration stopped (or is still running) between putting `id#` and `reg#`:
   * put `reg#` as a new registration of that node; its slot was claimed already, so no count changes.
   */
  private async repair(node: string, request: RegisterRequest, ownerHash: string, identityHash: string): Promise<void> {
    if ((await this.read(deadKey(node))) !== undefined) {
      await this.deleteIdentity(identityHash, node);
      return;
    }
    // The cap was checked when the slot was claimed: none applies here.
    const repaired = decideRegistration(undefined, 0, { ...request, candidateNode: node, cap: 1 });
    // A failed condition: the registration that claimed `id#` (or another repair) put it first.
    if (repaired.kind === "created") await this.putRegistration(repaired.registration, ownerHash, identityHash);
  }

  private async read(pk: string): Promise<Item | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: key(pk), ConsistentRead: true }),
    );
    return Item;
  }

  private async readRegistration(node: string): Promise<StoredRegistration | undefined> {
    const item = await this.read(regKey(node));
    return item === undefined
      ? undefined
      : { item, registration: decodeRegistration(stringAttribute(item, "data"), node) };
  }

  /** Runs a conditional write: false if its condition failed. */
  private async conditional(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw error;
    }
  }

  /** Adds one to the owner's `live` while it is below `cap`: false when the owner is at its cap. */
  private claimSlot(ownerHash: string, cap: number): Promise<boolean> {
    if (cap <= 0) return Promise.resolve(false);
    return this.conditional(() =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key(ownerItemKey(ownerHash)),
          UpdateExpression: "SET #live = if_not_exists(#live, :zero) + :one",
          ConditionExpression: "attribute_not_exists(#live) OR #live < :cap",
          ExpressionAttributeNames: { "#live": "live" },
          ExpressionAttributeValues: { ":zero": { N: "0" }, ":one": { N: "1" }, ":cap": { N: String(cap) } },
        }),
      ),
    );
  }

  /** Subtracts one from the owner's `live`, never below zero. */
  private async releaseSlot(ownerHash: string): Promise<void> {
    await this.conditional(() =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key(ownerItemKey(ownerHash)),
          UpdateExpression: "SET #live = #live - :one",
          ConditionExpression: "#live > :zero",
          ExpressionAttributeNames: { "#live": "live" },
          ExpressionAttributeValues: { ":zero": { N: "0" }, ":one": { N: "1" } },
        }),
      ),
    );
  }

  /** Puts `id#` naming `node` if it is absent (or still names `replacing`): false if another call won. */
  private claimIdentity(identityHash: string, node: string, replacing: string | undefined): Promise<boolean> {
    return this.conditional(() =>
      this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...key(identityItemKey(identityHash)), node: { S: node } },
          ...(replacing === undefined
            ? { ConditionExpression: "attribute_not_exists(pk)" }
            : {
                ConditionExpression: "#node = :node",
                ExpressionAttributeNames: { "#node": "node" },
                ExpressionAttributeValues: { ":node": { S: replacing } },
              }),
        }),
      ),
    );
  }

  /** Deletes `id#` only if it still names `node`. */
  private async deleteIdentity(identityHash: string, node: string): Promise<void> {
    await this.conditional(() =>
      this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: key(identityItemKey(identityHash)),
          ConditionExpression: "#node = :node",
          ExpressionAttributeNames: { "#node": "node" },
          ExpressionAttributeValues: { ":node": { S: node } },
        }),
      ),
    );
  }

  /** Puts `reg#` if absent: false if the node already has one. */
  private putRegistration(
    registration: Registration,
    ownerHash: string,
    identityHash: string | undefined,
  ): Promise<boolean> {
    return this.conditional(() =>
      this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            ...key(regKey(registration.node)),
            data: { S: encodeRegistration(registration) },
            owner: { S: ownerHash },
            ...(identityHash !== undefined ? { identity: { S: identityHash } } : {}),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),
    );
  }

  /** Rewrites the record of a live node: false if the node has no `reg#` (deleted, or never stored). */
  private rewrite(registration: Registration): Promise<boolean> {
    return this.conditional(() =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key(regKey(registration.node)),
          UpdateExpression: "SET #data = :data",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: { "#data": "data" },
          ExpressionAttributeValues: { ":data": { S: encodeRegistration(registration) } },
        }),
      ),
    );
  }
}

/**
 * The endpoint ledger in the registrations table: one item per endpoint, `pk` = `ep#{key}`, with `arn`
 * (S) and `users` (SS, the nodes). Every step is one single-item write, atomic in DynamoDB:
 * - attach: `UpdateItem SET arn ADD users` if the node is a user already or `users` has fewer than `cap`
 *   members (a failed condition is `full`);
 * - detach: `UpdateItem DELETE users` if the node is a user (DynamoDB removes a set that becomes empty);
 *   with no user left, `DeleteItem` only if `users` is still absent, so an attach that came in between
 *   keeps the item;
 * - users: a strongly consistent `GetItem`.
 */
export class DynamoDbEndpointLedger implements EndpointLedger {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async attach(key: string, arn: string, node: string, cap: number): Promise<AttachOutcome> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: { S: endpointItemKey(key) } },
          UpdateExpression: "SET #arn = :arn ADD #users :nodes",
          // A node already there always re-attaches; a new one only below the cap (none at a cap of 0).
          ConditionExpression:
            cap > 0
              ? "attribute_not_exists(#users) OR contains(#users, :node) OR size(#users) < :cap"
              : "contains(#users, :node)",
          ExpressionAttributeNames: { "#arn": "arn", "#users": "users" },
          ExpressionAttributeValues: {
            ":arn": { S: arn },
            ":nodes": { SS: [node] },
            ":node": { S: node },
            ...(cap > 0 ? { ":cap": { N: String(cap) } } : {}),
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return { kind: "attached", users: stringSetAttribute(Attributes, "users").length };
    } catch (error) {
      if (conditionFailed(error)) return { kind: "full" };
      throw error;
    }
  }

  async detach(key: string, node: string): Promise<DetachResult> {
    let remaining: Item | undefined;
    try {
      ({ Attributes: remaining } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: { S: endpointItemKey(key) } },
          UpdateExpression: "DELETE #users :nodes",
          ConditionExpression: "contains(#users, :node)",
          ExpressionAttributeNames: { "#users": "users" },
          ExpressionAttributeValues: { ":nodes": { SS: [node] }, ":node": { S: node } },
          ReturnValues: "ALL_NEW",
        }),
      ));
    } catch (error) {
      if (conditionFailed(error)) return undefined; // unknown key, or not a user (a repeated detach)
      throw error;
    }
    const arn = stringAttribute(remaining, "arn");
    if (arn === undefined) throw new Error("DynamoDB endpoint ledger: an ep# item without its arn");
    const users = stringSetAttribute(remaining, "users").length;
    if (users === 0) await this.forget(key);
    return { arn, remaining: users };
  }

  async users(key: string): Promise<readonly string[]> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: { S: endpointItemKey(key) } }, ConsistentRead: true }),
    );
    return [...stringSetAttribute(Item, "users")];
  }

  /** Deletes the item only while it still has no user: a simultaneous attach keeps it. */
  private async forget(key: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: { pk: { S: endpointItemKey(key) } },
          ConditionExpression: "attribute_not_exists(#users)",
          ExpressionAttributeNames: { "#users": "users" },
        }),
      );
    } catch (error) {
      if (!conditionFailed(error)) throw error;
    }
  }
}
