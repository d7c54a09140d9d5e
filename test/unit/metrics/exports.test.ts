import { describe, expect, it } from "vitest";
import { METRICS, type MetricName } from "../../../src/ports/metrics";
import {
  ANALYTICS_ENGINE_BLOBS,
  ANALYTICS_ENGINE_DOUBLES,
  analyticsEngineDataPoint,
  NOT_ON_WORKERS,
} from "../../../src/runtime/analytics-engine";
import { EMF_METRICS, EMF_NAMESPACE, EMF_SERVICE, emfLines } from "../../../src/runtime/emf-metrics";
import { MetricBatch } from "../../../src/runtime/metric-batch";
import { PrometheusMetrics } from "../../../src/runtime/prometheus-metrics";
import { HOSTILE } from "../../shared/metrics";

const names = Object.keys(METRICS) as MetricName[];
const labelsOf = (metric: MetricName) => METRICS[metric].labels as Record<string, readonly string[]>;

/** Records one sample of every metric, every label given a hostile value. */
function recordHostile(metrics: {
  count(metric: string, labels: object, by?: number): void;
  observe(metric: string, labels: object, seconds: number): void;
  set(metric: string, labels: object, value: number): void;
}): void {
  for (const hostile of HOSTILE)
    for (const metric of names) {
      const labels = Object.fromEntries(Object.keys(labelsOf(metric)).map((label) => [label, hostile]));
      const kind = METRICS[metric].kind;
      if (kind === "counter") metrics.count(metric, labels);
      else if (kind === "histogram") metrics.observe(metric, labels, 0.1);
      else metrics.set(metric, labels, 1);
    }
}

describe("the Analytics Engine data point", () => {
  it("has a place for every metric a Worker reports and for every label of it", () => {
    for (const metric of names.filter((name) => !NOT_ON_WORKERS.includes(name))) {
      const doubles = ANALYTICS_ENGINE_DOUBLES.filter((slot) => slot.metric === metric);
      expect(doubles.length, metric).toBeGreaterThan(0);
      for (const [label, values] of Object.entries(labelsOf(metric))) {
        const inBlob = ANALYTICS_ENGINE_BLOBS.some((slot) => slot.some(([m, l]) => m === metric && l === label));
        const split = values.every((value) =>
          doubles.some((slot) => slot.where?.[0] === label && slot.where[1] === value),
        );
        expect(inBlob || split, `${metric}.${label}`).toBe(true);
      }
    }
  });

  it("stays within Analytics Engine's limits: 20 blobs, 20 doubles, 16 KB of blobs", () => {
    expect(ANALYTICS_ENGINE_BLOBS.length).toBeLessThanOrEqual(20);
    expect(ANALYTICS_ENGINE_DOUBLES.length).toBeLessThanOrEqual(20);
    const longest = ANALYTICS_ENGINE_BLOBS.map((slot) =>
      Math.max(...slot.map(([metric, label]) => Math.max(...(labelsOf(metric)[label] ?? []).map((v) => v.length)))),
    );
    expect(longest.reduce((sum, length) => sum + length, 0)).toBeLessThan(16 * 1024);
  });

  it("lays a request's samples out: final labels in blobs, counts and milliseconds in doubles", () => {
    const batch = new MetricBatch();
    const apns = { provider: "apns", route: "direct" } as const;
    batch.count("providerOutcomes", { ...apns, outcome: "retry-later", reason: "ServiceUnavailable" });
    batch.observe("providerSeconds", { ...apns, outcome: "retry-later" }, 0.2);
    batch.count("providerOutcomes", { ...apns, outcome: "delivered", reason: "none" });
    batch.observe("providerSeconds", { ...apns, outcome: "delivered" }, 0.05);
    batch.count("publishes", { dialect: "encrypted", reply: "result" });
    batch.observe("publishSeconds", { reply: "result" }, 0.5);
    const point = analyticsEngineDataPoint(batch.drain());
    expect(point?.blobs.slice(0, 6)).toEqual(["encrypted", "result", "apns", "direct", "delivered", "none"]);
    expect(point?.doubles.slice(0, 9)).toEqual([1, 500, 1, 0, 1, 0, 0, 0, 250]);
    expect(analyticsEngineDataPoint([])).toBeUndefined();
  });

  it("never holds a hostile label value", () => {
    const batch = new MetricBatch();
    recordHostile(batch as never);
    const point = analyticsEngineDataPoint(batch.drain());
    for (const blob of point?.blobs ?? []) expect(["", "other"]).toContain(blob);
  });
});

describe("the CloudWatch EMF lines", () => {
  it("name every metric Lambda reports, each label a dimension or a property", () => {
    const emfNames = Object.values(EMF_METRICS).map((metric) => metric.name);
    expect(new Set(emfNames).size).toBe(emfNames.length);
    for (const metric of names.filter((name) => name !== "bridgeConnected" && name !== "bridgeReconnects")) {
      const emf = EMF_METRICS[metric as keyof typeof EMF_METRICS];
      for (const label of Object.keys(labelsOf(metric)))
        expect(emf.dimensions.some((set) => set.includes(label)) || emf.properties?.includes(label), label).toBe(true);
    }
  });

  it("are EMF documents: namespace, dimension sets with service, a count or milliseconds", () => {
    const batch = new MetricBatch();
    batch.count("providerOutcomes", {
      provider: "fcm",
      route: "sns",
      outcome: "token-dead",
      reason: "EndpointDisabled",
    });
    batch.count("providerOutcomes", {
      provider: "fcm",
      route: "sns",
      outcome: "token-dead",
      reason: "EndpointDisabled",
    });
    batch.observe("providerSeconds", { provider: "fcm", route: "sns", outcome: "token-dead" }, 0.25);
    batch.observe("providerSeconds", { provider: "fcm", route: "sns", outcome: "token-dead" }, 0.5);
    batch.set("bridgeConnected", {}, 1);
    const [outcomes, latency, ...rest] = emfLines(batch.drain()).map((line) => JSON.parse(line));
    expect(rest).toEqual([]);
    expect(outcomes).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: EMF_NAMESPACE,
            Dimensions: [
              ["service", "outcome"],
              ["service", "provider", "route", "outcome"],
            ],
            Metrics: [{ Name: "ProviderOutcomes", Unit: "Count" }],
          },
        ],
      },
      service: EMF_SERVICE,
      provider: "fcm",
      route: "sns",
      outcome: "token-dead",
      reason: "EndpointDisabled",
      ProviderOutcomes: 2,
    });
    expect(typeof outcomes._aws.Timestamp).toBe("number");
    expect(latency).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Metrics: [{ Name: "ProviderLatency", Unit: "Milliseconds" }] }] },
      ProviderLatency: [250, 500],
    });
  });

  it("never carry a hostile label value", () => {
    const batch = new MetricBatch();
    recordHostile(batch as never);
    const lines = emfLines(batch.drain());
    expect(lines.length).toBeGreaterThan(0);
    for (const hostile of HOSTILE.filter((text) => text.trim().length > 5))
      for (const line of lines) expect(line).not.toContain(JSON.stringify(hostile).slice(1, -1));
  });
});

describe("the Prometheus registry", () => {
  it("exports every metric with its help and type, and only closed label values", async () => {
    const metrics = new PrometheusMetrics({ processMetrics: false });
    recordHostile(metrics as never);
    const { contentType, body } = await metrics.scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const metric of Object.values(METRICS)) {
      expect(body).toContain(`# HELP ${metric.name} `);
      expect(body).toContain(`# TYPE ${metric.name} ${metric.kind}`);
    }
    for (const match of body.matchAll(/(\w+)="([^"]*)"/g)) expect(match[2] === "other" || match[1] === "le").toBe(true);
  });
});
