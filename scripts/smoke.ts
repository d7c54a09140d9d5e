/**
 * `npm run smoke -- URL`: checks a running gateway end to end over its public HTTP surface, as the
 * pipeline does after each deploy and as an operator can against any deployment or local sandbox:
 *
 *  1. `GET /health` answers `{"status":"ok", ...}`;
 *  2. with `GATEWAY_TOKEN` set, `/xmpp` refuses a wrong token (`401`); without it, `/xmpp` must be open
 *     (a local sandbox: said so on a line of its own);
 *  3. `disco#info` names the push service and the provider used below;
 *  4. `register-device` of a made-up APNs sandbox token (64 hex digits; `--provider fcm` for FCM) answers
 *     a node;
 *  5. a publish to that node answers an empty `result`, or `cancel/item-not-found` when the provider
 *     says the made-up token is dead (real APNs and FCM do; fakes and SNS accept it); `wait` is retried
 *     a few times (a Worker's store may not show the node yet), then is a failure;
 *  6. `unregister-device` completes, and registering the same device again answers a new node (the
 *     unregistration took effect), which is unregistered in turn.
 *
 * It prints one line per step and exits 0, 1 at the first surprise (with what came back), 2 on usage.
 * Nothing it prints holds the token; the made-up device token and nodes are shown shortened.
 *
 *   GATEWAY_TOKEN=… npm run smoke -- https://push.example.net [--provider apns|fcm]
 *                                     [--environment sandbox|production] [--timeout-ms 30000]
 */
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { childElement, childElements, parseXml, textOf, type XmlElement } from "../src/xmpp";

export interface SmokeOptions {
  /** The gateway's base URL (no trailing `/xmpp`). */
  readonly url: string;
  /** The bridge's bearer token; without it `/xmpp` is expected to be open. */
  readonly token?: string;
  /** Default: APNs when the gateway offers it, else FCM. */
  readonly provider?: "apns" | "fcm";
  /** The APNs environment of the registration; default `sandbox` (the token is a sandbox token's shape). */
  readonly environment?: "sandbox" | "production";
  /** Per request; default 30 s (a publish may take up to 25 s). */
  readonly timeoutMs?: number;
  /** Pause between `wait` answers to the publish; default 2 s. */
  readonly retryPauseMs?: number;
  readonly log?: (line: string) => void;
}

export interface SmokeResult {
  readonly ok: boolean;
  readonly steps: readonly string[];
  /** The step that failed, and why. */
  readonly failure?: string;
}

/** A surprise: the step it happened in and what came back. */
class SmokeFailure extends Error {
  override readonly name = "SmokeFailure";
}

const PROVIDER_FEATURES = { apns: "tigase:messenger:apns:1", fcm: "tigase:messenger:fcm:1" } as const;
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const COMMANDS = "http://jabber.org/protocol/commands";

function shorten(text: string, keep = 8): string {
  return text.length <= keep ? text : `${text.slice(0, keep)}…`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/'/g, "&apos;").replace(/"/g, "&quot;");
}

/** `type/condition` of an IQ error, or `result`. */
function replyKind(reply: XmlElement): string {
  if (reply.attrs.type === "result") return "result";
  const error = childElement(reply, "error");
  const condition = error && childElements(error).find((child) => child.ns === STANZAS && child.name !== "text");
  const text = error && childElement(error, "text", STANZAS);
  return `${error?.attrs.type ?? "?"}/${condition?.name ?? "?"}${text ? ` (${textOf(text)})` : ""}`;
}

function formValue(reply: XmlElement, name: string): string | undefined {
  const command = childElement(reply, "command", COMMANDS);
  const form = command && childElement(command, "x", "jabber:x:data");
  const field = form && childElements(form, "field").find((candidate) => candidate.attrs.var === name);
  const value = field && childElement(field, "value");
  return value && textOf(value);
}

/** Runs the smoke test against `options.url`; never throws for what the gateway answers. */
export async function runSmoke(options: SmokeOptions): Promise<SmokeResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const base = options.url.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 30_000;
  const steps: string[] = [];
  let current = "start";

  const step = async <T>(name: string, run: () => Promise<[T, string]>): Promise<T> => {
    current = name;
    const started = Date.now();
    const [value, detail] = await run();
    steps.push(name);
    log(`smoke: ${name} ok: ${detail} (${Date.now() - started} ms)`);
    return value;
  };

  const post = async (stanza: string, token = options.token): Promise<Response> =>
    fetch(`${base}/xmpp`, {
      method: "POST",
      headers: {
        "content-type": "application/xml",
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: stanza,
      signal: AbortSignal.timeout(timeoutMs),
    });

  const iq = async (stanza: string): Promise<XmlElement> => {
    const response = await post(stanza);
    const text = await response.text();
    if (response.status === 401)
      throw new SmokeFailure(
        options.token === undefined
          ? "/xmpp answered 401: the gateway has a GATEWAY_TOKEN; set the same one for the smoke"
          : "/xmpp answered 401 to GATEWAY_TOKEN: it is not the deployment's",
      );
    if (response.status !== 200) throw new SmokeFailure(`/xmpp answered ${response.status}: ${text.slice(0, 300)}`);
    const parsed = parseXml(text);
    if (!parsed.ok || parsed.value.name !== "iq")
      throw new SmokeFailure(`/xmpp answered something that is not an IQ: ${text.slice(0, 300)}`);
    return parsed.value;
  };

  try {
    const health = await step("health", async () => {
      const response = await fetch(`${base}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      const text = await response.text();
      if (response.status !== 200)
        throw new SmokeFailure(`GET /health answered ${response.status}: ${text.slice(0, 300)}`);
      let body: { status?: unknown; version?: unknown; jid?: unknown; providers?: unknown };
      try {
        body = JSON.parse(text);
      } catch {
        throw new SmokeFailure(`GET /health answered no JSON: ${text.slice(0, 300)}`);
      }
      if (body.status !== "ok" || typeof body.jid !== "string" || !Array.isArray(body.providers))
        throw new SmokeFailure(`GET /health answered ${text.slice(0, 300)}`);
      const providers = body.providers.filter((provider): provider is string => typeof provider === "string");
      const jid = body.jid;
      return [
        { jid, providers },
        `version ${String(body.version)}, jid ${jid}, providers ${providers.join(",") || "none"}`,
      ] as const;
    });

    await step("auth", async () => {
      if (options.token === undefined)
        return [undefined, "no GATEWAY_TOKEN given: expecting an open /xmpp (a local sandbox, never a deployment)"];
      const wrong = randomBytes(24).toString("base64url");
      const response = await post(
        `<iq type='get' from='smoke.invalid' to='${escapeXml(health.jid)}' id='auth'><ping xmlns='urn:xmpp:ping'/></iq>`,
        wrong,
      );
      await response.arrayBuffer();
      if (response.status !== 401)
        throw new SmokeFailure(
          `/xmpp answered ${response.status} to a wrong token: the deployment has no GATEWAY_TOKEN and is open to anyone`,
        );
      return [undefined, "/xmpp refuses a wrong token (401)"];
    });

    const provider = options.provider ?? (health.providers.includes("apns") ? "apns" : "fcm");
    if (!health.providers.includes(provider))
      throw new SmokeFailure(
        `the gateway offers no ${provider} (providers: ${health.providers.join(",") || "none"}): are its credentials configured?`,
      );
    const jid = escapeXml(health.jid);

    await step("disco", async () => {
      const reply = await iq(
        `<iq type='get' from='smoke.invalid' to='${jid}' id='disco'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
      );
      const query = childElement(reply, "query", "http://jabber.org/protocol/disco#info");
      const identity = query && childElement(query, "identity");
      const features = query ? childElements(query, "feature").map((feature) => feature.attrs.var) : [];
      if (identity?.attrs.category !== "pubsub" || identity.attrs.type !== "push")
        throw new SmokeFailure(`disco#info has no pubsub/push identity: ${replyKind(reply)}`);
      for (const feature of ["urn:xmpp:push:0", PROVIDER_FEATURES[provider]])
        if (!features.includes(feature)) throw new SmokeFailure(`disco#info lacks ${feature}`);
      return [undefined, `pubsub/push with urn:xmpp:push:0 and ${PROVIDER_FEATURES[provider]}`];
    });

    const account = `smoke-${randomBytes(6).toString("hex")}@smoke.invalid`;
    const token =
      provider === "apns"
        ? randomBytes(32).toString("hex")
        : `smoke${randomBytes(8).toString("hex")}:APA91b${randomBytes(60).toString("base64url")}`;
    const environment = options.environment ?? "sandbox";
    const environmentField =
      provider === "apns" ? `<field var='environment'><value>${environment}</value></field>` : "";
    const command = (node: "register-device" | "unregister-device", id: string) =>
      `<iq type='set' from='${account}/smoke' to='${jid}' id='${id}'><command xmlns='${COMMANDS}' node='${node}' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>${PROVIDER_FEATURES[provider]}</value></field><field var='device-token'><value>${token}</value></field>${node === "register-device" ? environmentField : ""}</x></command></iq>`;

    const register = async (id: string): Promise<[string, string]> => {
      const reply = await iq(command("register-device", id));
      const node = formValue(reply, "node");
      const status = childElement(reply, "command", COMMANDS)?.attrs.status;
      if (reply.attrs.type !== "result" || status !== "completed" || !node)
        throw new SmokeFailure(`register-device answered ${replyKind(reply)}`);
      const size = formValue(reply, "max-payload-size");
      return [node, `node ${shorten(node)}, max-payload-size ${size ?? "?"}`];
    };
    const unregister = async (id: string): Promise<[undefined, string]> => {
      const reply = await iq(command("unregister-device", id));
      if (reply.attrs.type !== "result" || childElement(reply, "command", COMMANDS)?.attrs.status !== "completed")
        throw new SmokeFailure(`unregister-device answered ${replyKind(reply)}`);
      return [undefined, "completed"];
    };

    const node = await step("register", async () => {
      const [registered, detail] = await register("reg1");
      return [
        registered,
        `${provider} ${provider === "apns" ? `${environment} ` : ""}token ${shorten(token)} for ${account}: ${detail}`,
      ];
    });

    await step("publish", async () => {
      const notification =
        "<notification xmlns='urn:xmpp:push:0'><x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='message-count'><value>1</value></field></x></notification>";
      const attempts = 5;
      for (let attempt = 1; ; attempt += 1) {
        const reply = await iq(
          `<iq type='set' from='smoke.invalid' to='${jid}' id='pub${attempt}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${escapeXml(node)}'><item>${notification}</item></publish></pubsub></iq>`,
        );
        const kind = replyKind(reply);
        if (kind === "result") return [undefined, "result: the provider accepted the push"];
        if (kind.startsWith("cancel/item-not-found"))
          return [
            undefined,
            "cancel/item-not-found: the provider says the made-up token is dead (expected from APNs or FCM)",
          ];
        if (!kind.startsWith("wait/") || attempt === attempts)
          throw new SmokeFailure(
            `the publish answered ${kind}${kind.startsWith("wait/") ? ` ${attempts} times: see the gateway's log (provider credentials, reachability)` : ""}`,
          );
        await new Promise((resolve) => setTimeout(resolve, options.retryPauseMs ?? 2_000));
      }
    });

    await step("unregister", () => unregister("unreg1"));

    await step("re-register", async () => {
      const [again, detail] = await register("reg2");
      if (again === node)
        throw new SmokeFailure(
          "registering again after unregister-device answered the same node: it was not unregistered",
        );
      await unregister("unreg2");
      return [undefined, `a new ${detail}; unregistered again`];
    });
  } catch (error) {
    const why =
      error instanceof SmokeFailure
        ? error.message
        : `${error instanceof Error ? `${error.name}: ${error.message}` : String(error)} (is ${base} reachable?)`;
    log(`smoke: ${current} FAILED: ${why}`);
    return { ok: false, steps, failure: `${current}: ${why}` };
  }
  log(`smoke: ok, ${steps.length} steps against ${base}`);
  return { ok: true, steps };
}

async function main(): Promise<void> {
  let values: ReturnType<typeof parseArgs>["values"];
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      allowPositionals: true,
      options: {
        provider: { type: "string" },
        environment: { type: "string" },
        "timeout-ms": { type: "string" },
      },
    }));
  } catch (error) {
    console.error(`smoke: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
  const [url] = positionals;
  const provider = values.provider;
  const environment = values.environment;
  const timeout = values["timeout-ms"] === undefined ? undefined : Number(values["timeout-ms"]);
  const usage =
    "usage: GATEWAY_TOKEN=… npm run smoke -- URL [--provider apns|fcm] [--environment sandbox|production] [--timeout-ms N]";
  if (
    url === undefined ||
    positionals.length !== 1 ||
    !/^https?:\/\//.test(url) ||
    (provider !== undefined && provider !== "apns" && provider !== "fcm") ||
    (environment !== undefined && environment !== "sandbox" && environment !== "production") ||
    (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0))
  ) {
    console.error(usage);
    process.exit(2);
  }
  const token = process.env.GATEWAY_TOKEN?.trim();
  const result = await runSmoke({
    url,
    ...(token ? { token } : {}),
    ...(provider === "apns" || provider === "fcm" ? { provider } : {}),
    ...(environment === "sandbox" || environment === "production" ? { environment } : {}),
    ...(timeout === undefined ? {} : { timeoutMs: timeout }),
  });
  process.exit(result.ok ? 0 : 1);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
