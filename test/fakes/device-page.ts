import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  AES_128_KEY_BYTES,
  decodeBase64,
  type OpenError,
  openPushNotification,
  type ReceivedPushPlaintext,
} from "../../src/omemo";
import type { ApnsReceipt } from "./apns-server";
import type { FcmReceipt } from "./fcm-server";

/** The default port of the live page in the sandbox (docs/simulator.md). */
export const DEVICE_PAGE_PORT = 8790;

/** Where the page reads the pushes from: the fakes' receipt lists (a {@link FakeWorld} fits). */
export interface DevicePageSource {
  readonly apns: { readonly received: readonly ApnsReceipt[] };
  readonly fcm: { readonly received: readonly FcmReceipt[] };
}

export interface DevicePageOptions {
  readonly source: DevicePageSource;
  /** Default {@link DEVICE_PAGE_PORT}; 0 picks a free port. The page listens on 127.0.0.1 only. */
  readonly port?: number;
}

/** What the page could make of a push's `encrypted` blob. */
export type DevicePushDecryption =
  | { readonly state: "opened"; readonly plaintext: ReceivedPushPlaintext }
  | { readonly state: "failed"; readonly error: OpenError }
  | { readonly state: "no-key" }
  | { readonly state: "not-encrypted" };

/** One push a fake device received (or the fake refused), as `GET /api/pushes` lists it. */
export interface DevicePush {
  /** `apns-N` / `fcm-N`, N counting from 1 in arrival order per provider. */
  readonly id: string;
  /** ISO 8601 time of arrival at the fake. */
  readonly at: string;
  readonly provider: "apns" | "fcm";
  /** APNs: `production` or `sandbox`; FCM: the Firebase project id. */
  readonly environment: string;
  readonly token: string;
  readonly tokenPrefix: string;
  /** APNs: the `apns-push-type` header (default `alert`); FCM: `data` (data-only message). */
  readonly pushType: string;
  /** APNs: the `apns-priority` header; FCM: `android.priority`. */
  readonly priority: string;
  /** APNs: the `apns-topic` header. */
  readonly topic?: string;
  /** The fake's answer: 200 means the device got the push. */
  readonly status: number;
  readonly reason?: string;
  readonly delivered: boolean;
  readonly httpVersion: string;
  /** The request body as sent by the gateway, parsed when JSON (APNs: the payload; FCM: `{"message"}`). */
  readonly payload: unknown;
  readonly decryption: DevicePushDecryption;
}

const KNOWN_PATHS: ReadonlySet<string> = new Set(["/", "/api/pushes", "/api/keys"]);
const MAX_LISTED = 500;
const MAX_KEYS = 10_000;
const MAX_BODY_BYTES = 16 * 1024;
const MAX_TOKEN_LENGTH = 4096;

type JsonObject = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function tokenPrefix(token: string): string {
  return token.length <= 8 ? token : `${token.slice(0, 8)}…`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The `encrypted` and `iv` a device app would read: APNs top-level keys, FCM `message.data`. */
function sealedOf(provider: "apns" | "fcm", payload: unknown): { iv: string; encrypted: string } | undefined {
  const holder = provider === "apns" ? payload : isObject(payload) && isObject(payload.message) && payload.message.data;
  if (!isObject(holder)) return undefined;
  const { iv, encrypted } = holder;
  return typeof iv === "string" && typeof encrypted === "string" ? { iv, encrypted } : undefined;
}

interface Arrival {
  readonly receipt: ApnsReceipt | FcmReceipt;
  readonly push: Omit<DevicePush, "decryption">;
}

function apnsArrival(receipt: ApnsReceipt, index: number): Arrival {
  return {
    receipt,
    push: {
      id: `apns-${index + 1}`,
      at: new Date(receipt.at).toISOString(),
      provider: "apns",
      environment: receipt.environment,
      token: receipt.token,
      tokenPrefix: tokenPrefix(receipt.token),
      pushType: receipt.headers["apns-push-type"] ?? "alert",
      priority: receipt.headers["apns-priority"] ?? "10",
      topic: receipt.headers["apns-topic"],
      status: receipt.status,
      reason: receipt.reason,
      delivered: receipt.status === 200,
      httpVersion: receipt.httpVersion,
      payload: parseJson(receipt.rawBody),
    },
  };
}

function fcmArrival(receipt: FcmReceipt, index: number): Arrival {
  const android = receipt.message?.android;
  const priority = isObject(android) && typeof android.priority === "string" ? android.priority : "-";
  const token = receipt.token ?? "";
  return {
    receipt,
    push: {
      id: `fcm-${index + 1}`,
      at: new Date(receipt.at).toISOString(),
      provider: "fcm",
      environment: receipt.project,
      token,
      tokenPrefix: tokenPrefix(token),
      pushType: "data",
      priority,
      status: receipt.status,
      reason: receipt.error,
      delivered: receipt.status === 200,
      httpVersion: receipt.httpVersion,
      payload: parseJson(receipt.rawBody),
    },
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        fail(new HttpError(413, `body over ${MAX_BODY_BYTES} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => done(Buffer.concat(chunks).toString("utf8")));
    request.on("error", fail);
  });
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy":
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'",
  });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, "application/json; charset=utf-8", JSON.stringify(value));
}

/**
 * The sandbox's "device" (docs/simulator.md): a small HTTP server on 127.0.0.1 that shows the pushes
 * the fake APNs and FCM received, newest first, and opens their `encrypted` blob (AES-128-GCM, tag
 * verified, with {@link openPushNotification}) for device tokens whose key it was told:
 *
 * - `GET /`: the live page (inline CSS and JS, polls `/api/pushes` every second);
 * - `GET /api/pushes[?token=T]`: `{"sandbox":true,"pushes":[DevicePush, ...]}`;
 * - `POST /api/keys` `{"token","key"}` (`application/json`): remembers the base64 16-byte key of a token.
 *
 * Keys stay in this process's memory and never appear in an answer. Requests whose `Host` is not a
 * loopback name are refused (DNS rebinding), and `POST` needs a JSON content type, so that another
 * web page in the developer's browser can neither read the pushes nor plant keys.
 */
export class DevicePage {
  private readonly keys = new Map<string, { readonly base64: string; readonly bytes: Uint8Array }>();
  private readonly opened = new WeakMap<object, { readonly key: string; readonly result: DevicePushDecryption }>();

  private constructor(
    private readonly server: Server,
    private readonly source: DevicePageSource,
    /** The port the page listens on. */
    readonly port: number,
  ) {}

  /** Starts the page on 127.0.0.1 (rejects when the port is taken). */
  static async start(options: DevicePageOptions): Promise<DevicePage> {
    const server = createServer();
    await new Promise<void>((done, fail) => {
      server.once("error", fail);
      server.listen({ host: "127.0.0.1", port: options.port ?? DEVICE_PAGE_PORT, exclusive: true }, () => {
        server.off("error", fail);
        done();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const page = new DevicePage(server, options.source, port);
    server.on("request", (request, response) => {
      page.handle(request, response).catch((error: unknown) => {
        const status = error instanceof HttpError ? error.status : 500;
        if (!response.headersSent)
          sendJson(response, status, { error: String(error instanceof Error ? error.message : error) });
        else response.destroy();
      });
    });
    return page;
  }

  /** `http://127.0.0.1:{port}`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Remembers the AES key of a device token (what `POST /api/keys` does). */
  setKey(token: string, base64Key: string): void {
    if (token === "" || token.length > MAX_TOKEN_LENGTH) throw new HttpError(400, "token must be a non-empty string");
    const bytes = decodeBase64(base64Key);
    if (bytes === undefined || bytes.length !== AES_128_KEY_BYTES)
      throw new HttpError(400, "key must be the base64 of 16 bytes (AES-128)");
    if (!this.keys.has(token) && this.keys.size >= MAX_KEYS) throw new HttpError(507, "too many keys");
    this.keys.set(token, { base64: base64Key.replace(/\s+/g, ""), bytes });
  }

  /** The pushes, newest first, opened where a key is known; only those for `token` when given. */
  async pushes(token?: string): Promise<DevicePush[]> {
    const arrivals = [
      ...this.source.apns.received.map(apnsArrival),
      ...this.source.fcm.received.map(fcmArrival),
    ].filter((arrival) => token === undefined || arrival.push.token === token);
    arrivals.sort((a, b) => b.receipt.at - a.receipt.at || b.push.id.localeCompare(a.push.id, "en", { numeric: true }));
    const listed = arrivals.slice(0, MAX_LISTED);
    return Promise.all(listed.map(async (arrival) => ({ ...arrival.push, decryption: await this.decrypt(arrival) })));
  }

  /** Stops listening and drops open connections. */
  close(): Promise<void> {
    return new Promise((done) => {
      this.server.close(() => done());
      this.server.closeAllConnections();
    });
  }

  private async decrypt(arrival: Arrival): Promise<DevicePushDecryption> {
    const sealed = sealedOf(arrival.push.provider, arrival.push.payload);
    if (sealed === undefined) return { state: "not-encrypted" };
    const key = this.keys.get(arrival.push.token);
    if (key === undefined) return { state: "no-key" };
    const cached = this.opened.get(arrival.receipt);
    if (cached?.key === key.base64) return cached.result;
    const opened = await openPushNotification(sealed, key.bytes);
    const result: DevicePushDecryption = opened.ok
      ? { state: "opened", plaintext: opened.value }
      : { state: "failed", error: opened.error };
    this.opened.set(arrival.receipt, { key: key.base64, result });
    return result;
  }

  private loopbackHost(request: IncomingMessage): boolean {
    const host = (request.headers.host ?? "").toLowerCase();
    return [`127.0.0.1:${this.port}`, `localhost:${this.port}`, `[::1]:${this.port}`].includes(host);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!this.loopbackHost(request)) throw new HttpError(403, "only 127.0.0.1 and localhost may use this page");
    const url = new URL(request.url ?? "/", this.url);
    const route = `${request.method ?? "GET"} ${url.pathname}`;
    switch (route) {
      case "GET /":
        send(response, 200, "text/html; charset=utf-8", PAGE_HTML);
        return;
      case "GET /api/pushes": {
        const token = url.searchParams.get("token") ?? undefined;
        sendJson(response, 200, { sandbox: true, pushes: await this.pushes(token) });
        return;
      }
      case "POST /api/keys":
        await this.postKey(request, response);
        return;
      default:
        if (KNOWN_PATHS.has(url.pathname)) throw new HttpError(405, "method not allowed");
        throw new HttpError(404, "not found");
    }
  }

  private async postKey(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const type = (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json") throw new HttpError(415, "send application/json");
    const body = parseJson(await readBody(request));
    if (!isObject(body) || typeof body.token !== "string" || typeof body.key !== "string")
      throw new HttpError(400, 'expected {"token": "...", "key": "BASE64"}');
    this.setKey(body.token, body.key);
    sendJson(response, 200, { token: tokenPrefix(body.token), stored: true });
  }
}

/** The live page: no external assets, every value written with textContent. */
const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox device · XMPP push gateway</title>
<style>
  :root { color-scheme: light; --ink: #1d2330; --muted: #5d6778; --line: #d9dee7; --ok: #13795b; --bad: #b42318; --accent: #2f5bd3; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f3f5f9; }
  header { padding: 16px 24px; background: #fff; border-bottom: 1px solid var(--line); }
  h1 { margin: 0 0 4px; font-size: 20px; }
  .note { margin: 8px 0 0; padding: 8px 12px; background: #fff7e0; border: 1px solid #f0d48a; border-radius: 6px; }
  .status { color: var(--muted); font-size: 13px; margin-top: 6px; }
  main { padding: 16px 24px; max-width: 1100px; }
  .empty { color: var(--muted); padding: 24px 0; }
  .push { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 0 0 14px; padding: 12px 16px; }
  .meta { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: baseline; }
  .meta time { font-weight: 600; }
  .tag { display: inline-block; padding: 1px 8px; border-radius: 10px; background: #e8edfb; color: var(--accent); font-weight: 600; font-size: 12px; text-transform: uppercase; }
  .code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
  .refused { color: var(--bad); font-weight: 600; }
  .opened, .failed, .waiting { margin-top: 10px; padding: 10px 12px; border-radius: 6px; }
  .opened { background: #ecf8f3; border: 1px solid #a6dcc5; }
  .failed { background: #fdeeee; border: 1px solid #f1b2ad; color: var(--bad); }
  .waiting { background: #f5f6f8; border: 1px dashed var(--line); color: var(--muted); }
  .opened h3, .failed h3 { margin: 0 0 6px; font-size: 13px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
  dt { color: var(--muted); }
  dd { margin: 0; overflow-wrap: anywhere; }
  details { margin-top: 8px; }
  summary { cursor: pointer; color: var(--muted); }
  pre { margin: 6px 0 0; padding: 8px 10px; background: #f6f8fb; border: 1px solid var(--line); border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
</style>
</head>
<body>
<header>
  <h1>Sandbox device</h1>
  <div>The pushes the fake APNs and FCM of <code>npm start</code> received, newest first, opened with the key of their device token.</div>
  <p class="note" id="sandbox-note"><strong>Development sandbox.</strong> Nothing here reached Apple, Google or a phone. Keys given to this page
  (<code>POST /api/keys</code>, as <code>npm run simulate</code> does) stay in the sandbox process on 127.0.0.1 and are never shown or sent anywhere.</p>
  <div class="status" id="status">loading…</div>
</header>
<main id="pushes"></main>
<script>
"use strict";
const list = document.getElementById("pushes");
const status = document.getElementById("status");
let shown = "";

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) if (value !== undefined) node.setAttribute(name, value);
  for (const child of children || []) if (child !== undefined && child !== null) node.append(child);
  return node;
}

function field(dl, name, key, value) {
  if (value === undefined || value === null) return;
  dl.append(el("dt", {}, [name]), el("dd", { "data-field": key, class: key.startsWith("omemo") ? "code" : undefined }, [String(value)]));
}

function opened(plaintext) {
  const dl = el("dl");
  field(dl, "sender", "sender", plaintext.sender);
  field(dl, "type", "type", plaintext.type);
  field(dl, "unread", "unread", plaintext.unread);
  field(dl, "message", "message", plaintext.message);
  field(dl, "nickname", "nickname", plaintext.nickname);
  field(dl, "call sid", "sid", plaintext.sid);
  if (plaintext.media) field(dl, "media", "media", plaintext.media.join(", "));
  const omemo = plaintext.omemo;
  if (omemo) {
    field(dl, "omemo sid", "omemo-sid", omemo.sid);
    omemo.keys.forEach((key, i) => field(dl, "omemo key " + (i + 1) + (omemo.kex === undefined || omemo.kex === null ? " (kex unknown)" : omemo.kex[i] ? " (kex)" : ""), "omemo-key", key));
    field(dl, "omemo kex", "omemo-kex", JSON.stringify(omemo.kex));
    field(dl, "omemo iv", "omemo-iv", omemo.iv);
    field(dl, "omemo data", "omemo-data", omemo.data);
  } else {
    field(dl, "omemo", "omemo", "none");
  }
  return el("div", { class: "opened" }, [el("h3", {}, ["Decrypted (AES-128-GCM, tag verified)"]), dl]);
}

function decryption(push) {
  const d = push.decryption;
  if (d.state === "opened") return opened(d.plaintext);
  if (d.state === "failed")
    return el("div", { class: "failed", role: "alert" }, [el("h3", {}, ["Could not open this push: " + d.error.kind]), d.error.reason]);
  if (d.state === "no-key") return el("div", { class: "waiting" }, ["Encrypted; no key known for this token (POST /api/keys)."]);
  return el("div", { class: "waiting" }, ["Not encrypted (a plain summary push, or the fallback without the blob)."]);
}

function card(push) {
  const when = new Date(push.at);
  const meta = el("div", { class: "meta" }, [
    el("time", { datetime: push.at }, [when.toLocaleTimeString([], { hour12: false }) + "." + String(when.getMilliseconds()).padStart(3, "0")]),
    el("span", { class: "tag" }, [push.provider]),
    el("span", {}, [push.provider === "apns" ? push.environment : "project " + push.environment]),
    el("span", { class: "code", title: "device token prefix" }, ["token " + push.tokenPrefix]),
    el("span", {}, [push.pushType + " · priority " + push.priority]),
    push.topic ? el("span", { class: "code" }, [push.topic]) : undefined,
    push.delivered ? el("span", {}, ["HTTP/" + push.httpVersion + " 200"]) : el("span", { class: "refused" }, ["refused " + push.status + " " + (push.reason || "")]),
  ]);
  const raw = el("details", { open: "" }, [el("summary", {}, ["raw payload"]), el("pre", { class: "code" }, [JSON.stringify(push.payload, null, 2)])]);
  return el("article", { class: "push", "data-push-id": push.id, "data-token-prefix": push.tokenPrefix, "data-state": push.decryption.state }, [meta, decryption(push), raw]);
}

async function poll() {
  try {
    const response = await fetch("/api/pushes", { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const text = await response.text();
    const { pushes } = JSON.parse(text);
    status.textContent = pushes.length + " push" + (pushes.length === 1 ? "" : "es") + " · updated " + new Date().toLocaleTimeString([], { hour12: false });
    if (text !== shown) {
      shown = text;
      list.replaceChildren(...(pushes.length === 0 ? [el("p", { class: "empty" }, ["No pushes yet. Run  npm run simulate  in another terminal."])] : pushes.map(card)));
    }
  } catch (error) {
    status.textContent = "the sandbox does not answer (" + error.message + "); retrying every second";
  }
}

poll();
setInterval(poll, 1000);
</script>
</body>
</html>
`;
