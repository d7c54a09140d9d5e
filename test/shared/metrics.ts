import { expect } from "vitest";
import { labelValues, METRICS, type MetricName } from "../../src/ports/metrics";

/** What a hostile client, server or provider could put where a label comes from. */
export const HOSTILE = [
  "juliet@capulet.example/balcony",
  "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6abcd",
  "node-8f3a9c2e1b",
  "<script>alert(1)</script>",
  'x"} evil{label="1',
  "line\nbreak",
  "",
  "other ",
  "Unregistered extra",
];

/** Every sample has exactly its metric's labels, each value from the label's closed set. */
export function expectClosedLabels(
  samples: readonly { readonly metric: MetricName; readonly labels: Readonly<Record<string, string>> }[],
): void {
  for (const { metric, labels } of samples) {
    expect(Object.keys(labels).sort()).toEqual(Object.keys(METRICS[metric].labels).sort());
    for (const [label, value] of Object.entries(labels))
      expect(labelValues(metric, label), `${metric}.${label}`).toContain(value);
  }
}
