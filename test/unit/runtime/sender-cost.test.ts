import { mkdtemp, rm } from "node:fs/promises";
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { importPKCS8 } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { CredentialCache } from "../../../src/ports/credentials";
import type { HttpTransport } from "../../../src/ports/transport";
import { ApnsProvider } from "../../../src/providers/apns/provider";
import { FcmProvider } from "../../../src/providers/fcm/provider";
import { MemoryCredentialCache } from "../../../src/providers/memory-credentials";
import { Http2Transport } from "../../../src/runtime/http2-transport";
import { createLocalCertificate, type LocalCertificate } from "../../fakes/certificate";
import { FakeTlsServer } from "../../fakes/tls-server";
import {
  apnsApp,
  budgetOf,
  fcmApp,
  generateApnsKey,
  generateServiceAccountKey,
  ManualClock,
  registrationOf,
} from "../providers/provider-test-kit";

/*
 * The sender's cost per request, guarded by counts that do not move with the machine's load (issue 18:
 * bench/RESULTS.md has the measurements these stand for). Each bound is what the code does now; a change
 * that brings back a per-request timer, AbortController, URL parse, Headers copy, listener closure,
 * awaited credential or probe-push rebuild fails here before any benchmark would notice.
 */

let dir: string;
let certificate: LocalCertificate;
let server: FakeTlsServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sender-cost-"));
  certificate = await createLocalCertificate(dir);
  server = await FakeTlsServer.listen({
    cert: certificate.cert,
    key: certificate.key,
    handler: async () => ({ status: 200, headers: { "apns-id": "x" }, body: "" }),
  });
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

const REQUESTS = 60;

/** Counts constructions of a global class while `run` runs (the transport looks the global up at call time). */
async function countingConstructions<T>(name: "URL" | "Headers" | "AbortController", run: () => Promise<T>) {
  const original = globalThis[name];
  let count = 0;
  const Counting = class extends (original as unknown as new (...args: unknown[]) => object) {
    constructor(...args: unknown[]) {
      super(...args);
      count += 1;
    }
  };
  (globalThis as Record<string, unknown>)[name] = Counting;
  try {
    await run();
  } finally {
    (globalThis as Record<string, unknown>)[name] = original;
  }
  return count;
}

describe("Http2Transport cost per request", () => {
  it("one deadline timer, no AbortController, no Headers, one URL parse per origin, for many requests", async () => {
    const transport = new Http2Transport({ ca: certificate.cert });
    try {
      const send = () =>
        transport.fetch(`${server.url}/3/device/abc`, {
          method: "POST",
          headers: { authorization: "bearer x", "apns-topic": "t" },
          body: "{}",
        });
      await send();
      const timers = vi.spyOn(globalThis, "setTimeout");
      const listeners = vi.spyOn(EventTarget.prototype, "addEventListener");
      let urls = 0;
      let headers = 0;
      const controllers = await countingConstructions("AbortController", async () => {
        headers = await countingConstructions("Headers", async () => {
          urls = await countingConstructions("URL", async () => {
            for (let i = 0; i < REQUESTS / 2; i++) await send();
            await Promise.all(Array.from({ length: REQUESTS / 2 }, send));
          });
        });
      });
      expect({ controllers, headers, urls }).toEqual({ controllers: 0, headers: 0, urls: 0 });
      expect(listeners).not.toHaveBeenCalled();
      // At most one timer for all of them (the deadline heap re-arms only when its earliest deadline fires).
      expect(timers.mock.calls.length).toBeLessThanOrEqual(1);
      expect(transport.stats()).toMatchObject({ pendingDeadlines: 0, activeStreams: 0, deadlineTimersArmed: 1 });
    } finally {
      await transport.close();
    }
  });

  it("adds five listeners to a stream, the module's own functions (no closure per request)", async () => {
    const streams: ClientHttp2Stream[] = [];
    const connect = http2.connect;
    vi.spyOn(http2, "connect").mockImplementation(((...args: Parameters<typeof http2.connect>) => {
      const session: ClientHttp2Session = connect(...args);
      const request = session.request.bind(session);
      session.request = ((...requestArgs: Parameters<ClientHttp2Session["request"]>) => {
        const stream = request(...requestArgs);
        streams.push(stream);
        return stream;
      }) as ClientHttp2Session["request"];
      return session;
    }) as typeof http2.connect);
    const transport = new Http2Transport({ ca: certificate.cert });
    try {
      for (let i = 0; i < 3; i++) await transport.fetch(`${server.url}/x`, { method: "POST", headers: {}, body: "{}" });
    } finally {
      await transport.close();
    }
    expect(streams).toHaveLength(3);
    const events = ["response", "data", "end", "error", "close"] as const;
    const [first, second] = streams as [ClientHttp2Stream, ClientHttp2Stream];
    for (const event of events) {
      const mine = (stream: ClientHttp2Stream) =>
        stream.listeners(event).filter((listener) => listener.name.startsWith("onStream"));
      expect(mine(first), event).toHaveLength(1);
      // The same function object on every stream: nothing allocated per request for it.
      expect(mine(second)[0], event).toBe(mine(first)[0]);
    }
  });
});

/** A transport that answers 200 at once, counting requests (no network: the providers' own work alone). */
function answering(body = ""): HttpTransport & { requests: number } {
  const transport = Object.assign(
    async () => {
      transport.requests += 1;
      return { status: 200, headers: { get: () => null }, text: async () => body };
    },
    { requests: 0 },
  );
  return transport;
}

/** A credential cache counting the calls that go through its promise path. */
function countingCache(clock: ManualClock): CredentialCache & { gets: number } {
  const inner = new MemoryCredentialCache(clock.now);
  const cache = {
    gets: 0,
    get(key: string, mint: () => Promise<{ value: string; expiresAt: number }>) {
      cache.gets += 1;
      return inner.get(key, mint);
    },
    peek: (key: string) => inner.peek(key),
    invalidate: (key: string, value: string) => inner.invalidate(key, value),
  };
  return cache;
}

describe("providers' cost per push", () => {
  const encrypted = { priority: "high" as const, encrypted: { data: "QUJD", iv: "A".repeat(16), voip: false } };

  it("APNs: the cached token without a promise, one JSON.stringify per push, capacity computed once per shape", async () => {
    const clock = new ManualClock();
    const credentials = countingCache(clock);
    const transport = answering();
    const key = generateApnsKey();
    const provider = new ApnsProvider({
      app: apnsApp(key.pem),
      signingKey: await importPKCS8(key.pem, "ES256"),
      transport,
      credentials,
      now: clock.now,
    });
    const registration = registrationOf();
    const send = () => provider.send({ registration, notification: encrypted, budget: budgetOf(clock) });
    expect((await send()).kind).toBe("delivered");
    expect(credentials.gets).toBe(1);
    const stringify = vi.spyOn(JSON, "stringify");
    for (let i = 0; i < 20; i++) expect((await send()).kind).toBe("delivered");
    expect(credentials.gets).toBe(1);
    expect(stringify).toHaveBeenCalledTimes(20);
    stringify.mockClear();
    const capacity = provider.payloadCapacity(registration);
    const probes = stringify.mock.calls.length;
    expect(probes).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) {
      expect(provider.payloadCapacity(registration)).toBe(capacity);
      provider.maxPayloadSize(registration);
    }
    expect(stringify).toHaveBeenCalledTimes(probes);
    // Another shape is computed, and gets its own figure.
    expect(provider.payloadCapacity(registrationOf({ voipToken: "f00d" }))).not.toBe(capacity);
  });

  it("FCM: the cached token without a promise, one JSON.stringify per push, capacity computed once per account", async () => {
    const clock = new ManualClock();
    const credentials = countingCache(clock);
    const key = generateServiceAccountKey();
    const transport = Object.assign(
      async (url: string) => {
        transport.requests += 1;
        const body = url.endsWith("/token") ? JSON.stringify({ access_token: "t", expires_in: 3600 }) : "{}";
        return { status: 200, headers: { get: () => null }, text: async () => body };
      },
      { requests: 0 },
    );
    const provider = new FcmProvider({
      app: fcmApp(key.pem),
      signingKey: await importPKCS8(key.pem, "RS256"),
      transport,
      credentials,
      now: clock.now,
    });
    const registration = registrationOf({ provider: "fcm" });
    const send = () => provider.send({ registration, notification: encrypted, budget: budgetOf(clock) });
    expect((await send()).kind).toBe("delivered");
    const stringify = vi.spyOn(JSON, "stringify");
    for (let i = 0; i < 20; i++) expect((await send()).kind).toBe("delivered");
    expect(credentials.gets).toBe(1);
    expect(stringify).toHaveBeenCalledTimes(20);
    stringify.mockClear();
    const capacity = provider.payloadCapacity(registration);
    const probes = stringify.mock.calls.length;
    for (let i = 0; i < 20; i++) expect(provider.payloadCapacity(registration)).toBe(capacity);
    expect(stringify).toHaveBeenCalledTimes(probes);
  });
});
