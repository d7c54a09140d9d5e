import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../../../src/log";
import { labelValues, METRICS, type MetricName } from "../../../src/ports/metrics";
import { Http2Transport } from "../../../src/runtime/http2-transport";
import { type RunningNodeGateway, startNodeGateway } from "../../../src/runtime/node";
import { type FakeWorld, startFakeWorld } from "../../fakes/fake-world";
import { FakeUserServer } from "../../fakes/user-server";
import { PUSH_JID, publishIq } from "../../shared/harness";

const METRICS_TOKEN = "metrics-token-0123456789abcdef0123456789";
const quiet: Logger = { log() {} };

/** One sample line of the Prometheus text format. */
interface Scraped {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * Parses Prometheus text exposition format 0.0.4: `name{label="value",…} value` per line.
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */
function parseExposition(text: string): Scraped[] {
  const samples: Scraped[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name = "", value = ""] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[name] = value;
    samples.push({ name: match[1] ?? "", labels, value: Number(match[3]) });
  }
  return samples;
}

function total(samples: readonly Scraped[], name: string, labels: Record<string, string>): number {
  return samples
    .filter((sample) => sample.name === name)
    .filter((sample) => Object.entries(labels).every(([label, value]) => sample.labels[label] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

let dir: string;
let world: FakeWorld;
let gateway: RunningNodeGateway;
let server: FakeUserServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "metrics-node-"));
  world = await startFakeWorld({ dir, pushJid: PUSH_JID });
  gateway = await startNodeGateway({
    env: { ...world.env, METRICS_TOKEN, RATE_LIMIT_PER_MINUTE: "3" },
    port: 0,
    transport: new Http2Transport({ ca: world.certificate.cert }),
    log: quiet,
  });
  server = new FakeUserServer(gateway.url);
});

afterAll(async () => {
  await gateway?.close();
  await world?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function scrape(): Promise<Scraped[]> {
  const response = await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

describe("GET /metrics on the Node entry (docs/operations.md section 3)", () => {
  it("moves the counters of deliveries, dead tokens, transient failures and rate-limit refusals", async () => {
    const delivered = await server.registerDevice({ from: "romeo@montague.example/a", token: "aa".repeat(32) });
    const dead = await server.registerDevice({ from: "romeo@montague.example/b", token: "bb".repeat(32) });
    const busy = await server.registerDevice({ from: "romeo@montague.example/c", token: "cc".repeat(32) });
    world.apns.failToken("bb".repeat(32), { status: 410, reason: "Unregistered" });
    world.apns.failToken("cc".repeat(32), { status: 503, reason: "ServiceUnavailable" });
    expect((await server.iq(publishIq({ node: delivered, id: "p1" }))).type).toBe("result");
    expect((await server.iq(publishIq({ node: dead, id: "p2" }))).error).toBe("cancel/item-not-found");
    expect((await server.iq(publishIq({ node: busy, id: "p3" }))).error).toBe("wait/internal-server-error");
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${gateway.url}/health`)).status);
    expect(statuses).toContain(429);

    const samples = await scrape();
    const outcomes = "xmpp_push_provider_outcomes_total";
    const apns = { provider: "apns", route: "direct" };
    expect(total(samples, outcomes, { ...apns, outcome: "delivered", reason: "none" })).toBe(1);
    expect(total(samples, outcomes, { ...apns, outcome: "token-dead", reason: "Unregistered" })).toBe(1);
    expect(total(samples, outcomes, { ...apns, outcome: "retry-later", reason: "ServiceUnavailable" })).toBe(2);
    expect(total(samples, "xmpp_push_publishes_total", { dialect: "summary", reply: "result" })).toBe(1);
    expect(total(samples, "xmpp_push_publishes_total", { reply: "item-not-found" })).toBe(1);
    expect(total(samples, "xmpp_push_publishes_total", { reply: "wait" })).toBe(1);
    expect(total(samples, "xmpp_push_registration_removals_total", { style: "token", reason: "token-dead" })).toBe(1);
    expect(total(samples, "xmpp_push_registrations_total", { origin: "xmpp", event: "created" })).toBe(3);
    expect(total(samples, "xmpp_push_rate_limited_total", { route: "/health" })).toBe(
      statuses.filter((status) => status === 429).length,
    );
    expect(total(samples, "xmpp_push_provider_token_mints_total", { provider: "apns", result: "minted" })).toBe(1);
    expect(total(samples, "xmpp_push_provider_request_seconds_count", apns)).toBe(4);
    expect(total(samples, "xmpp_push_publish_seconds_count", {})).toBe(3);
    expect(samples.some((sample) => sample.name === "process_resident_memory_bytes")).toBe(true);

    const byName = new Map<string, MetricName>(
      Object.entries(METRICS).map(([key, metric]) => [metric.name, key as MetricName]),
    );
    for (const sample of samples.filter((scraped) => scraped.name.startsWith("xmpp_push_"))) {
      const metric = byName.get(sample.name.replace(/_(bucket|sum|count)$/, "")) ?? byName.get(sample.name);
      expect(metric, sample.name).toBeDefined();
      for (const [label, value] of Object.entries(sample.labels))
        if (label !== "le") expect(labelValues(metric as MetricName, label)).toContain(value);
    }
  });

  it("refuses a scrape without the metrics token, and hides the route when METRICS_TOKEN is unset", async () => {
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${gateway.url}/metrics`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toBe("Bearer");
    const other = await startNodeGateway({ env: { PUSH_JID }, port: 0, log: quiet });
    try {
      const hidden = await fetch(`${other.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(hidden.status).toBe(404);
    } finally {
      await other.close();
    }
  });

  it("refuses a METRICS_TOKEN shorter than 32 characters, naming it", async () => {
    await expect(startNodeGateway({ env: { PUSH_JID, METRICS_TOKEN: "short" }, port: 0, log: quiet })).rejects.toThrow(
      /^configuration: METRICS_TOKEN /,
    );
  });
});
