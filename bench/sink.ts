/**
 * The benchmark's sink: a minimal TLS server in a process of its own that answers every request 200 and
 * records nothing, so that a sender measured against it pays for its own work only (the in-process fake
 * of test/fakes verifies a signature per request on the same cores). HTTP/2 by default (`node:http2`
 * streams, no compatibility layer); `--http1` serves HTTP/1.1 instead (local workerd's outbound `fetch`
 * speaks nothing else).
 *
 * Answers: `POST /3/device/…` (APNs) 200 with an `apns-id` and no body; `…/messages:send` (FCM) 200 with
 * the message name; `/token` (Google OAuth) 200 with an access token; anything else 200 `{}`.
 *
 * `node --import tsx bench/sink.ts CERT.pem KEY.pem [--http1]` prints `{"port":N}` on its first line and
 * runs until its standard input closes (it dies with its parent) or it gets SIGTERM.
 */
import { readFileSync } from "node:fs";
import http2, { type ServerHttp2Stream } from "node:http2";
import https from "node:https";
import type { AddressInfo } from "node:net";

const [certPath, keyPath, mode] = process.argv.slice(2);
if (certPath === undefined || keyPath === undefined) throw new Error("usage: sink.ts CERT KEY [--http1]");
const tls = { cert: readFileSync(certPath), key: readFileSync(keyPath) };

const APNS_ID = "00000000-0000-4000-8000-000000000000";
const FCM_NAME = JSON.stringify({ name: "projects/bench/messages/0:1" });
const TOKEN = JSON.stringify({ access_token: "bench-access-token", expires_in: 3600, token_type: "Bearer" });

function answerOf(path: string): { body: string; apns: boolean } {
  if (path.startsWith("/3/device/")) return { body: "", apns: true };
  if (path.endsWith("/messages:send")) return { body: FCM_NAME, apns: false };
  if (path === "/token") return { body: TOKEN, apns: false };
  return { body: "{}", apns: false };
}

function onStream(stream: ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const answer = answerOf(String(headers[":path"] ?? "/"));
  stream.on("error", () => undefined);
  stream.resume();
  stream.on("end", () => {
    if (stream.destroyed || stream.closed) return;
    if (answer.apns) stream.respond({ ":status": 200, "apns-id": APNS_ID }, { endStream: true });
    else {
      stream.respond({ ":status": 200, "content-type": "application/json; charset=UTF-8" });
      stream.end(answer.body);
    }
  });
}

const server =
  mode === "--http1"
    ? https.createServer({ ...tls, keepAliveTimeout: 60_000 }, (request, response) => {
        const answer = answerOf(request.url ?? "/");
        request.resume();
        request.on("end", () => {
          if (answer.apns) response.writeHead(200, { "apns-id": APNS_ID }).end();
          else response.writeHead(200, { "content-type": "application/json; charset=UTF-8" }).end(answer.body);
        });
      })
    : http2.createSecureServer({ ...tls, settings: { maxConcurrentStreams: 1000 } }).on("stream", onStream);

server.on("sessionError", () => undefined);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
