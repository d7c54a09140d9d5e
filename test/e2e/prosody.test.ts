import { createServer, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { type Client, client, type Element, xml } from "@xmpp/client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Bridge, gatewayPoster, startBridge } from "../../src/bridge";
import { parseConfig } from "../../src/config";
import { realSleep, webCryptoRandomBytes } from "../../src/gateway/deps";
import type { LogFields, Logger, LogLevel } from "../../src/gateway/log";
import { createApp } from "../../src/http/app";
import { MemoryRegistrationStore } from "../../src/store";
import { ProgrammableProvider, programmableDirectory } from "../fakes/programmable-provider";
import { assertPortFree, freePorts } from "./processes";
import { type ProsodyServer, startProsody, waitUntil } from "./prosody-server";

const HOST = "localhost";
const PUSH_JID = "push.localhost";
const GATEWAY_TOKEN = "e2e-gateway-token";
const COMPONENT_SECRET = "e2e-component-secret";
const PASSWORD = "e2e-password";
const USERS = ["alice", "bob", "carol", "dave", "erin", "frank"] as const;
const WAIT_MS = 10_000;

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_COMMANDS = "http://jabber.org/protocol/commands";
const NS_DATA = "jabber:x:data";
const NS_PUSH = "urn:xmpp:push:0";

interface LogEntry {
  readonly level: LogLevel;
  readonly event: string;
  readonly fields: LogFields;
}

function collectingLogger(entries: LogEntry[]): Logger {
  return { log: (level, event, fields = {}) => entries.push({ level, event, fields }) };
}

/** One POST to /xmpp as the gateway saw it. */
interface Exchange {
  readonly request: string;
  readonly status: number;
  readonly reply: string;
}

/**
 * The real app over the memory store and programmable providers, served over HTTP on 127.0.0.1;
 * it can be stopped and started again on the same port with the same registrations.
 */
class InProcessGateway {
  readonly store = new MemoryRegistrationStore();
  readonly apns = new ProgrammableProvider("apns");
  readonly fcm = new ProgrammableProvider("fcm");
  readonly exchanges: Exchange[] = [];
  readonly logs: LogEntry[] = [];
  port = 0;
  private server: Server | undefined;
  private readonly listener = (() => {
    const app = createApp({
      config: parseConfig({ PUSH_JID, GATEWAY_TOKEN }),
      store: this.store,
      providers: programmableDirectory({ default: { apns: this.apns, fcm: this.fcm } }),
      log: collectingLogger(this.logs),
      now: Date.now,
      randomBytes: webCryptoRandomBytes,
      sleep: realSleep,
    });
    return getRequestListener(async (request: Request) => {
      if (new URL(request.url).pathname !== "/xmpp") return app.fetch(request);
      const body = await request.clone().text();
      const response = await app.fetch(request);
      this.exchanges.push({ request: body, status: response.status, reply: await response.clone().text() });
      return response;
    });
  })();

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = this.port): Promise<void> {
    const server = createServer(this.listener);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    this.port = typeof address === "object" && address !== null ? address.port : port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** The POSTs whose stanza mentions the node (publishes to it). */
  publishesTo(node: string): Exchange[] {
    return this.exchanges.filter(
      (exchange) => exchange.request.includes("<publish") && exchange.request.includes(node),
    );
  }
}

/** The single value of a field in a command reply's data form. */
function formValue(reply: Element, name: string): string | undefined {
  const x = reply.getChild("command", NS_COMMANDS)?.getChild("x", NS_DATA);
  const field = x?.getChildren("field").find((f) => f.attrs.var === name);
  return field?.getChildText("value") ?? undefined;
}

function formValues(reply: Element, name: string): string[] {
  const x = reply.getChild("command", NS_COMMANDS)?.getChild("x", NS_DATA);
  const field = x?.getChildren("field").find((f) => f.attrs.var === name);
  return field?.getChildren("value").map((value) => value.text()) ?? [];
}

function submitForm(fields: Record<string, string>): Element {
  return xml(
    "x",
    { xmlns: NS_DATA, type: "submit" },
    ...Object.entries(fields).map(([name, value]) => xml("field", { var: name }, xml("value", {}, value))),
  );
}

function command(node: string, fields: Record<string, string>): Element {
  return xml(
    "iq",
    { type: "set", to: PUSH_JID },
    xml("command", { xmlns: NS_COMMANDS, node, action: "execute" }, submitForm(fields)),
  );
}

/** XEP-0357 enable, as p2 clients send it (with the secret in publish options) or Tigase clients (without). */
function enable(node: string, secret?: string): Element {
  const options =
    secret === undefined
      ? []
      : [
          submitForm({
            FORM_TYPE: "http://jabber.org/protocol/pubsub#publish-options",
            secret,
          }),
        ];
  return xml("iq", { type: "set" }, xml("enable", { xmlns: NS_PUSH, jid: PUSH_JID, node }, ...options));
}

function chat(to: string, body: string): Element {
  return xml("message", { type: "chat", to }, xml("body", {}, body));
}

describe("end to end: Prosody 0.12 + mod_cloud_notify -> component bridge -> gateway", () => {
  const gateway = new InProcessGateway();
  const bridgeLogs: LogEntry[] = [];
  const clients = new Set<Client>();
  let prosody: ProsodyServer;
  let bridge: Bridge;
  let bob: Client;

  async function connect(username: string): Promise<Client> {
    const xmpp = client({
      service: `xmpp://127.0.0.1:${prosody.c2sPort}`,
      domain: HOST,
      username,
      password: PASSWORD,
      resource: "e2e",
    });
    xmpp.on("error", () => undefined);
    clients.add(xmpp);
    await xmpp.start();
    return xmpp;
  }

  async function disconnect(xmpp: Client): Promise<void> {
    xmpp.reconnect.stop();
    await xmpp.stop();
    clients.delete(xmpp);
  }

  /**
   * Waits until Prosody has routed everything bob sent before and the bridge has settled it: a
   * disco#info from bob travels the same path after it, and the bridge has nothing in flight.
   */
  async function settle(): Promise<void> {
    await bob.iqCaller.request(xml("iq", { type: "get", to: PUSH_JID }, xml("query", { xmlns: NS_DISCO_INFO })));
    await waitUntil(() => bridge.inFlight === 0, WAIT_MS, "the bridge to settle");
  }

  /** Registers with p2's register-push-fcm and enables push with the node and secret it got. */
  async function registerP2AndEnable(xmpp: Client, token: string, deviceId: string) {
    const reply = await xmpp.iqCaller.request(command("register-push-fcm", { token, "android-id": deviceId }));
    const node = formValue(reply, "node");
    const secret = formValue(reply, "secret");
    if (node === undefined || secret === undefined) throw new Error(`no node or secret in ${reply.toString()}`);
    expect(formValue(reply, "jid")).toBe(PUSH_JID);
    await xmpp.iqCaller.request(enable(node, secret));
    return { node, secret };
  }

  beforeAll(async () => {
    await gateway.start(0);
    const [c2sPort, componentPort] = await freePorts(2);
    if (c2sPort === undefined || componentPort === undefined) throw new Error("no free ports");
    bridge = startBridge({
      config: {
        service: `xmpp://127.0.0.1:${componentPort}`,
        secret: COMPONENT_SECRET,
        pushJid: PUSH_JID,
      },
      post: gatewayPoster(gateway.url, GATEWAY_TOKEN),
      log: collectingLogger(bridgeLogs),
      backoff: { baseMs: 50, capMs: 500 },
      shutdownGraceMs: 2_000,
    });
    prosody = await startProsody({
      componentSecret: COMPONENT_SECRET,
      users: USERS.map((username) => ({ username, password: PASSWORD })),
      c2sPort,
      componentPort,
    });
    await bridge.waitOnline(WAIT_MS);
    bob = await connect("bob");
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      console.error(`Prosody log (last lines):\n${prosody?.logTail(80)}`);
      console.error(`bridge log:\n${bridgeLogs.map((entry) => JSON.stringify(entry)).join("\n")}`);
    });
  });

  afterAll(async () => {
    for (const xmpp of clients) {
      xmpp.reconnect.stop();
      await xmpp.stop().catch(() => undefined);
    }
    await bridge?.stop();
    await gateway.stop();
    await prosody?.stop();
    await assertPortFree(gateway.port);
  });

  it("connects as the component once Prosody is up, retrying with back-off until then", () => {
    const events = bridgeLogs.map((entry) => entry.event);
    expect(events).toContain("bridge-reconnect-scheduled");
    expect(events.indexOf("bridge-online")).toBeGreaterThan(events.indexOf("bridge-reconnect-scheduled"));
    expect(bridge.online).toBe(true);
  });

  it("answers a user's disco#info for the push service through Prosody and the bridge", async () => {
    const reply = await bob.iqCaller.request(
      xml("iq", { type: "get", to: PUSH_JID }, xml("query", { xmlns: NS_DISCO_INFO })),
    );

    const query = reply.getChild("query", NS_DISCO_INFO);
    const identities = query?.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`);
    const features = query?.getChildren("feature").map((f) => f.attrs.var);
    expect(reply.attrs.from).toBe(PUSH_JID);
    expect(identities).toContain("pubsub/push");
    expect(features).toEqual(
      expect.arrayContaining([NS_PUSH, NS_COMMANDS, "tigase:messenger:apns:1", "tigase:messenger:fcm:1"]),
    );
  });

  it("p2 style: register-push-fcm, enable, go offline; a chat message reaches FCM with the node and secret", async () => {
    const alice = await connect("alice");
    const { node, secret } = await registerP2AndEnable(alice, "fcm-token-alice", "alice-android-id");
    await disconnect(alice);
    const before = gateway.fcm.sent.length;

    await bob.send(chat("alice@localhost", "Hello Alice, are you there?"));

    await waitUntil(() => gateway.fcm.sent.length > before, WAIT_MS, "a push to FCM for alice");
    const push = gateway.fcm.sent.at(-1);
    expect(push?.registration).toMatchObject({ node, secret, token: "fcm-token-alice", account: "alice@localhost" });
    expect(push?.notification).toMatchObject({ priority: "high", messageCount: 1, body: "New Message!" });
    const [publish] = gateway.publishesTo(node);
    expect(publish?.request).toMatch(/^<iq [^>]*type=["']set["']/);
    expect(publish?.request).toMatch(/from=["']localhost["']/);
    expect(publish?.request).toContain(secret);
    expect(publish?.request).toContain("http://jabber.org/protocol/pubsub#publish-options");
    expect(publish?.status).toBe(200);
    expect(publish?.reply).toMatch(/^<iq [^>]*type=["']result["']/);
    expect(prosody.pushStore("alice")).toContain(node);
  });

  it("Tigase style: register-device with APNs, enable without a secret; a chat message reaches APNs", async () => {
    const carol = await connect("carol");
    const reply = await carol.iqCaller.request(
      command("register-device", { provider: "tigase:messenger:apns:1", "device-token": "apns-token-carol" }),
    );
    const node = formValue(reply, "node");
    if (node === undefined) throw new Error(`no node in ${reply.toString()}`);
    expect(formValues(reply, "features")).toContain("tigase:push:encrypt:0");
    expect(Number(formValue(reply, "max-payload-size"))).toBeGreaterThan(0);
    await carol.iqCaller.request(enable(node));
    await disconnect(carol);
    const before = gateway.apns.sent.length;

    await bob.send(chat("carol@localhost", "Hello Carol"));

    await waitUntil(() => gateway.apns.sent.length > before, WAIT_MS, "a push to APNs for carol");
    const push = gateway.apns.sent.at(-1);
    expect(push?.registration).toMatchObject({ node, token: "apns-token-carol", account: "carol@localhost" });
    expect(push?.registration.secret).toBeUndefined();
    const [publish] = gateway.publishesTo(node);
    expect(publish?.request).not.toContain("publish-options");
    expect(publish?.status).toBe(200);
  });

  it("dead token: the gateway answers item-not-found and forgets the node; Prosody drops the registration", async () => {
    const dave = await connect("dave");
    const { node } = await registerP2AndEnable(dave, "fcm-token-dave", "dave-android-id");
    await disconnect(dave);
    expect(prosody.pushStore("dave")).toContain(node);
    gateway.fcm.willAnswer({ kind: "token-dead", reason: "UNREGISTERED" });

    await bob.send(chat("dave@localhost", "Hello Dave"));

    await waitUntil(() => gateway.publishesTo(node).length === 1, WAIT_MS, "the publish for dave");
    const [publish] = gateway.publishesTo(node);
    expect(publish?.reply).toMatch(/type=["']cancel["']/);
    expect(publish?.reply).toContain("item-not-found");
    expect(await gateway.store.get(node)).toEqual({ kind: "deleted" });
    await waitUntil(() => !prosody.pushStore("dave")?.includes(node), WAIT_MS, "Prosody to drop dave's registration");

    const pushes = gateway.fcm.sent.length;
    await bob.send(chat("dave@localhost", "Dave, are you still there?"));
    await settle();

    expect(gateway.publishesTo(node)).toHaveLength(1);
    expect(gateway.fcm.sent.length).toBe(pushes);
  });

  it("gateway down: the bridge answers wait, Prosody keeps the registration and pushes again later", async () => {
    const erin = await connect("erin");
    const { node } = await registerP2AndEnable(erin, "fcm-token-erin", "erin-android-id");
    await disconnect(erin);
    await gateway.stop();
    const logged = bridgeLogs.length;

    await bob.send(chat("erin@localhost", "Hello Erin"));

    await waitUntil(
      () =>
        bridgeLogs
          .slice(logged)
          .some(
            (entry) =>
              entry.event === "stanza" && entry.fields.problem === "unreachable" && entry.fields.reply === "wait",
          ),
      WAIT_MS,
      "the bridge to answer wait for the publish",
    );
    const marker = await bob.iqCaller
      .request(xml("iq", { type: "get", to: PUSH_JID }, xml("query", { xmlns: NS_DISCO_INFO })))
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    expect(marker).toMatchObject({ condition: "internal-server-error", type: "wait" });
    expect(prosody.pushStore("erin")).toContain(node);

    await gateway.start();
    const before = gateway.fcm.sent.length;
    await bob.send(chat("erin@localhost", "Erin, the gateway is back"));

    await waitUntil(() => gateway.fcm.sent.length > before, WAIT_MS, "a push to FCM for erin");
    expect(gateway.fcm.sent.at(-1)?.registration.node).toBe(node);
    expect(prosody.pushStore("erin")).toContain(node);
  });

  it("the bridge stops cleanly: Prosody then answers for the push service itself (wait)", async () => {
    const frank = await connect("frank");
    await bridge.stop();
    expect(bridge.online).toBe(false);

    const error = await frank.iqCaller
      .request(xml("iq", { type: "get", to: PUSH_JID }, xml("query", { xmlns: NS_DISCO_INFO })))
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );

    expect(error).toMatchObject({ condition: "remote-server-timeout", type: "wait" });
    expect(bridgeLogs.map((entry) => entry.event)).toContain("bridge-stopped");
  });

  it("never logs a secret, a device token or a stanza in the bridge's log lines", () => {
    const text = JSON.stringify(bridgeLogs);
    expect(bridgeLogs.filter((entry) => entry.event === "stanza").length).toBeGreaterThan(5);
    for (const secret of [COMPONENT_SECRET, GATEWAY_TOKEN, "fcm-token-", "apns-token-", "<iq", "alice@", "bob@"])
      expect(text).not.toContain(secret);
  });
});
