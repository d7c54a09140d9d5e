import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PushBudget } from "../../../src/domain/budget";
import type { PushNotification } from "../../../src/domain/notification";
import type { Registration } from "../../../src/domain/registration";
import { silentLogger } from "../../../src/log";
import type { PushProvider } from "../../../src/ports/provider";
import { createSnsRoute } from "../../../src/providers/sns/route";
import { type ApnsSnsConfig, parseApplicationArn } from "../../../src/providers/sns/settings";
import { snsClientsFromEnv } from "../../../src/runtime/sns-sdk";
import { MemoryEndpointLedger } from "../../../src/store/endpoint-ledger";
import { FakeSnsServer } from "../../fakes/sns-server";

const CREDENTIALS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
const fake = new FakeSnsServer({ credentials: CREDENTIALS });
const TOKEN = "a".repeat(64);
const VOIP_TOKEN = "b".repeat(64);

let ledger: MemoryEndpointLedger;
let apns: PushProvider;
let fcm: PushProvider;
let applications: { apns: string; voip: string; fcm: string };

function registration(overrides: Partial<Registration> = {}): Registration {
  return {
    style: "token",
    provider: "apns",
    account: "juliet@capulet.example",
    device: TOKEN,
    node: `node-${Math.random().toString(36).slice(2)}`,
    secured: false,
    token: TOKEN,
    app: "default",
    createdAt: 1,
    tokenUpdatedAt: 1,
    ...overrides,
  };
}

async function registered(provider: PushProvider, reg: Registration): Promise<Registration> {
  const result = await provider.registered?.(reg);
  if (!result?.ok) throw new Error(`refused: ${JSON.stringify(result)}`);
  return result.value;
}

function budget(): PushBudget {
  return new PushBudget(Date.now, Date.now() + 25_000);
}

const ALERT: PushNotification = { priority: "high", encrypted: { data: "ZW5j", iv: "aXY=", voip: false } };
const CALL: PushNotification = {
  priority: "high",
  encrypted: { data: "Y2FsbA==", iv: "aXY=", voip: true },
  jingle: { action: "propose", sid: "call-1", media: ["audio"] },
};

beforeAll(async () => {
  await fake.start();
  applications = {
    apns: fake.createPlatformApplication("APNS", "im.example"),
    voip: fake.createPlatformApplication("APNS_VOIP", "im.example"),
    fcm: fake.createPlatformApplication("GCM", "im.example"),
  };
});
afterAll(() => fake.close());

beforeEach(() => {
  ledger = new MemoryEndpointLedger();
  const route = createSnsRoute({
    client: snsClientsFromEnv({
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SNS: fake.url,
    }),
    ledger,
    log: silentLogger,
    endpointUsers: 3,
  });
  const settings: ApnsSnsConfig = {
    via: "sns",
    topic: "im.example",
    environment: "production",
    applications: {
      production: parseApplicationArn(applications.apns, "A", "APNS"),
      voip: parseApplicationArn(applications.voip, "V", "APNS_VOIP"),
    },
  };
  apns = route.apns(settings);
  fcm = route.fcm({ via: "sns", application: parseApplicationArn(applications.fcm, "F", "GCM") });
});

describe("the SNS route (docs/protocol.md 6.3)", () => {
  it("makes one endpoint per (application, token) and shares it between the accounts of one phone", async () => {
    const romeo = await registered(apns, registration({ account: "romeo@montague.example" }));
    const juliet = await registered(apns, registration());
    expect(romeo.route?.endpoint).toBeDefined();
    expect(juliet.route?.endpoint).toBe(romeo.route?.endpoint);
    expect(fake.endpoints().filter((endpoint) => endpoint.token === TOKEN)).toHaveLength(1);
    expect(await ledger.users(romeo.route?.endpointKey ?? "")).toEqual([romeo.node, juliet.node]);
    // The key names no token.
    expect(romeo.route?.endpointKey).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(romeo.route)).not.toContain(TOKEN);

    await apns.unregistered?.(romeo);
    expect(fake.endpoints().filter((endpoint) => endpoint.token === TOKEN)).toHaveLength(1);
    await apns.unregistered?.(juliet);
    expect(fake.endpoints().filter((endpoint) => endpoint.token === TOKEN)).toHaveLength(0);
  });

  it("publishes the APNs body with push type, priority, topic and TTL as message attributes", async () => {
    const reg = await registered(apns, registration());
    const before = fake.publishes.length;
    expect(await apns.send({ registration: reg, notification: ALERT, budget: budget() })).toEqual({
      kind: "delivered",
    });
    const [published] = fake.publishes.slice(before);
    expect(published?.targetArn).toBe(reg.route?.endpoint);
    expect(published?.messageStructure).toBe("json");
    expect(JSON.parse(published?.platformMessage ?? "")).toMatchObject({
      aps: { "mutable-content": 1 },
      account: "juliet@capulet.example",
      encrypted: "ZW5j",
      iv: "aXY=",
    });
    const attributes = Object.fromEntries(
      Object.entries(published?.attributes ?? {}).map(([name, value]) => [name, value.stringValue]),
    );
    expect(attributes).toEqual({
      "AWS.SNS.MOBILE.APNS.PUSH_TYPE": "alert",
      "AWS.SNS.MOBILE.APNS.PRIORITY": "10",
      "AWS.SNS.MOBILE.APNS.TOPIC": "im.example",
      "AWS.SNS.MOBILE.APNS.TTL": expect.stringMatching(/^\d+$/),
    });
  });

  it("sends a ringing call to the PushKit token's endpoint on the VoIP application", async () => {
    const reg = await registered(apns, registration({ voipToken: VOIP_TOKEN }));
    expect(reg.route?.voip).toContain(":endpoint/APNS_VOIP/");
    const before = fake.publishes.length;
    expect((await apns.send({ registration: reg, notification: CALL, budget: budget() })).kind).toBe("delivered");
    const [published] = fake.publishes.slice(before);
    expect(published?.platform).toBe("APNS_VOIP");
    expect(published?.token).toBe(VOIP_TOKEN);
    expect(published?.attributes["AWS.SNS.MOBILE.APNS.PUSH_TYPE"]?.stringValue).toBe("voip");
    expect(published?.attributes["AWS.SNS.MOBILE.APNS.TOPIC"]?.stringValue).toBe("im.example.voip");
    expect(JSON.parse(published?.platformMessage ?? "")).toEqual({
      account: "juliet@capulet.example",
      encrypted: "Y2FsbA==",
      iv: "aXY=",
    });
  });

  it("publishes FCM as an fcmV1Message without the token, and a p2 registration's data as hashes only", async () => {
    const reg = await registered(
      fcm,
      registration({ provider: "fcm", style: "device", device: "dev-1", token: "fcm-token-1", secured: true }),
    );
    const before = fake.publishes.length;
    const plain: PushNotification = { priority: "high", sender: "romeo@montague.example", body: "hi" };
    expect((await fcm.send({ registration: reg, notification: plain, budget: budget() })).kind).toBe("delivered");
    const [published] = fake.publishes.slice(before);
    const message = JSON.parse(published?.platformMessage ?? "");
    expect(message.fcmV1Message.message.token).toBeUndefined();
    expect(message.fcmV1Message.message.android.priority).toBe("high");
    expect(Object.keys(message.fcmV1Message.message.data)).toEqual(["account"]);
    expect(message.fcmV1Message.message.data.account).toMatch(/^[0-9a-f]{40}$/);
    expect(published?.attributes["AWS.SNS.MOBILE.FCM.TTL"]?.stringValue).toMatch(/^\d+$/);
  });

  it("reads EndpointDisabled as a dead token and names every registration that shared the endpoint", async () => {
    const token = "c".repeat(64);
    const first = await registered(apns, registration({ token, device: token, account: "a@example.org" }));
    const second = await registered(apns, registration({ token, device: token, account: "b@example.org" }));
    fake.disable(first.route?.endpoint ?? "");
    const outcome = await apns.send({ registration: first, notification: ALERT, budget: budget() });
    expect(outcome).toMatchObject({ kind: "token-dead", resource: first.route?.endpointKey });
    if (outcome.kind !== "token-dead") throw new Error("expected token-dead");
    expect(await apns.tokenDead?.(first, outcome)).toEqual([second.node]);
    // The endpoint goes with its last user.
    expect(fake.endpoints().some((endpoint) => endpoint.token === token)).toBe(true);
    await apns.unregistered?.(second);
    expect(fake.endpoints().some((endpoint) => endpoint.token === token)).toBe(false);
  });

  it("maps SNS's immediate answers: throttling and 5xx wait, a size refusal is the fallback, AWS faults are loud", async () => {
    const reg = await registered(apns, registration());
    const cases: [string, number, string | undefined, string][] = [
      ["Throttling", 400, "Rate exceeded", "retry-later"],
      ["InternalError", 500, undefined, "retry-later"],
      ["InvalidParameter", 400, "Invalid parameter: Message too long", "payload-rejected"],
      ["AuthorizationError", 403, undefined, "misconfigured"],
      ["PlatformApplicationDisabled", 400, undefined, "misconfigured"],
      ["InvalidParameter", 400, "Invalid parameter: Something else", "rejected"],
    ];
    for (const [code, status, message, kind] of cases) {
      fake.failNext("Publish", code, status, message);
      expect((await apns.send({ registration: reg, notification: ALERT, budget: budget() })).kind, code).toBe(kind);
    }
  });

  it("makes the endpoint at the first publish when SNS was away at registration, and keeps it", async () => {
    const token = "d".repeat(64);
    fake.failNext("CreatePlatformEndpoint", "InternalError", 500);
    const reg = await registered(apns, registration({ token, device: token }));
    expect(reg.route?.endpoint).toBeUndefined();
    const outcome = await apns.send({ registration: reg, notification: ALERT, budget: budget() });
    expect(outcome.kind).toBe("delivered");
    expect(outcome.route?.endpoint).toContain(":endpoint/APNS/");
    expect(await ledger.users(outcome.route?.endpointKey ?? "")).toEqual([reg.node]);
  });

  it("makes a deleted endpoint again, once, within the publish's two requests", async () => {
    const token = "e".repeat(64);
    const reg = await registered(apns, registration({ token, device: token }));
    // Another registration's unregister deleted it as this one was stored (the ledger lost this user).
    await ledger.detach(reg.route?.endpointKey ?? "", reg.node);
    const other = await registered(apns, registration({ token, device: token, account: "x@example.org" }));
    await apns.unregistered?.(other);
    const outcome = await apns.send({ registration: reg, notification: ALERT, budget: budget() });
    expect(outcome.kind).toBe("delivered");
    expect(outcome.route?.endpoint).not.toBe(reg.route?.endpoint);
    expect(await ledger.users(reg.route?.endpointKey ?? "")).toEqual([reg.node]);
  });

  it("refuses a token SNS refuses, and a token registered more often than the cap", async () => {
    const refused = await apns.registered?.(registration({ token: "not-hex", device: "not-hex" }));
    expect(refused).toMatchObject({ ok: false, error: { field: "token" } });
    const token = "f".repeat(64);
    for (const account of ["1@a.example", "2@a.example", "3@a.example"])
      await registered(apns, registration({ token, device: token, account }));
    const fourth = await apns.registered?.(registration({ token, device: token, account: "4@a.example" }));
    expect(fourth).toMatchObject({ ok: false, error: { field: "token", reason: expect.stringMatching(/too many/) } });
  });

  it("moves a refreshed registration to its new token's endpoint and lets the old one go", async () => {
    const old = "1".repeat(64);
    const fresh = "2".repeat(64);
    const first = await registered(apns, registration({ token: old, device: "dev" }));
    const refreshed = await registered(apns, { ...first, token: fresh });
    expect(refreshed.route?.endpoint).not.toBe(first.route?.endpoint);
    expect(fake.endpoints().some((endpoint) => endpoint.token === old)).toBe(false);
    expect(fake.endpoints().some((endpoint) => endpoint.token === fresh)).toBe(true);
  });

  it("never publishes past the budget: a spent budget makes no request", async () => {
    const reg = await registered(apns, registration());
    const spent = budget();
    spent.take();
    spent.take();
    const before = fake.requests.length;
    expect((await apns.send({ registration: reg, notification: ALERT, budget: spent })).kind).toBe("retry-later");
    expect(fake.requests.length).toBe(before);
  });
});
