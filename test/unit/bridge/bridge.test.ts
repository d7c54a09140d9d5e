import { afterEach, describe, expect, it } from "vitest";
import { type Bridge, type BridgeOptions, type GatewayAnswer, type PostStanza, startBridge } from "../../../src/bridge";
import type { LogLevel } from "../../../src/log";
import { FakeComponentServer } from "./fake-component-server";

const JID = "push.example.net";
const SECRET = "component-secret";

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("startBridge over a XEP-0114 stream", () => {
  let server = new FakeComponentServer(JID, SECRET);
  let bridge: Bridge | undefined;
  const logs: { level: LogLevel; event: string }[] = [];
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
      log: { log: (level, event) => logs.push({ level, event }) },
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
    await bridge?.stop();
    bridge = undefined;
    await server?.stop();
    server = new FakeComponentServer(JID, SECRET);
    logs.length = 0;
    posted.length = 0;
  });

  it("authenticates, relays a stanza's text and writes the gateway's reply back as raw text", async () => {
    const reply = "<iq type='result' id='q1' from='push.example.net' to='montague.example'/>";
    const started = await start(async () => ({ status: 200, body: reply }));
    await started.waitOnline(5_000);

    server.current?.socket.write(
      "<iq type='get' id='q1' from='montague.example' to='push.example.net'><ping xmlns='urn:xmpp:ping'/></iq>",
    );

    await until(() => server.current?.received.includes(reply) === true, "the reply on the stream");
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

    await until(
      () => posted.length === 2 && started.inFlight === 0 && (server.current?.received ?? "").endsWith("</iq>"),
      "both stanzas relayed and the reply written",
    );
    expect(server.current?.received).toBe(
      "<iq type='error' id='s1' from='push.example.net' to='montague.example'><error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    );
  });

  it("reconnects with back-off when the server drops the connection", async () => {
    const started = await start(async () => ({ status: 204, body: "" }));
    await started.waitOnline(5_000);
    const first = server.current;

    first?.socket.destroy();

    await until(() => server.current !== first && started.online, "a second authenticated connection");
    expect(logs.map((entry) => entry.event)).toEqual(
      expect.arrayContaining(["bridge-disconnected", "bridge-reconnect-scheduled"]),
    );
    expect(logs.filter((entry) => entry.event === "bridge-online")).toHaveLength(2);
  });

  it("keeps retrying, without going online, when the server refuses the handshake", async () => {
    const started = await start(async () => ({ status: 204, body: "" }), { secret: "wrong" });

    await until(() => server.connections.length >= 3, "three attempts");
    expect(started.online).toBe(false);
    expect(logs.map((entry) => entry.event)).toContain("bridge-stream-error");
  });

  it("drops an attempt that does not get online within the connect timeout, and retries", async () => {
    server.behaviour = "silent";
    const started = await start(async () => ({ status: 204, body: "" }), { connectTimeoutMs: 100 });

    await until(() => server.connections.length >= 2, "a second attempt");
    expect(started.online).toBe(false);
    expect(logs.map((entry) => entry.event)).toContain("bridge-connect-timeout");
  });

  it("shuts down gracefully: answers the IQ in flight with wait, then closes the stream", async () => {
    const never: PostStanza = (_text, signal) =>
      new Promise<GatewayAnswer>((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    const started = await start(never, { shutdownGraceMs: 50 });
    await started.waitOnline(5_000);
    server.current?.socket.write("<iq type='set' id='late' from='montague.example' to='push.example.net'><x/></iq>");
    await until(() => started.inFlight === 1, "the IQ in flight");
    const connection = server.current;

    await started.stop();

    expect(connection?.received).toBe(
      "<iq type='error' id='late' from='push.example.net' to='montague.example'><error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq></stream:stream>",
    );
    expect(connection?.closedByClient).toBe(true);
    expect(started.online).toBe(false);
    const attempts = server.connections.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(server.connections.length).toBe(attempts);
  });
});
