import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { childElement } from "../../src/xmpp";
import { GATEWAY_TOKEN, PUSH_JID, SERVER_KEY } from "../app/harness";
import { type FakeSnsPublish, type FakeSnsRequest, FakeSnsServer } from "../fakes/sns-server";
import {
  encryptedPublish,
  encryptedPublishVector,
  type FakeUserServer,
  fixtureCiphertext,
  type IqReply,
  p2AccountHash,
} from "../fakes/user-server";
import { apnsToken } from "./delivery-scenarios";

const vector = encryptedPublishVector();
const JULIET = "juliet@capulet.example";
const ROMEO = "romeo@montague.example";

/** The AWS credentials the gateway signs with; the fake checks every SigV4 signature against them. */
export const SNS_CREDENTIALS = {
  accessKeyId: "AKIDSNSE2EEXAMPLE000",
  secretAccessKey: "sns/e2e+secret/0123456789abcdefghijklmnopqrs",
} as const;
/** The bundle id the gateway sends as `AWS.SNS.MOBILE.APNS.TOPIC`. */
export const SNS_TOPIC = "im.example.sns";

/** The fake SNS with one platform application per platform the gateway uses, and the variables that point at it. */
export interface SnsWorld {
  readonly sns: FakeSnsServer;
  readonly applications: {
    readonly apns: string;
    readonly apnsSandbox: string;
    readonly voip: string;
    readonly voipSandbox: string;
    readonly fcm: string;
  };
  /** The gateway's variables: the SNS route for APNs and FCM (docs/protocol.md 6.3 and 8), the fake's endpoint. */
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/** Starts a {@link FakeSnsServer} on 127.0.0.1 that verifies SigV4 with {@link SNS_CREDENTIALS}. */
export async function startSnsWorld(): Promise<SnsWorld> {
  const sns = new FakeSnsServer({ credentials: SNS_CREDENTIALS });
  const url = await sns.start();
  const applications = {
    apns: sns.createPlatformApplication("APNS", "im.example"),
    apnsSandbox: sns.createPlatformApplication("APNS_SANDBOX", "im.example"),
    voip: sns.createPlatformApplication("APNS_VOIP", "im.example"),
    voipSandbox: sns.createPlatformApplication("APNS_VOIP_SANDBOX", "im.example"),
    fcm: sns.createPlatformApplication("GCM", "im.example"),
  };
  const env = {
    PUSH_JID,
    GATEWAY_TOKEN,
    SERVER_KEY,
    APNS_VIA: "sns",
    FCM_VIA: "sns",
    APNS_TOPIC: SNS_TOPIC,
    SNS_APNS_APPLICATION_ARN: applications.apns,
    SNS_APNS_SANDBOX_APPLICATION_ARN: applications.apnsSandbox,
    SNS_APNS_VOIP_APPLICATION_ARN: applications.voip,
    SNS_APNS_VOIP_SANDBOX_APPLICATION_ARN: applications.voipSandbox,
    SNS_FCM_APPLICATION_ARN: applications.fcm,
    AWS_ACCESS_KEY_ID: SNS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: SNS_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_SNS: url,
  };
  return { sns, applications, env, close: () => sns.close() };
}

/** What the SNS delivery scenarios run against: the fake SNS, and the user's server posting to a gateway. */
export interface SnsDeliveryContext {
  readonly world: SnsWorld;
  readonly server: FakeUserServer;
}

/** `unregister-device` as Siskin sends it. */
function unregisterDeviceIq(from: string, token: string): string {
  return `<iq type='set' from='${from}' to='${PUSH_JID}' id='unreg-${randomBytes(4).toString("hex")}'><command xmlns='http://jabber.org/protocol/commands' node='unregister-device' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>tigase:messenger:apns:1</value></field><field var='device-token'><value>${token}</value></field></x></command></iq>`;
}

/** `unregister-push-fcm` as Conversations sends it. */
function unregisterP2Iq(from: string, deviceId: string): string {
  return `<iq type='set' from='${from}' to='${PUSH_JID}' id='unreg-${randomBytes(4).toString("hex")}'><command xmlns='http://jabber.org/protocol/commands' node='unregister-push-fcm' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='android-id'><value>${deviceId}</value></field></x></command></iq>`;
}

/** Whether an ad-hoc command's reply says it completed. */
function completed(reply: IqReply): boolean {
  return reply.type === "result" && childElement(reply.element, "command")?.attrs.status === "completed";
}

/** The requests the fake received since `mark` (an index into `requests`). */
function since(sns: FakeSnsServer, mark: number): FakeSnsRequest[] {
  return sns.requests.slice(mark);
}

/** `Action status [error]` of each request, for readable comparisons. */
function summary(requests: readonly FakeSnsRequest[]): string[] {
  return requests.map((request) => `${request.action} ${request.status}${request.error ? ` ${request.error}` : ""}`);
}

/** The one endpoint the fake holds for a token (failing when there is none, or several). */
function endpointOf(sns: FakeSnsServer, token: string, applicationArn: string): string {
  const endpoints = sns.endpoints().filter((e) => e.token === token && e.applicationArn === applicationArn);
  expect(endpoints, `endpoints of ${token.slice(0, 8)}… on ${applicationArn}`).toHaveLength(1);
  return endpoints[0]?.arn ?? "";
}

function publishesTo(sns: FakeSnsServer, arn: string): FakeSnsPublish[] {
  return sns.publishes.filter((publish) => publish.targetArn === arn);
}

function attributesOf(publish: FakeSnsPublish | undefined): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(publish?.attributes ?? {}).map(([name, value]) => [name, value.stringValue]),
  );
}

function bodyOf(publish: FakeSnsPublish | undefined): Record<string, unknown> {
  return JSON.parse(publish?.platformMessage ?? "null");
}

/**
 * The delivery scenarios over the SNS route (docs/protocol.md 6.3), inside the caller's `describe`: what
 * every runtime that offers `APNS_VIA=sns` / `FCM_VIA=sns` must do, judged only by what the fake SNS
 * received (actions, parameters, signatures, the platform payloads it would hand on) and what the
 * gateway answered. The scenarios run one after another against one fake: each uses fresh tokens, and
 * scripted failures (`failNext`) are consumed by the scenario that queues them.
 */
export function snsDeliveryScenarios(context: () => SnsDeliveryContext): void {
  it("makes one endpoint at register-device and publishes the Tigase encrypted push to it, signed", async () => {
    const { world, server } = context();
    const { sns, applications } = world;
    const token = apnsToken();
    const mark = sns.requests.length;
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    expect(summary(since(sns, mark))).toEqual(["CreatePlatformEndpoint 200"]);
    expect(since(sns, mark)[0]?.params).toMatchObject({ PlatformApplicationArn: applications.apns, Token: token });
    const endpoint = endpointOf(sns, token, applications.apns);

    const reply = await server.iq(encryptedPublish(node));
    expect(reply.type).toBe("result");
    expect(summary(since(sns, mark))).toEqual(["CreatePlatformEndpoint 200", "Publish 200"]);
    const publishes = publishesTo(sns, endpoint);
    expect(publishes).toHaveLength(1);
    const [publish] = publishes;
    expect(publish?.messageStructure).toBe("json");
    expect(publish?.platform).toBe("APNS");
    expect(Object.keys(JSON.parse(publish?.message ?? "{}")).sort()).toEqual(["APNS", "default"]);
    expect(bodyOf(publish)).toMatchObject({
      aps: { "mutable-content": 1 },
      account: JULIET,
      encrypted: vector.chat.encrypted,
      iv: vector.chat.iv,
    });
    expect(attributesOf(publish)).toMatchObject({
      "AWS.SNS.MOBILE.APNS.PUSH_TYPE": "alert",
      "AWS.SNS.MOBILE.APNS.PRIORITY": "10",
      "AWS.SNS.MOBILE.APNS.TOPIC": world.env.APNS_TOPIC,
    });
    // Every request was SigV4-signed for sns in the application's region, and the signature matched.
    for (const request of since(sns, mark))
      expect(request.signature).toMatchObject({
        accessKeyId: SNS_CREDENTIALS.accessKeyId,
        service: "sns",
        region: sns.region,
        valid: true,
      });
  });

  it("shares one endpoint between two accounts of one phone and deletes it with the last one's unregister", async () => {
    const { world, server } = context();
    const { sns, applications } = world;
    const token = apnsToken();
    const mark = sns.requests.length;
    const romeo = await server.registerDevice({ from: `${ROMEO}/orchard`, token });
    const juliet = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    expect(romeo).not.toBe(juliet);
    const endpoint = endpointOf(sns, token, applications.apns);
    // CreatePlatformEndpoint is idempotent per (application, token): the second answered the same ARN.
    expect(sns.endpoints().filter((e) => e.token === token)).toHaveLength(1);

    expect((await server.iq(encryptedPublish(romeo, { from: "montague.example" }))).type).toBe("result");
    expect((await server.iq(encryptedPublish(juliet))).type).toBe("result");
    expect(publishesTo(sns, endpoint)).toHaveLength(2);

    expect(completed(await server.iq(unregisterDeviceIq(`${ROMEO}/orchard`, token)))).toBe(true);
    expect(since(sns, mark).some((request) => request.action === "DeleteEndpoint")).toBe(false);
    expect(sns.endpoints().map((e) => e.arn)).toContain(endpoint);
    expect((await server.iq(encryptedPublish(romeo, { from: "montague.example" }))).error).toBe(
      "cancel/item-not-found",
    );
    expect((await server.iq(encryptedPublish(juliet))).type).toBe("result");
    expect(publishesTo(sns, endpoint)).toHaveLength(3);

    expect(completed(await server.iq(unregisterDeviceIq(`${JULIET}/balcony`, token)))).toBe(true);
    const deletes = since(sns, mark).filter((request) => request.action === "DeleteEndpoint");
    expect(deletes.map((request) => [request.params.EndpointArn, request.status])).toEqual([[endpoint, 200]]);
    expect(sns.endpoints().map((e) => e.arn)).not.toContain(endpoint);
  });

  it("sends a VoIP publish (a Jingle propose) to the PushKit token's endpoint on the VoIP application, and unregisters both", async () => {
    const { world, server } = context();
    const { sns, applications } = world;
    const token = apnsToken();
    const voipToken = apnsToken();
    const mark = sns.requests.length;
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token, voipToken });
    const creates = since(sns, mark).filter((request) => request.action === "CreatePlatformEndpoint");
    expect(creates.map((request) => [request.params.PlatformApplicationArn, request.params.Token])).toEqual([
      [applications.apns, token],
      [applications.voip, voipToken],
    ]);
    const regular = endpointOf(sns, token, applications.apns);
    const voip = endpointOf(sns, voipToken, applications.voip);

    expect((await server.iq(encryptedPublish(node, { voip: true }))).type).toBe("result");
    expect(publishesTo(sns, regular)).toHaveLength(0);
    const [publish, ...others] = publishesTo(sns, voip);
    expect(others).toHaveLength(0);
    expect(publish?.platform).toBe("APNS_VOIP");
    expect(Object.keys(JSON.parse(publish?.message ?? "{}")).sort()).toEqual(["APNS_VOIP", "default"]);
    expect(attributesOf(publish)).toMatchObject({
      "AWS.SNS.MOBILE.APNS.PUSH_TYPE": "voip",
      "AWS.SNS.MOBILE.APNS.TOPIC": `${world.env.APNS_TOPIC}.voip`,
    });
    expect(bodyOf(publish)).toEqual({
      account: JULIET,
      encrypted: fixtureCiphertext("encrypted-voip-publish.xml"),
      iv: vector.call.iv,
    });
    // Its unregister lets both endpoints go.
    expect(completed(await server.iq(unregisterDeviceIq(`${JULIET}/balcony`, token)))).toBe(true);
    const deleted = since(sns, mark).filter((request) => request.action === "DeleteEndpoint");
    expect(deleted.map((request) => request.params.EndpointArn).sort()).toEqual([regular, voip].sort());
    expect(sns.endpoints().filter((e) => e.token === token || e.token === voipToken)).toHaveLength(0);
  });

  it("publishes a p2 registration's push as an fcmV1Message with the hashed account only, and unregisters it", async () => {
    const { world, server } = context();
    const { sns, applications } = world;
    const token = `fcm-${randomBytes(40).toString("base64url")}`;
    const deviceId = randomBytes(8).toString("hex");
    const { node, secret } = await server.registerP2({ from: `${JULIET}/phone`, token, deviceId });
    const endpoint = endpointOf(sns, token, applications.fcm);
    expect((await server.iq(encryptedPublish(node, { secret }))).type).toBe("result");
    const [publish, ...others] = publishesTo(sns, endpoint);
    expect(others).toHaveLength(0);
    expect(publish?.platform).toBe("GCM");
    expect(publish?.messageStructure).toBe("json");
    const body = bodyOf(publish);
    expect(Object.keys(body)).toEqual(["fcmV1Message"]);
    const message = (body.fcmV1Message as { message: Record<string, unknown> }).message;
    expect(Object.keys(message).sort()).toEqual(["android", "data"]);
    expect(message.android).toMatchObject({ priority: "high" });
    // Only what p2 tells Google (docs/protocol.md 6.2): the hashed account; never the token.
    expect(message.data).toEqual({ account: p2AccountHash(JULIET, deviceId) });
    expect((message.data as { account: string }).account).toMatch(/^[0-9a-f]{40}$/);
    expect(publish?.message).not.toContain(token);
    expect(attributesOf(publish)["AWS.SNS.MOBILE.FCM.TTL"]).toMatch(/^\d+$/);
    // unregister-push-fcm deletes its endpoint, the registration's only user.
    const mark = sns.requests.length;
    expect(completed(await server.iq(unregisterP2Iq(`${JULIET}/phone`, deviceId)))).toBe(true);
    expect(summary(since(sns, mark))).toEqual(["DeleteEndpoint 200"]);
    expect(sns.endpoints().map((e) => e.arn)).not.toContain(endpoint);
  });

  it("forgets every registration of a disabled endpoint and deletes it: item-not-found without more requests", async () => {
    const { world, server } = context();
    const { sns, applications } = world;
    const token = apnsToken();
    const romeo = await server.registerDevice({ from: `${ROMEO}/orchard`, token });
    const juliet = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    const endpoint = endpointOf(sns, token, applications.apns);
    sns.disable(endpoint);

    const mark = sns.requests.length;
    expect((await server.iq(encryptedPublish(juliet))).error).toBe("cancel/item-not-found");
    expect(summary(since(sns, mark))).toEqual(["Publish 400 EndpointDisabled", "DeleteEndpoint 200"]);
    expect(since(sns, mark)[1]?.params.EndpointArn).toBe(endpoint);
    expect(sns.endpoints().map((e) => e.arn)).not.toContain(endpoint);

    const after = sns.requests.length;
    expect((await server.iq(encryptedPublish(romeo, { from: "montague.example" }))).error).toBe(
      "cancel/item-not-found",
    );
    expect((await server.iq(encryptedPublish(juliet))).error).toBe("cancel/item-not-found");
    expect(sns.requests.length).toBe(after);
    expect(publishesTo(sns, endpoint)).toHaveLength(0);
  });

  it("sends the fallback push without encrypted and iv when SNS refuses the size", async () => {
    const { world, server } = context();
    const { sns, applications } = world;
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    const endpoint = endpointOf(sns, token, applications.apns);
    const mark = sns.requests.length;
    sns.failNext("Publish", "InvalidParameter", 400, "Invalid parameter: Message too long");
    expect((await server.iq(encryptedPublish(node))).type).toBe("result");
    expect(summary(since(sns, mark))).toEqual(["Publish 400 InvalidParameter", "Publish 200"]);
    const refused = JSON.parse(since(sns, mark)[0]?.params.Message ?? "{}");
    expect(JSON.parse(refused.APNS)).toMatchObject({ encrypted: vector.chat.encrypted, iv: vector.chat.iv });
    const [fallback, ...others] = publishesTo(sns, endpoint);
    expect(others).toHaveLength(0);
    const body = bodyOf(fallback);
    expect(body).toMatchObject({ account: JULIET, aps: { alert: expect.anything() } });
    expect(body).not.toHaveProperty("encrypted");
    expect(body).not.toHaveProperty("iv");
    expect(attributesOf(fallback)["AWS.SNS.MOBILE.APNS.PUSH_TYPE"]).toBe("alert");
  });

  it("answers wait when SNS throttles twice, and keeps the registration and its endpoint", async () => {
    const { world, server } = context();
    const { sns, applications } = world;
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    const endpoint = endpointOf(sns, token, applications.apns);
    const mark = sns.requests.length;
    sns.failNext("Publish", "Throttling", 400);
    sns.failNext("Publish", "Throttling", 400);
    expect((await server.iq(encryptedPublish(node))).error).toBe("wait/internal-server-error");
    expect(summary(since(sns, mark))).toEqual(["Publish 400 Throttling", "Publish 400 Throttling"]);
    expect(sns.endpoints().map((e) => e.arn)).toContain(endpoint);
    expect((await server.iq(encryptedPublish(node))).type).toBe("result");
    expect(summary(since(sns, mark)).slice(2)).toEqual(["Publish 200"]);
    expect(publishesTo(sns, endpoint)).toHaveLength(1);
  });

  it("registers while SNS is down, then makes the endpoint at the first publish and keeps it", async () => {
    const { world, server } = context();
    const { sns, applications } = world;
    const token = apnsToken();
    const mark = sns.requests.length;
    sns.failNext("CreatePlatformEndpoint", "InternalError", 500);
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    expect(summary(since(sns, mark))).toEqual(["CreatePlatformEndpoint 500 InternalError"]);
    expect(sns.endpoints().filter((e) => e.token === token)).toHaveLength(0);

    expect((await server.iq(encryptedPublish(node))).type).toBe("result");
    expect(summary(since(sns, mark)).slice(1)).toEqual(["CreatePlatformEndpoint 200", "Publish 200"]);
    const endpoint = endpointOf(sns, token, applications.apns);
    expect(publishesTo(sns, endpoint)).toHaveLength(1);

    // The endpoint made at the publish was stored with the registration: the next publish only publishes.
    expect((await server.iq(encryptedPublish(node))).type).toBe("result");
    expect(summary(since(sns, mark)).slice(3)).toEqual(["Publish 200"]);
    expect(publishesTo(sns, endpoint)).toHaveLength(2);
  });
}
