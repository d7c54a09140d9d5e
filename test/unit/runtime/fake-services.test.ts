import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Http2Transport } from "../../../src/runtime/http2-transport";
import { type ApnsSigningKey, createApnsSigningKey } from "../../fakes/apns-key";
import { FakeApns } from "../../fakes/apns-server";
import { createLocalCertificate, type LocalCertificate } from "../../fakes/certificate";
import { FakeFcm } from "../../fakes/fcm-server";
import { createServiceAccount, type FakeServiceAccount } from "../../fakes/service-account";

const TOPIC = "im.example.app";
const TOKEN = "ab".repeat(32);

function jwt(header: object, claims: object, key: KeyObject, alg: "ES256" | "RS256"): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const signature =
    alg === "ES256"
      ? sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" })
      : sign("sha256", Buffer.from(input), key);
  return `${input}.${signature.toString("base64url")}`;
}

let dir: string;
let certificate: LocalCertificate;
let client: Http2Transport;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fake-services-"));
  certificate = await createLocalCertificate(dir);
  client = new Http2Transport({ ca: certificate.cert });
});

afterAll(async () => {
  await client.close();
  await rm(dir, { recursive: true, force: true });
});

describe("FakeApns behaves like APNs", () => {
  let apns: FakeApns;
  let key: ApnsSigningKey;
  let signing: KeyObject;

  const providerToken = (overrides: { kid?: string; iss?: string; iat?: number; key?: KeyObject } = {}) =>
    jwt(
      { alg: "ES256", kid: overrides.kid ?? key.keyId },
      { iss: overrides.iss ?? key.teamId, iat: overrides.iat ?? Math.floor(Date.now() / 1000) },
      overrides.key ?? signing,
      "ES256",
    );

  const push = async (
    options: { token?: string; headers?: Record<string, string>; body?: string; environment?: "sandbox" } = {},
  ) => {
    const base = options.environment === "sandbox" ? apns.sandboxUrl : apns.productionUrl;
    const response = await client.fetch(`${base}/3/device/${options.token ?? TOKEN}`, {
      method: "POST",
      headers: {
        authorization: `bearer ${providerToken()}`,
        "apns-topic": TOPIC,
        "apns-push-type": "alert",
        "apns-priority": "10",
        ...options.headers,
      },
      body: options.body ?? '{"aps":{"alert":"hi"}}',
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) };
  };

  beforeAll(async () => {
    key = createApnsSigningKey({ teamId: "TEAM123456", keyId: "KEY7654321" });
    signing = createPrivateKey(key.pem);
    apns = await FakeApns.start({ cert: certificate.cert, key: certificate.key, keys: [key], topics: [TOPIC] });
  });

  afterEach(() => {
    apns.clearFailures();
  });

  afterAll(async () => {
    await apns.close();
  });

  it("accepts a push with a valid provider token: 200, empty body, apns-id", async () => {
    const answer = await push();
    expect(answer.status).toBe(200);
    expect(answer.body).toBeUndefined();
    expect(answer.headers.get("apns-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(apns.received.at(-1)).toMatchObject({
      token: TOKEN,
      environment: "production",
      httpVersion: "2.0",
      jwt: { kid: key.keyId, iss: key.teamId },
      body: { aps: { alert: "hi" } },
    });
  });

  it("answers an apns-unique-id in the sandbox environment only", async () => {
    expect((await push({ environment: "sandbox" })).headers.get("apns-unique-id")).not.toBeNull();
    expect((await push()).headers.get("apns-unique-id")).toBeNull();
  });

  it.each([
    ["no authorization", { authorization: "" }, 403, "MissingProviderToken"],
    ["an unknown kid", { kid: "OTHERKEY00" }, 403, "InvalidProviderToken"],
    ["another team as iss", { iss: "OTHERTEAM0" }, 403, "InvalidProviderToken"],
    ["an iat in the future", { iat: Math.floor(Date.now() / 1000) + 3600 }, 403, "InvalidProviderToken"],
    ["an iat over an hour old", { iat: Math.floor(Date.now() / 1000) - 3700 }, 403, "ExpiredProviderToken"],
  ] as const)("refuses %s", async (_name, override, status, reason) => {
    const authorization = "authorization" in override ? override.authorization : `bearer ${providerToken(override)}`;
    const answer = await push({ headers: { authorization } });
    expect(answer).toMatchObject({ status, body: { reason } });
  });

  it("refuses a token signed by another key", async () => {
    const other = createPrivateKey(createApnsSigningKey().pem);
    const answer = await push({ headers: { authorization: `bearer ${providerToken({ key: other })}` } });
    expect(answer).toMatchObject({ status: 403, body: { reason: "InvalidProviderToken" } });
  });

  it.each([
    ["an unknown topic", { "apns-topic": "com.other" }, 400, "TopicDisallowed"],
    ["no topic", { "apns-topic": "" }, 400, "MissingTopic"],
    ["a voip push to the plain topic", { "apns-push-type": "voip" }, 400, "InvalidPushType"],
    ["an unknown push type", { "apns-push-type": "shout" }, 400, "InvalidPushType"],
    ["a background push at priority 10", { "apns-push-type": "background" }, 400, "BadPriority"],
    ["a bad expiration", { "apns-expiration": "soon" }, 400, "BadExpirationDate"],
    ["a bad apns-id", { "apns-id": "not-a-uuid" }, 400, "BadMessageId"],
    ["a long collapse id", { "apns-collapse-id": "x".repeat(65) }, 400, "BadCollapseId"],
  ] as const)("refuses %s", async (_name, headers, status, reason) => {
    expect(await push({ headers })).toMatchObject({ status, body: { reason } });
  });

  it("limits bodies to 4096 bytes, 5120 for VoIP", async () => {
    const body = (size: number) => JSON.stringify({ aps: {}, pad: "x".repeat(size - 19) });
    expect(body(4096)).toHaveLength(4096);
    expect((await push({ body: body(4096) })).status).toBe(200);
    expect(await push({ body: body(4097) })).toMatchObject({ status: 413, body: { reason: "PayloadTooLarge" } });
    const voip = { "apns-topic": `${TOPIC}.voip`, "apns-push-type": "voip" };
    expect((await push({ headers: voip, body: body(5120) })).status).toBe(200);
    expect((await push({ headers: voip, body: body(5121) })).status).toBe(413);
  });

  it("refuses empty bodies, bodies that are not JSON objects and tokens that are not hex", async () => {
    expect(await push({ body: "" })).toMatchObject({ status: 400, body: { reason: "PayloadEmpty" } });
    expect(await push({ body: "[1]" })).toMatchObject({ status: 400, body: { reason: "BadPayload" } });
    expect(await push({ token: "not-hex" })).toMatchObject({ status: 400, body: { reason: "BadDeviceToken" } });
  });

  it("answers a programmed 410 with its timestamp, as often as asked", async () => {
    apns.failToken(TOKEN, { status: 410, reason: "Unregistered", timestamp: 1_700_000_000_000, times: 1 });
    expect(await push()).toMatchObject({ status: 410, body: { reason: "Unregistered", timestamp: 1_700_000_000_000 } });
    expect((await push()).status).toBe(200);
  });

  it("answers a programmed failure in one environment only, with Retry-After when asked", async () => {
    apns.failToken(TOKEN, { status: 400, reason: "BadDeviceToken", environment: "production" });
    apns.failToken(TOKEN, { status: 429, reason: "TooManyRequests", retryAfter: 3, environment: "sandbox", times: 1 });
    expect((await push()).body).toEqual({ reason: "BadDeviceToken" });
    const limited = await push({ environment: "sandbox" });
    expect(limited).toMatchObject({ status: 429, body: { reason: "TooManyRequests" } });
    expect(limited.headers.get("retry-after")).toBe("3");
    expect((await push({ environment: "sandbox" })).status).toBe(200);
  });

  it("expires the provider token once: that token stays refused, a new one is accepted", async () => {
    const old = providerToken();
    apns.expireProviderTokenOnce();
    expect((await push({ headers: { authorization: `bearer ${old}` } })).body).toEqual({
      reason: "ExpiredProviderToken",
    });
    expect((await push({ headers: { authorization: `bearer ${old}` } })).body).toEqual({
      reason: "ExpiredProviderToken",
    });
    expect((await push()).status).toBe(200);
  });

  it("speaks HTTP/1.1 too (what local workerd uses)", async () => {
    const url = new URL(`${apns.productionUrl}/3/device/${TOKEN}`);
    const status = await new Promise<number>((done, fail) => {
      const request = httpsRequest(
        url,
        {
          method: "POST",
          ca: certificate.cert,
          headers: {
            authorization: `bearer ${providerToken()}`,
            "apns-topic": TOPIC,
            "content-type": "application/json",
          },
        },
        (response) => {
          response.resume();
          response.on("end", () => done(response.statusCode ?? 0));
        },
      );
      request.on("error", fail);
      request.end('{"aps":{}}');
    });
    expect(status).toBe(200);
    expect(apns.received.at(-1)?.httpVersion).toBe("1.1");
    expect(apns.stats().http1Connections).toBeGreaterThanOrEqual(1);
  });
});

describe("FakeFcm behaves like FCM HTTP v1 and Google's OAuth endpoint", () => {
  let fcm: FakeFcm;
  let account: FakeServiceAccount;
  let signing: KeyObject;

  const assertion = (overrides: Record<string, unknown> = {}, key?: KeyObject) => {
    const iat = Math.floor(Date.now() / 1000);
    return jwt(
      { alg: "RS256", typ: "JWT" },
      {
        iss: account.json.client_email,
        scope: "https://www.googleapis.com/auth/firebase.messaging",
        aud: account.json.token_uri,
        iat,
        exp: iat + 3600,
        ...overrides,
      },
      key ?? signing,
      "RS256",
    );
  };

  const exchange = async (form: Record<string, string>) => {
    const response = await client.fetch(fcm.tokenUri, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    });
    return { status: response.status, body: JSON.parse(await response.text()) };
  };

  const accessToken = async () => {
    const answer = await exchange({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion: assertion(),
    });
    return String(answer.body.access_token);
  };

  const send = async (message: unknown, options: { bearer?: string; project?: string } = {}) => {
    const project = options.project ?? account.json.project_id;
    const response = await client.fetch(`${fcm.url}/v1/projects/${project}/messages:send`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${options.bearer ?? (await accessToken())}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ message }),
    });
    return { status: response.status, body: JSON.parse(await response.text()) };
  };

  beforeAll(async () => {
    fcm = await FakeFcm.start({ cert: certificate.cert, key: certificate.key });
    account = createServiceAccount({ tokenUri: fcm.tokenUri });
    signing = createPrivateKey(account.json.private_key);
    fcm.trust(account);
  });

  afterAll(async () => {
    await fcm.close();
  });

  it("issues an access token for a valid assertion", async () => {
    const answer = await exchange({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion: assertion(),
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ expires_in: 3599, token_type: "Bearer" });
    expect(answer.body.access_token).toMatch(/^ya29\./);
  });

  it.each([
    ["a wrong grant type", { grant_type: "client_credentials" }, "unsupported_grant_type"],
    ["a wrong audience", { aud: "https://oauth2.googleapis.com/token" }, "invalid_grant"],
    ["a lifetime over an hour", { exp: Math.floor(Date.now() / 1000) + 7200 }, "invalid_grant"],
    [
      "an expired assertion",
      { iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 },
      "invalid_grant",
    ],
    ["no messaging scope", { scope: "https://www.googleapis.com/auth/cloud-platform" }, "invalid_scope"],
    ["an unknown account", { iss: "someone@else.iam.gserviceaccount.com" }, "invalid_grant"],
  ] as const)("refuses %s", async (_name, override, error) => {
    const form =
      "grant_type" in override
        ? { grant_type: override.grant_type, assertion: assertion() }
        : { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: assertion(override) };
    expect(await exchange(form)).toMatchObject({ status: 400, body: { error } });
  });

  it("refuses an assertion signed by another key", async () => {
    const other = createPrivateKey(createServiceAccount({ tokenUri: fcm.tokenUri }).json.private_key);
    const answer = await exchange({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion: assertion({}, other),
    });
    expect(answer).toMatchObject({
      status: 400,
      body: { error: "invalid_grant", error_description: "Invalid JWT Signature." },
    });
  });

  it("sends a data message and answers its name", async () => {
    const answer = await send({ token: "tok-1", android: { priority: "high", ttl: "60s" }, data: { account: "a" } });
    expect(answer.status).toBe(200);
    expect(answer.body.name).toMatch(new RegExp(`^projects/${account.json.project_id}/messages/`));
    expect(fcm.received.at(-1)).toMatchObject({
      token: "tok-1",
      data: { account: "a" },
      status: 200,
      httpVersion: "2.0",
    });
  });

  it("refuses an access token it did not issue, and another project", async () => {
    expect(await send({ token: "t" }, { bearer: "ya29.forged" })).toMatchObject({
      status: 401,
      body: { error: { status: "UNAUTHENTICATED" } },
    });
    expect(await send({ token: "t" }, { project: "other-project" })).toMatchObject({
      status: 403,
      body: { error: { status: "PERMISSION_DENIED" } },
    });
  });

  it("refuses data values that are not strings, as FCM does", async () => {
    const answer = await send({ token: "t", data: { count: 12 } });
    expect(answer.status).toBe(400);
    const expected = JSON.parse(
      readFileSync(new URL("../../fixtures/fcm/fcm-v1-400-invalid-value.docs.json", import.meta.url), "utf8"),
    );
    expect(answer.body).toEqual(expected);
  });

  it("refuses a message without a target, a bad priority and data over 4096 bytes", async () => {
    expect((await send({ data: { a: "b" } })).body.error.message).toBe("Recipient of the message is not set.");
    expect((await send({ token: "t", android: { priority: "urgent" } })).status).toBe(400);
    expect(
      (await send({ token: "t", data: { pad: "x".repeat(4100) } })).body.error.details[1].fieldViolations[0]
        .description,
    ).toMatch(/too big/);
  });

  it("answers a programmed UNREGISTERED with the body FCM sends", async () => {
    fcm.failToken("dead-token", { code: "UNREGISTERED", times: 1 });
    const answer = await send({ token: "dead-token", data: {} });
    const expected = JSON.parse(
      readFileSync(new URL("../../fixtures/fcm/fcm-v1-404-unregistered.observed.json", import.meta.url), "utf8"),
    );
    expect(answer).toEqual({ status: 404, body: expected });
    expect((await send({ token: "dead-token", data: {} })).status).toBe(200);
  });

  it("stops accepting revoked access tokens", async () => {
    const bearer = await accessToken();
    fcm.revokeAccessTokens();
    expect((await send({ token: "t" }, { bearer })).status).toBe(401);
  });
});
