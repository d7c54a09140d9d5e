import { describe, expect, it } from "vitest";
import type { PushOutcome } from "../../src/domain/outcome";
import type { Registration } from "../../src/domain/registration";
import type { MetricName } from "../../src/ports/metrics";
import type { PushProvider, PushRequest } from "../../src/ports/provider";
import { MemoryRateLimiter } from "../../src/runtime/memory-rate-limiter";
import { MetricBatch } from "../../src/runtime/metric-batch";
import { countStoreFailures } from "../../src/store/counted-store";
import { MemoryRegistrationStore } from "../../src/store/memory";
import { ProgrammableProvider } from "../fakes/programmable-provider";
import { expectClosedLabels, HOSTILE } from "../shared/metrics";
import {
  errorOf,
  formField,
  type Harness,
  makeHarness,
  PUSH_JID,
  publishIq,
  REST_KEY,
  registerDeviceIq,
  registerP2Iq,
} from "./harness";

/** The sum of the samples of `metric` whose labels include `labels`. */
function counted(from: Harness | MetricBatch, metric: MetricName, labels: Record<string, string> = {}): number {
  const samples = from instanceof MetricBatch ? from.samples : from.metrics.samples;
  return samples
    .filter((sample) => sample.metric === metric)
    .filter((sample) => Object.entries(labels).every(([name, value]) => sample.labels[name] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

async function registered(h: Harness, token = "apns-token-1"): Promise<string> {
  return formField(await h.iq(registerDeviceIq({ token })), "node")?.values[0] ?? "";
}

const APNS = { provider: "apns", route: "direct" } as const;

describe("the metrics the use cases report (docs/operations.md)", () => {
  it("counts a registration, its refresh and a delivered publish", async () => {
    const h = makeHarness();
    const node = await registered(h);
    await registered(h);
    expect((await h.iq(publishIq({ node }))).attrs.type).toBe("result");
    expect(counted(h, "registrations", { style: "token", origin: "xmpp", event: "created" })).toBe(1);
    expect(counted(h, "registrations", { event: "refreshed" })).toBe(1);
    expect(counted(h, "publishes", { dialect: "summary", reply: "result" })).toBe(1);
    expect(counted(h, "providerOutcomes", { ...APNS, outcome: "delivered", reason: "none" })).toBe(1);
    expect(h.metrics.samples.filter((sample) => sample.metric === "providerSeconds")).toHaveLength(1);
    expect(h.metrics.samples.filter((sample) => sample.metric === "publishSeconds")).toEqual([
      { metric: "publishSeconds", labels: { reply: "result" }, value: 0 },
    ]);
  });

  it("counts a dead token, the removal it causes and the item-not-found it is answered", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "token-dead", reason: "APNs 410 Unregistered" });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("cancel/item-not-found");
    expect(counted(h, "providerOutcomes", { ...APNS, outcome: "token-dead", reason: "Unregistered" })).toBe(1);
    expect(counted(h, "registrationRemovals", { style: "token", reason: "token-dead" })).toBe(1);
    expect(counted(h, "publishes", { reply: "item-not-found" })).toBe(1);
  });

  it("counts each attempt of a transient failure, and the wait it is answered", async () => {
    const h = makeHarness();
    const node = await registered(h);
    const unavailable: PushOutcome = { kind: "retry-later", reason: "APNs 503 ServiceUnavailable" };
    h.apns.willAnswer(unavailable, unavailable);
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("wait/internal-server-error");
    expect(counted(h, "providerOutcomes", { outcome: "retry-later", reason: "ServiceUnavailable" })).toBe(2);
    expect(counted(h, "publishes", { reply: "wait" })).toBe(1);
    expect(counted(h, "registrationRemovals")).toBe(0);
  });

  it("counts a misconfigured outcome with its reason, also when the app has no such provider any more", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "misconfigured", reason: "APNs 403 InvalidProviderToken" });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("wait/internal-server-error");
    expect(counted(h, "providerOutcomes", { outcome: "misconfigured", reason: "InvalidProviderToken" })).toBe(1);

    const store = new MemoryRegistrationStore();
    const orphan = makeHarness({ store, providers: { default: {} } });
    await store.register({
      origin: "xmpp",
      identity: { style: "token", provider: "apns", account: "romeo@montague.example", device: "t" },
      candidateNode: node,
      secured: false,
      token: "t",
      app: "default",
      now: h.clock.now,
      cap: 10,
    });
    expect(errorOf(await orphan.iq(publishIq({ node })))).toBe("wait/internal-server-error");
    expect(
      counted(orphan, "providerOutcomes", { route: "none", outcome: "misconfigured", reason: "no-provider" }),
    ).toBe(1);
  });

  it("counts a refusal by the per-client limit under its route", async () => {
    const h = makeHarness({ appOptions: { rateLimiter: new MemoryRateLimiter({ ratePerMinute: 1 }) } });
    expect((await h.app.request("/health")).status).toBe(200);
    expect((await h.app.request("/health")).status).toBe(429);
    expect(counted(h, "rateLimited", { route: "/health" })).toBe(1);
  });

  it("counts REST registrations and removals by origin and style", async () => {
    const h = makeHarness({ env: { REST_API_KEYS: JSON.stringify({ default: REST_KEY }) } });
    const created = await h.app.request("/v1/registrations", {
      method: "POST",
      headers: { authorization: `Bearer ${REST_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ provider: "fcm", token: "rest-token", account: "juliet@capulet.example", deviceId: "D" }),
    });
    const { node, secret } = (await created.json()) as { node: string; secret: string };
    const deleted = await h.app.request(`/v1/registrations/${node}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(deleted.status).toBe(204);
    expect(counted(h, "registrations", { style: "device", origin: "rest", event: "created" })).toBe(1);
    expect(counted(h, "registrationRemovals", { style: "device", reason: "unregistered" })).toBe(1);
  });

  it("counts a store that fails behind a publish, which is answered wait", async () => {
    const failing = new MemoryRegistrationStore();
    failing.get = async () => {
      throw new Error("store unavailable");
    };
    const metrics = new MetricBatch();
    const h = makeHarness({ store: countStoreFailures(failing, metrics) });
    expect(errorOf(await h.iq(publishIq({ node: "node-1" })))).toBe("wait/internal-server-error");
    expect(counted(metrics, "storeFailures", { operation: "get" })).toBe(1);
    expect(counted(h, "publishes", { reply: "wait" })).toBe(1);
  });

  it("counts a push over the SNS route under route sns", async () => {
    const sns = new (class extends ProgrammableProvider {
      readonly route = "sns" as const;
    })("fcm", 3500);
    const h = makeHarness({ providers: { default: { fcm: sns } } });
    const reply = await h.iq(registerP2Iq({}));
    const node = formField(reply, "node")?.values[0] ?? "";
    const secret = formField(reply, "secret")?.values[0] ?? "";
    sns.willAnswer({ kind: "token-dead", reason: "SNS 400 EndpointDisabled: Endpoint is disabled" });
    expect(errorOf(await h.iq(publishIq({ node, from: "capulet.example", secret })))).toBe("cancel/item-not-found");
    expect(
      counted(h, "providerOutcomes", {
        provider: "fcm",
        route: "sns",
        outcome: "token-dead",
        reason: "EndpointDisabled",
      }),
    ).toBe(1);
    expect(counted(h, "registrationRemovals", { style: "device", reason: "token-dead" })).toBe(1);
  });
});

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;");
}

/** A provider that answers every push with an outcome whose reason is hostile text. */
class HostileProvider implements PushProvider {
  private next = 0;
  constructor(
    readonly id: "apns" | "fcm",
    private readonly reasons: readonly string[],
  ) {}
  async send(request: PushRequest): Promise<PushOutcome> {
    request.budget.take();
    const reason = this.reasons[this.next++ % this.reasons.length] ?? "";
    const kinds = ["retry-later", "misconfigured", "rejected", "payload-rejected", "token-dead"] as const;
    return { kind: kinds[this.next % kinds.length] ?? "rejected", reason };
  }
  maxPayloadSize(_registration: Registration): number {
    return 3000;
  }
  payloadCapacity(_registration: Registration): number {
    return 3000;
  }
}

describe("label values (docs/operations.md section 2)", () => {
  it("never carry a JID, a token, a node or free text, whatever clients, servers and providers send", async () => {
    const reasons = HOSTILE.flatMap((text) => [
      text,
      `APNs 410 ${text}`,
      `FCM 404 ${text}: ${text}`,
      `SNS 400 ${text}`,
    ]);
    const h = makeHarness({
      env: { REST_API_KEYS: JSON.stringify({ default: REST_KEY }) },
      providers: { default: { apns: new HostileProvider("apns", reasons), fcm: new HostileProvider("fcm", reasons) } },
      appOptions: { rateLimiter: new MemoryRateLimiter({ ratePerMinute: 2 }) },
    });
    for (const [index, hostile] of HOSTILE.entries()) {
      const text = xml(hostile.replace(/\s/g, "_") || "t");
      const from = `${xml(hostile.replace(/[@/\s]/g, "") || "x")}${index}@montague.example/${text}`;
      const node = formField(await h.iq(registerDeviceIq({ from, token: text, id: `r${index}` })), "node")?.values[0];
      const p2 = await h.iq(registerP2Iq({ from, token: text, deviceId: text, id: `p${index}` }));
      const secret = formField(p2, "secret")?.values[0];
      for (const target of [node ?? "", formField(p2, "node")?.values[0] ?? "", text])
        for (let attempt = 0; attempt < 3; attempt++)
          await h.post(
            publishIq({
              node: target,
              from: "montague.example",
              id: `${index}-${attempt}`,
              ...(secret ? { secret } : {}),
            }),
          );
      await h.app.request("/v1/registrations", {
        method: "POST",
        headers: { authorization: `Bearer ${REST_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({
          provider: "apns",
          token: hostile || "t",
          account: `${index}@x.example`,
          deviceId: hostile,
        }),
      });
      await h.app.request(`/v1/registrations/${encodeURIComponent(hostile || "n")}`, { method: "DELETE" });
      await h.app.request(`/unregister-device/${encodeURIComponent(PUSH_JID)}`, {
        method: "POST",
        body: JSON.stringify({ account: from, provider: hostile, "device-token": hostile }),
      });
      await h.app.request("/health", { headers: { "x-forwarded-for": encodeURIComponent(hostile) } });
    }
    const samples = h.metrics.samples;
    for (const metric of ["registrations", "publishes", "providerOutcomes", "registrationRemovals", "rateLimited"])
      expect(
        samples.some((sample) => sample.metric === metric),
        metric,
      ).toBe(true);
    expectClosedLabels(samples);
    const emitted = new Set(samples.flatMap((sample) => Object.values(sample.labels)));
    for (const hostile of HOSTILE) if (hostile.trim().length > 5) expect(emitted).not.toContain(hostile);
  });
});
