import { afterEach, describe, expect, it, vi } from "vitest";
import { type Bridge, type BridgeOptions, type GatewayAnswer, type PostStanza, startBridge } from "../../../src/bridge";
import type { LogFields, LogLevel } from "../../../src/log";
import { PrometheusMetrics } from "../../../src/runtime/prometheus-metrics";
import { bridgeMetrics } from "../../../src/runtime/serve";
import { FakeComponentServer, type FakeConnection } from "./fake-component-server";

const JID = "push.example.net";
const SECRET = "component-secret";

// No test polls or sleeps: each awaits the event that proves what it waits for, either a log entry of
// the bridge (it logs every connection step) or data arriving on the fake server's side of the stream.

interface LogEntry {
  readonly level: LogLevel;
  readonly event: string;
  readonly fields: LogFields;
}

type Match = (fields: LogFields) => boolean;

/** The bridge's log, kept, with a way to await an entry. */
class LogTap {
  readonly entries: LogEntry[] = [];
  private readonly waiters: { event: string; count: number; match: Match; resolve: () => void }[] = [];

  readonly log = (level: LogLevel, event: string, fields: LogFields = {}): void => {
    this.entries.push({ level, event, fields });
    for (const waiter of this.waiters.filter((one) => one.event === event)) {
      if (this.count(event, waiter.match) < waiter.count) continue;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };

  /** How many times `event` was logged (with fields that `match`). */
  count(event: string, match: Match = () => true): number {
    return this.entries.filter((entry) => entry.event === event && match(entry.fields)).length;
  }

  /** Resolves once `event` has been logged `count` times in all (with fields that `match`). */
  logged(event: string, count = 1, match: Match = () => true): Promise<void> {
    if (this.count(event, match) >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ event, count, match, resolve }));
  }

  events(): string[] {
    return this.entries.map((entry) => entry.event);
  }

  clear(): void {
    this.entries.length = 0;
    this.waiters.length = 0;
  }
}

/** Resolves once what the fake server received on `connection` satisfies `done` (checked on every chunk). */
function received(connection: FakeConnection | undefined, done: (text: string) => boolean): Promise<void> {
  if (!connection) throw new Error("no authenticated connection");
  return new Promise((resolve) => {
    // The fake's own "data" listener, added first, has appended the chunk when this one runs.
    const check = () => {
      if (!done(connection.received)) return;
      connection.socket.off("data", check);
      resolve();
    };
    connection.socket.on("data", check);
    check();
  });
}

describe("startBridge over a XEP-0114 stream", () => {
  let server = new FakeComponentServer(JID, SECRET);
  let bridge: Bridge | undefined;
  const tap = new LogTap();
  const posted: string[] = [];

  async function start(
    post: PostStanza,
    { secret = SECRET, ...options }: Partial<Omit<BridgeOptions, "config" | "log" | "post">> & { secret?: string } = {},
  ): Promise<Bridge> {
    if (server.port === 0) await server.start();
    bridge = startBridge({
      config: {
        service: server.service,
        secret,
        pushJid: JID,
      },
      log: { log: tap.log },
      post: async (text, signal) => {
        posted.push(text);
        return post(text, signal);
      },
      backoff: { baseMs: 20, capMs: 100 },
      ...options,
    });
    return bridge;
  }

  afterEach(async () => {
    vi.useRealTimers();
    await bridge?.stop();
    bridge = undefined;
    await server?.stop();
    server = new FakeComponentServer(JID, SECRET);
    tap.clear();
    posted.length = 0;
  });

  it("authenticates, relays a stanza's text and writes the gateway's reply back as raw text", async () => {
    const reply = "<iq type='result' id='q1' from='push.example.net' to='montague.example'/>";
    const started = await start(async () => ({ status: 200, body: reply }));
    await started.waitOnline(5_000);

    server.current?.socket.write(
      "<iq type='get' id='q1' from='montague.example' to='push.example.net'><ping xmlns='urn:xmpp:ping'/></iq>",
    );

    await received(server.current, (text) => text.includes(reply));
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatch(/^<iq /);
    expect(posted[0]).toContain('id="q1"');
    expect(posted[0]).toContain('from="montague.example"');
    expect(posted[0]).toContain('<ping xmlns="urn:xmpp:ping"/>');
    expect(server.current?.received).toBe(reply);
  });

  it("answers wait on the stream when the gateway fails, and nothing for a message", async () => {
    const started = await start(async () => ({ status: 503, body: "" }));
    await started.waitOnline(5_000);

    server.current?.socket.write(
      "<message id='m1' from='montague.example' to='push.example.net'><body>x</body></message>",
    );
    server.current?.socket.write("<iq type='set' id='s1' from='montague.example' to='push.example.net'><x/></iq>");

    // The relay logs "stanza" once a stanza is settled: its reply written, or nothing to write.
    await tap.logged("stanza", 2);
    await received(server.current, (text) => text.endsWith("</iq>"));
    expect(posted).toHaveLength(2);
    expect(
      tap.entries.filter((entry) => entry.event === "stanza").map(({ fields }) => [fields.kind, fields.reply]),
    ).toEqual([
      ["message", "none"],
      ["iq", "wait"],
    ]);
    expect(server.current?.received).toBe(
      "<iq type='error' id='s1' from='push.example.net' to='montague.example'><error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    );
  });

  it("reconnects with back-off when the server drops the connection", async () => {
    const started = await start(async () => ({ status: 204, body: "" }));
    await started.waitOnline(5_000);
    const first = server.current;

    first?.socket.destroy();

    await tap.logged("bridge-online", 2);
    expect(started.online).toBe(true);
    expect(server.current).not.toBe(first);
    expect(tap.events()).toEqual(expect.arrayContaining(["bridge-disconnected", "bridge-reconnect-scheduled"]));
    expect(tap.count("bridge-online")).toBe(2);
  });

  it("reports its connection as metrics: connected, disconnected, and each reconnection (serve's /metrics)", async () => {
    const metrics = new PrometheusMetrics({ processMetrics: false });
    const gauge = async () => (await metrics.scrape()).body.match(/^xmpp_push_bridge_connected (\d+)$/m)?.[1];
    const reconnects = async () =>
      (await metrics.scrape()).body.match(/^xmpp_push_bridge_reconnects_total (\d+)$/m)?.[1];
    const started = await start(async () => ({ status: 204, body: "" }), { observer: bridgeMetrics(metrics) });
    await started.waitOnline(5_000);
    expect(await gauge()).toBe("1");
    expect(await reconnects()).toBe("0");

    server.current?.socket.destroy();
    await tap.logged("bridge-reconnect-scheduled");
    expect(await gauge()).toBe("0");
    expect(await reconnects()).toBe("1");
    await tap.logged("bridge-online", 2);
    expect(await gauge()).toBe("1");
  });

  it("keeps retrying, without going online, when the server refuses the handshake", async () => {
    const started = await start(async () => ({ status: 204, body: "" }), { secret: "wrong" });

    // One "bridge-disconnected" per attempt, logged after the server answered (so accepted) it.
    await tap.logged("bridge-disconnected", 3);
    expect(server.connections.length).toBeGreaterThanOrEqual(3);
    expect(started.online).toBe(false);
    expect(tap.events()).toContain("bridge-stream-error");
  });

  it("drops an attempt that does not get online within the connect timeout, and retries", async () => {
    server.behaviour = "silent";
    const started = await start(async () => ({ status: 204, body: "" }), { connectTimeoutMs: 100 });

    // Two attempts that timed out after their connection was made and their stream header sent ("opening"):
    // the server accepted both before the bridge gave up on them.
    await tap.logged("bridge-connect-timeout", 2, (fields) => fields.status === "opening");
    expect(server.connections.length).toBeGreaterThanOrEqual(2);
    expect(started.online).toBe(false);
  });

  it("shuts down gracefully: answers the IQ in flight with wait, then closes the stream", async () => {
    let reachedGateway: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => {
      reachedGateway = resolve;
    });
    const never: PostStanza = (_text, signal) =>
      new Promise<GatewayAnswer>((_resolve, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason));
        reachedGateway();
      });
    const started = await start(never, { shutdownGraceMs: 50 });
    await started.waitOnline(5_000);
    server.current?.socket.write("<iq type='set' id='late' from='montague.example' to='push.example.net'><x/></iq>");
    await inFlight;
    expect(started.inFlight).toBe(1);
    const connection = server.current;
    const attempts = server.connections.length;

    // From here the bridge's timers (the grace period, and any reconnect it might schedule) are fake.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const stopping = started.stop();
    await vi.advanceTimersByTimeAsync(49);
    expect(connection?.received).toBe("");
    await vi.advanceTimersByTimeAsync(1);
    await stopping;

    expect(connection?.received).toBe(
      "<iq type='error' id='late' from='push.example.net' to='montague.example'><error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq></stream:stream>",
    );
    expect(connection?.closedByClient).toBe(true);
    expect(started.online).toBe(false);
    // Whatever timer is left runs now: a reconnect would log "bridge-connecting" when its timer fires.
    const connecting = tap.count("bridge-connecting");
    await vi.runAllTimersAsync();
    expect(tap.count("bridge-connecting")).toBe(connecting);
    expect(server.connections.length).toBe(attempts);
    expect(tap.events().at(-1)).toBe("bridge-stopped");
  });
});
