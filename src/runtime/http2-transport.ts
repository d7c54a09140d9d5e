import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import type { Socket } from "node:net";
import { rootCertificates } from "node:tls";
import type { HttpTransport, HttpTransportRequest, HttpTransportResponse } from "../ports/transport";

/** Tuning of {@link Http2Transport}; every field has a default fit for APNs and FCM. */
export interface Http2TransportOptions {
  /** Local cap on concurrent streams per session; the peer's `maxConcurrentStreams` lowers it. Default 100. */
  readonly maxConcurrentStreams?: number;
  /** A request without an answer after this long fails (its stream is cancelled). Default 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /** A session that cannot connect within this long fails the requests waiting for it. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** An idle session is PINGed this often, so that dead connections are found before a push needs them. Default 60 000 ms. */
  readonly pingIntervalMs?: number;
  /** A PING not acknowledged within this long destroys the session. Default 10 000 ms. */
  readonly pingTimeoutMs?: number;
  /** A session idle this long is closed. Default 600 000 ms (Apple asks providers to keep connections open). */
  readonly idleTimeoutMs?: number;
  /** How long {@link Http2Transport.close} lets streams in flight finish before destroying their session. Default 5 000 ms. */
  readonly closeTimeoutMs?: number;
  /** A response body larger than this fails the request. Default 1 MiB. */
  readonly maxResponseBytes?: number;
  /**
   * Extra CA certificates (PEM) trusted besides Node's root store, e.g. the local sandbox's
   * self-signed certificate. Verification is never turned off. (`NODE_EXTRA_CA_CERTS` works too: Node
   * adds it to the default store that `http2.connect` uses.)
   */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
}

/** Counters of a transport, for tests and health reporting. */
export interface Http2TransportStats {
  /** Sessions opened since the transport was made. */
  readonly sessionsOpened: number;
  /** Sessions not closed yet (including ones draining after a GOAWAY). */
  readonly openSessions: number;
  /** Streams in flight. */
  readonly activeStreams: number;
  /** Requests waiting for a stream slot or a connection. */
  readonly queuedRequests: number;
}

/** Thrown when the request was certainly not processed by the peer, so that it may go out again. */
class NotSent extends Error {
  constructor(
    cause: unknown,
    /** The session cannot take new streams (as opposed to one stream refused). */
    readonly sessionUnusable: boolean,
  ) {
    super(`http2: request not sent: ${describe(cause)}`, { cause });
    this.name = "NotSent";
  }
}

interface Waiter {
  readonly resolve: (entry: SessionEntry) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

interface SessionEntry {
  readonly session: ClientHttp2Session;
  readonly pool: OriginPool;
  active: number;
  /** Connected and the peer's SETTINGS received, so its stream limit is known. */
  connected: boolean;
  /** No new streams: the peer sent GOAWAY, the session idled out, or it failed. */
  draining: boolean;
  lastActive: number;
  error?: unknown;
  /** The TLS (or TCP) socket under the session, to end a session whose peer never closes its side. */
  socket?: Socket;
  keepalive?: ReturnType<typeof setInterval>;
  pingPending: boolean;
  readonly closed: Promise<void>;
}

interface OriginPool {
  readonly origin: string;
  current?: SessionEntry;
  readonly queue: Waiter[];
}

const DEFAULTS = {
  maxConcurrentStreams: 100,
  requestTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  pingIntervalMs: 60_000,
  pingTimeoutMs: 10_000,
  idleTimeoutMs: 600_000,
  closeTimeoutMs: 5_000,
  maxResponseBytes: 1024 * 1024,
};

/** Request headers HTTP/2 forbids (RFC 9113 8.2.2) or sets itself. */
const DROPPED_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "host",
]);

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message || error.name;
  }
  return String(error);
}

function timeoutError(ms: number): Error {
  const error = new Error(`http2: no response within ${ms} ms`);
  error.name = "TimeoutError";
  return error;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("the request was aborted", "AbortError");
}

function responseHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith(":") || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, String(one));
  }
  return headers;
}

/**
 * The providers' {@link HttpTransport} over `node:http2`, for Node and Lambda (APNs speaks HTTP/2 only
 * and Node's `fetch` cannot): one multiplexed session per origin, reused by every request; at most
 * `min(local cap, peer's maxConcurrentStreams)` streams at once, the rest queued; a new session after
 * GOAWAY or an error (a request in flight on a dead session fails as a network error, which providers
 * answer with `retry-later`; one refused before the peer saw it goes out once more on a new session);
 * PINGs while idle and closing after a long idle; a per-request timeout, or the request's AbortSignal,
 * whose timer is always cleared. {@link close} ends every session so a process can exit.
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 * @see https://nodejs.org/docs/latest-v20.x/api/http2.html#client-side-example
 */
export class Http2Transport {
  /** The transport to hand to the providers (`buildGateway(..., { transport: http2.fetch })`). */
  readonly fetch: HttpTransport = (url, init) => this.request(url, init);

  private readonly pools = new Map<string, OriginPool>();
  private readonly entries = new Set<SessionEntry>();
  private readonly settings: typeof DEFAULTS;
  private readonly ca: (string | Buffer)[] | undefined;
  private sessionsOpened = 0;
  private closing = false;

  constructor(options: Http2TransportOptions = {}) {
    const settings = { ...DEFAULTS };
    for (const name of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
      const value = options[name];
      if (value !== undefined) settings[name] = value;
    }
    this.settings = settings;
    const extra = options.ca === undefined ? [] : Array.isArray(options.ca) ? [...options.ca] : [options.ca];
    this.ca = extra.length > 0 ? [...rootCertificates, ...extra] : undefined;
  }

  /** Sends one request and reads its whole body (see {@link HttpTransport}). */
  async request(url: string, init: HttpTransportRequest): Promise<HttpTransportResponse> {
    if (this.closing) throw new Error("http2: the transport is closed");
    const target = new URL(url);
    if (target.protocol !== "https:" && target.protocol !== "http:")
      throw new Error(`http2: unsupported URL scheme ${target.protocol}`);
    const guard = new AbortController();
    const onCallerAbort = () => guard.abort(abortReason(init.signal ?? guard.signal));
    if (init.signal?.aborted) throw abortReason(init.signal);
    init.signal?.addEventListener("abort", onCallerAbort, { once: true });
    const timer = setTimeout(
      () => guard.abort(timeoutError(this.settings.requestTimeoutMs)),
      this.settings.requestTimeoutMs,
    );
    try {
      const pool = this.poolOf(target.origin);
      for (let attempt = 0; ; attempt += 1) {
        const entry = await this.acquire(pool, guard.signal);
        try {
          return await this.exchange(entry, target, init, guard.signal);
        } catch (error) {
          if (error instanceof NotSent) {
            if (error.sessionUnusable) this.retire(entry);
            if (attempt === 0 && !guard.signal.aborted) continue;
            throw new Error(error.message);
          }
          throw error;
        } finally {
          this.release(entry);
        }
      }
    } finally {
      clearTimeout(timer);
      init.signal?.removeEventListener("abort", onCallerAbort);
    }
  }

  /** Counters for tests and health reporting. */
  stats(): Http2TransportStats {
    let activeStreams = 0;
    for (const entry of this.entries) activeStreams += entry.active;
    let queuedRequests = 0;
    for (const pool of this.pools.values()) queuedRequests += pool.queue.length;
    return { sessionsOpened: this.sessionsOpened, openSessions: this.entries.size, activeStreams, queuedRequests };
  }

  /**
   * Closes every session: queued requests fail at once, streams in flight get `closeTimeoutMs` to
   * finish, then their sessions are destroyed. Later requests fail. Resolves when all are closed.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const pool of this.pools.values()) {
      pool.current = undefined;
      for (const waiter of pool.queue.splice(0)) this.settleWaiter(waiter, new Error("http2: the transport is closed"));
    }
    const closing = [...this.entries].map(async (entry) => {
      const force = setTimeout(() => this.destroy(entry), this.settings.closeTimeoutMs);
      force.unref();
      if (entry.active > 0 && !entry.session.closed) entry.session.close();
      this.retire(entry);
      await entry.closed;
      clearTimeout(force);
    });
    await Promise.all(closing);
  }

  private poolOf(origin: string): OriginPool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = { origin, queue: [] };
      this.pools.set(origin, pool);
    }
    return pool;
  }

  private acquire(pool: OriginPool, signal: AbortSignal): Promise<SessionEntry> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<SessionEntry>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = pool.queue.indexOf(waiter);
          if (index >= 0) pool.queue.splice(index, 1);
          reject(abortReason(signal));
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      pool.queue.push(waiter);
      this.pump(pool);
    });
  }

  private settleWaiter(waiter: Waiter, error: unknown): void {
    waiter.signal.removeEventListener("abort", waiter.onAbort);
    waiter.reject(error);
  }

  private limitOf(entry: SessionEntry): number {
    const remote = entry.session.remoteSettings.maxConcurrentStreams ?? this.settings.maxConcurrentStreams;
    return Math.max(1, Math.min(this.settings.maxConcurrentStreams, remote));
  }

  /** Hands free stream slots to queued requests, opening a session when there is none to use. */
  private pump(pool: OriginPool): void {
    while (pool.queue.length > 0 && !this.closing) {
      let entry = pool.current;
      if (!entry || entry.draining || entry.session.closed || entry.session.destroyed) {
        entry = this.open(pool);
        pool.current = entry;
      }
      if (!entry.connected || entry.active >= this.limitOf(entry)) return;
      const waiter = pool.queue.shift();
      if (!waiter) return;
      waiter.signal.removeEventListener("abort", waiter.onAbort);
      entry.active += 1;
      entry.lastActive = Date.now();
      entry.session.ref();
      waiter.resolve(entry);
    }
  }

  private release(entry: SessionEntry): void {
    entry.active -= 1;
    entry.lastActive = Date.now();
    if (entry.active === 0 && !entry.session.destroyed) entry.session.unref();
    if (entry.draining && entry.active === 0) this.destroy(entry);
    this.pump(entry.pool);
  }

  /** No new streams on this session; it ends as soon as its streams have. */
  private retire(entry: SessionEntry): void {
    entry.draining = true;
    if (entry.pool.current === entry) entry.pool.current = undefined;
    if (entry.active === 0) this.destroy(entry);
  }

  /**
   * Ends a session now. After a GOAWAY Node closes the session gracefully and then waits for the peer
   * to close the connection, which a peer that only sent GOAWAY never does: the socket is destroyed.
   */
  private destroy(entry: SessionEntry): void {
    if (!entry.session.destroyed) entry.session.destroy();
    else if (entry.socket && !entry.socket.destroyed) entry.socket.destroy();
  }

  private open(pool: OriginPool): SessionEntry {
    const session = http2.connect(pool.origin, this.ca ? { ca: this.ca } : {});
    this.sessionsOpened += 1;
    let markClosed: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => {
      markClosed = resolve;
    });
    const entry: SessionEntry = {
      session,
      pool,
      active: 0,
      connected: false,
      draining: false,
      lastActive: Date.now(),
      pingPending: false,
      closed,
    };
    this.entries.add(entry);
    const connectTimer = setTimeout(() => {
      session.destroy(
        new Error(`http2: could not connect to ${pool.origin} within ${this.settings.connectTimeoutMs} ms`),
      );
    }, this.settings.connectTimeoutMs);
    connectTimer.unref();
    session.once("connect", (_session: ClientHttp2Session, socket: Socket) => {
      entry.socket = socket;
    });
    session.once("remoteSettings", () => {
      clearTimeout(connectTimer);
      entry.connected = true;
      entry.keepalive = setInterval(() => this.keepalive(entry), this.settings.pingIntervalMs);
      entry.keepalive.unref();
    });
    session.on("remoteSettings", () => this.pump(pool));
    session.on("goaway", () => {
      this.retire(entry);
      this.pump(pool);
    });
    session.on("error", (error) => {
      entry.error = error;
      this.retire(entry);
    });
    session.on("frameError", () => undefined);
    session.on("close", () => {
      clearTimeout(connectTimer);
      if (entry.keepalive !== undefined) clearInterval(entry.keepalive);
      entry.draining = true;
      if (pool.current === entry) pool.current = undefined;
      this.entries.delete(entry);
      // A session that never connected fails the requests waiting for it (unless a newer one serves them).
      if (!entry.connected && pool.current === undefined) {
        const reason = new Error(
          `http2: connection to ${pool.origin} failed: ${entry.error === undefined ? "closed" : describe(entry.error)}`,
        );
        for (const waiter of pool.queue.splice(0)) this.settleWaiter(waiter, reason);
      } else {
        this.pump(pool);
      }
      markClosed();
    });
    return entry;
  }

  private keepalive(entry: SessionEntry): void {
    const { session } = entry;
    if (entry.active > 0 || entry.pingPending || session.closed || session.destroyed) return;
    const idle = Date.now() - entry.lastActive;
    if (idle >= this.settings.idleTimeoutMs) {
      this.retire(entry);
      return;
    }
    if (idle < this.settings.pingIntervalMs) return;
    entry.pingPending = true;
    const deadline = setTimeout(() => {
      entry.error = new Error("http2: PING not acknowledged");
      this.retire(entry);
      this.destroy(entry);
    }, this.settings.pingTimeoutMs);
    deadline.unref();
    const sent = session.ping((error) => {
      clearTimeout(deadline);
      entry.pingPending = false;
      if (error) {
        entry.error = error;
        this.retire(entry);
        this.destroy(entry);
      }
    });
    if (!sent) {
      clearTimeout(deadline);
      entry.pingPending = false;
    }
  }

  private exchange(
    entry: SessionEntry,
    target: URL,
    init: HttpTransportRequest,
    signal: AbortSignal,
  ): Promise<HttpTransportResponse> {
    const body = Buffer.from(init.body, "utf8");
    const headers: Record<string, string> = {
      ":method": init.method.toUpperCase(),
      ":path": `${target.pathname}${target.search}`,
    };
    for (const [name, value] of Object.entries(init.headers)) {
      const lower = name.toLowerCase();
      if (!DROPPED_HEADERS.has(lower)) headers[lower] = value;
    }
    if (body.length > 0 || init.method.toUpperCase() === "POST") headers["content-length"] = String(body.length);
    return new Promise<HttpTransportResponse>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortReason(signal));
        return;
      }
      let stream: ClientHttp2Stream;
      try {
        stream = entry.session.request(headers, { endStream: false });
      } catch (error) {
        reject(new NotSent(error, true));
        return;
      }
      let settled = false;
      let status: number | undefined;
      let answered: Headers | undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        settle();
      };
      const fail = (error: unknown) => finish(() => reject(error));
      const onAbort = () => {
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
        fail(abortReason(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      stream.on("response", (raw) => {
        status = Number(raw[":status"]);
        answered = responseHeaders(raw);
      });
      stream.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.settings.maxResponseBytes) {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          fail(new Error(`http2: response body over ${this.settings.maxResponseBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      stream.on("end", () => {
        if (status === undefined || answered === undefined) {
          fail(new Error("http2: stream ended without a response"));
          return;
        }
        const text = Buffer.concat(chunks).toString("utf8");
        const response: HttpTransportResponse = { status, headers: answered, text: async () => text };
        finish(() => resolve(response));
      });
      const refused = () => status === undefined && stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
      stream.on("error", (error) =>
        fail(refused() ? new NotSent(error, false) : new Error(`http2: ${describe(error)}`)),
      );
      stream.on("close", () => {
        if (settled) return;
        if (refused()) {
          fail(new NotSent(new Error("stream refused"), false));
          return;
        }
        const cause = entry.error === undefined ? "" : ` (${describe(entry.error)})`;
        fail(new Error(`http2: stream closed with code ${stream.rstCode} before the response ended${cause}`));
      });
      stream.end(body);
    });
  }
}
