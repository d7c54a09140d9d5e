import {
  type AttributeValue,
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
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
import type { DeletionReason, NodeLookup, RegistrationStore } from "../ports/store";
import { decodeRegistration, encodeRegistration } from "./codec";
import { sha256Hex } from "./owner-index";
import { DEFAULT_TOMBSTONE_TTL_SECONDS, type TombstoneOptions } from "./tombstones";

/** The TTL attribute of tombstones (epoch seconds), enabled by {@link createRegistrationsTable}. */
export const EXPIRES_AT_ATTRIBUTE = "expiresAt";

/** How many times `register` and `delete` read, decide and write again after losing a race. */
const MAX_ATTEMPTS = 8;

type Item = Record<string, AttributeValue>;

const regKey = (node: string) => `reg#${node}`;
const identityItemKey = (hash: string) => `id#${hash}`;
const ownerItemKey = (hash: string) => `owner#${hash}`;
const deadKey = (node: string) => `dead#${node}`;

function key(pk: string): Item {
  return { pk: { S: pk } };
}

function stringAttribute(item: Item | undefined, name: string): string | undefined {
  const value = item?.[name];
  return value !== undefined && "S" in value && typeof value.S === "string" ? value.S : undefined;
}

function numberAttribute(item: Item | undefined, name: string): number | undefined {
  const value = item?.[name];
  if (value === undefined || !("N" in value) || typeof value.N !== "string") return undefined;
  const number = Number(value.N);
  return Number.isFinite(number) ? number : undefined;
}

/** Whether `error` says that a condition failed or a concurrent transaction won: read and decide again. */
function lostRace(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === "TransactionCanceledException" ||
    error.name === "ConditionalCheckFailedException" ||
    error.name === "TransactionConflictException"
  );
}

/** A short jittered pause before attempt `attempt` (1-based), growing with it: 0–2, 0–4, … ms, at most 0–64. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(64, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Creates the registrations table: partition key `pk` (string) only, on-demand billing, and the TTL
 * attribute `expiresAt` on (so that DynamoDB eventually removes expired tombstones; the store also
 * checks expiry on read). For tests and for operators who do not create the table with infrastructure
 * as code. See the DynamoDB API reference:
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
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: table,
      TimeToLiveSpecification: { AttributeName: EXPIRES_AT_ATTRIBUTE, Enabled: true },
    }),
  );
}

/** What a `reg#` item says besides its record. */
interface StoredRegistration {
  readonly item: Item;
  readonly registration: Registration | undefined;
}

/**
 * Registrations in one DynamoDB table (docs/storage.md, "DynamoDB"), for the AWS Lambda runtime and any
 * Node process that shares its registrations. Strongly consistent: every read is `ConsistentRead`,
 * `register` reads, decides with `decideRegistration` and writes in one `TransactWriteItems` whose
 * conditions fail if the identity, the owner's count (against the cap) or the new node changed since
 * the read, then starts again; so one identity has one node and an owner never passes its cap however
 * many gateways register at once. Tombstones carry the TTL attribute `expiresAt` and are also checked
 * for expiry on read (DynamoDB removes expired items only within a few days).
 */
export class DynamoDbRegistrationStore implements RegistrationStore {
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
    const ownerHash = await sha256Hex(requestOwnerKey(request));
    const identityHash =
      request.origin === "xmpp" && request.refreshNode === undefined
        ? await sha256Hex(identityKey(request.identity))
        : undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.registerOnce(request, ownerHash, identityHash);
      } catch (error) {
        if (!lostRace(error) || attempt >= MAX_ATTEMPTS) throw error;
      }
      await backoff(attempt);
    }
  }

  async update(registration: Registration): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key(regKey(registration.node)),
          UpdateExpression: "SET #data = :data",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: { "#data": "data" },
          ExpressionAttributeValues: { ":data": { S: encodeRegistration(registration) } },
        }),
      );
    } catch (error) {
      if (error instanceof Error && error.name === "ConditionalCheckFailedException") return;
      throw error;
    }
  }

  async delete(registration: Registration, reason: DeletionReason): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.deleteOnce(registration.node, reason);
      } catch (error) {
        if (!lostRace(error) || attempt >= MAX_ATTEMPTS) throw error;
      }
      await backoff(attempt);
    }
  }

  /** Destroys the SDK client (its sockets); the store is not used afterwards. */
  async close(): Promise<void> {
    this.client.destroy();
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

  /** One read-decide-write; throws a lost race (a failed condition) for {@link register} to retry. */
  private async registerOnce(
    request: RegisterRequest,
    ownerHash: string,
    identityHash: string | undefined,
  ): Promise<RegisterOutcome> {
    const [found, ownerItem] = await Promise.all([
      this.readExisting(request, identityHash),
      this.read(ownerItemKey(ownerHash)),
    ]);
    const live = numberAttribute(ownerItem, "live") ?? 0;
    const outcome = decideRegistration(found.existing, live, request);
    if (outcome.kind === "refreshed") {
      // The node keeps its identity and owner: only its record changes, and only while it lives.
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key(regKey(outcome.registration.node)),
          UpdateExpression: "SET #data = :data",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: { "#data": "data" },
          ExpressionAttributeValues: { ":data": { S: encodeRegistration(outcome.registration) } },
        }),
      );
    }
    if (outcome.kind === "created") {
      const { node } = outcome.registration;
      const items: TransactWriteItem[] = [
        {
          Put: {
            TableName: this.table,
            Item: {
              ...key(regKey(node)),
              data: { S: encodeRegistration(outcome.registration) },
              owner: { S: ownerHash },
              ...(identityHash !== undefined ? { identity: { S: identityHash } } : {}),
            },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        {
          // The decision "under the cap" still holds: the count may have moved, but not to the cap.
          Update: {
            TableName: this.table,
            Key: key(ownerItemKey(ownerHash)),
            UpdateExpression: "SET #live = if_not_exists(#live, :zero) + :one",
            ConditionExpression: "attribute_not_exists(pk) OR #live < :cap",
            ExpressionAttributeNames: { "#live": "live" },
            ExpressionAttributeValues: { ":zero": { N: "0" }, ":one": { N: "1" }, ":cap": { N: String(request.cap) } },
          },
        },
      ];
      if (identityHash !== undefined)
        items.push({
          // No live registration of the identity appeared since the read (a leftover naming a node
          // whose record is unreadable is replaced only if it still names that node).
          Put: {
            TableName: this.table,
            Item: { ...key(identityItemKey(identityHash)), node: { S: node } },
            ...(found.identityNode === undefined
              ? { ConditionExpression: "attribute_not_exists(pk)" }
              : {
                  ConditionExpression: "#node = :node",
                  ExpressionAttributeNames: { "#node": "node" },
                  ExpressionAttributeValues: { ":node": { S: found.identityNode } },
                }),
          },
        });
      await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
    }
    return outcome;
  }

  /** The identity's live registration (or the REST node the caller proved), and the node `id#` named. */
  private async readExisting(
    request: RegisterRequest,
    identityHash: string | undefined,
  ): Promise<{ existing: Registration | undefined; identityNode?: string }> {
    if (request.refreshNode !== undefined) {
      const registration = (await this.readRegistration(request.refreshNode))?.registration;
      const live = registration !== undefined && originOf(registration) === "rest" && registration.app === request.app;
      return { existing: live ? registration : undefined };
    }
    if (identityHash === undefined) return { existing: undefined };
    const identityNode = stringAttribute(await this.read(identityItemKey(identityHash)), "node");
    if (identityNode === undefined) return { existing: undefined };
    const registration = (await this.readRegistration(identityNode))?.registration;
    return {
      existing: registration !== undefined && originOf(registration) === "xmpp" ? registration : undefined,
      identityNode,
    };
  }

  /** One read-then-transaction delete; throws a lost race for {@link delete} to retry. */
  private async deleteOnce(node: string, reason: DeletionReason): Promise<void> {
    const at = this.now();
    const tombstone: TransactWriteItem = {
      Put: {
        TableName: this.table,
        Item: {
          ...key(deadKey(node)),
          reason: { S: reason },
          at: { N: String(at) },
          [EXPIRES_AT_ATTRIBUTE]: { N: String(Math.ceil((at + this.ttlMs) / 1000)) },
        },
      },
    };
    const stored = await this.read(regKey(node));
    if (stored === undefined) {
      // Nothing live to remove (deleted already, or never stored): the tombstone alone, unless a
      // registration appeared meanwhile, which the next attempt removes too.
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            tombstone,
            {
              ConditionCheck: {
                TableName: this.table,
                Key: key(regKey(node)),
                ConditionExpression: "attribute_not_exists(pk)",
              },
            },
          ],
        }),
      );
      return;
    }
    const ownerHash = stringAttribute(stored, "owner");
    const identityHash = stringAttribute(stored, "identity");
    const [ownerItem, identityItem] = await Promise.all([
      ownerHash === undefined ? undefined : this.read(ownerItemKey(ownerHash)),
      identityHash === undefined ? undefined : this.read(identityItemKey(identityHash)),
    ]);
    const items: TransactWriteItem[] = [
      tombstone,
      { Delete: { TableName: this.table, Key: key(regKey(node)), ConditionExpression: "attribute_exists(pk)" } },
    ];
    if (ownerHash !== undefined && (numberAttribute(ownerItem, "live") ?? 0) > 0)
      items.push({
        Update: {
          TableName: this.table,
          Key: key(ownerItemKey(ownerHash)),
          UpdateExpression: "SET #live = #live - :one",
          ConditionExpression: "#live >= :one",
          ExpressionAttributeNames: { "#live": "live" },
          ExpressionAttributeValues: { ":one": { N: "1" } },
        },
      });
    if (identityHash !== undefined && stringAttribute(identityItem, "node") === node)
      items.push({
        Delete: {
          TableName: this.table,
          Key: key(identityItemKey(identityHash)),
          ConditionExpression: "#node = :node",
          ExpressionAttributeNames: { "#node": "node" },
          ExpressionAttributeValues: { ":node": { S: node } },
        },
      });
    await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
  }
}
