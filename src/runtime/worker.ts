import { ConfigError } from "../config";
import type { Result } from "../domain/result";
import { answerXmppRequest, isXmppUrl } from "../http/xmpp";
import { jsonLogger } from "../log";
import type { HttpTransport, HttpTransportRequest } from "../ports/transport";
import { MemoryCredentialCache, SharedCredentialCache } from "../providers";
import { KvRegistrationStore, withBulkReads } from "../store/kv";
import { analyticsEngineDataPoint } from "./analytics-engine";
import { buildGateway, buildOnce, configSource, type Gateway, type RuntimeParts } from "./gateway";
import { MetricBatch, type MetricSample } from "./metric-batch";
import { DurableObjectEndpointLedger, DurableObjectOwnerIndex } from "./registration-index";
import { cloudflareClientAddress, workerRateLimiter } from "./worker-rate-limiter";

export { RegistrationIndex } from "./registration-index";

const log = jsonLogger((line) => console.log(line));

/**
 * Workers' `fetch` as the providers' transport (HTTP/1.1 or HTTP/2 as Cloudflare's edge negotiates). It
 * enforces `timeoutMs` with `AbortSignal.timeout`, which also cuts a body still being read, so a
 * provider request needs no AbortController, timer and race of its own (`requestWithDeadline`).
 * @see https://developers.cloudflare.com/workers/runtime-apis/web-standards/#abortsignaltimeout
 */
export const fetchTransport: HttpTransport = Object.assign(
  (url: string, init: HttpTransportRequest) => {
    const { timeoutMs, signal } = init;
    const deadline = timeoutMs === undefined ? undefined : AbortSignal.timeout(Math.max(1, timeoutMs));
    return fetch(url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      signal: deadline === undefined ? signal : signal === undefined ? deadline : AbortSignal.any([signal, deadline]),
    });
  },
  { enforcesTimeout: true as const },
);

/** The SNS route of an entry that offers it, from the Worker's environment (see worker-sns.ts). */
export type WorkerSnsRoute = (env: Env) => RuntimeParts["sns"];

/**
 * The metrics of a Worker: one batch per request, for what its use cases report, and one for the
 * isolate, for what is counted outside them (token mints, store failures), written with the request
 * that drains it.
 */
interface WorkerMetrics {
  readonly isolate: MetricBatch;
  readonly requests: WeakMap<Request, MetricBatch>;
}

/**
 * Writes one request's samples as one Analytics Engine data point (docs/operations.md section 4);
 * nothing when the `METRICS` binding is absent or the request reported nothing.
 * @see https://developers.cloudflare.com/analytics/analytics-engine/get-started/
 */
function writeDataPoint(binding: AnalyticsEngineDataset | undefined, samples: readonly MetricSample[]): void {
  const point = analyticsEngineDataPoint(samples);
  if (binding === undefined || point === undefined) return;
  try {
    binding.writeDataPoint(point);
  } catch (error) {
    log.log("warn", "metrics-not-written", { error: String(error).slice(0, 200) });
  }
}

async function build(env: Env, sns: WorkerSnsRoute | undefined, metrics: WorkerMetrics): Promise<Gateway> {
  const kv = env.REGISTRATIONS;
  if (kv === undefined) throw new ConfigError("REGISTRATIONS", "KV binding is missing (see wrangler.toml)");
  return buildGateway(configSource(env), {
    store: (config) => {
      const namespace = env.REGISTRATION_INDEX;
      if (namespace === undefined)
        throw new ConfigError("REGISTRATION_INDEX", "Durable Object binding is missing (see wrangler.toml)");
      return new KvRegistrationStore(withBulkReads(kv), {
        index: new DurableObjectOwnerIndex(namespace),
        endpoints: new DurableObjectEndpointLedger(namespace),
        tombstoneTtlSeconds: config.limits.tombstoneTtlSeconds,
      });
    },
    transport: fetchTransport,
    ...(sns !== undefined ? { sns: sns(env) } : {}),
    // Provider tokens shared between isolates through the same namespace (`cred:` keys).
    credentials: new SharedCredentialCache(new MemoryCredentialCache(Date.now), kv, Date.now),
    log,
    metrics: metrics.isolate,
    // The limit is the binding's (wrangler.toml); RATE_LIMIT_PER_MINUTE only sizes the fallback.
    http: (config) => ({
      rateLimiter: workerRateLimiter(env.RATE_LIMITER, config.limits.ratePerMinute, log),
      clientAddress: cloudflareClientAddress,
      requestMetrics: (request) => metrics.requests.get(request),
    }),
  });
}

/**
 * A Cloudflare Workers entry: configuration is parsed once per isolate, from the first request's
 * environment; a bad value answers every request with a 500 naming the variable. `sns` adds the SNS
 * delivery route (the `sns` entry); without it `APNS_VIA=sns` stops start-up. Each request's metrics
 * become one data point of the `METRICS` Analytics Engine binding, when it is bound.
 * @see https://developers.cloudflare.com/workers/runtime-apis/handlers/fetch/
 */
export function workerHandler(sns?: WorkerSnsRoute): ExportedHandler<Env> {
  let gateway: (() => Promise<Result<Gateway, ConfigError>>) | undefined;
  const metrics: WorkerMetrics = { isolate: new MetricBatch(), requests: new WeakMap() };
  return {
    async fetch(request, env, ctx): Promise<Response> {
      gateway ??= buildOnce(() => build(env, sns, metrics), log);
      const result = await gateway();
      if (!result.ok) return new Response(`${result.error.message}\n`, { status: 500 });
      const requestMetrics = new MetricBatch();
      try {
        // POST /xmpp, the route of every message, without the router (the app's route is the same function).
        if (request.method === "POST" && isXmppUrl(request.url))
          // Object.assign rather than `{ ...deps, metrics }`, which costs V8 a microsecond per key after the spread.
          return await answerXmppRequest(Object.assign({}, result.value.deps, { metrics: requestMetrics }), request);
        // The app's routes find this request's metrics through `requestMetrics` (see build).
        metrics.requests.set(request, requestMetrics);
        return await result.value.app.fetch(request, env, ctx);
      } finally {
        writeDataPoint(env.METRICS, [...metrics.isolate.drain(), ...requestMetrics.drain()]);
      }
    },
  };
}

/** The default Worker: direct delivery only, which keeps it under 100 KiB gzipped. */
export default workerHandler();
