import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogFields, LogLevel } from "../../../src/log";
import type { HttpTransport } from "../../../src/ports";
import {
  ContainerTransport,
  createLambdaHandler,
  type LambdaEnv,
  type LambdaHandlerOptions,
  type LambdaHttpEvent,
  type LambdaHttpResult,
  STALE_SESSION_MS,
} from "../../../src/runtime/lambda";
import { MemoryRegistrationStore } from "../../../src/store/memory";
import { parseXml } from "../../../src/xmpp";
import { createApnsSigningKey } from "../../fakes/apns-key";
import { FakeSecretsManager } from "../../fakes/secrets-manager-server";
import { FakeTransport } from "../../fakes/transport";
import {
  errorOf,
  formField,
  GATEWAY_TOKEN,
  PUSH_JID,
  publishIq,
  registerDeviceIq,
  SERVER_KEY,
} from "../../shared/harness";

/** dynalite ships no types: the one call the tests make. */
const dynalite = createRequire(import.meta.url)("dynalite") as (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;

const DISCO_INFO = `<iq type='get' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='disco1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`;

interface EventOptions {
  readonly method?: string;
  readonly path: string;
  readonly query?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly base64?: boolean;
  readonly sourceIp?: string;
}

/**
 * A Lambda Function URL event as AWS documents it (payload format 2.0: `routeKey` and `stage` are
 * `$default`, the domain is `<url-id>.lambda-url.<region>.on.aws`).
 * @see https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
 */
function functionUrlEvent(options: EventOptions): LambdaHttpEvent {
  const { method = "GET", path, query = "", sourceIp = "203.0.113.10" } = options;
  const domainName = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws";
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: query,
    headers: {
      host: domainName,
      "user-agent": "Prosody/0.12",
      "x-amzn-trace-id": "Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e",
      "x-forwarded-for": sourceIp,
      "x-forwarded-port": "443",
      "x-forwarded-proto": "https",
      ...options.headers,
    },
    requestContext: {
      accountId: "anonymous",
      apiId: "abcdefghijklmnopqrstuvwxyz012345",
      domainName,
      domainPrefix: "abcdefghijklmnopqrstuvwxyz012345",
      http: { method, path, protocol: "HTTP/1.1", sourceIp, userAgent: "Prosody/0.12" },
      requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
      routeKey: "$default",
      stage: "$default",
      time: "03/Dec/2026:19:03:58 +0000",
      timeEpoch: 1_796_324_638_390,
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: options.base64 ?? false,
  };
}

/**
 * An API Gateway HTTP API event, payload format 2.0 (a route `POST /xmpp` on the `$default` stage).
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
 */
function httpApiEvent(options: EventOptions): LambdaHttpEvent {
  const { method = "GET", path, query = "", sourceIp = "198.51.100.20" } = options;
  const domainName = "r3pmxmplak.execute-api.us-east-2.amazonaws.com";
  const routeKey = `${method} ${path}`;
  return {
    version: "2.0",
    routeKey,
    rawPath: path,
    rawQueryString: query,
    headers: {
      accept: "*/*",
      "content-length": String(options.body?.length ?? 0),
      host: domainName,
      "user-agent": "curl/8.5.0",
      "x-amzn-trace-id": "Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e",
      "x-forwarded-for": sourceIp,
      "x-forwarded-port": "443",
      "x-forwarded-proto": "https",
      ...options.headers,
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "r3pmxmplak",
      domainName,
      domainPrefix: "r3pmxmplak",
      http: { method, path, protocol: "HTTP/1.1", sourceIp, userAgent: "curl/8.5.0" },
      requestId: "JKJaXmPLvHcESHA=",
      routeKey,
      stage: "$default",
      time: "03/Dec/2026:19:03:58 +0000",
      timeEpoch: 1_796_324_638_390,
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: options.base64 ?? false,
  };
}

function xmppEvent(make: (options: EventOptions) => LambdaHttpEvent, stanza: string, base64: boolean) {
  return make({
    method: "POST",
    path: "/xmpp",
    headers: { authorization: `Bearer ${GATEWAY_TOKEN}`, "content-type": "application/xml" },
    body: base64 ? Buffer.from(stanza, "utf8").toString("base64") : stanza,
    base64,
  });
}

function bodyOf(result: LambdaHttpResult): string {
  const body = result.body ?? "";
  return result.isBase64Encoded ? Buffer.from(body, "base64").toString("utf8") : body;
}

function xmlOf(result: LambdaHttpResult) {
  const parsed = parseXml(bodyOf(result));
  if (!parsed.ok) throw new Error(`not XML: ${bodyOf(result)}`);
  return parsed.value;
}

interface Logged {
  readonly level: LogLevel;
  readonly event: string;
  readonly fields: LogFields;
}

/** A handler over the memory store (unless the options say otherwise) that records its log. */
function makeHandler(env: LambdaEnv, options: Omit<LambdaHandlerOptions, "env" | "log"> = {}) {
  const logs: Logged[] = [];
  const handler = createLambdaHandler({
    env,
    log: { log: (level, event, fields = {}) => logs.push({ level, event, fields }) },
    store: () => new MemoryRegistrationStore(),
    transport: new FakeTransport().fetch,
    ...options,
  });
  return { handler, logs };
}

const BASE_ENV: LambdaEnv = { PUSH_JID, GATEWAY_TOKEN, SERVER_KEY };

describe("the Lambda handler over payload 2.0 events", () => {
  it("answers /health to a Function URL event", async () => {
    const { handler } = makeHandler(BASE_ENV);
    const result = await handler(functionUrlEvent({ path: "/health" }));
    expect(result.statusCode).toBe(200);
    expect(result.headers?.["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(bodyOf(result))).toMatchObject({ status: "ok", jid: PUSH_JID });
  });

  it("answers /health to an API Gateway HTTP API event", async () => {
    const { handler } = makeHandler(BASE_ENV);
    const result = await handler(httpApiEvent({ path: "/health", query: "verbose=1" }));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(bodyOf(result))).toMatchObject({ status: "ok" });
  });

  for (const [source, make] of [
    ["Function URL", functionUrlEvent],
    ["HTTP API", httpApiEvent],
  ] as const)
    for (const base64 of [false, true])
      it(`answers a disco#info on /xmpp with the bearer token (${source}, body ${base64 ? "base64" : "plain"})`, async () => {
        const { handler } = makeHandler(BASE_ENV);
        const result = await handler(xmppEvent(make, DISCO_INFO, base64));
        expect(result.statusCode).toBe(200);
        const reply = xmlOf(result);
        expect(reply.attrs).toMatchObject({ type: "result", id: "disco1" });
        expect(bodyOf(result)).toContain("urn:xmpp:push:0");
      });

  it("refuses /xmpp without the bearer token", async () => {
    const { handler } = makeHandler(BASE_ENV);
    const event = functionUrlEvent({ method: "POST", path: "/xmpp", body: DISCO_INFO });
    expect((await handler(event)).statusCode).toBe(401);
  });

  it("answers every request with a 500 naming a bad variable, and logs it once", async () => {
    const { handler, logs } = makeHandler({ ...BASE_ENV, RATE_LIMIT_PER_MINUTE: "lots" });
    for (const event of [functionUrlEvent({ path: "/health" }), xmppEvent(httpApiEvent, DISCO_INFO, false)]) {
      const result = await handler(event);
      expect(result.statusCode).toBe(500);
      expect(bodyOf(result)).toMatch(/^configuration: RATE_LIMIT_PER_MINUTE /);
    }
    expect(logs.filter((entry) => entry.event === "configuration-error")).toEqual([
      expect.objectContaining({
        level: "error",
        fields: expect.objectContaining({ variable: "RATE_LIMIT_PER_MINUTE" }),
      }),
    ]);
  });

  it("requires SERVER_KEY (no fallback key on Lambda)", async () => {
    const { handler } = makeHandler({ PUSH_JID, GATEWAY_TOKEN });
    const result = await handler(functionUrlEvent({ path: "/health" }));
    expect(result.statusCode).toBe(500);
    expect(bodyOf(result)).toMatch(/^configuration: SERVER_KEY is missing/);
  });

  it("requires REGISTRATIONS_TABLE for the DynamoDB store, and the AWS variables", async () => {
    const aws = { AWS_REGION: "eu-west-1", AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" };
    const withoutTable = createLambdaHandler({ env: { ...BASE_ENV, ...aws }, log: { log() {} } });
    expect(bodyOf(await withoutTable(functionUrlEvent({ path: "/health" })))).toMatch(
      /^configuration: REGISTRATIONS_TABLE is missing/,
    );
    const withoutRegion = createLambdaHandler({
      env: { ...BASE_ENV, ...aws, AWS_REGION: undefined, REGISTRATIONS_TABLE: "registrations" },
      log: { log() {} },
    });
    expect(bodyOf(await withoutRegion(functionUrlEvent({ path: "/health" })))).toMatch(
      /^configuration: AWS_REGION is missing/,
    );
  });

  it("refuses an event that is not payload 2.0", async () => {
    const { handler } = makeHandler(BASE_ENV);
    const v1 = { httpMethod: "GET", path: "/health", headers: {}, requestContext: {} };
    const result = await handler(v1 as unknown as LambdaHttpEvent);
    expect(result.statusCode).toBe(400);
  });

  it("counts the rate limit by requestContext.http.sourceIp", async () => {
    const { handler } = makeHandler({ ...BASE_ENV, RATE_LIMIT_PER_MINUTE: "2" });
    const health = (sourceIp: string) => handler(functionUrlEvent({ path: "/health", sourceIp }));
    expect((await health("192.0.2.1")).statusCode).toBe(200);
    expect((await health("192.0.2.1")).statusCode).toBe(200);
    const limited = await health("192.0.2.1");
    expect(limited.statusCode).toBe(429);
    expect(limited.headers?.["retry-after"]).toBe("60");
    // Another client, even one naming the first in X-Forwarded-For, has its own budget.
    expect((await health("192.0.2.2")).statusCode).toBe(200);
    const forged = functionUrlEvent({
      path: "/health",
      sourceIp: "192.0.2.3",
      headers: { "x-forwarded-for": "192.0.2.1" },
    });
    expect((await handler(forged)).statusCode).toBe(200);
  });

  it("registers over /xmpp and publishes to the provider through the injected transport", async () => {
    const key = createApnsSigningKey();
    const transport = new FakeTransport().reply("https://api.push.apple.com/3/device/", {
      status: 200,
      headers: { "apns-id": "5e6722a7-0000-0000-0000-000000000001" },
    });
    const store = new MemoryRegistrationStore();
    const { handler } = makeHandler(
      {
        ...BASE_ENV,
        APNS_TEAM_ID: key.teamId,
        APNS_KEY_ID: key.keyId,
        APNS_PRIVATE_KEY: key.pem,
        APNS_TOPIC: "im.example",
      },
      { store: () => store, transport: transport.fetch },
    );
    const registered = xmlOf(await handler(xmppEvent(functionUrlEvent, registerDeviceIq({}), true)));
    const node = formField(registered, "node")?.values[0] ?? "";
    expect(node).not.toBe("");
    expect((await store.get(node)).kind).toBe("found");
    const published = xmlOf(await handler(xmppEvent(httpApiEvent, publishIq({ node }), false)));
    expect(published.attrs.type).toBe("result");
    expect(transport.to("https://api.push.apple.com/3/device/apns-token-1")).toHaveLength(1);
  });
});

describe("ContainerTransport", () => {
  function counting() {
    const made: { closed: boolean }[] = [];
    const create = () => {
      const state = { closed: false };
      made.push(state);
      const fetch: HttpTransport = async () => ({ status: 200, headers: new Headers(), text: async () => "" });
      return {
        fetch,
        close: async () => {
          state.closed = true;
        },
      };
    };
    return { made, create };
  }
  const request = { method: "POST", headers: {}, body: "" };

  it("reuses one transport between close invocations and starts over after an idle gap", async () => {
    const clock = { now: 1_000_000 };
    const { made, create } = counting();
    const transport = new ContainerTransport(create, STALE_SESSION_MS, () => clock.now);
    await transport.fetch("https://api.push.apple.com/3/device/a", request);
    clock.now += STALE_SESSION_MS - 1;
    await transport.fetch("https://api.push.apple.com/3/device/b", request);
    expect(made).toHaveLength(1);
    // Frozen for longer than the PING interval: the sessions are not trusted any more.
    clock.now += STALE_SESSION_MS;
    await transport.fetch("https://api.push.apple.com/3/device/c", request);
    expect(made).toHaveLength(2);
    expect(made[0]?.closed).toBe(true);
    expect(made[1]?.closed).toBe(false);
    expect(transport.renewals).toBe(2);
    await transport.close();
    expect(made[1]?.closed).toBe(true);
  });

  it("does not start over while a request is in flight", async () => {
    const clock = { now: 0 };
    let release: () => void = () => undefined;
    let created = 0;
    const transport = new ContainerTransport(
      () => {
        created += 1;
        return {
          fetch: () =>
            new Promise((resolve) => {
              release = () => resolve({ status: 200, headers: new Headers(), text: async () => "" });
            }),
          close: async () => undefined,
        };
      },
      STALE_SESSION_MS,
      () => clock.now,
    );
    const first = transport.fetch("https://fcm.googleapis.com/v1/x", request);
    clock.now += 2 * STALE_SESSION_MS;
    const releaseFirst = release;
    const second = transport.fetch("https://fcm.googleapis.com/v1/y", request);
    releaseFirst();
    release();
    await Promise.all([first, second]);
    expect(created).toBe(1);
  });
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const AWS_ENV: LambdaEnv = {
  AWS_REGION: "eu-west-1",
  AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  AWS_SESSION_TOKEN: "session-token",
};

describe("provider credentials from Secrets Manager (PROVIDER_SECRET_ID)", () => {
  const fake = new FakeSecretsManager();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());

  const envFor = (secretId: string, extra: LambdaEnv = {}): LambdaEnv => ({
    ...AWS_ENV,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: fake.url,
    PROVIDER_SECRET_ID: secretId,
    ...extra,
  });

  it("reads the secret once per container; the environment wins over it", async () => {
    const key = createApnsSigningKey();
    fake.secrets.set(
      "push/providers",
      JSON.stringify({
        SERVER_KEY,
        GATEWAY_TOKEN,
        PUSH_JID: "push.from-secret.example",
        APNS_TEAM_ID: key.teamId,
        APNS_KEY_ID: key.keyId,
        APNS_PRIVATE_KEY: key.pem,
        APNS_TOPIC: "im.example",
      }),
    );
    const before = fake.requests.length;
    const { handler } = makeHandler(envFor("push/providers", { PUSH_JID }));
    const health = JSON.parse(bodyOf(await handler(functionUrlEvent({ path: "/health" }))));
    expect(health).toMatchObject({ jid: PUSH_JID });
    expect(JSON.stringify(health.providers)).toContain("apns");
    const disco = await handler(xmppEvent(httpApiEvent, DISCO_INFO, true));
    expect(bodyOf(disco)).toContain("tigase:messenger:apns:1");
    const seen = fake.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ target: "secretsmanager.GetSecretValue", secretId: "push/providers" });
    // Signed with the credentials of the environment (SigV4, this region, this service).
    expect(seen[0]?.authorization).toMatch(/Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request/);
  });

  for (const [what, value] of [
    ["not JSON", "APNS_TEAM_ID=T"],
    ["a JSON array", '["SERVER_KEY"]'],
    ["an object with a value that is no string", '{"FCM_SERVICE_ACCOUNT": {"project_id": "p"}}'],
  ] as const)
    it(`answers 500 naming PROVIDER_SECRET_ID for a secret that is ${what}`, async () => {
      fake.secrets.set(`bad/${what}`, value);
      const { handler, logs } = makeHandler(envFor(`bad/${what}`, BASE_ENV));
      const result = await handler(functionUrlEvent({ path: "/health" }));
      expect(result.statusCode).toBe(500);
      expect(bodyOf(result)).toMatch(/^configuration: PROVIDER_SECRET_ID /);
      expect(logs.map((entry) => entry.fields.variable)).toContain("PROVIDER_SECRET_ID");
    });

  it("answers 500 naming PROVIDER_SECRET_ID for a secret that does not exist", async () => {
    const { handler } = makeHandler(envFor("missing", BASE_ENV));
    const result = await handler(functionUrlEvent({ path: "/health" }));
    expect(result.statusCode).toBe(500);
    expect(bodyOf(result)).toMatch(/^configuration: PROVIDER_SECRET_ID cannot be read: ResourceNotFoundException/);
  });
});

describe("the DynamoDB store wiring (against dynalite)", () => {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  let endpoint = "";
  const table = "registrations";

  beforeAll(async () => {
    endpoint = await listen(server);
    const admin = new DynamoDBClient({
      region: AWS_ENV.AWS_REGION,
      endpoint,
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    });
    // dynalite 4 has no UpdateTimeToLive, which createRegistrationsTable also calls: the table alone.
    await admin.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    admin.destroy();
  });
  afterAll(() => close(server));

  const envWith = (tableName: string): LambdaEnv => ({
    ...BASE_ENV,
    ...AWS_ENV,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    REGISTRATIONS_TABLE: tableName,
  });

  it("looks nodes up in REGISTRATIONS_TABLE through the endpoint and credentials of the environment", async () => {
    const handler = createLambdaHandler({
      env: envWith(table),
      log: { log() {} },
      transport: new FakeTransport().fetch,
    });
    const result = await handler(xmppEvent(functionUrlEvent, publishIq({ node: "unknown-node-0123456789" }), false));
    expect(result.statusCode).toBe(200);
    expect(errorOf(xmlOf(result))).toBe("cancel/item-not-found");
  });

  it("registers over /xmpp into DynamoDB and publishes to the provider from it", async () => {
    const key = createApnsSigningKey();
    const transport = new FakeTransport().reply("https://api.push.apple.com/3/device/", {
      status: 200,
      headers: { "apns-id": "5e6722a7-0000-0000-0000-000000000002" },
    });
    const handler = createLambdaHandler({
      env: {
        ...envWith(table),
        APNS_TEAM_ID: key.teamId,
        APNS_KEY_ID: key.keyId,
        APNS_PRIVATE_KEY: key.pem,
        APNS_TOPIC: "im.example",
      },
      log: { log() {} },
      transport: transport.fetch,
    });
    const registered = xmlOf(
      await handler(xmppEvent(functionUrlEvent, registerDeviceIq({ token: "dynamo-token" }), true)),
    );
    const node = formField(registered, "node")?.values[0] ?? "";
    expect(node).not.toBe("");
    const again = xmlOf(
      await handler(xmppEvent(httpApiEvent, registerDeviceIq({ token: "dynamo-token", id: "r2" }), false)),
    );
    expect(formField(again, "node")?.values[0]).toBe(node);
    const published = xmlOf(await handler(xmppEvent(httpApiEvent, publishIq({ node }), false)));
    expect(published.attrs.type).toBe("result");
    expect(transport.to("https://api.push.apple.com/3/device/dynamo-token")).toHaveLength(1);
  });

  it("fails the request when REGISTRATIONS_TABLE names a table that does not exist", async () => {
    const handler = createLambdaHandler({
      env: envWith("no-such-table"),
      log: { log() {} },
      transport: new FakeTransport().fetch,
    });
    const result = await handler(xmppEvent(functionUrlEvent, publishIq({ node: "unknown-node-0123456789" }), false));
    // The store's ResourceNotFoundException becomes an error reply, not "this node does not exist".
    const error = result.statusCode === 200 ? errorOf(xmlOf(result)) : `http ${result.statusCode}`;
    expect(error).toBeDefined();
    expect(error).not.toBe("cancel/item-not-found");
  });
});
