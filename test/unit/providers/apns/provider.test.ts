import type { KeyObject } from "node:crypto";
import { importPKCS8 } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { PushNotification } from "../../../../src/domain/notification";
import type { Registration } from "../../../../src/domain/registration";
import { type CredentialCache, CredentialUnavailable, type MintCredential } from "../../../../src/ports/credentials";
import type { ApnsAppConfig } from "../../../../src/providers/apns/config";
import { ApnsProvider } from "../../../../src/providers/apns/provider";
import { APNS_PROVIDER_TOKEN_LIFETIME_MS } from "../../../../src/providers/apns/provider-token";
import { APNS_REASONS, type ApnsReason } from "../../../../src/providers/apns/reasons";
import { MemoryCredentialCache } from "../../../../src/providers/memory-credentials";
import { type FakeReply, FakeTransport } from "../../../fakes/transport";
import {
  APNS_PRODUCTION,
  APNS_SANDBOX,
  apnsApp,
  budgetOf,
  fixtureNames,
  generateApnsKey,
  ManualClock,
  readFixture,
  registrationOf,
  START,
  verifyJwt,
} from "../provider-test-kit";

/** Counts how often the provider asks for a fresh provider token. */
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
  key = generateApnsKey();
});

async function arrange(app: Partial<ApnsAppConfig> = {}) {
  const clock = new ManualClock();
  const transport = new FakeTransport();
  const credentials = new CountingCredentialCache(new MemoryCredentialCache(clock.now));
  const provider = new ApnsProvider({
    app: apnsApp(key.pem, app),
    signingKey: await importPKCS8(key.pem, "ES256"),
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

function bearerOf(authorization: string | undefined): string {
  return (authorization ?? "").replace(/^bearer /, "");
}

describe("ApnsProvider", () => {
  it("delivers to production with the topic, push type, priority and expiration headers", async () => {
    const { provider, transport } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 200, headers: { "apns-id": "x" } });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(new ManualClock()),
    });
    expect(outcome).toEqual({ kind: "delivered" });
    const [request] = transport.requests;
    expect(request?.url).toBe(`${APNS_PRODUCTION}/3/device/a1b2c3`);
    expect(request?.method).toBe("POST");
    expect(request?.headers).toMatchObject({
      "apns-topic": "im.example.app",
      "apns-push-type": "alert",
      "apns-priority": "10",
      "apns-expiration": String(START / 1000 + 86_400),
    });
    expect(JSON.parse(request?.body ?? "")).toMatchObject({ account: "user@example.com", encrypted: "QUJD" });
  });

  it("signs an ES256 provider token with the key id, team id and the current time", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 200 });
    await provider.send({ registration: registrationOf(), notification: message, budget: budgetOf(clock) });
    const authorization = transport.requests[0]?.headers.authorization;
    expect(authorization).toMatch(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const jwt = verifyJwt(bearerOf(authorization), key.publicKey, "ES256");
    expect(jwt.header).toEqual({ alg: "ES256", kid: "KEY7654321" });
    expect(jwt.payload).toEqual({ iss: "TEAM123456", iat: Math.floor(clock.now() / 1000) });
  });

  it("mints the provider token once for concurrent sends", async () => {
    const { provider, transport, clock, credentials } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 200 });
    const sends = Array.from({ length: 8 }, (_, i) =>
      provider.send({
        registration: registrationOf({ token: `t${i}` }),
        notification: message,
        budget: budgetOf(clock),
      }),
    );
    expect(await Promise.all(sends)).toEqual(Array(8).fill({ kind: "delivered" }));
    expect(credentials.mints).toBe(1);
    expect(new Set(transport.requests.map((r) => r.headers.authorization)).size).toBe(1);
  });

  it("reuses the provider token for 50 minutes, within Apple's 20 to 60", async () => {
    const { provider, transport, clock, credentials } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 200 });
    const send = () =>
      provider.send({ registration: registrationOf(), notification: message, budget: budgetOf(clock) });
    await send();
    clock.advance(49 * 60_000);
    await send();
    expect(credentials.mints).toBe(1);
    clock.advance(2 * 60_000);
    await send();
    expect(credentials.mints).toBe(2);
    expect(APNS_PROVIDER_TOKEN_LIFETIME_MS).toBeGreaterThanOrEqual(20 * 60_000);
    expect(APNS_PROVIDER_TOKEN_LIFETIME_MS).toBeLessThanOrEqual(60 * 60_000);
    const iat = verifyJwt(bearerOf(transport.requests[2]?.headers.authorization), key.publicKey, "ES256").payload.iat;
    expect(iat).toBe(Math.floor(clock.now() / 1000));
  });

  it("answers the cache's outcome when the provider token cannot be had", async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    const unavailable: CredentialCache = {
      get: async () => {
        throw new CredentialUnavailable({ kind: "retry-later", reason: "credential store unreachable" });
      },
      invalidate: async () => undefined,
    };
    const provider = new ApnsProvider({
      app: apnsApp(key.pem),
      signingKey: await importPKCS8(key.pem, "ES256"),
      transport: transport.fetch,
      credentials: unavailable,
      now: clock.now,
    });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome).toEqual({ kind: "retry-later", reason: "credential store unreachable" });
    expect(transport.requests).toHaveLength(0);
  });

  it("re-mints once on ExpiredProviderToken and retries", async () => {
    const { provider, transport, clock, credentials } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 403, body: { reason: "ExpiredProviderToken" } }, { status: 200 });
    clock.advance(1000);
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome).toEqual({ kind: "delivered" });
    expect(transport.requests).toHaveLength(2);
    expect(credentials.mints).toBe(2);
    expect(transport.requests[0]?.headers.authorization).not.toBe(transport.requests[1]?.headers.authorization);
  });

  it("is misconfigured when the token is still expired after the one re-mint", async () => {
    const { provider, transport, clock, credentials } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 403, body: { reason: "ExpiredProviderToken" } });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock, 5),
    });
    expect(outcome.kind).toBe("misconfigured");
    expect(transport.requests).toHaveLength(2);
    expect(credentials.mints).toBe(2);
  });

  it("re-mints once for concurrent sends refused with the same expired token", async () => {
    const { provider, transport, clock, credentials } = await arrange();
    let first: string | undefined;
    transport.on(APNS_PRODUCTION, (request) => {
      first ??= request.headers.authorization;
      return request.headers.authorization === first
        ? { status: 403, body: { reason: "ExpiredProviderToken" } }
        : { status: 200 };
    });
    const sends = Array.from({ length: 4 }, () =>
      provider.send({ registration: registrationOf(), notification: message, budget: budgetOf(clock) }),
    );
    expect(await Promise.all(sends)).toEqual(Array(4).fill({ kind: "delivered" }));
    expect(credentials.mints).toBe(2);
  });

  it("retries in the sandbox once on BadDeviceToken and says the sandbox worked", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 400, body: { reason: "BadDeviceToken" } });
    transport.reply(APNS_SANDBOX, { status: 200 });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome).toEqual({ kind: "delivered", environment: "sandbox" });
    expect(transport.requests.map((r) => r.url)).toEqual([
      `${APNS_PRODUCTION}/3/device/a1b2c3`,
      `${APNS_SANDBOX}/3/device/a1b2c3`,
    ]);
  });

  it("declares the token dead when the sandbox says BadDeviceToken too", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 400, body: { reason: "BadDeviceToken" } });
    transport.reply(APNS_SANDBOX, { status: 400, body: { reason: "BadDeviceToken" } });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome.kind).toBe("token-dead");
    expect(transport.requests).toHaveLength(2);
  });

  it("goes straight to the sandbox for a registration remembered there, without a production retry", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_SANDBOX, { status: 400, body: { reason: "BadDeviceToken" } });
    const registration = registrationOf({ environment: "sandbox" });
    const outcome = await provider.send({ registration, notification: message, budget: budgetOf(clock) });
    expect(outcome.kind).toBe("token-dead");
    expect(transport.to(APNS_SANDBOX)).toHaveLength(1);
    expect(transport.to(APNS_PRODUCTION)).toHaveLength(0);
  });

  it("uses the app's default environment when the registration names none", async () => {
    const { provider, transport, clock } = await arrange({ environment: "sandbox" });
    transport.reply(APNS_SANDBOX, { status: 200 });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome).toEqual({ kind: "delivered" });
    expect(transport.to(APNS_SANDBOX)).toHaveLength(1);
  });

  it("answers retry-later when the budget has no request left for the sandbox retry", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 400, body: { reason: "BadDeviceToken" } });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock, 1),
    });
    expect(outcome).toEqual({ kind: "retry-later", reason: "push budget spent" });
    expect(transport.requests).toHaveLength(1);
  });

  it("takes no more than two requests from the budget", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 400, body: { reason: "BadDeviceToken" } });
    transport.reply(APNS_SANDBOX, { status: 403, body: { reason: "ExpiredProviderToken" } });
    const budget = budgetOf(clock);
    const outcome = await provider.send({ registration: registrationOf(), notification: message, budget });
    expect(outcome).toEqual({ kind: "retry-later", reason: "push budget spent" });
    expect(transport.requests).toHaveLength(2);
    expect(budget.canRetry).toBe(false);
  });

  it("sends nothing when the budget is already spent", async () => {
    const { provider, transport, clock } = await arrange();
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock, 0),
    });
    expect(outcome).toEqual({ kind: "retry-later", reason: "push budget spent" });
    expect(transport.requests).toHaveLength(0);
  });

  it("token-dead on 410 Unregistered with its timestamp", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 410, body: readFixture("apns/apns-410-Unregistered.json") });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome).toEqual({ kind: "token-dead", reason: "APNs 410 Unregistered", timestamp: 1454402113000 });
  });

  it("token-dead on DeviceTokenNotForTopic without a sandbox retry", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 400, body: { reason: "DeviceTokenNotForTopic" } });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome.kind).toBe("token-dead");
    expect(transport.requests).toHaveLength(1);
  });

  it.each([
    ["120", 120_000],
    [new Date(START + 45_000).toUTCString(), 45_000],
  ])("answers retry-later on 429 honouring Retry-After %s", async (retryAfter, ms) => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, {
      status: 429,
      body: { reason: "TooManyRequests" },
      headers: { "retry-after": retryAfter },
    });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome).toEqual({ kind: "retry-later", reason: "APNs 429 TooManyRequests", retryAfterMs: ms });
    expect(transport.requests).toHaveLength(1);
  });

  it("does not retry a transient failure itself", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 503, body: { reason: "ServiceUnavailable" } });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome).toEqual({ kind: "retry-later", reason: "APNs 503 ServiceUnavailable" });
    expect(transport.requests).toHaveLength(1);
  });

  it("answers retry-later on a network error or when Apple does not answer in time", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { networkError: "GOAWAY" });
    const reset = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(reset.kind).toBe("retry-later");
    transport.reply(APNS_PRODUCTION, { hang: true });
    const silent = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock, 2, 40),
    });
    expect(silent).toEqual({ kind: "retry-later", reason: "no answer within 40 ms" });
  });

  it("refuses an oversized blob itself, sparing the budget, and the fallback push goes out", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 200 });
    const registration = registrationOf();
    const big = "A".repeat(provider.payloadCapacity(registration) + 200);
    const notification: PushNotification = {
      priority: "high",
      encrypted: { data: big, iv: "A".repeat(16), voip: false },
    };
    const budget = budgetOf(clock);
    expect((await provider.send({ registration, notification, budget })).kind).toBe("payload-rejected");
    expect(transport.requests).toHaveLength(0);
    expect(await provider.send({ registration, notification, budget, withoutEncrypted: true })).toEqual({
      kind: "delivered",
    });
    const body = JSON.parse(transport.requests[0]?.body ?? "");
    expect(body).toEqual({
      aps: { alert: { title: "New message", body: "You have a new message" }, "mutable-content": 1, sound: "default" },
      account: "user@example.com",
    });
  });

  it("sends a blob of exactly its capacity, and advertises less (room for Tigase's trimming)", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 200 });
    const registration = registrationOf();
    expect(provider.maxPayloadSize(registration)).toBeLessThan(provider.payloadCapacity(registration));
    const blob = "A".repeat(provider.payloadCapacity(registration));
    for (const voip of [false, true]) {
      const notification: PushNotification = { priority: "high", encrypted: { data: blob, iv: "A".repeat(16), voip } };
      expect(await provider.send({ registration, notification, budget: budgetOf(clock) })).toEqual({
        kind: "delivered",
      });
    }
    const over: PushNotification = {
      priority: "high",
      encrypted: { data: `${blob}A`, iv: "A".repeat(16), voip: true },
    };
    expect((await provider.send({ registration, notification: over, budget: budgetOf(clock) })).kind).toBe(
      "payload-rejected",
    );
  });

  it("sends a call to the PushKit token under the .voip topic", async () => {
    const { provider, transport, clock } = await arrange();
    transport.reply(APNS_PRODUCTION, { status: 200 });
    const registration = registrationOf({ voipToken: "f00d" });
    const call: PushNotification = {
      priority: "high",
      encrypted: { data: "QUJD", iv: "aXZpdml2aXZpdml2", voip: true },
    };
    await provider.send({ registration, notification: call, budget: budgetOf(clock) });
    const [request] = transport.requests;
    expect(request?.url).toBe(`${APNS_PRODUCTION}/3/device/f00d`);
    expect(request?.headers).toMatchObject({ "apns-topic": "im.example.app.voip", "apns-push-type": "voip" });
    expect(request?.body).toBe('{"account":"user@example.com","encrypted":"QUJD","iv":"aXZpdml2aXZpdml2"}');
  });
});

describe("ApnsProvider with every APNs reason", () => {
  const rows = Object.entries(APNS_REASONS) as [ApnsReason, (typeof APNS_REASONS)[ApnsReason]][];

  it.each(rows)("maps %s to its table disposition", async (reason, rule) => {
    const { provider, transport, clock } = await arrange({ environment: "sandbox" });
    transport.reply(APNS_SANDBOX, { status: rule.status, body: { reason } });
    const outcome = await provider.send({
      registration: registrationOf(),
      notification: message,
      budget: budgetOf(clock),
    });
    expect(outcome.kind).toBe(rule.disposition);
  });
});

describe("ApnsProvider with every fixture body", () => {
  const expected: Record<string, { kind: string; requests: number }> = {
    "apns-400-BadDeviceToken.json": { kind: "token-dead", requests: 2 },
    "apns-403-ExpiredProviderToken.json": { kind: "misconfigured", requests: 2 },
    "apns-403-InvalidProviderToken.json": { kind: "misconfigured", requests: 1 },
    "apns-410-Unregistered.json": { kind: "token-dead", requests: 1 },
    "apns-413-PayloadTooLarge.json": { kind: "payload-rejected", requests: 1 },
    "apns-429-TooManyRequests.json": { kind: "retry-later", requests: 1 },
    "apns-503-ServiceUnavailable.json": { kind: "retry-later", requests: 1 },
  };
  const files = fixtureNames("apns").filter((name) => /^apns-\d{3}-/.test(name));

  it("has an expectation for every fixture", () => {
    expect(files).toEqual(Object.keys(expected).sort());
  });

  it.each(files)("answers %s as docs/protocol.md section 5 says", async (file) => {
    const status = Number(file.slice(5, 8));
    const body = readFixture(`apns/${file}`);
    const { provider, transport, clock } = await arrange();
    const reply: FakeReply = { status, body };
    transport.reply(APNS_PRODUCTION, reply).reply(APNS_SANDBOX, reply);
    const registration: Registration = registrationOf();
    const outcome = await provider.send({ registration, notification: message, budget: budgetOf(clock) });
    expect({ kind: outcome.kind, requests: transport.requests.length }).toEqual(expected[file]);
  });
});
