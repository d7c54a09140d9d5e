import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Http2Transport, type Http2TransportOptions } from "../../../src/runtime/http2-transport";
import { createLocalCertificate, type LocalCertificate } from "../../fakes/certificate";
import { type FakeHttpRequest, type FakeHttpResponse, FakeTlsServer } from "../../fakes/tls-server";

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

let dir: string;
let certificate: LocalCertificate;
const servers: FakeTlsServer[] = [];
const transports: Http2Transport[] = [];

/** What the test server saw, and how many requests were in flight at most. */
interface Observed {
  requests: FakeHttpRequest[];
  inFlight: number;
  maxInFlight: number;
}

/** `/echo` answers what it got; `/slow?ms=N` answers after N ms; `/hang` never answers; `/status/N` answers N. */
async function startServer(maxConcurrentStreams = 1000): Promise<{ server: FakeTlsServer; observed: Observed }> {
  const observed: Observed = { requests: [], inFlight: 0, maxInFlight: 0 };
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
        if (url.pathname === "/hang") await new Promise(() => undefined);
        if (url.pathname === "/slow") await sleep(Number(url.searchParams.get("ms") ?? "50"));
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
    const responses = await Promise.all(Array.from({ length: 10 }, () => post(client, `${server.url}/slow?ms=30`)));
    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    expect(observed.maxInFlight).toBe(2);
    expect(server.stats().http2Sessions).toBe(1);
  });

  it("respects its own cap on concurrent streams", async () => {
    const { server, observed } = await startServer(1000);
    const client = transport({ maxConcurrentStreams: 3 });
    await Promise.all(Array.from({ length: 12 }, () => post(client, `${server.url}/slow?ms=30`)));
    expect(observed.maxInFlight).toBe(3);
  });

  it("opens a new session after the peer sends GOAWAY", async () => {
    const { server } = await startServer();
    const client = transport();
    expect((await post(client, `${server.url}/echo`)).status).toBe(200);
    server.goawayAll();
    await sleep(50);
    expect((await post(client, `${server.url}/echo`)).status).toBe(200);
    expect(client.stats().sessionsOpened).toBe(2);
    expect(server.stats().http2Sessions).toBe(2);
  });

  it("lets a stream in flight finish after GOAWAY, and sends new requests on a new session", async () => {
    const { server } = await startServer();
    const client = transport();
    await post(client, `${server.url}/echo`);
    const slow = post(client, `${server.url}/slow?ms=200`);
    await sleep(50);
    server.goawayAll();
    await sleep(20);
    const fresh = await post(client, `${server.url}/echo`);
    expect(fresh.status).toBe(200);
    expect((await slow).status).toBe(200);
    expect(server.stats().http2Sessions).toBe(2);
  });

  it("fails a request in flight on a session that dies as a network error, then reconnects", async () => {
    const { server } = await startServer();
    const client = transport();
    const pending = post(client, `${server.url}/hang`);
    await sleep(100);
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
    const { server } = await startServer();
    const client = transport({ requestTimeoutMs: 150 });
    const started = Date.now();
    await expect(post(client, `${server.url}/hang`)).rejects.toThrow(/no response within 150 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(client.stats().activeStreams).toBe(0);
    expect((await post(client, `${server.url}/echo`)).status).toBe(200);
  });

  it("clears its timeout timer whatever the outcome", async () => {
    const { server } = await startServer();
    const client = transport({ requestTimeoutMs: 61_234 });
    const armed: unknown[] = [];
    const cleared = new Set<unknown>();
    const realSetTimeout = globalThis.setTimeout;
    const realClearTimeout = globalThis.clearTimeout;
    const setSpy = vi.spyOn(globalThis, "setTimeout").mockImplementation(((
      callback: () => void,
      ms?: number,
      ...rest: unknown[]
    ) => {
      const handle = realSetTimeout(callback, ms, ...rest);
      if (ms === 61_234) armed.push(handle);
      return handle;
    }) as typeof setTimeout);
    const clearSpy = vi.spyOn(globalThis, "clearTimeout").mockImplementation(((
      handle?: Parameters<typeof clearTimeout>[0],
    ) => {
      cleared.add(handle);
      realClearTimeout(handle);
    }) as typeof clearTimeout);
    try {
      for (let i = 0; i < 20; i++) await post(client, `${server.url}/echo`);
      await post(client, `${server.url}/status/500`);
      const controller = new AbortController();
      const aborted = post(client, `${server.url}/hang`, { signal: controller.signal });
      await sleep(30);
      controller.abort();
      await expect(aborted).rejects.toThrow();
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    }
    expect(armed).toHaveLength(22);
    expect(armed.every((handle) => cleared.has(handle))).toBe(true);
  });

  it("aborts a request in flight when its signal fires", async () => {
    const { server } = await startServer();
    const client = transport();
    const controller = new AbortController();
    const pending = post(client, `${server.url}/hang`, { signal: controller.signal });
    await sleep(50);
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
    const { server } = await startServer();
    const client = transport({ maxConcurrentStreams: 1 });
    const first = post(client, `${server.url}/slow?ms=200`);
    const controller = new AbortController();
    const queued = post(client, `${server.url}/echo`, { signal: controller.signal });
    await sleep(30);
    expect(client.stats().queuedRequests).toBe(1);
    controller.abort();
    await expect(queued).rejects.toMatchObject({ name: "AbortError" });
    expect(client.stats().queuedRequests).toBe(0);
    expect((await first).status).toBe(200);
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
    const client = transport({ pingIntervalMs: 40, idleTimeoutMs: 400 });
    await post(client, `${server.url}/echo`);
    await sleep(200);
    expect(server.stats().pingsReceived).toBeGreaterThan(0);
    expect(client.stats().openSessions).toBe(1);
    await sleep(500);
    expect(client.stats().openSessions).toBe(0);
    expect(server.stats().openHttp2Sessions).toBe(0);
    expect((await post(client, `${server.url}/echo`)).status).toBe(200);
    expect(client.stats().sessionsOpened).toBe(2);
  });

  it("close() ends every session and refuses later requests", async () => {
    const { server } = await startServer();
    const client = transport();
    await post(client, `${server.url}/echo`);
    await client.close();
    expect(client.stats().openSessions).toBe(0);
    await sleep(50);
    expect(server.stats().openHttp2Sessions).toBe(0);
    await expect(post(client, `${server.url}/echo`)).rejects.toThrow(/closed/);
  });

  it("close() destroys a session whose stream does not finish in time", async () => {
    const { server } = await startServer();
    const client = transport({ closeTimeoutMs: 100 });
    const pending = post(client, `${server.url}/hang`).then(
      () => "answered",
      (error: unknown) => String(error),
    );
    await sleep(50);
    const started = Date.now();
    await client.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await pending).toMatch(/http2/);
  });
});
