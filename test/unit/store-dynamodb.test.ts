import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import {
  type AttributeValue,
  DeleteItemCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRegistrationsTable, DynamoDbRegistrationStore, EXPIRES_AT_ATTRIBUTE } from "../../src/store/dynamodb";
import {
  describeStoreContract,
  identityOf,
  requestFor,
  type StoreTestOptions,
  sampleRegistration,
  seed,
} from "../shared/store-contract";

/** dynalite ships no types: the one call the tests make. */
const dynalite = createRequire(import.meta.url)("dynalite") as (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;

/*
 * The tests talk to dynalite 4.0.0 directly: the store needs only the single-item operations it has
 * (GetItem with ConsistentRead, conditional PutItem/UpdateItem/DeleteItem). dynalite locks an item for
 * each write, as DynamoDB makes each request atomic; requests of different callers interleave, which is
 * what the races below need.
 */
function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function client(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
}

const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
let endpoint = "";
let tables = 0;
const open: DynamoDbRegistrationStore[] = [];
/** How many conditional writes failed (a lost race each), counted on the stores' clients. */
let conditionsFailed = 0;

beforeAll(async () => {
  endpoint = `http://127.0.0.1:${await listen(server)}`;
});

afterAll(async () => {
  await Promise.all(open.map((store) => store.close()));
  await new Promise((resolve) => server.close(resolve));
});

/** A client that counts failed conditions on the way back (it changes nothing it sends or receives). */
function countingClient(): DynamoDBClient {
  const counted = client(endpoint);
  counted.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (error instanceof Error && error.name === "ConditionalCheckFailedException") conditionsFailed++;
        throw error;
      }
    },
    { step: "initialize", name: "countFailedConditions" },
  );
  return counted;
}

/** A fresh table, and `count` stores (each with its own client, as separate gateways) over it. */
async function makeStores(options: Partial<StoreTestOptions> = {}, count = 1) {
  const table = `registrations-${++tables}`;
  const admin = client(endpoint);
  await createRegistrationsTable(admin, table);
  const stores = Array.from({ length: count }, () => new DynamoDbRegistrationStore(countingClient(), table, options));
  open.push(...stores);
  return { table, admin, stores };
}

async function scan(admin: DynamoDBClient, table: string): Promise<Record<string, AttributeValue>[]> {
  return (await admin.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [];
}

describeStoreContract("DynamoDB (dynalite)", async (options) => {
  const {
    stores: [store],
  } = await makeStores(options);
  return store as DynamoDbRegistrationStore;
});

describe("DynamoDB registration store", () => {
  it("gives 50 simultaneous registrations of one identity through two gateways one node and one count", async () => {
    const { table, admin, stores } = await makeStores({}, 2);
    const base = sampleRegistration();
    // Warm both clients up (endpoint, credentials, sockets), so that the 50 calls really go out together.
    await Promise.all(stores.map((store) => store.get("warm-up")));
    const before = conditionsFailed;
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (stores[i % 2] as DynamoDbRegistrationStore).register(
          requestFor(base, { candidateNode: `${base.node}-${i}`, token: `token-${i}` }),
        ),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.kind === "created")).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.kind === "refreshed")).toHaveLength(49);
    const nodes = new Set(
      outcomes.map((outcome) =>
        outcome.kind === "over-cap" || outcome.kind === "gone" ? "" : outcome.registration.node,
      ),
    );
    expect(nodes.size).toBe(1);
    expect(conditionsFailed).toBeGreaterThan(before); // the losers really raced (and lost `id#`)
    const items = await scan(admin, table);
    expect(items.filter((item) => item.pk?.S?.startsWith("reg#"))).toHaveLength(1);
    expect(items.filter((item) => item.pk?.S?.startsWith("id#"))).toHaveLength(1);
    expect(items.find((item) => item.pk?.S?.startsWith("owner#"))?.live).toEqual({ N: "1" });
    admin.destroy();
  });

  it("never lets 40 distinct identities racing through two gateways pass a cap of 5", async () => {
    const { table, admin, stores } = await makeStores({}, 2);
    const cap = 5;
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (stores[i % 2] as DynamoDbRegistrationStore).register(
          requestFor(sampleRegistration({ device: `d${i}`, token: `d${i}` }), { cap }),
        ),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.kind === "created")).toHaveLength(cap);
    expect(outcomes.filter((outcome) => outcome.kind === "over-cap")).toHaveLength(40 - cap);
    const items = await scan(admin, table);
    expect(items.filter((item) => item.pk?.S?.startsWith("reg#"))).toHaveLength(cap);
    expect(items.find((item) => item.pk?.S?.startsWith("owner#"))?.live).toEqual({ N: String(cap) });
    admin.destroy();
  });

  it("keeps the count right when deletes and registrations of one owner race", async () => {
    const { table, admin, stores } = await makeStores({}, 2);
    const [first, second] = stores as [DynamoDbRegistrationStore, DynamoDbRegistrationStore];
    const made = [];
    for (let i = 0; i < 10; i++) made.push(await seed(first, sampleRegistration({ device: `d${i}`, token: `d${i}` })));
    await Promise.all([
      ...made.map((registration, i) => (i % 2 ? first : second).delete(registration, "unregistered")),
      ...made.map((registration, i) => (i % 2 ? second : first).delete(registration, "token-dead")),
      ...Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? first : second).register(requestFor(sampleRegistration({ device: `n${i}`, token: `n${i}` }))),
      ),
    ]);
    const items = await scan(admin, table);
    expect(items.filter((item) => item.pk?.S?.startsWith("reg#"))).toHaveLength(10);
    expect(items.filter((item) => item.pk?.S?.startsWith("id#"))).toHaveLength(10);
    expect(items.filter((item) => item.pk?.S?.startsWith("dead#"))).toHaveLength(10);
    expect(items.find((item) => item.pk?.S?.startsWith("owner#"))?.live).toEqual({ N: "10" });
    for (const registration of made) expect(await first.get(registration.node)).toEqual({ kind: "deleted" });
    admin.destroy();
  });

  it("keeps no account, device or token in keys or any attribute but the record", async () => {
    const { table, admin, stores } = await makeStores();
    const store = stores[0] as DynamoDbRegistrationStore;
    const registration = await seed(
      store,
      sampleRegistration({ account: "juliet@capulet.example", device: "apns-token-zz", token: "apns-token-zz" }),
    );
    await seed(
      store,
      sampleRegistration({ origin: "rest", account: "juliet@capulet.example", token: "rest-token-yy" }),
    );
    await store.delete(registration, "token-dead");
    const items = await scan(admin, table);
    expect(items.map((item) => item.pk?.S?.split("#")[0]).sort()).toEqual(["dead", "owner", "owner", "reg"]);
    for (const item of items)
      for (const [name, value] of Object.entries(item))
        if (name !== "data") expect(JSON.stringify(value)).not.toMatch(/juliet|capulet|apns-token|rest-token/);
    for (const item of items.filter((item) => !item.pk?.S?.startsWith("dead#") && !item.pk?.S?.startsWith("reg#")))
      expect(item.pk?.S).toMatch(/^(id|owner)#[0-9a-f]{64}$/);
    admin.destroy();
  });

  it("writes tombstones with the expiresAt TTL attribute, and reads an expired one (still stored) as absent", async () => {
    let now = 1_800_000_000_000;
    const { table, admin, stores } = await makeStores({ now: () => now, tombstoneTtlSeconds: 180 });
    const store = stores[0] as DynamoDbRegistrationStore;
    const registration = await seed(store, sampleRegistration());
    await store.delete(registration, "token-dead");
    const { Item } = await admin.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: `dead#${registration.node}` } }, ConsistentRead: true }),
    );
    expect(Item).toEqual({
      pk: { S: `dead#${registration.node}` },
      reason: { S: "token-dead" },
      at: { N: String(now) },
      [EXPIRES_AT_ATTRIBUTE]: { N: String(now / 1000 + 180) },
    });
    now += 181_000;
    expect(await store.get(registration.node)).toEqual({ kind: "absent" });
    expect((await scan(admin, table)).some((item) => item.pk?.S === `dead#${registration.node}`)).toBe(true);
    admin.destroy();
  });

  it("creates the table on dynalite, which has no UpdateTimeToLive, and leaves its TTL off", async () => {
    const { table, admin } = await makeStores();
    const ttl = await admin.send(new DescribeTimeToLiveCommand({ TableName: table }));
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe("DISABLED");
    admin.destroy();
  });

  it("repairs an id# left without its reg# (a registration stopped between them) on the next registration", async () => {
    const { table, admin, stores } = await makeStores();
    const store = stores[0] as DynamoDbRegistrationStore;
    const registration = await seed(store, sampleRegistration());
    // What a registration that stopped after claiming the slot and `id#` leaves: no `reg#`.
    const { Item: identityItem } = await admin.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: `reg#${registration.node}` } }, ConsistentRead: true }),
    );
    const identityHash = identityItem?.identity?.S ?? "";
    await admin.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: `reg#${registration.node}` } } }));
    await admin.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: `id#${identityHash}` }, node: { S: registration.node } },
      }),
    );
    expect(await store.get(registration.node)).toEqual({ kind: "absent" });
    expect(await store.findByIdentity(identityOf(registration))).toBeUndefined();
    const outcome = await store.register(
      requestFor(registration, { candidateNode: "never-used", token: "token-2", now: registration.createdAt + 5 }),
    );
    expect(outcome.kind).toBe("refreshed");
    const live = {
      ...registration,
      token: "token-2",
      createdAt: registration.createdAt + 5,
      tokenUpdatedAt: registration.createdAt + 5,
    };
    expect(outcome).toEqual({ kind: "refreshed", registration: live });
    expect(await store.get(registration.node)).toEqual({ kind: "found", registration: live });
    expect(await store.findByIdentity(identityOf(registration))).toEqual(live);
    expect(await store.get("never-used")).toEqual({ kind: "absent" });
    const items = await scan(admin, table);
    expect(items.filter((item) => item.pk?.S?.startsWith("reg#"))).toHaveLength(1);
    expect(items.find((item) => item.pk?.S?.startsWith("owner#"))?.live).toEqual({ N: "1" }); // no second slot
    // The repaired registration is an ordinary one: deleting it frees the slot and the identity.
    await store.delete(live, "unregistered");
    const after = await scan(admin, table);
    expect(after.find((item) => item.pk?.S?.startsWith("owner#"))?.live).toEqual({ N: "0" });
    expect(after.some((item) => item.pk?.S?.startsWith("id#"))).toBe(false);
    admin.destroy();
  });

  it("gives an identity a new node when a delete stopped before removing its id#", async () => {
    const { table, admin, stores } = await makeStores();
    const store = stores[0] as DynamoDbRegistrationStore;
    const registration = await seed(store, sampleRegistration());
    const { Item: identityItem } = await admin.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: `reg#${registration.node}` } }, ConsistentRead: true }),
    );
    await store.delete(registration, "unregistered");
    // What a delete that stopped after the tombstone and `reg#` leaves: `id#` still naming the node.
    await admin.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: `id#${identityItem?.identity?.S ?? ""}` }, node: { S: registration.node } },
      }),
    );
    const outcome = await store.register(requestFor(registration, { candidateNode: `${registration.node}-new` }));
    expect(outcome.kind).toBe("created");
    expect((await store.findByIdentity(identityOf(registration)))?.node).toBe(`${registration.node}-new`);
    expect(await store.get(registration.node)).toEqual({ kind: "deleted" });
    admin.destroy();
  });

  it("finds nothing for an identity whose record is unreadable, and registers it anew", async () => {
    const { table, admin, stores } = await makeStores();
    const store = stores[0] as DynamoDbRegistrationStore;
    const registration = await seed(store, sampleRegistration());
    await admin.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: `reg#${registration.node}` } },
        UpdateExpression: "SET #data = :data",
        ExpressionAttributeNames: { "#data": "data" },
        ExpressionAttributeValues: { ":data": { S: "{not json" } },
      }),
    );
    expect(await store.get(registration.node)).toEqual({ kind: "absent" });
    expect(await store.findByIdentity(identityOf(registration))).toBeUndefined();
    const again = await store.register(requestFor(registration, { candidateNode: `${registration.node}-2` }));
    expect(again.kind).toBe("created");
    expect((await store.findByIdentity(identityOf(registration)))?.node).toBe(`${registration.node}-2`);
    admin.destroy();
  });
});

describe("DynamoDB endpoint ledger", () => {
  const ARN_A = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/aaaa";
  const ARN_B = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/bbbb";
  const KEY = "5f1c0b9e2d7a4c3b8e6f0a1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3";

  async function endpointItem(admin: DynamoDBClient, table: string, key = KEY) {
    const { Item } = await admin.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: `ep#${key}` } }, ConsistentRead: true }),
    );
    return Item;
  }

  it("keeps one ep# item per endpoint, the arn and a string set of nodes, and deletes it with its last user", async () => {
    const { table, admin, stores } = await makeStores();
    const { endpoints } = stores[0] as DynamoDbRegistrationStore;
    await endpoints.attach(KEY, ARN_A, "node-1", 5);
    await endpoints.attach(KEY, ARN_B, "node-2", 5);
    const item = await endpointItem(admin, table);
    expect({ ...item, users: { SS: [...(item?.users?.SS ?? [])].sort() } }).toEqual({
      pk: { S: `ep#${KEY}` },
      arn: { S: ARN_B },
      users: { SS: ["node-1", "node-2"] },
    });
    await endpoints.detach(KEY, "node-1");
    await endpoints.detach(KEY, "node-2");
    expect((await scan(admin, table)).some((entry) => entry.pk?.S?.startsWith("ep#"))).toBe(false);
    admin.destroy();
  });

  it("writes nothing when detaching from an unknown key (an unconditional DELETE would create the item)", async () => {
    const { table, admin, stores } = await makeStores();
    const { endpoints } = stores[0] as DynamoDbRegistrationStore;
    expect(await endpoints.detach(KEY, "node-1")).toBeUndefined();
    expect(await scan(admin, table)).toEqual([]);
    admin.destroy();
  });

  it("never lets 30 attaches of distinct nodes racing through two gateways pass a cap of 10", async () => {
    const { stores } = await makeStores({}, 2);
    await Promise.all(stores.map((store) => store.get("warm-up")));
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (stores[i % 2] as DynamoDbRegistrationStore).endpoints.attach(KEY, ARN_A, `node-${i}`, 10),
      ),
    );
    const counts = outcomes.flatMap((outcome) => (outcome.kind === "attached" ? [outcome.users] : []));
    expect(counts.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(outcomes.filter((outcome) => outcome.kind === "full")).toHaveLength(20);
    expect(await (stores[0] as DynamoDbRegistrationStore).endpoints.users(KEY)).toHaveLength(10);
  });

  it("keeps an attach that lands between the last detach and the delete of the item", async () => {
    const { table, admin, stores } = await makeStores();
    const other = stores[0] as DynamoDbRegistrationStore;
    // A second gateway whose delete of the emptied item is held until the first has attached a node.
    const held = client(endpoint);
    const seen: Array<Record<string, AttributeValue> | undefined> = [];
    held.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "DeleteItemCommand" && seen.length === 0) {
          seen.push(await endpointItem(admin, table));
          expect(await other.endpoints.attach(KEY, ARN_B, "node-2", 5)).toEqual({ kind: "attached", users: 1 });
        }
        return next(args);
      },
      { step: "initialize", name: "attachBeforeDelete" },
    );
    const detaching = new DynamoDbRegistrationStore(held, table);
    open.push(detaching);
    await detaching.endpoints.attach(KEY, ARN_A, "node-1", 5);

    expect(await detaching.endpoints.detach(KEY, "node-1")).toEqual({ arn: ARN_A, remaining: 0 });

    // DynamoDB removes a string set that becomes empty: the item had no `users` when the delete was sent.
    expect(seen).toEqual([{ pk: { S: `ep#${KEY}` }, arn: { S: ARN_A } }]);
    expect(await detaching.endpoints.users(KEY)).toEqual(["node-2"]);
    expect(await endpointItem(admin, table)).toEqual({
      pk: { S: `ep#${KEY}` },
      arn: { S: ARN_B },
      users: { SS: ["node-2"] },
    });
    expect(await other.endpoints.detach(KEY, "node-2")).toEqual({ arn: ARN_B, remaining: 0 });
    expect(await endpointItem(admin, table)).toBeUndefined();
    admin.destroy();
  });

  it("attaches to an ep# item that a stopped detach left without users", async () => {
    const { table, admin, stores } = await makeStores();
    const { endpoints } = stores[0] as DynamoDbRegistrationStore;
    await admin.send(new PutItemCommand({ TableName: table, Item: { pk: { S: `ep#${KEY}` }, arn: { S: ARN_A } } }));
    expect(await endpoints.users(KEY)).toEqual([]);
    expect(await endpoints.detach(KEY, "node-1")).toBeUndefined();
    expect(await endpoints.attach(KEY, ARN_B, "node-1", 1)).toEqual({ kind: "attached", users: 1 });
    expect(await endpoints.attach(KEY, ARN_B, "node-2", 1)).toEqual({ kind: "full" });
    expect(await endpoints.detach(KEY, "node-1")).toEqual({ arn: ARN_B, remaining: 0 });
    expect(await endpointItem(admin, table)).toBeUndefined();
    admin.destroy();
  });

  it("relies on no transaction: dynalite 4.0.0 has none", async () => {
    const { table, admin } = await makeStores();
    await expect(
      admin.send(
        new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: table, Item: { pk: { S: "x" } } } }] }),
      ),
    ).rejects.toMatchObject({ name: "UnknownOperationException" });
    admin.destroy();
  });
});
