import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
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
  type TransactWriteItem,
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
 * dynalite 4.0.0 answers `UnknownOperationException` to TransactWriteItems, UpdateTimeToLive and
 * DescribeTimeToLive (checked 2026-12-03). So the tests talk to `DynaliteWithTransactions`, a proxy in front
 * of it that runs one request at a time (DynamoDB makes each request atomic; requests of different
 * callers still interleave, which is what the races below need) and carries out TransactWriteItems itself:
 * it applies each action as dynalite's own conditional write (so dynalite evaluates the expressions),
 * and on a failed condition restores every item it touched and answers `TransactionCanceledException`
 * with `CancellationReasons`, as DynamoDB does. A ConditionCheck is a conditional no-op update, undone.
 */
class DynaliteWithTransactions {
  private readonly dynalite: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  private readonly proxy: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      this.queue = this.queue
        .then(() => this.handle(String(req.headers["x-amz-target"] ?? ""), req.method ?? "POST", req.headers, body))
        .then(
          ({ status, headers, body: answer }) => res.writeHead(status, headers).end(answer),
          (error: unknown) => res.writeHead(500).end(String(error)),
        );
    });
  });
  private queue: Promise<unknown> = Promise.resolve();
  private dynalitePort = 0;
  private direct: DynamoDBClient | undefined;
  private readonly ttl = new Map<string, { AttributeName: string; Enabled: boolean }>();
  /** How many TransactWriteItems were cancelled (a lost race each). */
  cancelled = 0;

  async start(): Promise<string> {
    this.dynalitePort = await listen(this.dynalite);
    this.direct = client(`http://127.0.0.1:${this.dynalitePort}`);
    return `http://127.0.0.1:${await listen(this.proxy)}`;
  }

  async stop(): Promise<void> {
    this.direct?.destroy();
    await new Promise((resolve) => this.proxy.close(resolve));
    await new Promise((resolve) => this.dynalite.close(resolve));
  }

  private async handle(target: string, method: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Answer> {
    const operation = target.split(".")[1] ?? "";
    if (operation === "TransactWriteItems") return this.transact(JSON.parse(body.toString()) as TransactInput);
    if (operation === "UpdateTimeToLive") {
      const input = JSON.parse(body.toString()) as TtlInput;
      this.ttl.set(input.TableName, input.TimeToLiveSpecification);
      return json(200, { TimeToLiveSpecification: input.TimeToLiveSpecification });
    }
    if (operation === "DescribeTimeToLive") {
      const spec = this.ttl.get((JSON.parse(body.toString()) as { TableName: string }).TableName);
      return json(200, {
        TimeToLiveDescription: spec
          ? { AttributeName: spec.AttributeName, TimeToLiveStatus: spec.Enabled ? "ENABLED" : "DISABLED" }
          : { TimeToLiveStatus: "DISABLED" },
      });
    }
    return this.forward(method, headers, body);
  }

  private forward(method: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        { host: "127.0.0.1", port: this.dynalitePort, method, path: "/", headers },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => {
            const answerHeaders: Record<string, string> = {};
            for (const [name, value] of Object.entries(response.headers))
              if (typeof value === "string") answerHeaders[name] = value;
            resolve({ status: response.statusCode ?? 500, headers: answerHeaders, body: Buffer.concat(chunks) });
          });
        },
      );
      outgoing.on("error", reject);
      outgoing.end(body);
    });
  }

  private async transact(input: TransactInput): Promise<Answer> {
    const direct = this.direct as DynamoDBClient;
    const keys = input.TransactItems.map(keyOf);
    if (new Set(keys.map((k) => `${k.table}\u0000${k.pk}`)).size !== keys.length)
      return json(400, {
        __type: "com.amazon.coral.validate#ValidationException",
        message: "Transaction request cannot include multiple operations on one item",
      });
    const undo: {
      table: string;
      key: Record<string, AttributeValue>;
      before: Record<string, AttributeValue> | undefined;
    }[] = [];
    const restore = async () => {
      for (const { table, key, before } of undo.reverse()) await putBack(direct, table, key, before);
    };
    for (const [index, action] of input.TransactItems.entries()) {
      const { table, pk } = keys[index] as { table: string; pk: string };
      const key = { pk: { S: pk } };
      const { Item } = await direct.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
      undo.push({ table, key, before: Item });
      try {
        if (action.Put) await direct.send(new PutItemCommand(action.Put));
        else if (action.Delete) await direct.send(new DeleteItemCommand(action.Delete));
        else if (action.Update) await direct.send(new UpdateItemCommand(action.Update));
        else if (action.ConditionCheck) {
          const { ExpressionAttributeNames, ExpressionAttributeValues, ...check } = action.ConditionCheck;
          await direct.send(
            new UpdateItemCommand({
              ...check,
              UpdateExpression: "SET #fakeCheck = :fakeCheck",
              ExpressionAttributeNames: { ...ExpressionAttributeNames, "#fakeCheck": "fakeCheck" },
              ExpressionAttributeValues: { ...ExpressionAttributeValues, ":fakeCheck": { BOOL: true } },
            }),
          );
          undo.pop();
          await putBack(direct, table, key, Item);
        }
      } catch (error) {
        await restore();
        if (!(error instanceof Error) || error.name !== "ConditionalCheckFailedException") throw error;
        this.cancelled++;
        const reasons = input.TransactItems.map((_, i) =>
          i === index
            ? { Code: "ConditionalCheckFailed", Message: "The conditional request failed" }
            : { Code: "None" },
        );
        return json(400, {
          __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
          message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(", ")}]`,
          CancellationReasons: reasons,
        });
      }
    }
    return json(200, {});
  }
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

interface TransactInput {
  readonly TransactItems: TransactWriteItem[];
}

interface TtlInput {
  readonly TableName: string;
  readonly TimeToLiveSpecification: { AttributeName: string; Enabled: boolean };
}

function keyOf(action: TransactWriteItem): { table: string; pk: string } {
  const inner = action.Put ?? action.Delete ?? action.Update ?? action.ConditionCheck;
  const pk = action.Put
    ? action.Put.Item?.pk?.S
    : (action.Delete ?? action.Update ?? action.ConditionCheck)?.Key?.pk?.S;
  if (inner?.TableName === undefined || pk === undefined) throw new Error("unsupported transaction action");
  return { table: inner.TableName, pk };
}

/** Puts `before` back, or deletes the item if there was none. */
async function putBack(
  direct: DynamoDBClient,
  table: string,
  key: Record<string, AttributeValue>,
  before: Record<string, AttributeValue> | undefined,
): Promise<void> {
  if (before === undefined) await direct.send(new DeleteItemCommand({ TableName: table, Key: key }));
  else await direct.send(new PutItemCommand({ TableName: table, Item: before }));
}

function json(status: number, value: unknown): Answer {
  return {
    status,
    headers: { "content-type": "application/x-amz-json-1.0" },
    body: Buffer.from(JSON.stringify(value)),
  };
}

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

const fake = new DynaliteWithTransactions();
let endpoint = "";
let tables = 0;
const open: DynamoDbRegistrationStore[] = [];

beforeAll(async () => {
  endpoint = await fake.start();
});

afterAll(async () => {
  await Promise.all(open.map((store) => store.close()));
  await fake.stop();
});

/** A fresh table, and `count` stores (each with its own client, as separate gateways) over it. */
async function makeStores(options: Partial<StoreTestOptions> = {}, count = 1) {
  const table = `registrations-${++tables}`;
  const admin = client(endpoint);
  await createRegistrationsTable(admin, table);
  const stores = Array.from({ length: count }, () => new DynamoDbRegistrationStore(client(endpoint), table, options));
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
    const before = fake.cancelled;
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
    expect(fake.cancelled).toBeGreaterThan(before); // the losers really raced and retried
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
    const ttl = await admin.send(new DescribeTimeToLiveCommand({ TableName: table }));
    expect(ttl.TimeToLiveDescription).toEqual({ AttributeName: EXPIRES_AT_ATTRIBUTE, TimeToLiveStatus: "ENABLED" });
    const registration = await seed(store, sampleRegistration());
    await store.delete(registration, "token-dead");
    const { Item } = await admin.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: `dead#${registration.node}` } }, ConsistentRead: true }),
    );
    expect(Item).toEqual({
      pk: { S: `dead#${registration.node}` },
      reason: { S: "token-dead" },
      at: { N: String(now) },
      expiresAt: { N: String(now / 1000 + 180) },
    });
    now += 181_000;
    expect(await store.get(registration.node)).toEqual({ kind: "absent" });
    expect((await scan(admin, table)).some((item) => item.pk?.S === `dead#${registration.node}`)).toBe(true);
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
