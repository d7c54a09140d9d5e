import { importPKCS8 } from "jose";
import { describe, expect, it } from "vitest";
import type { PushOutcome } from "../../../src/domain/outcome";
import { outcomeReason, publishDialect } from "../../../src/gateway/metric-labels";
import { CredentialUnavailable } from "../../../src/ports/credentials";
import { closedLabels, METRICS, type MetricName, OTHER_LABEL, OUTCOME_REASONS } from "../../../src/ports/metrics";
import type { RegistrationStore } from "../../../src/ports/store";
import { apnsOutcome } from "../../../src/providers/apns/answer";
import { APNS_REASONS } from "../../../src/providers/apns/reasons";
import { BUDGET_SPENT } from "../../../src/providers/budget-spent";
import { countTokenMints } from "../../../src/providers/counted-credentials";
import { FCM_ERROR_CODES, GOOGLE_RPC_STATUSES } from "../../../src/providers/fcm/error-codes";
import { FcmProvider } from "../../../src/providers/fcm/provider";
import { MemoryCredentialCache } from "../../../src/providers/memory-credentials";
import { requestWithDeadline } from "../../../src/providers/provider-request";
import { SNS_MISCONFIGURED_CODES, SNS_TRANSIENT_CODES, snsOutcome } from "../../../src/providers/sns/outcome";
import { MetricBatch } from "../../../src/runtime/metric-batch";
import { countStoreFailures } from "../../../src/store/counted-store";
import { MemoryRegistrationStore } from "../../../src/store/memory";
import { FakeTransport } from "../../fakes/transport";
import { HOSTILE } from "../../shared/metrics";
import {
  budgetOf,
  FCM_ENDPOINT,
  fcmApp,
  generateServiceAccountKey,
  ManualClock,
  registrationOf,
  TOKEN_URI,
} from "../providers/provider-test-kit";

describe("the metric catalog", () => {
  it("names every metric once, in Prometheus form, with the conventional suffixes", () => {
    const names = Object.values(METRICS).map((metric) => metric.name);
    expect(new Set(names).size).toBe(names.length);
    for (const metric of Object.values(METRICS)) {
      expect(metric.name).toMatch(/^xmpp_push_[a-z_]+$/);
      if (metric.kind === "counter") expect(metric.name).toMatch(/_total$/);
      if (metric.kind === "histogram") expect(metric.name).toMatch(/_seconds$/);
    }
  });

  it("gives every label a closed set of short identifiers, without repeats", () => {
    for (const metric of Object.keys(METRICS) as MetricName[])
      for (const [label, values] of Object.entries(METRICS[metric].labels as Record<string, readonly string[]>)) {
        expect(label).toMatch(/^[a-z_]+$/);
        expect(new Set(values).size, `${metric}.${label}`).toBe(values.length);
        for (const value of values) expect(value).toMatch(/^[A-Za-z0-9_/*.-]{1,40}$/);
      }
  });

  it("lists every reason code of the providers' tables among the outcome reasons", () => {
    const reasons = new Set<string>(OUTCOME_REASONS);
    const codes = [
      ...Object.keys(APNS_REASONS),
      ...Object.keys(FCM_ERROR_CODES),
      ...Object.keys(GOOGLE_RPC_STATUSES),
      ...SNS_MISCONFIGURED_CODES,
      ...SNS_TRANSIENT_CODES,
      "EndpointDisabled",
      "InvalidParameter",
      "NotFound",
    ];
    expect(codes.filter((code) => !reasons.has(code))).toEqual([]);
  });
});

describe("closedLabels", () => {
  it("turns any value outside a label's set into other, and keeps exactly the metric's labels", () => {
    for (const metric of Object.keys(METRICS) as MetricName[])
      for (const hostile of HOSTILE) {
        const given: Record<string, string> = { extra: hostile };
        for (const label of Object.keys(METRICS[metric].labels)) given[label] = hostile;
        const closed = closedLabels(metric, given);
        expect(Object.keys(closed).sort()).toEqual(Object.keys(METRICS[metric].labels).sort());
        for (const value of Object.values(closed)) expect(value).toBe(OTHER_LABEL);
      }
  });

  it("keeps a value of the set and fills a missing label with other", () => {
    expect(closedLabels("publishes", { dialect: "encrypted" })).toEqual({ dialect: "encrypted", reply: "other" });
  });
});

describe("the reason label of an outcome", () => {
  it("is the APNs reason for every reason Apple documents, and never more of the text", () => {
    for (const [reason, rule] of Object.entries(APNS_REASONS))
      expect(outcomeReason(apnsOutcome({ status: rule.status, reason }))).toBe(reason);
    expect(outcomeReason(apnsOutcome({ status: 503, reason: "juliet@capulet.example" }))).toBe("http-5xx");
    expect(outcomeReason(apnsOutcome({ status: 400 }))).toBe("http-4xx");
  });

  it("is the FCM error code or RPC status for every one Google documents, through the FCM provider", async () => {
    const clock = new ManualClock();
    const { pem } = generateServiceAccountKey();
    const send = `${FCM_ENDPOINT}/v1/projects/example-project/messages:send`;
    const transport = new FakeTransport().on(TOKEN_URI, () => ({
      status: 200,
      body: { access_token: "ya29.token", expires_in: 3599 },
    }));
    const provider = new FcmProvider({
      app: fcmApp(pem),
      signingKey: await importPKCS8(pem, "RS256"),
      transport: transport.fetch,
      credentials: new MemoryCredentialCache(clock.now),
      now: clock.now,
    });
    const sendWith = async (body: unknown, status: number) => {
      transport.reply(send, { status, body });
      return provider.send({
        registration: registrationOf({ provider: "fcm", token: "fcm-token" }),
        notification: { priority: "high", body: "hi" },
        budget: budgetOf(clock),
      });
    };
    const message = "Requested entity juliet@capulet.example was not found.";
    for (const [code, rule] of Object.entries(FCM_ERROR_CODES)) {
      const detail = { "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode: code };
      const outcome = await sendWith(
        { error: { code: rule.http ?? 400, message, details: [detail] } },
        rule.http ?? 400,
      );
      expect(outcomeReason(outcome), code).toBe(code);
    }
    for (const status of Object.keys(GOOGLE_RPC_STATUSES)) {
      const outcome = await sendWith({ error: { code: 400, status, message } }, 400);
      expect(outcomeReason(outcome), status).toBe(status);
    }
    expect(outcomeReason(await sendWith("<html>bad gateway</html>", 502))).toBe("http-5xx");
  });

  it("is the SNS error code for every one the SNS route classifies", () => {
    const message = "Invalid parameter: juliet@capulet.example token a1b2c3";
    for (const code of [...SNS_MISCONFIGURED_CODES, ...SNS_TRANSIENT_CODES, "EndpointDisabled", "InvalidParameter"])
      expect(outcomeReason(snsOutcome({ kind: "service", code, status: 400, message }, "key")), code).toBe(code);
    expect(outcomeReason(snsOutcome({ kind: "timeout" }, "key"))).toBe("timeout");
    expect(outcomeReason(snsOutcome({ kind: "network", reason: "ECONNRESET juliet@x" }, "key"))).toBe("network");
  });

  it("says what the gateway saw when no provider code applies", async () => {
    const hang = new FakeTransport().reply("https://", { hang: true });
    const broken = new FakeTransport().reply("https://", { networkError: "getaddrinfo ENOTFOUND Shutdown" });
    const init = { method: "POST", headers: {}, body: "" };
    const timedOut = await requestWithDeadline(hang.fetch, "https://apns.test/", init, 5);
    const failed = await requestWithDeadline(broken.fetch, "https://apns.test/", init, 1000);
    expect(!timedOut.ok && outcomeReason(timedOut.outcome)).toBe("timeout");
    expect(!failed.ok && outcomeReason(failed.outcome)).toBe("network");
    const cases: [PushOutcome, string][] = [
      [{ kind: "delivered" }, "none"],
      [BUDGET_SPENT, "budget-spent"],
      [{ kind: "payload-rejected", reason: "APNs body of 4200 bytes is over 4096" }, "too-large"],
      [{ kind: "misconfigured", reason: "no apns provider for app juliet@capulet.example" }, "no-provider"],
      [new CredentialUnavailable({ kind: "misconfigured", reason: "FCM OAuth 400 invalid_grant" }).outcome, "oauth"],
      [{ kind: "misconfigured", reason: "no SNS platform application for this registration" }, "no-sns-application"],
      [
        { kind: "misconfigured", reason: "SNS platform application not found: arn:aws:sns:x" },
        "sns-application-not-found",
      ],
      [{ kind: "rejected", reason: "SNS refused the device token: Invalid token Unregistered" }, "endpoint-refused"],
      [{ kind: "rejected", reason: "the endpoint has too many registrations" }, "endpoint-full"],
    ];
    for (const [outcome, label] of cases) expect(outcomeReason(outcome)).toBe(label);
  });

  it("is never a part of free text a provider or a client wrote", () => {
    for (const hostile of HOSTILE)
      for (const kind of ["token-dead", "retry-later", "misconfigured", "rejected", "payload-rejected"] as const)
        for (const reason of [hostile, `APNs 410 ${hostile}`, `FCM 404 ${hostile}: x`, `SNS 400 ${hostile}`]) {
          const label = outcomeReason({ kind, reason });
          expect(OUTCOME_REASONS).toContain(label);
          if (hostile.length > 0 && !(OUTCOME_REASONS as readonly string[]).includes(hostile.trim()))
            expect(label).not.toContain(hostile.trim());
        }
  });
});

describe("the dialect label of a publish", () => {
  it("tells Tigase encrypted, a summary and an empty notification apart", () => {
    expect(publishDialect({ priority: "high", encrypted: { data: "AA==", iv: "AA==", voip: false } })).toBe(
      "encrypted",
    );
    expect(publishDialect({ priority: "high", messageCount: 1, body: "juliet@capulet.example" })).toBe("summary");
    expect(publishDialect({ priority: "low" })).toBe("empty");
  });
});

describe("MetricBatch", () => {
  it("closes labels as it records and drops values no metric can hold", () => {
    const batch = new MetricBatch();
    batch.count("rateLimited", { route: "/v1/registrations/juliet@capulet.example" as never });
    batch.count("publishes", { dialect: "summary", reply: "result" }, -1);
    batch.observe("publishSeconds", { reply: "result" }, Number.NaN);
    expect(batch.drain()).toEqual([{ metric: "rateLimited", labels: { route: "other" }, value: 1 }]);
    expect(batch.samples).toEqual([]);
  });
});

describe("countTokenMints", () => {
  it("counts the mints a cache really makes, per provider, and the ones that failed", async () => {
    const batch = new MetricBatch();
    let now = 0;
    const cache = countTokenMints(new MemoryCredentialCache(() => now), batch);
    const mint = async () => ({ value: "jwt", expiresAt: 1000 });
    await cache.get("apns:TEAM:KEY", mint);
    await cache.get("apns:TEAM:KEY", mint);
    now = 2000;
    await cache.get("apns:TEAM:KEY", mint);
    await expect(
      cache.get("fcm:push@example.iam", async () => {
        throw new CredentialUnavailable({ kind: "retry-later", reason: "FCM OAuth 503" });
      }),
    ).rejects.toThrow(CredentialUnavailable);
    await cache.get("elsewhere:juliet@capulet.example", mint);
    expect(batch.drain().map((sample) => [sample.labels.provider, sample.labels.result])).toEqual([
      ["apns", "minted"],
      ["apns", "minted"],
      ["fcm", "failed"],
    ]);
  });
});

describe("countStoreFailures", () => {
  it("counts a store operation that throws by operation, and throws it on", async () => {
    const batch = new MetricBatch();
    const failing = new MemoryRegistrationStore();
    failing.get = async () => {
      throw new Error("KV GET failed for juliet@capulet.example");
    };
    const store: RegistrationStore = countStoreFailures(failing, batch);
    await expect(store.get("node-1")).rejects.toThrow(/KV GET failed/);
    await expect(store.findByIdentity({ style: "token", provider: "apns", account: "a@b", device: "d" })).resolves.toBe(
      undefined,
    );
    expect(batch.drain()).toEqual([{ metric: "storeFailures", labels: { operation: "get" }, value: 1 }]);
  });
});
