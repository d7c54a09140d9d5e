import { METRICS, type MetricName } from "../ports/metrics";
import type { MetricSample } from "./metric-batch";

/** A metric's label, by name. */
type LabelOf = readonly [metric: MetricName, label: string];

/** One double of the data point: the sum of a metric's samples, only those whose label has a value if given. */
interface DoubleSlot {
  readonly metric: MetricName;
  readonly where?: readonly [label: string, value: string];
}

/**
 * The data point's blobs (docs/operations.md section 4): blob N holds the last value this request gave
 * any of its labels (a publish retried after `retry-later` keeps its final outcome and reason).
 */
export const ANALYTICS_ENGINE_BLOBS: readonly (readonly LabelOf[])[] = [
  [["publishes", "dialect"]],
  [
    ["publishes", "reply"],
    ["publishSeconds", "reply"],
  ],
  [
    ["providerOutcomes", "provider"],
    ["providerSeconds", "provider"],
    ["providerTokenMints", "provider"],
  ],
  [
    ["providerOutcomes", "route"],
    ["providerSeconds", "route"],
  ],
  [
    ["providerOutcomes", "outcome"],
    ["providerSeconds", "outcome"],
  ],
  [["providerOutcomes", "reason"]],
  [
    ["registrations", "style"],
    ["registrationRemovals", "style"],
  ],
  [["registrations", "origin"]],
  [["registrationRemovals", "reason"]],
  [["rateLimited", "route"]],
  [["storeFailures", "operation"]],
];

/**
 * The data point's doubles (docs/operations.md section 4): counts, and histograms as the sum of their
 * observations in milliseconds. Provider outcomes get one double per kind, so that a retried push
 * counts its `retry-later` and its `delivered` apart.
 */
export const ANALYTICS_ENGINE_DOUBLES: readonly DoubleSlot[] = [
  { metric: "publishes" },
  { metric: "publishSeconds" },
  ...METRICS.providerOutcomes.labels.outcome.map(
    (outcome): DoubleSlot => ({ metric: "providerOutcomes", where: ["outcome", outcome] }),
  ),
  { metric: "providerSeconds" },
  { metric: "registrations", where: ["event", "created"] },
  { metric: "registrations", where: ["event", "refreshed"] },
  { metric: "registrationRemovals" },
  { metric: "rateLimited" },
  { metric: "providerTokenMints", where: ["result", "minted"] },
  { metric: "providerTokenMints", where: ["result", "failed"] },
  { metric: "storeFailures" },
];

/** Metrics no Worker reports: the bridge runs on Node. */
export const NOT_ON_WORKERS: readonly MetricName[] = ["bridgeConnected", "bridgeReconnects"];

/**
 * The one data point of a request: its samples laid out by {@link ANALYTICS_ENGINE_BLOBS} and
 * {@link ANALYTICS_ENGINE_DOUBLES}; `undefined` when the request reported nothing.
 */
export function analyticsEngineDataPoint(
  samples: readonly MetricSample[],
): { blobs: string[]; doubles: number[] } | undefined {
  if (samples.length === 0) return undefined;
  const blobs = ANALYTICS_ENGINE_BLOBS.map(() => "");
  const doubles = ANALYTICS_ENGINE_DOUBLES.map(() => 0);
  for (const sample of samples) {
    ANALYTICS_ENGINE_BLOBS.forEach((labels, index) => {
      for (const [metric, label] of labels) {
        const value = sample.labels[label];
        if (metric === sample.metric && value !== undefined) blobs[index] = value;
      }
    });
    const value = METRICS[sample.metric].kind === "histogram" ? sample.value * 1000 : sample.value;
    ANALYTICS_ENGINE_DOUBLES.forEach((slot, index) => {
      if (slot.metric !== sample.metric) return;
      if (slot.where !== undefined && sample.labels[slot.where[0]] !== slot.where[1]) return;
      doubles[index] = (doubles[index] ?? 0) + value;
    });
  }
  return { blobs, doubles };
}
