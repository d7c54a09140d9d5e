import {
  type CounterName,
  closedLabels,
  type GaugeName,
  type HistogramName,
  type MetricLabels,
  type MetricName,
  type Metrics,
} from "../ports/metrics";

/** One thing a {@link MetricBatch} heard, its labels already closed. */
export interface MetricSample {
  readonly metric: MetricName;
  readonly labels: Readonly<Record<string, string>>;
  /** A counter's increment, a histogram's observation (seconds), a gauge's value. */
  readonly value: number;
}

/**
 * Metrics kept as samples until a runtime drains them: per request on Workers (one Analytics Engine
 * data point), per invocation on Lambda (CloudWatch EMF lines); the tests read them too. Every label
 * is closed ({@link closedLabels}) as it is recorded.
 */
export class MetricBatch implements Metrics {
  #samples: MetricSample[] = [];

  count<K extends CounterName>(metric: K, labels: MetricLabels<K>, by = 1): void {
    this.#add(metric, labels, by);
  }

  observe<K extends HistogramName>(metric: K, labels: MetricLabels<K>, seconds: number): void {
    this.#add(metric, labels, seconds);
  }

  set<K extends GaugeName>(metric: K, labels: MetricLabels<K>, value: number): void {
    this.#add(metric, labels, value);
  }

  /** What was recorded since the last drain. */
  get samples(): readonly MetricSample[] {
    return this.#samples;
  }

  /** Takes every sample recorded so far, leaving the batch empty. */
  drain(): MetricSample[] {
    const samples = this.#samples;
    this.#samples = [];
    return samples;
  }

  #add(metric: MetricName, labels: object, value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    this.#samples.push({ metric, labels: closedLabels(metric, labels), value });
  }
}
