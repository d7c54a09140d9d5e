import http2, {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import type { Socket } from "node:net";
import { rootCertificates } from "node:tls";
import type { HttpTransport, HttpTransportRequest, HttpTransportResponse } from "../ports/transport";

/** Tuning of {@link Http2Transport}; every field has a default fit for APNs and FCM. */
export interface Http2TransportOptions {
  /** Local cap on concurrent streams per session; the peer's `maxConcurrentStreams` lowers it. Default 100. */
  readonly maxConcurrentStreams?: number;
  /**
   * A request without an answer after this long fails (its stream is cancelled); a request's own
   * `timeoutMs` may only shorten it. Default 30 000 ms.
   */
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
  /** Requests whose deadline is still pending (not settled yet). */
  readonly pendingDeadlines: number;
  /** Times the one deadline timer was (re-)armed since the transport was made: far fewer than requests. */
  readonly deadlineTimersArmed: number;
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

interface SessionEntry {
  readonly session: ClientHttp2Session;
  readonly pool: OriginPool;
  active: number;
  /** Connected and the peer's SETTINGS received, so its stream limit is known. */
  connected: boolean;
  /** min(local cap, the peer's maxConcurrentStreams), read at each SETTINGS (the getter asks the native side). */
  limit: number;
  /** No new streams: the peer sent GOAWAY, the session idled out, or it failed. */
  draining: boolean;
  /** When the last stream ended (only read while no stream is active). */
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
  /** Requests waiting for a stream slot or a connection, oldest first. */
  readonly queue: Exchange[];
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

/** Header names seen already lower-case and allowed: copied as they are, without lower-casing them again. */
const PLAIN_HEADERS = new Set<string>();

/** Node copies these options per request; one shared object is enough. */
const STREAM_OPTIONS = Object.freeze({ endStream: false });

/**
 * A path that `new URL` would hand back unchanged: printable ASCII without `%` (percent-encoding is
 * normalised), `.` (dot segments are resolved), `#`, `\`, spaces, quotes or angle brackets. Anything else
 * goes through `new URL`.
 */
const PLAIN_PATH = /^\/[A-Za-z0-9\-_~!$&'()*+,;=:@/?]*$/;

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

/**
 * A response as the providers read it. It is its own `headers` (`get`: case-insensitive, several values
 * joined with ", " as `Headers` does), read from the object Node already made: one object per response,
 * nothing copied.
 */
class Response implements HttpTransportResponse {
  constructor(
    readonly status: number,
    private readonly raw: IncomingHttpHeaders,
    private readonly body: string,
  ) {}

  get headers(): this {
    return this;
  }

  get(name: string): string | null {
    const lower = name.toLowerCase();
    if (lower.charCodeAt(0) === 0x3a /* : */) return null;
    const value = this.raw[lower];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(", ") : String(value);
  }

  text(): Promise<string> {
    return Promise.resolve(this.body);
  }
}

/**
 * One request from `request()` to its settlement: queued, then on a stream; at most one retry when the
 * peer certainly did not process it. The stream's listeners are the module's functions below, which find
 * the exchange through the stream (no closures per request), and its deadline sits in the transport's
 * {@link DeadlineHeap}.
 */
class Exchange {
  entry: SessionEntry | undefined = undefined;
  stream: ClientHttp2Stream | undefined = undefined;
  status = 0;
  raw: IncomingHttpHeaders | undefined = undefined;
  first: Buffer | undefined = undefined;
  more: Buffer[] | undefined = undefined;
  size = 0;
  attempt = 0;
  settled = false;
  /** Position in the deadline heap; -1 once out of it. */
  heapIndex = -1;
  onAbort: (() => void) | undefined = undefined;

  constructor(
    readonly transport: Http2Transport,
    readonly pool: OriginPool,
    readonly path: string,
    readonly init: HttpTransportRequest,
    readonly deadline: number,
    readonly timeoutMs: number,
    readonly resolve: (response: HttpTransportResponse) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/** The exchange a stream serves (set once, when the stream is made). */
const EXCHANGE = Symbol("exchange");
type ExchangeStream = ClientHttp2Stream & { [EXCHANGE]?: Exchange };

function onStreamResponse(this: ExchangeStream, headers: IncomingHttpHeaders): void {
  const exchange = this[EXCHANGE];
  if (exchange === undefined || exchange.stream !== this) return;
  exchange.status = Number(headers[":status"]);
  exchange.raw = headers;
}

function onStreamData(this: ExchangeStream, chunk: Buffer): void {
  const exchange = this[EXCHANGE];
  if (exchange === undefined || exchange.stream !== this || exchange.settled) return;
  exchange.size += chunk.length;
  const max = exchange.transport.maxResponseBytes;
  if (exchange.size > max) {
    this.close(http2.constants.NGHTTP2_CANCEL);
    exchange.transport.settle(exchange, new Error(`http2: response body over ${max} bytes`));
    return;
  }
  if (exchange.first === undefined) exchange.first = chunk;
  else if (exchange.more === undefined) exchange.more = [chunk];
  else exchange.more.push(chunk);
}

function onStreamEnd(this: ExchangeStream): void {
  const exchange = this[EXCHANGE];
  if (exchange === undefined || exchange.stream !== this || exchange.settled) return;
  if (exchange.raw === undefined) {
    exchange.transport.settle(exchange, new Error("http2: stream ended without a response"));
    return;
  }
  const { first, more } = exchange;
  const text =
    first === undefined
      ? ""
      : more === undefined
        ? first.toString("utf8")
        : Buffer.concat([first, ...more]).toString("utf8");
  exchange.transport.settle(exchange, undefined, new Response(exchange.status, exchange.raw, text));
}

function refusedBeforeAnswer(exchange: Exchange, stream: ClientHttp2Stream): boolean {
  return exchange.raw === undefined && stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
}

function onStreamError(this: ExchangeStream, error: Error): void {
  const exchange = this[EXCHANGE];
  if (exchange === undefined || exchange.stream !== this || exchange.settled) return;
  const transport = exchange.transport;
  if (refusedBeforeAnswer(exchange, this)) transport.notSent(exchange, new NotSent(error, false));
  else transport.settle(exchange, new Error(`http2: ${describe(error)}`));
}

function onStreamClose(this: ExchangeStream): void {
  const exchange = this[EXCHANGE];
  if (exchange === undefined || exchange.stream !== this || exchange.settled) return;
  const transport = exchange.transport;
  if (refusedBeforeAnswer(exchange, this)) {
    transport.notSent(exchange, new NotSent(new Error("stream refused"), false));
    return;
  }
  const entry = exchange.entry;
  const cause = entry?.error === undefined ? "" : ` (${describe(entry.error)})`;
  transport.settle(
    exchange,
    new Error(`http2: stream closed with code ${this.rstCode} before the response ended${cause}`),
  );
}

/** Deadlines are kept on the monotonic clock: a wall-clock step neither fires them early nor holds them back. */
function monotonicNow(): number {
  return performance.now();
}

/**
 * The deadlines of the requests not settled yet, earliest first (a binary heap), behind one timer armed
 * for the earliest: O(log n) per request instead of an AbortController and a timer each. Every request
 * keeps its own deadline; the timer fires at the earliest and re-arms for the next.
 */
class DeadlineHeap {
  private readonly items: Exchange[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** The deadline the timer is armed for. */
  private armedFor = Number.POSITIVE_INFINITY;

  constructor(private readonly expire: (exchange: Exchange) => void) {}

  get size(): number {
    return this.items.length;
  }

  /** Timers armed so far (tests: a regression to one timer per request shows here). */
  timersArmed = 0;

  add(exchange: Exchange): void {
    const items = this.items;
    exchange.heapIndex = items.length;
    items.push(exchange);
    this.up(exchange.heapIndex);
    if (exchange.deadline < this.armedFor) this.arm(exchange.deadline);
  }

  remove(exchange: Exchange): void {
    const index = exchange.heapIndex;
    if (index < 0) return;
    exchange.heapIndex = -1;
    const items = this.items;
    const last = items.pop() as Exchange;
    if (index === items.length) return;
    items[index] = last;
    last.heapIndex = index;
    this.down(index);
    this.up(last.heapIndex);
  }

  private arm(deadline: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedFor = deadline;
    this.timersArmed += 1;
    this.timer = setTimeout(() => this.fire(), Math.max(0, deadline - monotonicNow()));
    // Streams in flight keep their session referenced; the deadline alone keeps no process alive.
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = monotonicNow();
    for (let head = this.items[0]; head !== undefined && head.deadline <= now; head = this.items[0]) {
      this.remove(head);
      this.expire(head);
    }
    const next = this.items[0];
    if (next !== undefined) this.arm(next.deadline);
  }

  private up(index: number): void {
    const items = this.items;
    const item = items[index] as Exchange;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex] as Exchange;
      if (parent.deadline <= item.deadline) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  private down(index: number): void {
    const items = this.items;
    const length = items.length;
    const item = items[index] as Exchange;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      const right = child + 1;
      if (right < length && (items[right] as Exchange).deadline < (items[child] as Exchange).deadline) child = right;
      const smaller = items[child] as Exchange;
      if (smaller.deadline >= item.deadline) break;
      items[index] = smaller;
      smaller.heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}

/**
 * The providers' {@link HttpTransport} over `node:http2`, for Node and Lambda (APNs speaks HTTP/2 only
 * and Node's `fetch` cannot): one multiplexed session per origin, reused by every request; at most
 * `min(local cap, peer's maxConcurrentStreams)` streams at once, the rest queued; a new session after
 * GOAWAY or an error (a request in flight on a dead session fails as a network error, which providers
 * answer with `retry-later`; one refused before the peer saw it goes out once more on a new session);
 * PINGs while idle and closing after a long idle; every request has a deadline (`requestTimeoutMs`, or
 * the request's shorter `timeoutMs`) and honours its AbortSignal. {@link close} ends every session so a
 * process can exit.
 *
 * The cost per request is kept to what `node:http2` itself needs (bench/RESULTS.md): the origin of a URL
 * is parsed once and cached, a request is one object and one promise (no AbortController, no timer, no
 * closure per listener: the deadlines share one timer), the body goes to the stream as the string it is,
 * and the response headers are read from Node's own object.
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 * @see https://nodejs.org/docs/latest-v20.x/api/http2.html#client-side-example
 */
export class Http2Transport {
  /**
   * The transport to hand to the providers (`buildGateway(..., { transport: http2.fetch })`). It enforces
   * `timeoutMs` itself ({@link HttpTransport.enforcesTimeout}).
   */
  readonly fetch: HttpTransport = Object.assign((url: string, init: HttpTransportRequest) => this.request(url, init), {
    enforcesTimeout: true as const,
  });

  /** @internal read by the stream listeners. */
  readonly maxResponseBytes: number;
  private readonly pools = new Map<string, OriginPool>();
  /** The pool of each URL origin as written by callers (`https://host:port`), parsed once. */
  private readonly origins = new Map<string, OriginPool>();
  private readonly entries = new Set<SessionEntry>();
  private readonly settings: typeof DEFAULTS;
  private readonly ca: (string | Buffer)[] | undefined;
  private readonly deadlines = new DeadlineHeap((exchange) => this.expire(exchange));
  private sessionsOpened = 0;
  private closing = false;

  constructor(options: Http2TransportOptions = {}) {
    const settings = { ...DEFAULTS };
    for (const name of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
      const value = options[name];
      if (value !== undefined) settings[name] = value;
    }
    this.settings = settings;
    this.maxResponseBytes = settings.maxResponseBytes;
    const extra = options.ca === undefined ? [] : Array.isArray(options.ca) ? [...options.ca] : [options.ca];
    this.ca = extra.length > 0 ? [...rootCertificates, ...extra] : undefined;
  }

  /** Sends one request and reads its whole body (see {@link HttpTransport}). */
  request(url: string, init: HttpTransportRequest): Promise<HttpTransportResponse> {
    if (this.closing) return Promise.reject(new Error("http2: the transport is closed"));
    let path: string;
    try {
      path = this.target(url);
    } catch (error) {
      return Promise.reject(error);
    }
    const pool = this.targetPool as OriginPool;
    const signal = init.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const timeoutMs =
      init.timeoutMs !== undefined && init.timeoutMs < this.settings.requestTimeoutMs
        ? Math.max(0, init.timeoutMs)
        : this.settings.requestTimeoutMs;
    return new Promise<HttpTransportResponse>((resolve, reject) => {
      const exchange = new Exchange(this, pool, path, init, monotonicNow() + timeoutMs, timeoutMs, resolve, reject);
      this.deadlines.add(exchange);
      if (signal !== undefined) {
        exchange.onAbort = () => this.cancel(exchange, abortReason(signal));
        signal.addEventListener("abort", exchange.onAbort, { once: true });
      }
      this.dispatch(exchange);
    });
  }

  /** Counters for tests and health reporting. */
  stats(): Http2TransportStats {
    let activeStreams = 0;
    for (const entry of this.entries) activeStreams += entry.active;
    let queuedRequests = 0;
    for (const pool of this.pools.values()) queuedRequests += pool.queue.length;
    return {
      sessionsOpened: this.sessionsOpened,
      openSessions: this.entries.size,
      activeStreams,
      queuedRequests,
      pendingDeadlines: this.deadlines.size,
      deadlineTimersArmed: this.deadlines.timersArmed,
    };
  }

  /**
   * Closes every session: queued requests fail at once, streams in flight get `closeTimeoutMs` to
   * finish, then their sessions are destroyed. Later requests fail. Resolves when all are closed.
   */
  async close(): Promise<void> {
    this.closing = true;
    const closed = new Error("http2: the transport is closed");
    for (const pool of this.pools.values()) {
      pool.current = undefined;
      for (const exchange of pool.queue.splice(0)) this.settle(exchange, closed);
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

  /**
   * Settles an exchange once: off the deadline heap, its abort listener removed, its stream slot given
   * back; then resolves or rejects. @internal (the stream listeners call it).
   */
  settle(exchange: Exchange, error: unknown, response?: HttpTransportResponse): void {
    if (exchange.settled) return;
    exchange.settled = true;
    this.deadlines.remove(exchange);
    if (exchange.onAbort !== undefined) exchange.init.signal?.removeEventListener("abort", exchange.onAbort);
    const entry = exchange.entry;
    if (entry !== undefined) {
      exchange.entry = undefined;
      this.release(entry);
    } else {
      const queue = exchange.pool.queue;
      const index = queue.indexOf(exchange);
      if (index >= 0) queue.splice(index, 1);
    }
    if (response !== undefined) exchange.resolve(response);
    else exchange.reject(error);
  }

  /** A request the peer certainly did not process: once more on a (new) session, or fail. @internal */
  notSent(exchange: Exchange, error: NotSent): void {
    if (exchange.settled) return;
    const entry = exchange.entry;
    if (error.sessionUnusable && entry !== undefined) this.retire(entry);
    if (exchange.attempt > 0 || this.closing) {
      this.settle(exchange, new Error(error.message));
      return;
    }
    exchange.attempt += 1;
    exchange.stream = undefined;
    exchange.raw = undefined;
    exchange.first = undefined;
    exchange.more = undefined;
    exchange.size = 0;
    if (entry !== undefined) {
      exchange.entry = undefined;
      this.release(entry);
    }
    this.dispatch(exchange);
  }

  /** The pool of the URL {@link target} parsed last. */
  private targetPool: OriginPool | undefined = undefined;

  /**
   * Parses a URL into its `:path`, leaving its pool in {@link targetPool} (no object per request); the
   * origin is parsed by `new URL` once per spelling.
   */
  private target(url: string): string {
    const scheme = url.indexOf("://");
    let end = scheme < 0 ? -1 : scheme + 3;
    if (end >= 0)
      for (; end < url.length; end++) {
        const c = url.charCodeAt(end);
        if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */) break;
      }
    const written = end < 0 ? url : url.slice(0, end);
    let pool = this.origins.get(written);
    if (pool === undefined) {
      const parsed = new URL(written);
      if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
        throw new Error(`http2: unsupported URL scheme ${parsed.protocol}`);
      pool = this.poolOf(parsed.origin);
      if (this.origins.size < 64) this.origins.set(written, pool);
    }
    this.targetPool = pool;
    const rest = end < 0 ? "" : url.slice(end);
    if (PLAIN_PATH.test(rest)) return rest;
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  }

  private poolOf(origin: string): OriginPool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = { origin, queue: [] };
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Starts an exchange at once on a session with a free slot, or queues it. */
  private dispatch(exchange: Exchange): void {
    const pool = exchange.pool;
    const entry = pool.current;
    if (
      pool.queue.length === 0 &&
      entry !== undefined &&
      entry.connected &&
      !entry.draining &&
      entry.active < entry.limit &&
      !entry.session.closed &&
      !entry.session.destroyed
    ) {
      this.start(exchange, entry);
      return;
    }
    pool.queue.push(exchange);
    this.pump(pool);
  }

  /** The deadline passed: the stream (if any) is cancelled and the request fails. */
  private expire(exchange: Exchange): void {
    this.cancel(exchange, timeoutError(exchange.timeoutMs));
  }

  private cancel(exchange: Exchange, reason: unknown): void {
    if (exchange.settled) return;
    const stream = exchange.stream;
    if (stream !== undefined && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    this.settle(exchange, reason);
  }

  /** Hands free stream slots to queued requests, opening a session when there is none to use. */
  private pump(pool: OriginPool): void {
    const queue = pool.queue;
    while (queue.length > 0 && !this.closing) {
      let entry = pool.current;
      if (!entry || entry.draining || entry.session.closed || entry.session.destroyed) {
        entry = this.open(pool);
        pool.current = entry;
      }
      if (!entry.connected || entry.active >= entry.limit) return;
      const exchange = queue.shift();
      if (!exchange) return;
      this.start(exchange, entry);
    }
  }

  /** Opens the exchange's stream on `entry`, which has a free slot. */
  private start(exchange: Exchange, entry: SessionEntry): void {
    if (entry.active === 0) entry.session.ref();
    entry.active += 1;
    exchange.entry = entry;
    const init = exchange.init;
    const method = init.method.toUpperCase();
    const body = init.body;
    const headers: OutgoingHttpHeaders = { ":method": method, ":path": exchange.path };
    const given = init.headers;
    for (const name in given) {
      if (PLAIN_HEADERS.has(name)) {
        headers[name] = given[name];
        continue;
      }
      const lower = name.toLowerCase();
      if (DROPPED_HEADERS.has(lower)) continue;
      headers[lower] = given[name];
      if (lower === name && PLAIN_HEADERS.size < 256) PLAIN_HEADERS.add(name);
    }
    const length = body.length === 0 ? 0 : Buffer.byteLength(body, "utf8");
    if (length > 0 || method === "POST") headers["content-length"] = String(length);
    let stream: ExchangeStream;
    try {
      stream = entry.session.request(headers, STREAM_OPTIONS);
    } catch (error) {
      this.notSent(exchange, new NotSent(error, true));
      return;
    }
    stream[EXCHANGE] = exchange;
    exchange.stream = stream;
    stream.on("response", onStreamResponse);
    stream.on("data", onStreamData);
    stream.on("end", onStreamEnd);
    stream.on("error", onStreamError);
    stream.on("close", onStreamClose);
    // A string goes to the socket as it is (Http2Stream does not decode strings into Buffers).
    stream.end(body, "utf8");
  }

  private release(entry: SessionEntry): void {
    entry.active -= 1;
    if (entry.active === 0) {
      entry.lastActive = Date.now();
      if (!entry.session.destroyed) entry.session.unref();
      if (entry.draining) this.destroy(entry);
    }
    if (entry.pool.queue.length > 0) this.pump(entry.pool);
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
      limit: 1,
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
    session.on("remoteSettings", (remote) => {
      const peer = remote.maxConcurrentStreams ?? this.settings.maxConcurrentStreams;
      entry.limit = Math.max(1, Math.min(this.settings.maxConcurrentStreams, peer));
      this.pump(pool);
    });
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
        for (const exchange of pool.queue.splice(0)) this.settle(exchange, reason);
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
}
