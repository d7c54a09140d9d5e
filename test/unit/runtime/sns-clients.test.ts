import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SnsClient, SnsFailure } from "../../../src/ports/sns";
import { createFetchSnsClient } from "../../../src/runtime/sns-fetch";
import { snsClientFromEnv } from "../../../src/runtime/sns-sdk";
import { FakeSnsServer, MESSAGE_TOO_LONG, SNS_API_VERSION } from "../../fakes/sns-server";

const REGION = "eu-west-1";
const CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  sessionToken: "session-token",
};
const TIMEOUT_MS = 2_000;
const APNS_TOKEN = "5b8a6e2f".repeat(8);

/** The two clients of the port, made the way their runtimes make them, against an endpoint. */
const CLIENTS: readonly (readonly [string, (endpoint: string) => SnsClient])[] = [
  [
    "@aws-sdk/client-sns (Node, Lambda)",
    (endpoint) =>
      snsClientFromEnv({
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: CREDENTIALS.sessionToken,
        AWS_ENDPOINT_URL_SNS: endpoint,
      }),
  ],
  [
    "awsQuery over fetch (Workers)",
    (endpoint) =>
      createFetchSnsClient({ region: REGION, ...CREDENTIALS, endpoint, fetch: (url, init) => fetch(url, init) }),
  ],
];

/** An APNs message as the SNS route sends it: `MessageStructure=json`, the platform's payload as a string. */
function apnsMessage(alert = "New message", padding = ""): string {
  return JSON.stringify({ APNS: JSON.stringify({ aps: { alert, "mutable-content": 1 }, padding }) });
}

function service(code: string, status: number, message?: string): { ok: false; error: SnsFailure } {
  return {
    ok: false,
    error: { kind: "service", code, status, message: message === undefined ? expect.any(String) : message },
  };
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.each(CLIENTS)("SNS client: %s", (_name, makeClient) => {
  const fake = new FakeSnsServer({ region: REGION, credentials: CREDENTIALS });
  let sns: SnsClient;
  let apns = "";
  let voip = "";
  let gcm = "";
  beforeAll(async () => {
    sns = makeClient(await fake.start());
    apns = fake.createPlatformApplication("APNS", "siskin");
    voip = fake.createPlatformApplication("APNS_VOIP", "siskin-voip");
    gcm = fake.createPlatformApplication("GCM", "conversations");
  });
  afterAll(() => fake.close());
  afterEach(() => {
    fake.requests.length = 0;
    fake.publishes.length = 0;
  });

  async function endpointFor(application: string, token: string): Promise<string> {
    const created = await sns.createPlatformEndpoint({
      platformApplicationArn: application,
      token,
      timeoutMs: TIMEOUT_MS,
    });
    if (!created.ok) throw new Error(`CreatePlatformEndpoint failed: ${JSON.stringify(created.error)}`);
    return created.value.endpointArn;
  }

  it("creates an endpoint idempotently: the same token gets the same ARN back", async () => {
    const first = await endpointFor(apns, APNS_TOKEN);
    expect(first).toMatch(/^arn:aws:sns:eu-west-1:123456789012:endpoint\/APNS\/siskin\/[0-9a-f-]{36}$/);
    expect(await endpointFor(apns, APNS_TOKEN)).toBe(first);
    const other = await endpointFor(apns, "0f".repeat(32));
    expect(other).not.toBe(first);
    expect(await endpointFor(gcm, "fcm-registration-token")).toMatch(/:endpoint\/GCM\/conversations\//);

    expect(fake.requests.map((r) => [r.action, r.status])).toEqual([
      ["CreatePlatformEndpoint", 200],
      ["CreatePlatformEndpoint", 200],
      ["CreatePlatformEndpoint", 200],
      ["CreatePlatformEndpoint", 200],
    ]);
    expect(fake.requests[0]?.params).toMatchObject({
      Action: "CreatePlatformEndpoint",
      Version: SNS_API_VERSION,
      PlatformApplicationArn: apns,
      Token: APNS_TOKEN,
    });
    expect(fake.endpoints().filter((e) => e.token === APNS_TOKEN)).toEqual([
      { arn: first, applicationArn: apns, platform: "APNS", token: APNS_TOKEN, enabled: true },
    ]);
  });

  it("publishes: SNS gets the message, its structure and attributes, signed with SigV4 for eu-west-1/sns", async () => {
    const endpointArn = await endpointFor(apns, APNS_TOKEN);
    const message = apnsMessage("Romeo: wherefore art thou? & <more> 'quoted' \"text\" ✓");
    const attributes = { "AWS.SNS.MOBILE.APNS.PUSH_TYPE": "alert", "AWS.SNS.MOBILE.APNS.PRIORITY": "10" };
    const published = await sns.publish({ targetArn: endpointArn, message, attributes, timeoutMs: TIMEOUT_MS });

    expect(published).toEqual({ ok: true, value: { messageId: fake.publishes[0]?.messageId } });
    expect(fake.publishes).toHaveLength(1);
    expect(fake.publishes[0]).toMatchObject({
      targetArn: endpointArn,
      platform: "APNS",
      token: APNS_TOKEN,
      message,
      messageStructure: "json",
      platformMessage: JSON.parse(message).APNS,
      attributes: {
        "AWS.SNS.MOBILE.APNS.PUSH_TYPE": { dataType: "String", stringValue: "alert" },
        "AWS.SNS.MOBILE.APNS.PRIORITY": { dataType: "String", stringValue: "10" },
      },
    });
    const request = fake.requests.at(-1);
    expect(request).toMatchObject({
      action: "Publish",
      contentType: expect.stringMatching(/^application\/x-www-form-urlencoded/),
      sessionToken: CREDENTIALS.sessionToken,
      signature: {
        accessKeyId: CREDENTIALS.accessKeyId,
        date: expect.stringMatching(/^\d{8}$/),
        region: REGION,
        service: "sns",
        valid: true,
      },
    });
    expect(request?.params).toMatchObject({ Action: "Publish", Version: SNS_API_VERSION, MessageStructure: "json" });
  });

  it("deletes an endpoint, idempotently", async () => {
    const endpointArn = await endpointFor(apns, "ab".repeat(32));
    expect(await sns.deleteEndpoint({ endpointArn, timeoutMs: TIMEOUT_MS })).toEqual({ ok: true, value: undefined });
    expect(fake.endpoints().map((e) => e.arn)).not.toContain(endpointArn);
    expect(await sns.deleteEndpoint({ endpointArn, timeoutMs: TIMEOUT_MS })).toEqual({ ok: true, value: undefined });
    expect(fake.requests.map((r) => [r.action, r.params.EndpointArn, r.status])).toEqual([
      ["CreatePlatformEndpoint", undefined, 200],
      ["DeleteEndpoint", endpointArn, 200],
      ["DeleteEndpoint", endpointArn, 200],
    ]);
  });

  describe("maps SNS's errors to service failures with SNS's code, status and text", () => {
    it("EndpointDisabled (400) once Apple or Google rejected the token", async () => {
      const endpointArn = await endpointFor(apns, "cd".repeat(32));
      fake.disable(endpointArn);
      const answer = await sns.publish({
        targetArn: endpointArn,
        message: apnsMessage(),
        attributes: {},
        timeoutMs: TIMEOUT_MS,
      });
      expect(answer).toEqual(service("EndpointDisabled", 400, "Endpoint is disabled"));
      // The token's endpoint stays what it was: creating it again answers the same (disabled) ARN.
      expect(await endpointFor(apns, "cd".repeat(32))).toBe(endpointArn);
      expect(fake.publishes).toEqual([]);
    });

    it("Throttling (400)", async () => {
      const endpointArn = await endpointFor(apns, APNS_TOKEN);
      fake.failNext("Publish", "Throttling", 400);
      const answer = await sns.publish({
        targetArn: endpointArn,
        message: apnsMessage(),
        attributes: {},
        timeoutMs: TIMEOUT_MS,
      });
      expect(answer).toEqual(service("Throttling", 400, "Rate exceeded"));
    });

    it("InternalError (500)", async () => {
      const endpointArn = await endpointFor(apns, APNS_TOKEN);
      fake.failNext("Publish", "InternalError", 500);
      const answer = await sns.publish({
        targetArn: endpointArn,
        message: apnsMessage(),
        attributes: {},
        timeoutMs: TIMEOUT_MS,
      });
      expect(answer).toEqual(service("InternalError", 500, "Internal Error"));
    });

    it("NotFound (404) for an unknown platform application", async () => {
      const answer = await sns.createPlatformEndpoint({
        platformApplicationArn: "arn:aws:sns:eu-west-1:123456789012:app/APNS/unknown",
        token: APNS_TOKEN,
        timeoutMs: TIMEOUT_MS,
      });
      expect(answer).toEqual(service("NotFound", 404, "PlatformApplication does not exist"));
    });

    it("AuthorizationError (403)", async () => {
      fake.failNext("DeleteEndpoint", "AuthorizationError", 403);
      const endpointArn =
        "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/siskin/00000000-0000-4000-8000-000000000000";
      const answer = await sns.deleteEndpoint({ endpointArn, timeoutMs: TIMEOUT_MS });
      expect(answer).toEqual(
        service(
          "AuthorizationError",
          403,
          `User: arn:aws:iam::123456789012:user/push-gateway is not authorized to perform: SNS:DeleteEndpoint on resource: ${endpointArn} because no identity-based policy allows the SNS:DeleteEndpoint action`,
        ),
      );
    });

    it("InvalidParameter (400) for a platform payload over Apple's 4 KiB, not for a VoIP one under 5 KiB", async () => {
      const alert = await endpointFor(apns, APNS_TOKEN);
      const big = apnsMessage("x", "p".repeat(4_200));
      expect(await sns.publish({ targetArn: alert, message: big, attributes: {}, timeoutMs: TIMEOUT_MS })).toEqual(
        service("InvalidParameter", 400, MESSAGE_TOO_LONG),
      );
      const call = await endpointFor(voip, APNS_TOKEN);
      const voipMessage = JSON.stringify({ APNS_VOIP: JSON.parse(big).APNS });
      expect(
        await sns.publish({ targetArn: call, message: voipMessage, attributes: {}, timeoutMs: TIMEOUT_MS }),
      ).toMatchObject({ ok: true });
    });

    it("InvalidParameter (400) for a message with neither `default` nor the endpoint's platform", async () => {
      const endpointArn = await endpointFor(apns, APNS_TOKEN);
      const message = JSON.stringify({ GCM: "{}" });
      expect(await sns.publish({ targetArn: endpointArn, message, attributes: {}, timeoutMs: TIMEOUT_MS })).toEqual(
        service("InvalidParameter", 400, "Invalid parameter: JSON must contain an entry for 'default' or 'APNS'."),
      );
      const fallback = JSON.stringify({ default: "New message", GCM: "{}" });
      expect(
        await sns.publish({ targetArn: endpointArn, message: fallback, attributes: {}, timeoutMs: TIMEOUT_MS }),
      ).toMatchObject({ ok: true });
      expect(fake.publishes.at(-1)?.platformMessage).toBe("New message");
    });
  });

  it("gives up after timeoutMs when SNS never answers", async () => {
    const endpointArn = await endpointFor(apns, APNS_TOKEN);
    fake.stallNext("Publish");
    const started = performance.now();
    const answer = await sns.publish({
      targetArn: endpointArn,
      message: apnsMessage(),
      attributes: {},
      timeoutMs: 200,
    });
    const elapsed = performance.now() - started;
    expect(answer).toEqual({ ok: false, error: { kind: "timeout" } });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1_000);
  });

  it("answers a refused connection as a network failure", async () => {
    const unreachable = makeClient(`http://127.0.0.1:${await closedPort()}`);
    const answer = await unreachable.createPlatformEndpoint({
      platformApplicationArn: apns,
      token: APNS_TOKEN,
      timeoutMs: TIMEOUT_MS,
    });
    expect(answer).toEqual({ ok: false, error: { kind: "network", reason: expect.stringContaining("ECONNREFUSED") } });
  });
});

describe("the fetch client reads only what it needs of an answer", () => {
  const answering = (status: number, body: string) => (): SnsClient =>
    createFetchSnsClient({
      region: REGION,
      accessKeyId: CREDENTIALS.accessKeyId,
      secretAccessKey: CREDENTIALS.secretAccessKey,
      fetch: async () => ({ status, headers: { get: () => null }, text: async () => body }),
    });
  const publish = (client: SnsClient) =>
    client.publish({
      targetArn: "arn:aws:sns:eu-west-1:1:endpoint/APNS/a/b",
      message: "{}",
      attributes: {},
      timeoutMs: 500,
    });

  it("an error answer that is not SNS's (a proxy's HTML page) is Unknown with its status", async () => {
    expect(await publish(answering(502, "<html><body>Bad Gateway</body></html>")())).toEqual(
      service("Unknown", 502, "Unknown"),
    );
  });

  it("a success without a MessageId is a malformed answer, not a delivery", async () => {
    expect(await publish(answering(200, "<PublishResponse><PublishResult/></PublishResponse>")())).toEqual(
      service("MalformedResponse", 200),
    );
  });

  it("a huge answer is cut before it is searched", async () => {
    const body = `<PublishResponse>${" ".repeat(1_000_000)}<MessageId>late</MessageId></PublishResponse>`;
    expect(await publish(answering(200, body)())).toEqual(service("MalformedResponse", 200));
  });

  it("XML entities in SNS's text are decoded", async () => {
    const body =
      "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code><Message>entry for &apos;default&apos; &amp; &#x2713;&#10003;</Message></Error></ErrorResponse>";
    expect(await publish(answering(400, body)())).toEqual(service("InvalidParameter", 400, "entry for 'default' & ✓✓"));
  });
});
