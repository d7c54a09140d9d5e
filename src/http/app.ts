import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { failure, type Result, success } from "../domain/result";
import type { GatewayDeps } from "../gateway/deps";
import { unregisterRestRegistration } from "../gateway/register";
import type { MetricLabels, Metrics } from "../ports/metrics";
import { bearerToken, hasBearer } from "./auth";
import { type ClientAddress, type RateLimiter, rateLimit } from "./rate-limit";
import { parseRestRegistration, registerOverRest, restCredentialApp, unregisterOverRest } from "./rest";
import { answerXmppText } from "./xmpp";

const XML_TYPES = new Set(["application/xml", "text/xml", "application/xmpp+xml"]);
const VERSION = "0.1.0";

function mediaType(header: string | undefined): string | undefined {
  return header?.split(";")[0]?.trim().toLowerCase();
}

/**
 * The body as UTF-8 text, or `undefined` when it is not valid UTF-8: XMPP is UTF-8 only and a stanza
 * with bad bytes is refused, not repaired with U+FFFD (RFC 6120 section 11.6, bad-format).
 */
async function readUtf8(request: Request): Promise<string | undefined> {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(await request.arrayBuffer());
  } catch {
    return undefined;
  }
}

async function readJson(request: Request): Promise<Result<unknown, "not JSON">> {
  const text = await readUtf8(request);
  if (text === undefined) return failure("not JSON");
  try {
    return success(JSON.parse(text));
  } catch {
    return failure("not JSON");
  }
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
    return metrics === deps.metrics ? deps : { ...deps, metrics };
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

  const limit = bodyLimit({
    maxSize: config.maxBodyBytes,
    onError: (c) => c.text("body too large", 413),
  });

  app.post("/xmpp", limit, async (c) => {
    if (config.gatewayToken !== undefined && !hasBearer(c.req.header("authorization"), config.gatewayToken))
      return c.text("unauthorized", 401, { "www-authenticate": "Bearer" });
    const type = mediaType(c.req.header("content-type"));
    if (type !== undefined && !XML_TYPES.has(type)) return c.text("content type must be application/xml", 415);
    const text = await readUtf8(c.req.raw);
    if (text === undefined) return c.text("body is not valid UTF-8", 400);
    const answer = await answerXmppText(depsOf(c), text);
    if (answer.status === 200) return c.body(answer.body, 200, { "content-type": "application/xml; charset=utf-8" });
    if (answer.status === 204) return c.body(null, 204);
    return c.text(answer.body, answer.status);
  });

  const restEnabled = config.restKeys.size > 0;

  app.post("/v1/registrations", limit, async (c) => {
    if (!restEnabled) return c.text("not found", 404);
    const app = restCredentialApp(config.restKeys, bearerToken(c.req.header("authorization")));
    if (app === undefined) return c.json({ error: "API credential required" }, 401, { "www-authenticate": "Bearer" });
    const json = await readJson(c.req.raw);
    if (!json.ok) return c.json({ error: "body must be JSON", field: "body" }, 400);
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
    const json = await readJson(c.req.raw);
    if (!json.ok) return c.json({ error: "body must be JSON", field: "body" }, 400);
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
