import type { IncomingMessage, ServerResponse } from "node:http";
import type { GatewayDeps } from "../gateway/deps";
import { answerXmppBody, refuseXmppHead, type XmppHttpAnswer } from "../http/xmpp";

/** One body being read: what the listeners below find through the request they are called on. */
interface BodyRead {
  readonly max: number;
  readonly chunks: Buffer[];
  size: number;
  resolve(bytes: Uint8Array | undefined): void;
  reject(error: Error): void;
}

const READ = Symbol("xmpp body read");
type Reading = IncomingMessage & { [READ]?: BodyRead };

/* The listeners are module functions, the same on every request (no closure per request), that find their
 * read through `this`, the request they were added to. */
function onData(this: Reading, chunk: Buffer): void {
  const read = this[READ];
  if (read === undefined) return;
  read.size += chunk.byteLength;
  if (read.size > read.max) {
    stopReading(this);
    this.pause();
    read.resolve(undefined);
    return;
  }
  read.chunks.push(chunk);
}

function onEnd(this: Reading): void {
  const read = this[READ];
  if (read === undefined) return;
  stopReading(this);
  read.resolve(read.chunks.length === 1 ? (read.chunks[0] as Buffer) : Buffer.concat(read.chunks, read.size));
}

function onError(this: Reading, error: Error): void {
  const read = this[READ];
  stopReading(this);
  read?.reject(error);
}

function onClose(this: Reading): void {
  const read = this[READ];
  stopReading(this);
  read?.reject(new Error("request closed before its body was read"));
}

function stopReading(request: Reading): void {
  request[READ] = undefined;
  request.off("data", onData);
  request.off("end", onEnd);
  request.off("error", onError);
  request.off("close", onClose);
}

/**
 * The body of a Node request within `max` bytes, or `undefined` past it (the read stops there: the
 * connection is closed after the answer, so the rest is never taken in).
 */
function readNodeBody(request: Reading, max: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    request[READ] = { max, chunks: [], size: 0, resolve, reject };
    request.on("data", onData);
    request.on("end", onEnd);
    request.on("error", onError);
    request.on("close", onClose);
  });
}

/** An answer to write: one of `/xmpp`'s, or the 500 of a fault (the app's `onError` answers the same). */
type Answer = Omit<XmppHttpAnswer, "status"> & { readonly status: XmppHttpAnswer["status"] | 500 };

function write(response: ServerResponse, answer: Answer, close: boolean): void {
  const headers: Record<string, string | number> = {};
  if (answer.contentType !== undefined) headers["content-type"] = answer.contentType;
  if (answer.challenge !== undefined) headers["www-authenticate"] = answer.challenge;
  if (close) headers.connection = "close";
  if (answer.status === 204) {
    response.writeHead(204, headers);
    response.end();
    return;
  }
  headers["content-length"] = Buffer.byteLength(answer.body);
  response.writeHead(answer.status, headers);
  response.end(answer.body);
}

/**
 * `POST /xmpp` on the Node entry without the web `Request`/`Response` layer: the same checks and answers
 * as the app's route (src/http/xmpp.ts `refuseXmppHead` then `answerXmppBody`, docs/protocol.md
 * section 2), with the body read straight from the socket under `MAX_BODY_BYTES`. It is the route every
 * message takes, and @hono/node-server's request and response objects were a fifth of its CPU
 * (bench/RESULTS.md); every other route stays with the app. A request refused before its body is read,
 * or over the limit, is answered with `Connection: close` so that its body is never taken in.
 */
export function nodeXmppHandler(deps: GatewayDeps): (request: IncomingMessage, response: ServerResponse) => void {
  const max = deps.config.maxBodyBytes;
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const { headers } = request;
    const refused = refuseXmppHead(deps, {
      authorization: headers.authorization,
      contentType: headers["content-type"],
      contentLength: headers["content-length"],
    });
    if (refused !== undefined) {
      write(response, refused, !request.complete);
      return;
    }
    let bytes: Uint8Array | undefined;
    try {
      bytes = await readNodeBody(request, max);
    } catch {
      // The client went away mid-body: nobody is left to answer.
      return;
    }
    const answer = await answerXmppBody(deps, bytes);
    write(response, answer, bytes === undefined);
  };
  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      deps.log.log("error", "unhandled", { error: String(error).slice(0, 300) });
      if (!response.headersSent)
        write(response, { status: 500, body: "internal error", contentType: "text/plain; charset=UTF-8" }, false);
      else response.destroy();
    });
  };
}
