import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { GatewayDeps } from "../gateway/deps";
import { answerStanza } from "../gateway/iq";
import { redact } from "../gateway/log";
import { constantTimeEqual } from "../gateway/tokens";
import { bearerToken, hasBearer } from "./auth";
import { parseRestRegistration, registerOverRest, unregisterOverRest } from "./rest";

const XML_TYPES = new Set(["application/xml", "text/xml", "application/xmpp+xml"]);
const VERSION = "0.1.0";

function mediaType(header: string | undefined): string | undefined {
  return header?.split(";")[0]?.trim().toLowerCase();
}

async function readJson(request: Request): Promise<{ ok: true; value: unknown } | { ok: false }> {
  try {
    return { ok: true, value: JSON.parse(await request.text()) };
  } catch {
    return { ok: false };
  }
}

/**
 * The gateway's HTTP surface (PROTOCOL.md section 2) over injected dependencies, the same on every
 * runtime: `/xmpp` for the bridge, REST registration, Siskin's REST unregister and health.
 */
export function createApp(deps: GatewayDeps): Hono {
  const app = new Hono();
  const { config } = deps;
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
    const answer = await answerStanza(deps, await c.req.text());
    if (answer.status === 204) return c.body(null, 204);
    if (answer.status === 400) return c.text(answer.reason, 400);
    return c.body(answer.body, 200, { "content-type": "application/xml; charset=utf-8" });
  });

  app.post("/v1/registrations", limit, async (c) => {
    const json = await readJson(c.req.raw);
    if (!json.ok) return c.json({ error: "body must be JSON", field: "body" }, 400);
    const input = parseRestRegistration(json.value);
    if ("field" in input) return c.json(input, 400);
    const answer = await registerOverRest(deps, input);
    return c.json(answer.body, answer.status);
  });

  app.delete("/v1/registrations/:node", async (c) => {
    const node = c.req.param("node");
    const lookup = await deps.store.get(node);
    if (lookup.kind !== "found") return c.json({ error: "unknown node" }, 404);
    const secret = bearerToken(c.req.header("authorization"));
    const expected = lookup.registration.secret;
    if (expected === undefined || secret === undefined || !constantTimeEqual(secret, expected))
      return c.json({ error: "wrong secret" }, 403);
    await deps.store.delete(lookup.registration, "unregistered");
    deps.log.log("info", "registration-deleted", { node: redact(node), reason: "unregistered", via: "rest" });
    return c.body(null, 204);
  });

  const siskinUnregister = async (c: Context) => {
    const json = await readJson(c.req.raw);
    if (!json.ok) return c.json({ error: "body must be JSON", field: "body" }, 400);
    const problem = await unregisterOverRest(deps, json.value);
    if (problem) return c.json(problem, 400);
    return c.json({ result: "success" }, 200);
  };
  app.post("/unregister-device/:jid", limit, siskinUnregister);
  app.post("/rest/push/unregister-device/:jid", limit, siskinUnregister);

  app.get("/health", (c) =>
    c.json({ status: "ok", version: VERSION, jid: config.pushJid, providers: deps.providers.offered() }),
  );

  app.notFound((c) => c.text("not found", 404));
  app.onError((error, c) => {
    deps.log.log("error", "unhandled", { error: String(error).slice(0, 300) });
    return c.text("internal error", 500);
  });
  return app;
}
