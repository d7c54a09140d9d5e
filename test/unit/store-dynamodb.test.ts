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
