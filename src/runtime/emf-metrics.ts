import { MetricUnit, Metrics as PowertoolsMetrics } from "@aws-lambda-powertools/metrics";
import type { Logger } from "../log";
import { METRICS, type MetricName } from "../ports/metrics";
import type { MetricSample } from "./metric-batch";

/** The CloudWatch namespace of every metric the Lambda writes (docs/operations.md section 5). */
export const EMF_NAMESPACE = "XmppPushGateway";
/** The `service` dimension every dimension set carries. */
export const EMF_SERVICE = "xmpp-push-gateway";

/** How one metric of the catalog appears in CloudWatch. */
export interface EmfMetric {
  readonly name: string;
  readonly unit: "Count" | "Milliseconds";
  /** Its dimension sets, each besides `service` (an empty set: `service` alone, the total). */
  readonly dimensions: readonly (readonly string[])[];
  /** Labels written beside the value (Logs Insights can read them), never dimensions: too many values. */
  readonly properties?: readonly string[];
}

/**
 * The CloudWatch metrics of the Lambda (docs/operations.md section 5), what the CDK alarms use: one per
 * metric of the catalog but the bridge's (the bridge does not run on Lambda). Histograms in milliseconds.
 */
export const EMF_METRICS: Readonly<Record<Exclude<MetricName, "bridgeConnected" | "bridgeReconnects">, EmfMetric>> = {
  publishes: { name: "Publishes", unit: "Count", dimensions: [[], ["reply"], ["dialect", "reply"]] },
  publishSeconds: { name: "PublishLatency", unit: "Milliseconds", dimensions: [[], ["reply"]] },
  providerOutcomes: {
    name: "ProviderOutcomes",
    unit: "Count",
    dimensions: [["outcome"], ["provider", "route", "outcome"]],
    properties: ["reason"],
  },
  providerSeconds: {
    name: "ProviderLatency",
    unit: "Milliseconds",
    dimensions: [[], ["provider", "route"]],
    properties: ["outcome"],
  },
  providerTokenMints: { name: "ProviderTokenMints", unit: "Count", dimensions: [["result"], ["provider", "result"]] },
  registrations: { name: "Registrations", unit: "Count", dimensions: [["event"], ["style", "origin", "event"]] },
  registrationRemovals: { name: "RegistrationRemovals", unit: "Count", dimensions: [["reason"], ["style", "reason"]] },
  rateLimited: { name: "RateLimited", unit: "Count", dimensions: [[], ["route"]] },
  storeFailures: { name: "StoreFailures", unit: "Count", dimensions: [[], ["operation"]] },
};

/** Powertools starts a new document at 100 values of one metric; stay below it. */
const MAX_VALUES_PER_DOCUMENT = 99;

function pick(labels: Readonly<Record<string, string>>, names: readonly string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) picked[name] = labels[name] ?? "other";
  return picked;
}

/**
 * The samples of one invocation as CloudWatch embedded metric format documents, one JSON line each:
 * one per metric and label values, built by Powertools (`serializeMetrics`), so that the Lambda
 * writes them to stdout itself, before the handler returns.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 * @see https://docs.powertools.aws.dev/lambda/typescript/latest/features/metrics/
 */
export function emfLines(samples: readonly MetricSample[], log?: Logger): string[] {
  const groups = new Map<string, { metric: MetricName; labels: Readonly<Record<string, string>>; values: number[] }>();
  for (const sample of samples) {
    const key = `${sample.metric}\n${JSON.stringify(sample.labels)}`;
    const group = groups.get(key) ?? { metric: sample.metric, labels: sample.labels, values: [] };
    group.values.push(sample.value);
    groups.set(key, group);
  }
  // Powertools warns of every label two dimension sets share, which is how EMF is meant to be used.
  const warn = (...content: unknown[]) =>
    log?.log("debug", "metrics-warning", { detail: content.map(String).join(" ").slice(0, 200) });
  const powertools = new PowertoolsMetrics({
    namespace: EMF_NAMESPACE,
    serviceName: EMF_SERVICE,
    logger: { debug() {}, info() {}, warn, error: warn },
  });
  const lines: string[] = [];
  for (const { metric, labels, values } of groups.values()) {
    if (metric === "bridgeConnected" || metric === "bridgeReconnects") continue;
    const emf = EMF_METRICS[metric];
    const histogram = METRICS[metric].kind === "histogram";
    const points = histogram
      ? values.map((seconds) => seconds * 1000)
      : [values.reduce((sum, value) => sum + value, 0)];
    for (let start = 0; start < points.length; start += MAX_VALUES_PER_DOCUMENT) {
      for (const set of emf.dimensions) powertools.addDimensions(pick(labels, set));
      for (const [name, value] of Object.entries(pick(labels, emf.properties ?? [])))
        powertools.addMetadata(name, value);
      for (const point of points.slice(start, start + MAX_VALUES_PER_DOCUMENT))
        powertools.addMetric(emf.name, emf.unit === "Count" ? MetricUnit.Count : MetricUnit.Milliseconds, point);
      lines.push(JSON.stringify(powertools.serializeMetrics()));
      powertools.clearMetrics();
      powertools.clearDimensions();
      powertools.clearMetadata();
    }
  }
  return lines;
}
