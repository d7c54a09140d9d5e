import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ANALYTICS_ENGINE_BLOBS, ANALYTICS_ENGINE_DOUBLES } from "../../src/runtime/analytics-engine";
import { workerHandler } from "../../src/runtime/worker";
import { parseXml } from "../../src/xmpp";
import { formField, publishIq, registerDeviceIq } from "../shared/harness";
import { HOSTILE } from "../shared/metrics";

const APNS = "https://apns.test";

/** A recording fake of the Analytics Engine dataset binding: every data point written, in order. */
class RecordingDataset {
  readonly points: { blobs: string[]; doubles: number[] }[] = [];
  writeDataPoint(point?: AnalyticsEngineDataPoint): void {
    this.points.push({
      blobs: (point?.blobs ?? []).map((blob) => String(blob)),
      doubles: [...(point?.doubles ?? [])],
    });
  }
}

/** A fresh APNs .p8-like key (EC P-256, PKCS #8 PEM), made with WebCrypto inside workerd. */
async function apnsKeyPem(): Promise<string> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const { privateKey } = pair as CryptoKeyPair;
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", privateKey)) as ArrayBuffer);
  const base64 = btoa(String.fromCharCode(...pkcs8));
  return `-----BEGIN PRIVATE KEY-----\n${base64.match(/.{1,64}/g)?.join("\n")}\n-----END PRIVATE KEY-----\n`;
}

/** The value of the named double (its position in the layout) and blob of a data point. */
function double(point: { doubles: number[] } | undefined, metric: string, where?: string): number {
  const index = ANALYTICS_ENGINE_DOUBLES.findIndex((slot) => slot.metric === metric && slot.where?.[1] === where);
  return point?.doubles[index] ?? Number.NaN;
}

function blob(point: { blobs: string[] } | undefined, metric: string, label: string): string | undefined {
  const index = ANALYTICS_ENGINE_BLOBS.findIndex((slot) => slot.some(([m, l]) => m === metric && l === label));
  return point?.blobs[index];
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** The Worker's fetch handler over the test's KV and Durable Object, APNs answered by a stubbed `fetch`. */
async function arrange(extra: Record<string, unknown> = {}) {
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
    const url = input instanceof Request ? input.url : String(input);
    const token = url.slice(url.lastIndexOf("/") + 1);
    if (!url.startsWith(`${APNS}/3/device/`)) throw new TypeError(`unexpected fetch ${url}`);
    if (token.startsWith("bb"))
      return Response.json({ reason: "Unregistered", timestamp: Date.now() }, { status: 410 });
    if (token.startsWith("cc")) return Response.json({ reason: "ServiceUnavailable" }, { status: 503 });
    return new Response(null, { status: 200 });
  });
  const dataset = new RecordingDataset();
  const handler = workerHandler();
  const workerEnv = {
    ...env,
    METRICS: dataset,
    RATE_LIMITER: undefined,
    RATE_LIMIT_PER_MINUTE: "2",
    APNS_TEAM_ID: "TEAM123456",
    APNS_KEY_ID: "KEY7654321",
    APNS_PRIVATE_KEY: await apnsKeyPem(),
    APNS_TOPIC: "im.example.app",
    APNS_ENDPOINT: APNS,
    ...extra,
  } as unknown as Env;
  const call = async (path: string, body?: string): Promise<Response> => {
    const ctx = createExecutionContext();
    const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/xml" }, body };
    const response = await handler.fetch?.(
      new Request(`http://gateway.test${path}`, init) as Request<unknown, IncomingRequestCfProperties>,
      workerEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    if (response === undefined) throw new Error("no response");
    return response;
  };
  const register = async (token: string, from = "romeo@montague.example/orchard") => {
    const response = await call("/xmpp", registerDeviceIq({ token, from, id: token.slice(0, 6) }));
    const parsed = parseXml(await response.text());
    return (parsed.ok && formField(parsed.value, "node")?.values[0]) || "";
  };
  return { dataset, call, register };
}

describe("Workers Analytics Engine data points (docs/operations.md section 4)", () => {
  it("is bound as METRICS from wrangler.toml", () => {
    expect(typeof env.METRICS?.writeDataPoint).toBe("function");
  });

  it("writes one data point per request: deliveries, dead tokens, transient failures, refusals", async () => {
    const { dataset, call, register } = await arrange();
    const delivered = await register("aa".repeat(32));
    const dead = await register("bb".repeat(32));
    const busy = await register("cc".repeat(32));
    expect(dataset.points).toHaveLength(3);
    expect(dataset.points.map((point) => double(point, "registrations", "created"))).toEqual([1, 1, 1]);
    expect(blob(dataset.points[0], "registrations", "style")).toBe("token");

    dataset.points.length = 0;
    await call("/xmpp", publishIq({ node: delivered, id: "p1" }));
    await call("/xmpp", publishIq({ node: dead, id: "p2" }));
    await call("/xmpp", publishIq({ node: busy, id: "p3" }));
    expect(dataset.points).toHaveLength(3);
    const [first, second, third] = dataset.points;
    expect(double(first, "publishes")).toBe(1);
    expect(double(first, "providerOutcomes", "delivered")).toBe(1);
    expect(double(first, "providerTokenMints", "minted")).toBe(1);
    expect(blob(first, "publishes", "reply")).toBe("result");
    expect(blob(first, "providerOutcomes", "provider")).toBe("apns");
    expect(blob(first, "providerOutcomes", "route")).toBe("direct");

    expect(double(second, "providerOutcomes", "token-dead")).toBe(1);
    expect(double(second, "registrationRemovals")).toBe(1);
    expect(blob(second, "providerOutcomes", "reason")).toBe("Unregistered");
    expect(blob(second, "registrationRemovals", "reason")).toBe("token-dead");
    expect(blob(second, "publishes", "reply")).toBe("item-not-found");

    expect(double(third, "providerOutcomes", "retry-later")).toBe(2);
    expect(double(third, "providerOutcomes", "delivered")).toBe(0);
    expect(blob(third, "providerOutcomes", "reason")).toBe("ServiceUnavailable");
    expect(blob(third, "publishes", "reply")).toBe("wait");

    dataset.points.length = 0;
    const statuses = [(await call("/health")).status, (await call("/health")).status, (await call("/health")).status];
    expect(statuses).toEqual([200, 200, 429]);
    expect(dataset.points).toHaveLength(1);
    expect(double(dataset.points[0], "rateLimited")).toBe(1);
    expect(blob(dataset.points[0], "rateLimited", "route")).toBe("/health");
  });

  it("writes nothing when the binding is absent, and answers as usual", async () => {
    const { dataset, call, register } = await arrange({ METRICS: undefined });
    const node = await register("dd".repeat(32));
    expect((await call("/xmpp", publishIq({ node }))).status).toBe(200);
    expect(dataset.points).toHaveLength(0);
  });

  it("never writes a hostile value into a blob", async () => {
    const { dataset, call, register } = await arrange();
    for (const [index, hostile] of HOSTILE.entries()) {
      const safe = hostile.replace(/[^A-Za-z0-9]/g, "") || "x";
      const node = await register(`aa${safe}`, `${safe}${index}@montague.example/${safe}`);
      await call("/xmpp", publishIq({ node, id: `h${index}` }));
      await call("/xmpp", publishIq({ node: safe, id: `u${index}` }));
    }
    expect(dataset.points.length).toBeGreaterThan(0);
    for (const point of dataset.points)
      for (const value of point.blobs)
        for (const hostile of HOSTILE.filter((text) => text.length > 5)) expect(value).not.toContain(hostile);
  });
});
