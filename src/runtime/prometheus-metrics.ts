import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { MetricsExposition } from "../http/app";
import {
  type CounterName,
  closedLabels,
  type GaugeName,
  type HistogramName,
  METRICS,
  type MetricLabels,
  type MetricName,
  type Metrics,
} from "../ports/metrics";

type Instrument = Counter | Histogram | Gauge;

export interface PrometheusMetricsOptions {
  /** Also export the process's own metrics (`process_*`, `nodejs_*`: memory, CPU, event-loop lag); default true. */
  readonly processMetrics?: boolean;
}

/**
 * The metrics of docs/operations.md in a prom-client registry of their own, served as Prometheus
 * text by `GET /metrics` on Node and `serve`. Every label is closed ({@link closedLabels}) before it
 * reaches the registry.
 * @see https://github.com/siimon/prom-client
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/
 */
export class PrometheusMetrics implements Metrics, MetricsExposition {
  readonly registry = new Registry();
  readonly #instruments = new Map<MetricName, Instrument>();

  constructor(options: PrometheusMetricsOptions = {}) {
    for (const [key, definition] of Object.entries(METRICS) as [MetricName, (typeof METRICS)[MetricName]][]) {
      const common = {
        name: definition.name,
        help: definition.help,
        labelNames: Object.keys(definition.labels),
        registers: [this.registry],
      };
      const instrument =
        definition.kind === "counter"
          ? new Counter(common)
          : definition.kind === "gauge"
            ? new Gauge(common)
            : new Histogram(Object.assign({}, common, { buckets: [...definition.buckets] }));
      this.#instruments.set(key, instrument);
    }
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  count<K extends CounterName>(metric: K, labels: MetricLabels<K>, by = 1): void {
    const counter = this.#instruments.get(metric);
    if (counter instanceof Counter && Number.isFinite(by) && by >= 0) counter.inc(closedLabels(metric, labels), by);
  }

  observe<K extends HistogramName>(metric: K, labels: MetricLabels<K>, seconds: number): void {
    const histogram = this.#instruments.get(metric);
    if (histogram instanceof Histogram && Number.isFinite(seconds))
      histogram.observe(closedLabels(metric, labels), Math.max(0, seconds));
  }

  set<K extends GaugeName>(metric: K, labels: MetricLabels<K>, value: number): void {
    const gauge = this.#instruments.get(metric);
    if (gauge instanceof Gauge && Number.isFinite(value)) gauge.set(closedLabels(metric, labels), value);
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
