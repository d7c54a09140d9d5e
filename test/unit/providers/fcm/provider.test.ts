import { createHash, type KeyObject } from "node:crypto";
import { importPKCS8 } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { PushNotification } from "../../../../src/domain/notification";
import type { CredentialCache, MintCredential } from "../../../../src/ports/credentials";
import { FcmProvider } from "../../../../src/providers/fcm/provider";
import { MemoryCredentialCache } from "../../../../src/providers/memory-credentials";
import { FakeTransport } from "../../../fakes/transport";
import {
  budgetOf,
  FCM_ENDPOINT,
  fcmApp,
  generateServiceAccountKey,
  ManualClock,
  readFixture,
  registrationOf,
  START,
  TOKEN_URI,
  verifyJwt,
} from "../provider-test-kit";

const SEND_URL = `${FCM_ENDPOINT}/v1/projects/example-project/messages:send`;

class CountingCredentialCache implements CredentialCache {
  mints = 0;
  constructor(private readonly inner: CredentialCache) {}
  get(key: string, mint: MintCredential): Promise<string> {
    return this.inner.get(key, () => {
      this.mints += 1;
      return mint();
    });
  }
  invalidate(key: string, value: string): Promise<void> {
    return this.inner.invalidate(key, value);
  }
}

let key: { pem: string; publicKey: KeyObject };
beforeAll(() => {
  key = generateServiceAccountKey();
});

async function arrange() {
  const clock = new ManualClock();
  const transport = new FakeTransport();
  let issued = 0;
  transport.on(TOKEN_URI, () => {
    issued += 1;
    return { status: 200, body: { access_token: `ya29.token-${issued}`, expires_in: 3599, token_type: "Bearer" } };
  });
  const credentials = new CountingCredentialCache(new MemoryCredentialCache(clock.now));
  const provider = new FcmProvider({
    app: fcmApp(key.pem),
    signingKey: await importPKCS8(key.pem, "RS256"),
    transport: transport.fetch,
    credentials,
    now: clock.now,
  });
  return { provider, transport, clock, credentials };
}

const message: PushNotification = {
  priority: "high",
  encrypted: { data: "QUJD", iv: "aXZpdml2aXZpdml2", voip: false },
};
const fcmRegistration = (overrides = {}) => registrationOf({ provider: "fcm", token: "fcm-token", ...overrides });

describe("FcmProvider", () => {
  it("sends a data message to messages:send with the access token", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, { status: 200, body: { name: "projects/example-project/messages/1" } });
    const outcome = await provider.send({
      registration: fcmRegistration(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome).toEqual({ kind: "delivered" });
    const [request] = transport.to(SEND_URL);
    expect(request?.headers.authorization).toBe("Bearer ya29.token-1");
    expect(JSON.parse(request?.body ?? "")).toEqual({
      message: {
        token: "fcm-token",
        android: { priority: "high", ttl: "86400s" },
        data: { account: "user@example.com", encrypted: "QUJD", iv: "aXZpdml2aXZpdml2" },
      },
    });
  });

  it("exchanges an RS256 service-account assertion, form-encoded, at the token_uri", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, { status: 200 });
    await provider.send({ registration: fcmRegistration(), notification: message, budget: budgetOf(clock) });
    const [oauth] = transport.to(TOKEN_URI);
    expect(oauth?.method).toBe("POST");
    expect(oauth?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    const form = new URLSearchParams(oauth?.body);
    expect(form.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
    const jwt = verifyJwt(form.get("assertion") ?? "", key.publicKey, "RS256");
    expect(jwt.header).toMatchObject({ alg: "RS256" });
    const iat = Math.floor(START / 1000);
    expect(jwt.payload).toEqual({
      iss: "push@example-project.iam.gserviceaccount.com",
      scope: "https://www.googleapis.com/auth/firebase.messaging",
      aud: TOKEN_URI,
      iat,
      exp: iat + 3600,
    });
  });

  it("fetches the access token once for concurrent sends", async () => {
    const { provider, transport, clock, credentials } = await arrange();
    transport.reply(SEND_URL, { status: 200 });
    const sends = Array.from({ length: 6 }, () =>
      provider.send({ registration: fcmRegistration(), notification: message, budget: budgetOf(clock) }),
    );
    expect(await Promise.all(sends)).toEqual(Array(6).fill({ kind: "delivered" }));
    expect(transport.to(TOKEN_URI)).toHaveLength(1);
    expect(credentials.mints).toBe(1);
  });

  it("keeps the access token until five minutes before it expires", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, { status: 200 });
    const send = () =>
      provider.send({ registration: fcmRegistration(), notification: message, budget: budgetOf(clock) });
    await send();
    clock.advance((3599 - 301) * 1000);
    await send();
    expect(transport.to(TOKEN_URI)).toHaveLength(1);
    clock.advance(2000);
    await send();
    expect(transport.to(TOKEN_URI)).toHaveLength(2);
    expect(transport.to(SEND_URL)[2]?.headers.authorization).toBe("Bearer ya29.token-2");
  });

  it("does not take the OAuth request from the push budget", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, { status: 200 });
    const outcome = await provider.send({
      registration: fcmRegistration(),
      notification: message,
      budget: budgetOf(clock, 1),
    });
    expect(outcome).toEqual({ kind: "delivered" });
    expect(transport.requests).toHaveLength(2);
  });

  it("sends nothing, not even an OAuth request, when the budget is spent", async () => {
    const { provider, transport, clock } = await arrange();
    const outcome = await provider.send({
      registration: fcmRegistration(),
      notification: message,
      budget: budgetOf(clock, 0),
    });
    expect(outcome).toEqual({ kind: "retry-later", reason: "push budget spent" });
    expect(transport.requests).toHaveLength(0);
  });

  it.each([
    [{ status: 400, body: { error: "invalid_grant", error_description: "Invalid JWT Signature." } }, "misconfigured"],
    [{ status: 401, body: { error: "invalid_client" } }, "misconfigured"],
    [{ status: 200, body: { token_type: "Bearer" } }, "misconfigured"],
    [{ status: 503 }, "retry-later"],
    [{ networkError: "ECONNRESET" }, "retry-later"],
  ] as const)("answers an OAuth failure %j as %s, without a push request", async (reply, kind) => {
    const { provider, transport, clock } = await arrange();
    transport.reply(TOKEN_URI, reply);
    transport.reply(SEND_URL, { status: 200 });
    const outcome = await provider.send({
      registration: fcmRegistration(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome.kind).toBe(kind);
    expect(transport.to(SEND_URL)).toHaveLength(0);
  });

  it("does not keep a failed OAuth answer: the next push asks again", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(TOKEN_URI, { status: 503 }, { status: 200, body: { access_token: "ya29.late", expires_in: 3600 } });
    transport.reply(SEND_URL, { status: 200 });
    const send = () =>
      provider.send({ registration: fcmRegistration(), notification: message, budget: budgetOf(clock) });
    expect((await send()).kind).toBe("retry-later");
    expect(await send()).toEqual({ kind: "delivered" });
    expect(transport.to(TOKEN_URI)).toHaveLength(2);
  });

  it("token-dead on UNREGISTERED", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, { status: 404, body: readFixture("fcm/fcm-v1-404-unregistered.observed.json") });
    const outcome = await provider.send({
      registration: fcmRegistration(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome).toEqual({ kind: "token-dead", reason: "FCM 404 UNREGISTERED: Requested entity was not found." });
  });

  it("token-dead on an invalid registration token", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, {
      status: 400,
      body: readFixture("fcm/fcm-v1-400-invalid-registration-token.docs.json"),
    });
    const outcome = await provider.send({
      registration: fcmRegistration(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome.kind).toBe("token-dead");
  });

  it("rejects, and keeps the token, on an invalid message", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, { status: 400, body: readFixture("fcm/fcm-v1-400-invalid-value.docs.json") });
    const outcome = await provider.send({
      registration: fcmRegistration(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome.kind).toBe("rejected");
  });

  it.each([
    [429, "QUOTA_EXCEEDED", "30", 30_000],
    [503, "UNAVAILABLE", new Date(START + 10_000).toUTCString(), 10_000],
    [500, "INTERNAL", undefined, undefined],
  ])("answers retry-later on %i %s with Retry-After, and does not retry itself", async (status, code, header, ms) => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, {
      status,
      body: {
        error: {
          code: status,
          details: [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode: code }],
        },
      },
      ...(header ? { headers: { "retry-after": header } } : {}),
    });
    const outcome = await provider.send({
      registration: fcmRegistration(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome).toEqual({
      kind: "retry-later",
      reason: `FCM ${status} ${code}`,
      ...(ms !== undefined ? { retryAfterMs: ms } : {}),
    });
    expect(transport.to(SEND_URL)).toHaveLength(1);
  });

  it("is misconfigured on UNAUTHENTICATED, and the next push fetches a new access token", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(
      SEND_URL,
      { status: 401, body: { error: { code: 401, status: "UNAUTHENTICATED" } } },
      { status: 200 },
    );
    const send = () =>
      provider.send({ registration: fcmRegistration(), notification: message, budget: budgetOf(clock) });
    expect((await send()).kind).toBe("misconfigured");
    expect(await send()).toEqual({ kind: "delivered" });
    expect(transport.to(TOKEN_URI)).toHaveLength(2);
  });

  it("answers retry-later when FCM does not answer in time", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, { hang: true });
    const outcome = await provider.send({
      registration: fcmRegistration(),
      notification: message,
      budget: budgetOf(clock, 2, 40),
    });
    expect(outcome.kind).toBe("retry-later");
  });

  it("names a p2 registration by hashes, never the JID", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, { status: 200 });
    const registration = fcmRegistration({ style: "device", device: "dev-9", muc: "room@muc.example.com" });
    await provider.send({ registration, notification: { priority: "high" }, budget: budgetOf(clock) });
    const data = JSON.parse(transport.to(SEND_URL)[0]?.body ?? "").message.data;
    const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");
    expect(data).toEqual({
      account: sha1("user@example.com\u0000dev-9"),
      channel: sha1("room@muc.example.com\u0000dev-9"),
    });
    expect(transport.to(SEND_URL)[0]?.body).not.toContain("user@example.com");
  });

  it("sends a blob of exactly its capacity and refuses one byte more without a request", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, { status: 200 });
    const registration = fcmRegistration();
    const max = provider.payloadCapacity(registration);
    expect(provider.maxPayloadSize(registration)).toBeLessThan(max);
    const call = (blob: string): PushNotification => ({
      priority: "high",
      encrypted: { data: blob, iv: "A".repeat(16), voip: true },
    });
    expect(await provider.send({ registration, notification: call("A".repeat(max)), budget: budgetOf(clock) })).toEqual(
      {
        kind: "delivered",
      },
    );
    const over = await provider.send({
      registration,
      notification: call("A".repeat(max + 1)),
      budget: budgetOf(clock),
    });
    expect(over.kind).toBe("payload-rejected");
    expect(transport.to(SEND_URL)).toHaveLength(1);
    await provider.send({
      registration,
      notification: call("A".repeat(max + 1)),
      budget: budgetOf(clock),
      withoutEncrypted: true,
    });
    expect(JSON.parse(transport.to(SEND_URL)[1]?.body ?? "").message.data).not.toHaveProperty("encrypted");
  });

  it("takes payload-rejected from FCM when it says the message is too big", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(SEND_URL, {
      status: 400,
      body: { error: { code: 400, status: "INVALID_ARGUMENT", message: "Android message is too big" } },
    });
    const outcome = await provider.send({
      registration: fcmRegistration(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome.kind).toBe("payload-rejected");
  });
});
