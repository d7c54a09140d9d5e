import type { GatewayDeps } from "../gateway/deps";
import { answerStanza } from "../gateway/iq";
import { hasBearer } from "./auth";
import { declaresTooMuch, decodeUtf8, readCappedBody } from "./body";

/** What `POST /xmpp` answers for one stanza's text, without HTTP. */
export interface XmppAnswer {
  readonly status: 200 | 204 | 400 | 413;
  /** The reply stanza (200), nothing (204), or a short reason (400, 413). */
  readonly body: string;
}

/** Whether `text` is longer than `limit` bytes in UTF-8, encoding it only when its length leaves doubt. */
function overLimit(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return new TextEncoder().encode(text).byteLength > limit;
}

/**
 * The one handler behind `POST /xmpp` and `npm run serve`'s in-process bridge (docs/protocol.md
 * section 2): the body limit, then a reply for every IQ get/set, nothing for results, errors, messages
 * and presence, and a 400 for anything that is not one well-formed stanza.
 */
export async function answerXmppText(deps: GatewayDeps, text: string): Promise<XmppAnswer> {
  if (overLimit(text, deps.config.maxBodyBytes)) return { status: 413, body: "body too large" };
  const answer = await answerStanza(deps, text);
  if (answer.status === 200) return { status: 200, body: answer.body };
  if (answer.status === 204) return { status: 204, body: "" };
  return { status: 400, body: answer.reason };
}

/** An HTTP answer of `POST /xmpp`: status, body (empty for 204) and its content type. */
export interface XmppHttpAnswer {
  readonly status: 200 | 204 | 400 | 401 | 413 | 415;
  readonly body: string;
  readonly contentType?: string;
  /** `WWW-Authenticate` of a 401 (RFC 6750 section 3). */
  readonly challenge?: string;
}

const XML_TYPES = new Set(["application/xml", "text/xml", "application/xmpp+xml"]);
const TEXT = "text/plain; charset=UTF-8";
const XML = "application/xml; charset=utf-8";

/** The media type of a `Content-Type` header, lower case, without parameters. */
function mediaType(header: string | null | undefined): string | undefined {
  if (header === null || header === undefined) return undefined;
  const semicolon = header.indexOf(";");
  return (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
}

/** The headers of `POST /xmpp` that decide whether its body is read at all. */
export interface XmppRequestHead {
  readonly authorization: string | null | undefined;
  readonly contentType: string | null | undefined;
  readonly contentLength: string | null | undefined;
}

/**
 * The refusal of a `POST /xmpp` before its body is read, in this order: a declared length over
 * `MAX_BODY_BYTES` (413, before anything else so that no check costs a large upload), a missing or wrong
 * bridge token (401), a content type that is not XML (415); `undefined` to go on (docs/protocol.md
 * section 2). Every runtime's `/xmpp` goes through this and {@link answerXmppBody}.
 */
export function refuseXmppHead(deps: GatewayDeps, head: XmppRequestHead): XmppHttpAnswer | undefined {
  const { config } = deps;
  if (declaresTooMuch(head.contentLength, config.maxBodyBytes))
    return { status: 413, body: "body too large", contentType: TEXT };
  if (config.gatewayToken !== undefined && !hasBearer(head.authorization ?? undefined, config.gatewayToken))
    return { status: 401, body: "unauthorized", contentType: TEXT, challenge: "Bearer" };
  const type = mediaType(head.contentType);
  if (type !== undefined && !XML_TYPES.has(type))
    return { status: 415, body: "content type must be application/xml", contentType: TEXT };
  return undefined;
}

/** The HTTP answer to a `POST /xmpp` body read within the cap (`undefined`: over it). */
export async function answerXmppBody(deps: GatewayDeps, bytes: Uint8Array | undefined): Promise<XmppHttpAnswer> {
  if (bytes === undefined) return { status: 413, body: "body too large", contentType: TEXT };
  const text = decodeUtf8(bytes);
  if (text === undefined) return { status: 400, body: "body is not valid UTF-8", contentType: TEXT };
  const answer = await answerXmppText(deps, text);
  if (answer.status === 200) return { status: 200, body: answer.body, contentType: XML };
  if (answer.status === 204) return { status: 204, body: "" };
  return { status: answer.status, body: answer.body, contentType: TEXT };
}

/** An answer of {@link answerXmppBody} or {@link refuseXmppHead} as a web Response. */
export function xmppResponse(answer: XmppHttpAnswer | { readonly status: 500; readonly body: string }): Response {
  if (answer.status === 204) return new Response(null, { status: 204 });
  const headers: Record<string, string> = {
    "content-type": ("contentType" in answer && answer.contentType) || TEXT,
  };
  if ("challenge" in answer && answer.challenge !== undefined) headers["www-authenticate"] = answer.challenge;
  return new Response(answer.body, { status: answer.status, headers });
}

/**
 * `POST /xmpp` on a web `Request`, start to end: {@link refuseXmppHead}, the body read under the limit,
 * {@link answerXmppBody}, and a fault answered `500` and logged as `unhandled`, as the app's `onError`
 * does. The app's route is this function, and the Worker calls it straight for `POST /xmpp` (the route
 * of every message) without the router.
 */
export async function answerXmppRequest(deps: GatewayDeps, request: Request): Promise<Response> {
  try {
    const refused = refuseXmppHead(deps, {
      authorization: request.headers.get("authorization"),
      contentType: request.headers.get("content-type"),
      contentLength: request.headers.get("content-length"),
    });
    if (refused !== undefined) return xmppResponse(refused);
    return xmppResponse(await answerXmppBody(deps, await readCappedBody(request, deps.config.maxBodyBytes)));
  } catch (error) {
    deps.log.log("error", "unhandled", { error: String(error).slice(0, 300) });
    return xmppResponse({ status: 500, body: "internal error" });
  }
}

/** Whether a request URL's path is exactly `/xmpp` (no query): the one route a runtime may answer itself. */
export function isXmppUrl(url: string): boolean {
  const scheme = url.indexOf("://");
  if (scheme < 0) return false;
  const path = url.indexOf("/", scheme + 3);
  return path >= 0 && url.length - path === 5 && url.endsWith("/xmpp");
}
