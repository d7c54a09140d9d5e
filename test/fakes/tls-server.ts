import type { IncomingMessage, ServerResponse } from "node:http";
import http2, {
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";

/** One request as a fake sees it, whichever HTTP version carried it. */
export interface FakeHttpRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  /** Lower-case names, pseudo-headers left out, repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The body's size in bytes (also when it was cut short at `maxBodyBytes`). */
  readonly bodyBytes: number;
  readonly httpVersion: "2.0" | "1.1";
  /** Which connection it came on: `h2-N` for the Nth HTTP/2 session, `h1-N` for the Nth HTTP/1.1 connection. */
  readonly connection: string;
}

/** What a fake answers. */
export interface FakeHttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export type FakeHttpHandler = (request: FakeHttpRequest) => FakeHttpResponse | Promise<FakeHttpResponse>;

export interface FakeTlsServerOptions {
  readonly cert: string;
  readonly key: string;
  /** Default 127.0.0.1: the fakes never listen on other interfaces. */
  readonly host?: string;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** The SETTINGS_MAX_CONCURRENT_STREAMS the server announces. Default 1000 (what APNs announces). */
  readonly maxConcurrentStreams?: number;
  /** Bodies are read up to this many bytes (the size is still counted). Default 1 MiB. */
  readonly maxBodyBytes?: number;
  readonly handler: FakeHttpHandler;
}

/** Connection counters kept on the server side. */
export interface FakeTlsServerStats {
  /** TLS connections accepted. */
  readonly tlsConnections: number;
  /** HTTP/2 sessions opened. */
  readonly http2Sessions: number;
  /** HTTP/2 streams (requests) received. */
  readonly http2Streams: number;
  /** HTTP/1.1 connections (ALPN `http/1.1` or none). */
  readonly http1Connections: number;
  /** HTTP/1.1 requests received. */
  readonly http1Requests: number;
  /** HTTP/2 PING frames received (a client's keepalive). */
  readonly pingsReceived: number;
  /** HTTP/2 sessions open now. */
  readonly openHttp2Sessions: number;
}

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

/**
 * A TLS server speaking HTTP/2 and, for local workerd (whose `fetch` speaks HTTP/1.1 only),
 * HTTP/1.1 (`allowHTTP1: true`), as the base of the fake APNs and FCM. It counts sessions, streams
 * and connections, and can send GOAWAY to every session (what a provider does before a restart).
 */
export class FakeTlsServer {
  private readonly sessions = new Set<Http2Session>();
  private readonly sockets = new Set<TLSSocket>();
  private readonly names = new WeakMap<object, string>();
  private counters = {
    tlsConnections: 0,
    http2Sessions: 0,
    http2Streams: 0,
    http1Connections: 0,
    http1Requests: 0,
    pingsReceived: 0,
  };

  private constructor(
    private readonly server: Http2SecureServer,
    readonly port: number,
    readonly host: string,
  ) {}

  /** Starts listening; resolves once the port is bound. */
  static async listen(options: FakeTlsServerOptions): Promise<FakeTlsServer> {
    const host = options.host ?? "127.0.0.1";
    const server = http2.createSecureServer({
      cert: options.cert,
      key: options.key,
      allowHTTP1: true,
      settings: { maxConcurrentStreams: options.maxConcurrentStreams ?? 1000 },
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const fake = new FakeTlsServer(server, port, host);
    fake.attach(options);
    return fake;
  }

  /** `https://127.0.0.1:PORT`, without a trailing slash. */
  get url(): string {
    return `https://${this.host}:${this.port}`;
  }

  stats(): FakeTlsServerStats {
    return { ...this.counters, openHttp2Sessions: this.sessions.size };
  }

  /** Sends GOAWAY (NO_ERROR) on every open HTTP/2 session; streams already started still finish. */
  goawayAll(): void {
    for (const session of this.sessions) if (!session.closed) session.goaway(http2.constants.NGHTTP2_NO_ERROR);
  }

  /** Destroys every connection without GOAWAY (a provider that went away abruptly). */
  dropAll(): void {
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.dropAll();
    await closed;
  }

  private attach(options: FakeTlsServerOptions): void {
    const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.server.on("secureConnection", (socket: TLSSocket) => {
      this.counters.tlsConnections += 1;
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      if (socket.alpnProtocol !== "h2") {
        this.counters.http1Connections += 1;
        this.names.set(socket, `h1-${this.counters.http1Connections}`);
      }
    });
    this.server.on("session", (session: Http2Session) => {
      this.counters.http2Sessions += 1;
      this.names.set(session, `h2-${this.counters.http2Sessions}`);
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
      session.on("error", () => undefined);
      session.on("ping", () => {
        this.counters.pingsReceived += 1;
      });
    });
    this.server.on("stream", () => {
      this.counters.http2Streams += 1;
    });
    this.server.on("request", (request: AnyRequest, response: AnyResponse) => {
      void this.serve(request, response, options.handler, maxBodyBytes);
    });
  }

  private connectionOf(request: AnyRequest): string {
    if ("stream" in request && request.stream.session) return this.names.get(request.stream.session) ?? "h2-?";
    return this.names.get(request.socket) ?? "h1-?";
  }

  private async serve(
    request: AnyRequest,
    response: AnyResponse,
    handler: FakeHttpHandler,
    maxBodyBytes: number,
  ): Promise<void> {
    const httpVersion = request.httpVersion === "2.0" ? "2.0" : "1.1";
    if (httpVersion === "1.1") this.counters.http1Requests += 1;
    try {
      const chunks: Buffer[] = [];
      let bodyBytes = 0;
      for await (const chunk of request) {
        const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
        if (bodyBytes < maxBodyBytes) chunks.push(buffer.subarray(0, maxBodyBytes - bodyBytes));
        bodyBytes += buffer.length;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (name.startsWith(":") || value === undefined) continue;
        headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
      }
      const answer = await handler({
        method: request.method ?? "GET",
        path: request.url ?? "/",
        headers,
        body: Buffer.concat(chunks).toString("utf8"),
        bodyBytes,
        httpVersion,
        connection: this.connectionOf(request),
      });
      const body = answer.body ?? "";
      const out: Record<string, string> = { ...answer.headers };
      if (body !== "" && out["content-type"] === undefined) out["content-type"] = "application/json; charset=UTF-8";
      out["content-length"] = String(Buffer.byteLength(body));
      response.writeHead(answer.status, out);
      response.end(body);
    } catch (error) {
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
      response.end(`fake server error: ${String(error)}`);
    }
  }
}
