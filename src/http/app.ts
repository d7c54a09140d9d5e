import { type Context, Hono } from "hono";
import { failure, type Result, success } from "../domain/result";
import type { GatewayDeps } from "../gateway/deps";
import { unregisterRestRegistration } from "../gateway/register";
import type { MetricLabels, Metrics } from "../ports/metrics";
import { bearerToken, hasBearer } from "./auth";
import { declaresTooMuch, decodeUtf8, readCappedBody } from "./body";
import { type ClientAddress, type RateLimiter, rateLimit } from "./rate-limit";
import { parseRestRegistration, registerOverRest, restCredentialApp, unregisterOverRest } from "./rest";
import { answerXmppRequest } from "./xmpp";

const VERSION = "0.1.0";

/** The body as UTF-8 text within `max` bytes: `undefined` over the cap, `null` when not valid UTF-8. */
async function readUtf8(request: Request, max: number): Promise<string | null | undefined> {
  const bytes = await readCappedBody(request, max);
  return bytes === undefined ? undefined : (decodeUtf8(bytes) ?? null);
}

async function readJson(request: Request, max: number): Promise<Result<unknown, "not JSON" | "too large">> {
  const text = await readUtf8(request, max);
  if (text === undefined) return failure("too large");
  if (text === null) return failure("not JSON");
  try {
    return success(JSON.parse(text));
  } catch {
    return failure("not JSON");
  }
}

function jsonRefusal(c: Context, error: "not JSON" | "too large"): Response {
  return error === "too large"
    ? c.text("body too large", 413)
    : c.json({ error: "body must be JSON", field: "body" }, 400);
}

/** The metrics in Prometheus text format, for `GET /metrics` (docs/operations.md section 3). */
export interface MetricsExposition {
  scrape(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/** What the runtime adds to the HTTP surface: per-client limits on the unauthenticated routes, metrics. */
export interface AppOptions {
  readonly rateLimiter?: RateLimiter;
  /** The client's address as the runtime knows it (socket, trusted proxy header, `CF-Connecting-IP`). */
  readonly clientAddress?: ClientAddress;
  /**
   * The metrics one request reports to, when the runtime keeps them per request (Workers: one Analytics
   * Engine data point each); `undefined`, or no function: the gateway's own `deps.metrics`.
   */
  readonly requestMetrics?: (request: Request) => Metrics | undefined;
  /** Serves `GET /metrics` (Node) when `METRICS_TOKEN` is set; without it the route answers `404`. */
  readonly metricsExposition?: MetricsExposition;
}

/** The routes limited per client, under the names their refusals are counted by. */
const LIMITED_ROUTES = [
  "/v1/registrations",
  "/v1/registrations/*",
  "/unregister-device/*",
  "/rest/push/unregister-device/*",
  "/health",
] as const satisfies readonly MetricLabels<"rateLimited">["route"][];

/**
 * The gateway's HTTP surface (docs/protocol.md section 2) over injected dependencies, the same on every
 * runtime: `/xmpp` for the bridge, REST registration, Siskin's REST unregister and health, and
 * `/metrics` where the runtime serves them (Node). Every route but `/xmpp` (which needs the bridge's
 * token) is limited per client when a rate limiter is given. Each request's use cases report to the
 * metrics `requestMetrics` gives it, else to `deps.metrics` (docs/operations.md).
 */
export function createApp(deps: GatewayDeps, options: AppOptions = {}): Hono {
  const app = new Hono();
  const { rateLimiter, clientAddress = () => undefined, requestMetrics, metricsExposition } = options;
  const { config } = deps;
  const metricsOf = (c: Context): Metrics => requestMetrics?.(c.req.raw) ?? deps.metrics;
  /** The dependencies of one request: the gateway's, reporting to that request's metrics. */
  const depsOf = (c: Context): GatewayDeps => {
    const metrics = metricsOf(c);
    // Object.assign rather than `{ ...deps, metrics }`, which costs V8 a microsecond per key after the spread.
    return metrics === deps.metrics ? deps : Object.assign({}, deps, { metrics });
  };
  const metricsToken = metricsExposition === undefined ? undefined : config.metricsToken;
  if (rateLimiter !== undefined)
    for (const path of metricsToken === undefined ? LIMITED_ROUTES : [...LIMITED_ROUTES, "/metrics" as const])
      app.use(
        path,
        rateLimit(rateLimiter, clientAddress, path, (c) => metricsOf(c).count("rateLimited", { route: path })),
      );
  if (config.gatewayToken === undefined)
    deps.log.log("warn", "no-gateway-token", {
      detail: "GATEWAY_TOKEN is not set: /xmpp accepts any caller (local development only)",
    });

  const max = config.maxBodyBytes;
  /* A declared length over the cap is refused before any other check, as hono/body-limit did; the
   * handlers then read within the cap (src/http/body.ts), which also bounds a chunked body. */
  const limit = async (c: Context, next: () => Promise<void>) => {
    if (declaresTooMuch(c.req.header("content-length"), max)) return c.text("body too large", 413);
    await next();
  };

  app.post("/xmpp", (c) => answerXmppRequest(depsOf(c), c.req.raw));

  const restEnabled = config.restKeys.size > 0;

  app.post("/v1/registrations", limit, async (c) => {
    if (!restEnabled) return c.text("not found", 404);
    const app = restCredentialApp(config.restKeys, bearerToken(c.req.header("authorization")));
    if (app === undefined) return c.json({ error: "API credential required" }, 401, { "www-authenticate": "Bearer" });
    const json = await readJson(c.req.raw, max);
    if (!json.ok) return jsonRefusal(c, json.error);
    const input = parseRestRegistration(json.value, deps.providers);
    if (!input.ok) return c.json(input.error, 400);
    const answer = await registerOverRest(depsOf(c), app, input.value);
    return c.json(answer.body, answer.status);
  });

  app.delete("/v1/registrations/:node", async (c) => {
    if (!restEnabled) return c.text("not found", 404);
    const deleted = await unregisterRestRegistration(
      depsOf(c),
      c.req.param("node"),
      bearerToken(c.req.header("authorization")),
    );
    return deleted ? c.body(null, 204) : c.json({ error: "unknown node" }, 404);
  });

  const siskinUnregister = async (c: Context) => {
    if (c.req.param("jid")?.toLowerCase() !== config.pushJid) return c.text("not found", 404);
    const json = await readJson(c.req.raw, max);
    if (!json.ok) return jsonRefusal(c, json.error);
    const done = await unregisterOverRest(depsOf(c), json.value);
    if (!done.ok) return c.json(done.error, 400);
    return c.json({ result: "success" }, 200);
  };
  app.post("/unregister-device/:jid", limit, siskinUnregister);
  app.post("/rest/push/unregister-device/:jid", limit, siskinUnregister);

  app.get("/health", (c) =>
    c.json({ status: "ok", version: VERSION, jid: config.pushJid, providers: deps.providers.offered() }),
  );

  if (metricsExposition !== undefined && metricsToken !== undefined)
    app.get("/metrics", async (c) => {
      if (!hasBearer(c.req.header("authorization"), metricsToken))
        return c.text("unauthorized", 401, { "www-authenticate": "Bearer" });
      const { contentType, body } = await metricsExposition.scrape();
      return c.body(body, 200, { "content-type": contentType });
    });

  app.notFound((c) => c.text("not found", 404));
  app.onError((error, c) => {
    deps.log.log("error", "unhandled", { error: String(error).slice(0, 300) });
    return c.text("internal error", 500);
  });
  return app;
}
