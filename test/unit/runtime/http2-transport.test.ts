import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import http2, { type ClientHttp2Session } from "node:http2";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Http2Transport, type Http2TransportOptions } from "../../../src/runtime/http2-transport";
import { createLocalCertificate, type LocalCertificate } from "../../fakes/certificate";
import { type FakeHttpRequest, type FakeHttpResponse, FakeTlsServer } from "../../fakes/tls-server";

// No test waits a fixed time for something to happen: each awaits the event that proves it (a request
// reaching the server, a session's `goaway` or `close`, a PING acknowledged), and the transport's own
// timers (request timeout, keepalive, close deadline) run on vitest's fake clock where a test is about
// them. Only the sockets are real.

let dir: string;
let certificate: LocalCertificate;
const servers: FakeTlsServer[] = [];
const transports: Http2Transport[] = [];

/** What the test server saw, how many requests were in flight at most, and ways to wait for it. */
interface Observed {
  requests: FakeHttpRequest[];
  inFlight: number;
  maxInFlight: number;
  /** Resolves once `count` requests for `pathname` have reached the handler. */
  arrived(pathname: string, count?: number): Promise<void>;
  /** Answers every `/held` request waiting now. */
  release(): void;
}

/**
 * The fake clock for the transport's timers and clocks (its deadlines are on `performance.now()`);
 * setImmediate, nextTick and the sockets stay real.
 */
function useFakeClock(): void {
  vi.useFakeTimers({
    toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date", "performance"],
  });
}

/** Lets every callback and promise already due run, without letting time pass. */
function settle(): Promise<void> {
  return new Promise((done) => setImmediate(done));
}

/** Records every session the transports open (through the real `http2.connect`), to await their events. */
function watchSessions(): ClientHttp2Session[] {
  const opened: ClientHttp2Session[] = [];
  const connect = http2.connect;
  vi.spyOn(http2, "connect").mockImplementation(((...args: Parameters<typeof http2.connect>) => {
    const session = connect(...args);
    opened.push(session);
    return session;
  }) as typeof http2.connect);
  return opened;
}

/** The `index`th session the transports opened, failing clearly when there is no such session. */
function sessionAt(sessions: ClientHttp2Session[], index: number): ClientHttp2Session {
  const session = sessions[index];
  if (!session) throw new Error(`session ${index} was not opened (${sessions.length} were)`);
  return session;
}

type PingCallback = (error: Error | null, duration: number, payload: Buffer) => void;

/** Resolves when the peer acknowledges the next PING the transport sends on `session`. */
function nextPingAcknowledged(session: ClientHttp2Session): Promise<void> {
  const ping = session.ping.bind(session) as (callback: PingCallback) => boolean;
  return new Promise((resolve) => {
    vi.spyOn(session, "ping").mockImplementationOnce(((callback: PingCallback) =>
      ping((error, duration, payload) => {
        callback(error, duration, payload);
        resolve();
      })) as typeof session.ping);
  });
}

/**
 * `/echo` answers what it got; `/held` answers when the test calls `release()`; `/together?n=N&total=T`
 * answers in groups, once N are in flight together (or the last of T arrived), so that the most in flight
 * at once is what the client allows and nothing depends on timing; `/hang` never answers; `/status/N`
 * answers N.
 */
async function startServer(maxConcurrentStreams = 1000): Promise<{ server: FakeTlsServer; observed: Observed }> {
  const waiters: { pathname: string; count: number; resolve: () => void }[] = [];
  const arrivals = new Map<string, number>();
  const held: (() => void)[] = [];
  let together: (() => void)[] = [];
  const observed: Observed = {
    requests: [],
    inFlight: 0,
    maxInFlight: 0,
    arrived: (pathname, count = 1) =>
      (arrivals.get(pathname) ?? 0) >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ pathname, count, resolve })),
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
  };
  const server = await FakeTlsServer.listen({
    cert: certificate.cert,
    key: certificate.key,
    maxConcurrentStreams,
    handler: async (request): Promise<FakeHttpResponse> => {
      observed.requests.push(request);
      observed.inFlight += 1;
      observed.maxInFlight = Math.max(observed.maxInFlight, observed.inFlight);
      try {
        const url = new URL(request.path, "https://localhost");
        const seen = (arrivals.get(url.pathname) ?? 0) + 1;
        arrivals.set(url.pathname, seen);
        for (const waiter of waiters.filter((one) => one.pathname === url.pathname && one.count <= seen)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
        if (url.pathname === "/hang") await new Promise(() => undefined);
        if (url.pathname === "/held") await new Promise<void>((answer) => held.push(answer));
        if (url.pathname === "/together") {
          const group = Number(url.searchParams.get("n"));
          const total = Number(url.searchParams.get("total"));
          await new Promise<void>((answer) => {
            together.push(answer);
            if (together.length < group && seen < total) return;
            const answers = together;
            together = [];
            for (const one of answers) one();
          });
        }
        const status = /^\/status\/(\d+)$/.exec(url.pathname)?.[1];
        if (status !== undefined)
          return { status: Number(status), headers: { "retry-after": "7" }, body: '{"reason":"Shutdown"}' };
        return {
          status: 200,
          headers: { "x-seen-path": request.path },
          body: JSON.stringify({ method: request.method, headers: request.headers, body: request.body }),
        };
      } finally {
        observed.inFlight -= 1;
      }
    },
  });
  servers.push(server);
  return { server, observed };
}

function transport(options: Http2TransportOptions = {}): Http2Transport {
  const made = new Http2Transport({ ca: certificate.cert, ...options });
  transports.push(made);
  return made;
}

function post(client: Http2Transport, url: string, init: { body?: string; signal?: AbortSignal } = {}) {
  return client.fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: init.body ?? "{}",
    ...(init.signal ? { signal: init.signal } : {}),
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "http2-transport-"));
  certificate = await createLocalCertificate(dir);
});

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await Promise.all(transports.splice(0).map((made) => made.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("Http2Transport", () => {
  it("sends the method, path, headers and body, and reads status, headers and body", async () => {
    const { server } = await startServer();
    const client = transport();
    const response = await client.fetch(`${server.url}/echo?x=1`, {
      method: "POST",
      headers: { Authorization: "bearer abc", "apns-topic": "im.example", Connection: "keep-alive" },
      body: '{"aps":{}}',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-seen-path")).toBe("/echo?x=1");
    const seen = JSON.parse(await response.text());
    expect(seen.method).toBe("POST");
    expect(seen.body).toBe('{"aps":{}}');
    expect(seen.headers).toMatchObject({
      authorization: "bearer abc",
      "apns-topic": "im.example",
      "content-length": "10",
    });
    expect(seen.headers.connection).toBeUndefined();
  });

  it("hands error statuses and their headers back as responses", async () => {
    const { server } = await startServer();
    const response = await post(transport(), `${server.url}/status/503`);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("7");
    expect(await response.text()).toBe('{"reason":"Shutdown"}');
  });

  it("reuses one session for many requests, concurrent and sequential", async () => {
    const { server, observed } = await startServer();
    const client = transport();
    const concurrent = await Promise.all(Array.from({ length: 50 }, () => post(client, `${server.url}/echo`)));
    for (let i = 0; i < 50; i++) await post(client, `${server.url}/echo`);
    expect(concurrent.every((response) => response.status === 200)).toBe(true);
    expect(observed.requests).toHaveLength(100);
    expect(server.stats()).toMatchObject({ http2Sessions: 1, http2Streams: 100, http1Connections: 0 });
    expect(client.stats()).toMatchObject({ sessionsOpened: 1, openSessions: 1, activeStreams: 0, queuedRequests: 0 });
    expect(new Set(observed.requests.map((request) => request.connection))).toEqual(new Set(["h2-1"]));
  });

  it("keeps one session per origin", async () => {
    const first = await startServer();
    const second = await startServer();
    const client = transport();
    await Promise.all([post(client, `${first.server.url}/echo`), post(client, `${second.server.url}/echo`)]);
    await post(client, `${first.server.url}/echo`);
    expect(client.stats().sessionsOpened).toBe(2);
    expect(first.server.stats().http2Sessions).toBe(1);
    expect(second.server.stats().http2Sessions).toBe(1);
  });

  it("respects the peer's maxConcurrentStreams and queues the rest", async () => {
    const { server, observed } = await startServer(2);
    const client = transport();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => post(client, `${server.url}/together?n=2&total=10`)),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    expect(observed.maxInFlight).toBe(2);
    expect(server.stats().http2Sessions).toBe(1);
  });

  it("respects its own cap on concurrent streams", async () => {
    const { server, observed } = await startServer(1000);
    const client = transport({ maxConcurrentStreams: 3 });
    await Promise.all(Array.from({ length: 12 }, () => post(client, `${server.url}/together?n=3&total=12`)));
    expect(observed.maxInFlight).toBe(3);
  });

  it("opens a new session after the peer sends GOAWAY", async () => {
    const { server } = await startServer();
    const sessions = watchSessions();
    const client = transport();
    expect((await post(client, `${server.url}/echo`)).status).toBe(200);
    const goaway = once(sessionAt(sessions, 0), "goaway");
    server.goawayAll();
    await goaway;
    expect((await post(client, `${server.url}/echo`)).status).toBe(200);
    expect(client.stats().sessionsOpened).toBe(2);
    expect(server.stats().http2Sessions).toBe(2);
  });

  it("lets a stream in flight finish after GOAWAY, and sends new requests on a new session", async () => {
    const { server, observed } = await startServer();
    const sessions = watchSessions();
    const client = transport();
    await post(client, `${server.url}/echo`);
    const held = post(client, `${server.url}/held`);
    await observed.arrived("/held");
    const goaway = once(sessionAt(sessions, 0), "goaway");
    server.goawayAll();
    await goaway;
    const fresh = await post(client, `${server.url}/echo`);
    expect(fresh.status).toBe(200);
    observed.release();
    expect((await held).status).toBe(200);
    expect(server.stats().http2Sessions).toBe(2);
  });

  it("fails a request in flight on a session that dies as a network error, then reconnects", async () => {
    const { server, observed } = await startServer();
    const client = transport();
    const pending = post(client, `${server.url}/hang`);
    await observed.arrived("/hang");
    server.dropAll();
    await expect(pending).rejects.toThrow(/http2/);
    expect((await post(client, `${server.url}/echo`)).status).toBe(200);
    expect(client.stats().sessionsOpened).toBe(2);
  });

  it("fails the waiting requests when the connection cannot be made", async () => {
    const { server } = await startServer();
    const url = server.url;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const client = transport();
    await expect(post(client, `${url}/echo`)).rejects.toThrow(/connection to .* failed/);
    expect(client.stats()).toMatchObject({ openSessions: 0, queuedRequests: 0 });
  });

  it("times out a request that gets no answer", async () => {
    const { server, observed } = await startServer();
    useFakeClock();
    const client = transport({ requestTimeoutMs: 150 });
    let settled = false;
    const pending = post(client, `${server.url}/hang`);
    const markSettled = () => {
      settled = true;
    };
    pending.then(markSettled, markSettled);
    await observed.arrived("/hang");
    vi.advanceTimersByTime(149);
    await settle();
    expect(settled).toBe(false);
    vi.advanceTimersByTime(1);
    await expect(pending).rejects.toThrow(/no response within 150 ms/);
    expect(client.stats().activeStreams).toBe(0);
    vi.useRealTimers();
    expect((await post(client, `${server.url}/echo`)).status).toBe(200);
  });

  it("keeps a deadline per request behind one timer, and leaves none behind whatever the outcome", async () => {
    const { server, observed } = await startServer();
    const client = transport({ requestTimeoutMs: 61_234 });
    const armed: unknown[] = [];
    const realSetTimeout = globalThis.setTimeout;
    const setSpy = vi.spyOn(globalThis, "setTimeout").mockImplementation(((
      callback: () => void,
      ms?: number,
      ...rest: unknown[]
    ) => {
      const handle = realSetTimeout(callback, ms, ...rest);
      if (ms !== undefined && ms > 60_000 && ms <= 61_234) armed.push(handle);
      return handle;
    }) as typeof setTimeout);
    try {
      for (let i = 0; i < 20; i++) await post(client, `${server.url}/echo`);
      await Promise.all(Array.from({ length: 20 }, () => post(client, `${server.url}/echo`)));
      await post(client, `${server.url}/status/500`);
      const controller = new AbortController();
      const aborted = post(client, `${server.url}/hang`, { signal: controller.signal });
      await observed.arrived("/hang");
      controller.abort();
      await expect(aborted).rejects.toThrow();
    } finally {
      setSpy.mockRestore();
    }
    // 42 requests, one timer: armed once for the first deadline, which is still the earliest to come.
    expect(armed).toHaveLength(1);
    expect(client.stats()).toMatchObject({ pendingDeadlines: 0, deadlineTimersArmed: 1, activeStreams: 0 });
  });

  it("fires every request's own deadline, the later ones after the earliest", async () => {
    const { server, observed } = await startServer();
    useFakeClock();
    const client = transport({ requestTimeoutMs: 150 });
    const outcome = (pending: Promise<unknown>) => {
      const state = { settled: false, error: "" };
      pending.then(
        () => {
          state.settled = true;
        },
        (error: unknown) => {
          state.settled = true;
          state.error = String(error);
        },
      );
      return state;
    };
    const first = outcome(post(client, `${server.url}/hang`));
    await observed.arrived("/hang");
    vi.advanceTimersByTime(100);
    const second = outcome(post(client, `${server.url}/hang`));
    // A request's own timeoutMs can only shorten the deadline: due at 100 + 20, before the first.
    const third = outcome(
      client.fetch(`${server.url}/hang`, { method: "POST", headers: {}, body: "{}", timeoutMs: 20 }),
    );
    await observed.arrived("/hang", 3);
    vi.advanceTimersByTime(20);
    await settle();
    expect([first.settled, second.settled, third.settled]).toEqual([false, false, true]);
    expect(third.error).toMatch(/no response within 20 ms/);
    vi.advanceTimersByTime(30);
    await settle();
    expect([first.settled, second.settled]).toEqual([true, false]);
    expect(first.error).toMatch(/no response within 150 ms/);
    vi.advanceTimersByTime(99);
    await settle();
    expect(second.settled).toBe(false);
    vi.advanceTimersByTime(1);
    await settle();
    expect(second.error).toMatch(/no response within 150 ms/);
    expect(client.stats()).toMatchObject({ pendingDeadlines: 0, activeStreams: 0 });
    vi.useRealTimers();
  });

  it("times out a request still waiting for its connection", async () => {
    useFakeClock();
    // A port that accepts TCP but never speaks TLS: the session never connects.
    const silent = await new Promise<import("node:net").Server>((resolve) => {
      const server = createServer(() => undefined).listen(0, "127.0.0.1", () => resolve(server));
    });
    try {
      const port = (silent.address() as import("node:net").AddressInfo).port;
      const client = transport({ requestTimeoutMs: 100, connectTimeoutMs: 60_000 });
      const pending = post(client, `https://127.0.0.1:${port}/echo`);
      const failed = expect(pending).rejects.toThrow(/no response within 100 ms/);
      expect(client.stats().queuedRequests).toBe(1);
      vi.advanceTimersByTime(100);
      await failed;
      expect(client.stats()).toMatchObject({ queuedRequests: 0, pendingDeadlines: 0 });
    } finally {
      vi.useRealTimers();
      silent.close();
    }
  });

  it("aborts a request in flight when its signal fires", async () => {
    const { server, observed } = await startServer();
    const client = transport();
    const controller = new AbortController();
    const pending = post(client, `${server.url}/hang`, { signal: controller.signal });
    await observed.arrived("/hang");
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    expect(client.stats().activeStreams).toBe(0);
    expect((await post(client, `${server.url}/echo`)).status).toBe(200);
    expect(client.stats().sessionsOpened).toBe(1);
  });

  it("refuses at once a request whose signal already fired", async () => {
    const { server, observed } = await startServer();
    const client = transport();
    await expect(post(client, `${server.url}/echo`, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: "AbortError",
    });
    expect(observed.requests).toHaveLength(0);
  });

  it("drops a queued request from the queue when its signal fires", async () => {
    const { server, observed } = await startServer();
    const client = transport({ maxConcurrentStreams: 1 });
    const first = post(client, `${server.url}/held`);
    const controller = new AbortController();
    const queued = post(client, `${server.url}/echo`, { signal: controller.signal });
    await observed.arrived("/held");
    expect(client.stats().queuedRequests).toBe(1);
    controller.abort();
    await expect(queued).rejects.toMatchObject({ name: "AbortError" });
    expect(client.stats().queuedRequests).toBe(0);
    observed.release();
    expect((await first).status).toBe(200);
    expect(observed.requests.map((request) => request.path)).toEqual(["/held"]);
  });

  it("verifies the certificate: a self-signed one is refused without the extra CA", async () => {
    const { server } = await startServer();
    const strict = new Http2Transport();
    transports.push(strict);
    await expect(post(strict, `${server.url}/echo`)).rejects.toThrow(/self[- ]signed|certificate/i);
    expect((await post(transport(), `${server.url}/echo`)).status).toBe(200);
  });

  it("trusts NODE_EXTRA_CA_CERTS in a process that has it (http2.connect uses Node's default store)", async () => {
    const { server } = await startServer();
    const script = `
      const http2 = require("node:http2");
      const session = http2.connect(${JSON.stringify(server.url)});
      session.on("error", (e) => { console.log("error " + e.code); process.exit(0); });
      const stream = session.request({ ":method": "POST", ":path": "/echo" });
      stream.on("error", () => undefined);
      stream.on("response", (h) => { console.log("status " + h[":status"]); session.close(); });
      stream.end("{}");`;
    const run = (env: NodeJS.ProcessEnv) =>
      new Promise<string>((done, fail) =>
        execFile(process.execPath, ["-e", script], { env, timeout: 10_000 }, (error, stdout) =>
          error ? fail(error) : done(stdout.trim()),
        ),
      );
    const { NODE_EXTRA_CA_CERTS: _ignored, ...base } = process.env;
    expect(await run(base)).toMatch(/^error /);
    expect(await run({ ...base, NODE_EXTRA_CA_CERTS: certificate.certPath })).toBe("status 200");
  });

  it("PINGs an idle session and closes it after the idle timeout", async () => {
    const { server } = await startServer();
    const sessions = watchSessions();
    useFakeClock();
    const client = transport({ pingIntervalMs: 40, idleTimeoutMs: 80 });
    await post(client, `${server.url}/echo`);
    const session = sessionAt(sessions, 0);
    // 40 ms idle: the keepalive PINGs, and the server answers it.
    const acknowledged = nextPingAcknowledged(session);
    vi.advanceTimersByTime(40);
    await acknowledged;
    expect(server.stats().pingsReceived).toBe(1);
    expect(client.stats().openSessions).toBe(1);
    // 80 ms idle: the keepalive closes the session.
    const closed = once(session, "close");
    vi.advanceTimersByTime(40);
    await closed;
    expect(client.stats().openSessions).toBe(0);
    vi.useRealTimers();
    // The server's side of the session has no hook outside the fake: wait for its counter.
    await vi.waitFor(() => expect(server.stats().openHttp2Sessions).toBe(0));
    expect((await post(client, `${server.url}/echo`)).status).toBe(200);
    expect(client.stats().sessionsOpened).toBe(2);
  });

  it("close() ends every session and refuses later requests", async () => {
    const { server } = await startServer();
    const client = transport();
    await post(client, `${server.url}/echo`);
    await client.close();
    expect(client.stats().openSessions).toBe(0);
    // The server's side of the session has no hook outside the fake: wait for its counter.
    await vi.waitFor(() => expect(server.stats().openHttp2Sessions).toBe(0));
    await expect(post(client, `${server.url}/echo`)).rejects.toThrow(/closed/);
  });

  it("close() destroys a session whose stream does not finish in time", async () => {
    const { server, observed } = await startServer();
    useFakeClock();
    const client = transport({ closeTimeoutMs: 100 });
    const pending = post(client, `${server.url}/hang`).then(
      () => "answered",
      (error: unknown) => String(error),
    );
    await observed.arrived("/hang");
    let closed = false;
    const closing = client.close().then(() => {
      closed = true;
    });
    vi.advanceTimersByTime(99);
    await settle();
    expect(closed).toBe(false);
    vi.advanceTimersByTime(1);
    await closing;
    expect(await pending).toMatch(/http2/);
    vi.useRealTimers();
  });
});
