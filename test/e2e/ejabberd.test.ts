import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, client, type Element, xml } from "@xmpp/client";
import { component, type XmppComponent, type XmppElement, type XmppStatus } from "@xmpp/component";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { jsonLogger, redact } from "../../src/log";
import { Http2Transport } from "../../src/runtime/http2-transport";
import { type RunningServe, startServe } from "../../src/runtime/serve";
import { attribute, childElement, childElements, serialize, textOf } from "../../src/xmpp/element";
import { NS } from "../../src/xmpp/namespaces";
import { parsePublish } from "../../src/xmpp/publish";
import { buildIqError, buildIqResult } from "../../src/xmpp/stanza";
import { parseXml, type XmlElement } from "../../src/xmpp/xml";
import { describeApnsReceipt, describeFcmReceipt, type FakeWorld, startFakeWorld } from "../fakes/fake-world";
import { FakeUserServer, p2AccountHash } from "../fakes/user-server";
import { type EjabberdServer, EPMD_PORT, epmdRunning, startEjabberd } from "./ejabberd-server";
import { assertPortFree, isPortFree } from "./processes";
import { registerDeviceAndEnable, registerP2AndEnable } from "./prosody-server";

/*
 * Debian's ejabberd 23.01 with mod_push. First against a bare XEP-0114 component playing the push
 * service (no bridge, no gateway): what ejabberd publishes, and what it does with the gateway's
 * replies. Then through the real bridge and gateway (`startServe`, the code of `npm run serve`) to the
 * fake FCM and APNs, dead tokens included. docs/ejabberd.md reports what this file proves.
 */

const HOST = "localhost";
/** mod_push with include_body: true and include_sender: true. */
const FULL_HOST = "full.localhost";
/** mod_push with include_body: false and include_sender: false. */
const BARE_HOST = "bare.localhost";
const PUSH_JID = "push.localhost";
const COMPONENT_SECRET = "e2e-component-secret";
const PASSWORD = "e2e-password";
const WAIT_MS = 10_000;

const USERS = [
  { username: "bob", host: HOST },
  { username: "alice", host: HOST },
  { username: "gone", host: HOST },
  { username: "waiting", host: HOST },
  { username: "sentinel", host: HOST },
  { username: "nobridge", host: HOST },
  { username: "full", host: FULL_HOST },
  { username: "bare", host: BARE_HOST },
] as const;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function parse(text: string): XmlElement {
  const parsed = parseXml(text);
  if (!parsed.ok) throw new Error(`unparsable stanza (${parsed.error.reason}): ${text}`);
  return parsed.value;
}

/** Logs a user in over plain c2s on loopback (no reconnecting). */
async function login(server: EjabberdServer, username: string, host: string): Promise<Client> {
  const xmppClient = client({
    service: `xmpp://127.0.0.1:${server.c2sPort}`,
    domain: host,
    username,
    password: PASSWORD,
    resource: "phone",
  });
  xmppClient.reconnect.stop();
  xmppClient.on("error", () => undefined);
  await xmppClient.start();
  return xmppClient;
}

/** One stanza the component received. */
interface Received {
  readonly text: string;
  readonly root: XmlElement;
}

/** The push service's JID as a bare XEP-0114 component that records what it gets and answers by hand. */
class PushComponent {
  readonly received: Received[] = [];
  readonly errors: Error[] = [];
  readonly statuses: XmppStatus[] = [];
  private readonly xmpp: XmppComponent;

  constructor(private readonly service: string) {
    this.xmpp = component({ service, domain: PUSH_JID, password: COMPONENT_SECRET });
    // @xmpp/component's IQ callee would answer every IQ itself (service-unavailable), as the bridge knows.
    this.xmpp.removeAllListeners("element");
    this.xmpp.reconnect.stop();
    this.xmpp.on("status", (status) => this.statuses.push(status));
    this.xmpp.on("error", (error) => this.errors.push(error));
    this.xmpp.on("stanza", (stanza: XmppElement) => {
      const text = stanza.toString();
      this.received.push({ text, root: parse(text) });
    });
  }

  get status(): XmppStatus {
    return this.xmpp.status;
  }

  async start(): Promise<void> {
    await this.xmpp.connect(this.service);
    await this.xmpp.open({ domain: PUSH_JID });
    await waitUntil(() => this.xmpp.status === "online", "the component to be online");
  }

  async stop(): Promise<void> {
    if (this.xmpp.status !== "offline") await this.xmpp.stop().catch(() => undefined);
  }

  /** The publishes to `node` received so far. */
  publishes(node: string): Received[] {
    return this.received.filter(({ root }) => {
      const publish = childElement(childElement(root, "pubsub", NS.pubsub) ?? root, "publish", NS.pubsub);
      return publish !== undefined && attribute(publish, "node") === node;
    });
  }

  /** Resolves with the `count`-th publish to `node` (1-based). */
  async publish(node: string, count: number): Promise<Received> {
    await waitUntil(() => this.publishes(node).length >= count, `publish #${count} to node ${node}`);
    const received = this.publishes(node)[count - 1];
    if (received === undefined) throw new Error("unreachable");
    return received;
  }

  /** Writes raw text on the stream, as the bridge writes the gateway's reply. */
  async write(text: string): Promise<void> {
    await this.xmpp.write(text);
  }
}

function address(root: XmlElement) {
  return { id: attribute(root, "id"), from: attribute(root, "from"), to: attribute(root, "to") };
}

/** The gateway's reply texts, built by the gateway's own builders (no xmlns on the top element). */
const replies = {
  result: (request: Received) => serialize(buildIqResult(address(request.root), PUSH_JID)),
  itemNotFound: (request: Received) =>
    serialize(buildIqError(address(request.root), PUSH_JID, { type: "cancel", condition: "item-not-found" })),
  wait: (request: Received) =>
    serialize(buildIqError(address(request.root), PUSH_JID, { type: "wait", condition: "internal-server-error" })),
};

/** A data form's fields as `[var, type, value]` (type and value `undefined` when absent). */
function formFields(x: XmlElement | undefined): [string, string | undefined, string | undefined][] {
  if (x === undefined) return [];
  return childElements(x, "field", NS.dataForms).map((field) => {
    const value = childElement(field, "value", NS.dataForms);
    return [attribute(field, "var") ?? "", attribute(field, "type"), value ? textOf(value) : undefined];
  });
}

/** What a publish looks like, reduced to what the gateway cares about, to compare whole. */
function shape(received: Received) {
  const pubsub = childElement(received.root, "pubsub", NS.pubsub);
  const publish = pubsub ? childElement(pubsub, "publish", NS.pubsub) : undefined;
  const items = publish ? childElements(publish, "item", NS.pubsub) : [];
  const notification = items[0] ? childElement(items[0], "notification", NS.push) : undefined;
  const summary = notification ? childElement(notification, "x", NS.dataForms) : undefined;
  const options = pubsub ? childElement(pubsub, "publish-options", NS.pubsub) : undefined;
  const optionsForm = options ? childElement(options, "x", NS.dataForms) : undefined;
  return {
    from: attribute(received.root, "from"),
    to: attribute(received.root, "to"),
    type: attribute(received.root, "type"),
    hasId: (attribute(received.root, "id") ?? "") !== "",
    pubsubChildren: pubsub ? childElements(pubsub).map((child) => child.name) : [],
    node: publish ? attribute(publish, "node") : undefined,
    items: items.map((item) => ({ id: attribute(item, "id"), children: childElements(item).map((c) => c.name) })),
    notificationChildren: notification ? childElements(notification).map((child) => `${child.ns} ${child.name}`) : [],
    summaryType: summary ? attribute(summary, "type") : undefined,
    summary: formFields(summary),
    publishOptionsType: optionsForm ? attribute(optionsForm, "type") : undefined,
    publishOptions: formFields(optionsForm),
  };
}

/** The gateway's own reading of the publish (src/xmpp/publish.ts). */
function gatewayReading(received: Received) {
  return parsePublish(childElement(received.root, "pubsub", NS.pubsub) ?? received.root);
}

const SUMMARY_FORM_TYPE: [string, string | undefined, string | undefined] = ["FORM_TYPE", "hidden", NS.pushSummary];

function publishOptionsFields(secret: string): [string, string | undefined, string | undefined][] {
  return [
    ["FORM_TYPE", undefined, NS.publishOptions],
    ["secret", undefined, secret],
  ];
}

describe("ejabberd 23.01 mod_push against a bare push component", () => {
  let server: EjabberdServer;
  let push: PushComponent;
  let bob: Client;
  const bounces: string[] = [];
  let epmdBefore = false;
  let messageCounter = 0;

  const connect = (username: string, host: string): Promise<Client> => login(server, username, host);

  /** Logs in, sends `<enable/>` (with a publish-options form when `secret` is given), logs out. */
  const enablePush = async (username: string, host: string, node: string, secret?: string): Promise<void> => {
    const user = await connect(username, host);
    const form =
      secret === undefined
        ? []
        : [
            xml(
              "x",
              { xmlns: NS.dataForms, type: "submit" },
              xml("field", { var: "FORM_TYPE" }, xml("value", {}, NS.publishOptions)),
              xml("field", { var: "secret" }, xml("value", {}, secret)),
            ),
          ];
    const reply: Element = await user.iqCaller.request(
      xml("iq", { type: "set" }, xml("enable", { xmlns: NS.push, jid: PUSH_JID, node }, ...form)),
      WAIT_MS,
    );
    expect(reply.attrs.type).toBe("result");
    await user.stop();
    // The session must be gone, or the next message goes to it instead of mod_offline.
    const prefix = `${username}@${host}/`;
    await waitUntil(() => !server.connectedUsers().some((jid) => jid.startsWith(prefix)), `${prefix} to log out`);
  };

  const sendChat = async (to: string, body: string): Promise<void> => {
    messageCounter += 1;
    await bob.send(xml("message", { type: "chat", to, id: `m${messageCounter}` }, xml("body", {}, body)));
  };

  const logLines = (text: string) =>
    server
      .log()
      .split("\n")
      .filter((line) => line.includes(text));

  beforeAll(async () => {
    epmdBefore = epmdRunning();
    server = await startEjabberd({
      hosts: [
        { host: HOST },
        { host: FULL_HOST, includeBody: true, includeSender: true },
        { host: BARE_HOST, includeBody: false, includeSender: false },
      ],
      pushJid: PUSH_JID,
      componentSecret: COMPONENT_SECRET,
      users: USERS.map(({ username, host }) => ({ username, host, password: PASSWORD })),
    });
    push = new PushComponent(server.componentService);
    await push.start();
    bob = await connect("bob", HOST);
    // Messages to offline users are stored by mod_offline; an error bounced to the sender would mean not.
    bob.on("stanza", (stanza) => {
      if (stanza.attrs.type === "error") bounces.push(stanza.toString());
    });
  });

  afterAll(async () => {
    await bob?.stop().catch(() => undefined);
    await push?.stop();
    await server?.stop();
  });

  it("publishes from the user's bare domain: default summary (fixed body, no count, no sender), secret replayed; a result keeps the registration", async () => {
    await enablePush("alice", HOST, "node-alice", "secret-alice");
    await sendChat(`alice@${HOST}`, "hello alice");
    const first = await push.publish("node-alice", 1);
    // The reply as the gateway writes it: single quotes, no xmlns on <iq>.
    const reply = replies.result(first);
    expect(reply).toMatch(/^<iq type='result' from='push\.localhost' to='localhost' id='[^']+'\/>$/);
    await push.write(reply);

    expect(shape(first)).toEqual({
      from: HOST,
      to: PUSH_JID,
      type: "set",
      hasId: true,
      pubsubChildren: ["publish", "publish-options"],
      node: "node-alice",
      items: [{ id: undefined, children: ["notification"] }],
      notificationChildren: [`${NS.dataForms} x`],
      summaryType: "submit",
      summary: [SUMMARY_FORM_TYPE, ["last-message-body", "text-single", "New message"]],
      publishOptionsType: "submit",
      publishOptions: publishOptionsFields("secret-alice"),
    });
    expect(gatewayReading(first)).toEqual({
      ok: true,
      value: { node: "node-alice", secret: "secret-alice", notification: { priority: "high", body: "New message" } },
    });

    // Accepted: the stream stays up, nothing is logged against the node, the next message is pushed too.
    await sendChat(`alice@${HOST}`, "hello again");
    const second = await push.publish("node-alice", 2);
    await push.write(replies.result(second));
    expect(shape(second)).toEqual(shape(first));
    expect(push.status).toBe("online");
    expect(push.errors).toEqual([]);
    expect(logLines("rejected notification")).toEqual([]);
    expect(bounces).toEqual([]);
  });

  it("include_body: true and include_sender: true put the real body and the sender's full JID in the summary", async () => {
    await enablePush("full", FULL_HOST, "node-full", "secret-full");
    await sendChat(`full@${FULL_HOST}`, "the real body");
    const received = await push.publish("node-full", 1);
    await push.write(replies.result(received));
    expect(shape(received)).toMatchObject({
      from: FULL_HOST,
      items: [{ id: undefined, children: ["notification"] }],
      summaryType: "submit",
      summary: [
        SUMMARY_FORM_TYPE,
        ["last-message-sender", "jid-single", `bob@${HOST}/phone`],
        ["last-message-body", "text-single", "the real body"],
      ],
      publishOptions: publishOptionsFields("secret-full"),
    });
    expect(gatewayReading(received)).toEqual({
      ok: true,
      value: {
        node: "node-full",
        secret: "secret-full",
        notification: { priority: "high", sender: `bob@${HOST}/phone`, body: "the real body" },
      },
    });
    expect(bounces).toEqual([]);
  });

  it("include_body: false and include_sender: false publish an empty <notification/>; without a form in <enable/> there are no publish-options", async () => {
    await enablePush("bare", BARE_HOST, "node-bare");
    await sendChat(`bare@${BARE_HOST}`, "not shown");
    const received = await push.publish("node-bare", 1);
    await push.write(replies.result(received));
    expect(shape(received)).toEqual({
      from: BARE_HOST,
      to: PUSH_JID,
      type: "set",
      hasId: true,
      pubsubChildren: ["publish"],
      node: "node-bare",
      items: [{ id: undefined, children: ["notification"] }],
      notificationChildren: [],
      summaryType: undefined,
      summary: [],
      publishOptionsType: undefined,
      publishOptions: [],
    });
    // No body: the gateway sends a background push.
    expect(gatewayReading(received)).toEqual({
      ok: true,
      value: { node: "node-bare", secret: undefined, notification: { priority: "low" } },
    });
    expect(bounces).toEqual([]);
  });

  it("cancel/item-not-found: ejabberd deletes the registration, the next message publishes nothing", async () => {
    await enablePush("sentinel", HOST, "node-sentinel", "secret-sentinel");
    await enablePush("gone", HOST, "node-gone", "secret-gone");
    await sendChat(`gone@${HOST}`, "one");
    const first = await push.publish("node-gone", 1);
    await push.write(replies.itemNotFound(first));
    await waitUntil(
      () => logLines("rejected notification for gone@localhost (node-gone), disabling push").length > 0,
      "ejabberd to log that it disables push",
    );
    expect(logLines("rejected notification for gone@localhost")).toEqual([
      expect.stringContaining("disabling push: item-not-found (cancel)"),
    ]);

    await sendChat(`gone@${HOST}`, "two");
    // One sender's messages are routed in order, and so are the publishes they cause: once the
    // sentinel's publish is here, a publish for the second message to `gone` would have come before it.
    await sendChat(`sentinel@${HOST}`, "after two");
    await push.write(replies.result(await push.publish("node-sentinel", 1)));
    expect(push.publishes("node-gone")).toHaveLength(1);
    expect(push.status).toBe("online");
    expect(bounces).toEqual([]);
  });

  it("wait/internal-server-error: ejabberd keeps the registration, the next message is published again", async () => {
    await enablePush("waiting", HOST, "node-waiting", "secret-waiting");
    await sendChat(`waiting@${HOST}`, "one");
    const first = await push.publish("node-waiting", 1);
    await push.write(replies.wait(first));
    await waitUntil(
      () => logLines("rejected notification for waiting@localhost (node-waiting) temporarily").length > 0,
      "ejabberd to log the temporary rejection",
    );
    expect(logLines("rejected notification for waiting@localhost")).toEqual([
      expect.stringContaining("temporarily: internal-server-error"),
    ]);

    await sendChat(`waiting@${HOST}`, "two");
    const second = await push.publish("node-waiting", 2);
    await push.write(replies.result(second));
    expect(logLines("rejected notification for waiting@localhost")).toHaveLength(1);
    expect(push.status).toBe("online");
    expect(bounces).toEqual([]);
  });

  it("with no component connected (and s2s off), ejabberd answers auth/forbidden itself and deletes the registration", async () => {
    await enablePush("nobridge", HOST, "node-nobridge", "secret-nobridge");
    await push.stop();
    await sendChat(`nobridge@${HOST}`, "while the component is away");
    await waitUntil(
      () => logLines("rejected notification for nobridge@localhost (node-nobridge), disabling push").length > 0,
      "ejabberd to answer the publish itself",
    );
    expect(logLines("rejected notification for nobridge@localhost")).toEqual([
      expect.stringContaining("disabling push: Access denied by service policy (forbidden) (auth)"),
    ]);

    // Back online, the registration stays gone.
    push = new PushComponent(server.componentService);
    await push.start();
    await sendChat(`nobridge@${HOST}`, "after the component is back");
    await sendChat(`sentinel@${HOST}`, "after nobridge");
    await push.write(replies.result(await push.publish("node-sentinel", 1)));
    expect(push.publishes("node-nobridge")).toEqual([]);
    expect(bounces).toEqual([]);
  });

  it("ejabberdctl stop leaves no ejabberd process, no epmd and no bound port", async () => {
    await bob.stop();
    await push.stop();
    await server.stop();
    for (const port of [server.c2sPort, server.componentPort, server.distPort])
      expect(await isPortFree(port)).toBe(true);
    if (!epmdBefore) {
      expect(epmdRunning()).toBe(false);
      expect(await isPortFree(EPMD_PORT)).toBe(true);
    }
  });
});

/**
 * A publish as ejabberd's mod_push sends it with its defaults (from the user's domain, the fixed body
 * "New message", no count, no sender), with the secret in publish-options when there is one: what the
 * test POSTs to the gateway's `/xmpp` itself to ask whether it still knows a node.
 */
function ejabberdStylePublish(node: string, secret?: string): string {
  const options =
    secret === undefined
      ? ""
      : `<publish-options><x xmlns='${NS.dataForms}' type='submit'><field var='FORM_TYPE'><value>${NS.publishOptions}</value></field><field var='secret'><value>${secret}</value></field></x></publish-options>`;
  return `<iq type='set' from='${HOST}' to='${PUSH_JID}' id='probe-${randomBytes(4).toString("hex")}'><pubsub xmlns='${NS.pubsub}'><publish node='${node}'><item><notification xmlns='${NS.push}'><x xmlns='${NS.dataForms}' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS.pushSummary}</value></field><field var='last-message-body' type='text-single'><value>New message</value></field></x></notification></item></publish>${options}</pubsub></iq>`;
}

describe("ejabberd 23.01 mod_push -> the real bridge and gateway (npm run serve, in process) -> fake FCM / APNs", () => {
  const GATEWAY_TOKEN = `e2e-gateway-token-${randomBytes(8).toString("hex")}`;
  const logs: string[] = [];
  /** Ivy's FCM registration (the first test), the sentinel that later tests send a message to. */
  let ivy: { readonly token: string; readonly node: string; readonly secret: string } | undefined;
  /** Tina's Tigase-style APNs registration, made live by one test and killed by the next. */
  let tina: { readonly token: string; readonly node: string } | undefined;
  let messageCounter = 0;
  let dir = "";
  let world: FakeWorld | undefined;
  let server: EjabberdServer | undefined;
  let serve: RunningServe | undefined;
  let bob: Client | undefined;
  let servePort: number | undefined;

  const running = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not running`);
    return value;
  };

  /** What an earlier test of this group left for a later one. */
  const fromEarlierTest = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} was not made: did the earlier test of this group fail?`);
    return value;
  };

  /** serve's log lines (the gateway's and the bridge's), parsed. */
  const logEntries = (): Record<string, unknown>[] => logs.map((line): Record<string, unknown> => JSON.parse(line));

  /** The gateway's `publish` log entries for one node (the log shows nodes redacted, as `redact` does). */
  const gatewayPublishes = (node: string): Record<string, unknown>[] =>
    logEntries().filter((entry) => entry.event === "publish" && entry.node === redact(node));

  /** The bridge's log entries of the stanzas it relayed: `type from reply status problem`. */
  const bridgeStanzas = (): string[] =>
    logEntries()
      .filter((entry) => entry.event === "stanza")
      .map((entry) => `${entry.type} ${entry.from} ${entry.reply} ${entry.status} ${entry.problem ?? "-"}`);

  /** ejabberd's log lines about rejected notifications for one user. */
  const rejections = (bareJid: string): string[] =>
    running(server, "ejabberd")
      .log()
      .split("\n")
      .filter((line) => line.includes(`rejected notification for ${bareJid} `));

  const sendChat = async (to: string, body: string): Promise<void> => {
    messageCounter += 1;
    await running(bob, "bob").send(
      xml("message", { type: "chat", to, id: `serve-m${messageCounter}` }, xml("body", {}, body)),
    );
  };

  /** Logs a user out and waits until ejabberd has no session of theirs: the next message goes offline. */
  const logOut = async (user: Client, username: string): Promise<void> => {
    await user.stop();
    const ejabberd = running(server, "ejabberd");
    const prefix = `${username}@${HOST}/`;
    await waitUntil(() => !ejabberd.connectedUsers().some((jid) => jid.startsWith(prefix)), `${prefix} to log out`);
  };

  /** What the gateway itself answers to a publish to `node`, POSTed by the test to serve's `/xmpp`. */
  const probe = (node: string, secret?: string) =>
    new FakeUserServer(`http://127.0.0.1:${running(servePort, "serve")}`, GATEWAY_TOKEN).iq(
      ejabberdStylePublish(node, secret),
    );

  /**
   * Sends `username` one more message, then ivy one (the sentinel), and resolves once ivy's push has
   * reached the fake FCM and the gateway has logged its publish. One sender's messages are routed in
   * order, and so are the publishes they cause; a publish to a node the gateway deleted is answered from
   * its store with no provider request, so its log line would come before that of ivy's publish, which
   * waits on the fake FCM. Afterwards, no new publish for `username` means that ejabberd sent none.
   */
  const messageAndSentinel = async (username: string): Promise<void> => {
    const fakes = running(world, "the fake world");
    const sentinel = fromEarlierTest(ivy, "ivy's registration");
    const pushes = fakes.fcm.to(sentinel.token).length;
    const published = gatewayPublishes(sentinel.node).length;
    await sendChat(`${username}@${HOST}`, `${username}, are you still there?`);
    await sendChat(`ivy@${HOST}`, `after the message to ${username}`);
    await waitUntil(
      () =>
        fakes.fcm.to(sentinel.token).length === pushes + 1 && gatewayPublishes(sentinel.node).length === published + 1,
      `ivy's push after the message to ${username}`,
    );
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ejabberd-serve-e2e-"));
    world = await startFakeWorld({ dir: join(dir, "world"), pushJid: PUSH_JID });
    server = await startEjabberd({
      pushJid: PUSH_JID,
      componentSecret: COMPONENT_SECRET,
      users: ["bob", "ivy", "tina", "dora"].map((username) => ({ username, host: HOST, password: PASSWORD })),
    });
    serve = await startServe({
      env: {
        ...world.env,
        XMPP_COMPONENT_SERVICE: server.componentService,
        XMPP_COMPONENT_SECRET: COMPONENT_SECRET,
        PUSH_JID,
        STORE_PATH: join(dir, "store", "registrations.sqlite"),
        HOST: "127.0.0.1",
        // Lets the test POST its own publishes to /xmpp, to ask the gateway whether it still knows a node.
        GATEWAY_TOKEN,
      },
      port: 0,
      // In process, NODE_EXTRA_CA_CERTS cannot be set any more: the transport trusts the fakes itself.
      transport: new Http2Transport({ ca: world.certificate.cert }),
      log: jsonLogger((line) => logs.push(line)),
    });
    servePort = serve.gateway.port;
    await serve.bridge.waitOnline(WAIT_MS);
    bob = await login(server, "bob", HOST);
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      console.error(`ejabberd (last lines):\n${server?.logTail(60)}`);
      console.error(`serve's log:\n${logs.slice(-40).join("\n")}`);
      console.error(`fake APNs:\n${world?.apns.received.map(describeApnsReceipt).join("\n")}`);
      console.error(`fake FCM:\n${world?.fcm.received.map(describeFcmReceipt).join("\n")}`);
    });
  });

  afterAll(async () => {
    await bob?.stop().catch(() => undefined);
    await serve?.close();
    await server?.stop();
    await world?.close();
    if (servePort !== undefined) await assertPortFree(servePort);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a register-push-fcm made through ejabberd, enable, offline: ejabberd's publish reaches the fake FCM as a high-priority push", async () => {
    const ejabberd = running(server, "ejabberd");
    const fakes = running(world, "the fake world");
    const token = `fcm-ivy-${randomBytes(24).toString("base64url")}`;
    const deviceId = "ivy-android-id";

    // Registered through ejabberd (c2s -> component -> bridge -> gateway) and enabled there.
    const ivyClient = await login(ejabberd, "ivy", HOST);
    const registration = await registerP2AndEnable(ivyClient, PUSH_JID, { token, deviceId });
    expect(registration.jid).toBe(PUSH_JID);
    ivy = { token, node: registration.node, secret: registration.secret };
    await ivyClient.stop();
    await waitUntil(() => !ejabberd.connectedUsers().some((jid) => jid.startsWith(`ivy@${HOST}/`)), "ivy to log out");

    await running(bob, "bob").send(
      xml("message", { type: "chat", to: `ivy@${HOST}`, id: "to-ivy" }, xml("body", {}, "hello ivy")),
    );

    await waitUntil(() => fakes.fcm.to(token).length > 0, "a push to the fake FCM for ivy");
    const [push, ...others] = fakes.fcm.to(token);
    expect(others).toEqual([]);
    expect(push).toMatchObject({ status: 200, httpVersion: "2.0", project: fakes.serviceAccount.json.project_id });
    expect(push?.message?.android).toMatchObject({ priority: "high" });
    // ejabberd's default summary carries the fixed body "New message"; Google is told only the hashed
    // account (issue 14, docs/protocol.md 6.2).
    expect(push?.data).toEqual({ account: p2AccountHash(`ivy@${HOST}`, deviceId) });

    // ejabberd took the gateway's result: nothing rejected, and the next message is pushed too.
    await running(bob, "bob").send(
      xml("message", { type: "chat", to: `ivy@${HOST}`, id: "to-ivy-2" }, xml("body", {}, "hello again")),
    );
    await waitUntil(() => fakes.fcm.to(token).length === 2, "a second push to the fake FCM for ivy");
    expect(ejabberd.log()).not.toContain("rejected notification");
    const stanzas = logs
      .map((line): Record<string, unknown> => JSON.parse(line))
      .filter((entry) => entry.event === "stanza");
    // The register-push-fcm command and the two publishes, each answered by the gateway itself.
    expect(stanzas.map((entry) => `${entry.type} ${entry.from} ${entry.reply} ${entry.status}`)).toEqual([
      `set ${HOST} gateway 200`,
      `set ${HOST} gateway 200`,
      `set ${HOST} gateway 200`,
    ]);
    expect(stanzas.filter((entry) => entry.problem !== undefined)).toEqual([]);
  });

  it("a Tigase-style register-device (APNs) made through ejabberd, enable without publish-options, offline: the fake APNs receives an alert push with a verified JWT", async () => {
    const ejabberd = running(server, "ejabberd");
    const fakes = running(world, "the fake world");
    const token = randomBytes(32).toString("hex");

    // Registered as Siskin does, through ejabberd; enabled with the node alone (no secret, no form).
    const tinaClient = await login(ejabberd, "tina", HOST);
    const registration = await registerDeviceAndEnable(tinaClient, PUSH_JID, {
      provider: "tigase:messenger:apns:1",
      token,
    });
    expect(registration.features).toEqual(
      expect.arrayContaining([NS.tigaseEncrypt, NS.tigaseEncryptAesGcm, NS.tigaseEncryptOmemo]),
    );
    expect(registration.maxPayloadSize).toBeGreaterThan(0);
    tina = { token, node: registration.node };
    await logOut(tinaClient, "tina");

    await sendChat(`tina@${HOST}`, "hello tina");

    await waitUntil(() => fakes.apns.to(token).length > 0, "a push to the fake APNs for tina");
    const [push, ...others] = fakes.apns.to(token);
    expect(others).toEqual([]);
    // `jwt` is only there when the fake verified the provider token's signature (ES256, kid, iss, iat).
    expect(push).toMatchObject({
      environment: "production",
      method: "POST",
      status: 200,
      httpVersion: "2.0",
      jwt: { kid: fakes.apnsKey.keyId, iss: fakes.apnsKey.teamId },
    });
    expect(push?.headers).toMatchObject({
      "apns-topic": fakes.env.APNS_TOPIC,
      "apns-push-type": "alert",
      "apns-priority": "10",
    });
    // ejabberd's default summary: the fixed body, no message-count (so no unread count), no sender.
    expect(push?.body).toMatchObject({
      aps: { alert: { body: "New message" }, "mutable-content": 1 },
      account: `tina@${HOST}`,
      body: "New message",
    });
    expect(push?.body).not.toHaveProperty("unread-messages");
    await waitUntil(() => gatewayPublishes(registration.node).length === 1, "the gateway's log line of tina's publish");
    expect(gatewayPublishes(registration.node)).toEqual([
      expect.objectContaining({ outcome: "delivered", reply: "result" }),
    ]);
    expect(rejections(`tina@${HOST}`)).toEqual([]);
    expect(logs.join("\n")).not.toContain(token);
  });

  it("tina's APNs token dies (410 Unregistered): the gateway answers cancel/item-not-found, ejabberd disables push, the next message reaches neither the gateway nor APNs", async () => {
    const fakes = running(world, "the fake world");
    const { token, node } = fromEarlierTest(tina, "tina's registration");
    fakes.apns.failToken(token, { status: 410, reason: "Unregistered", timestamp: Date.now() });

    await sendChat(`tina@${HOST}`, "tina, your token is dead");

    await waitUntil(() => fakes.apns.to(token).length === 2, "a second request to the fake APNs for tina");
    expect(fakes.apns.to(token).map((receipt) => `${receipt.status} ${receipt.reason ?? "-"}`)).toEqual([
      "200 -",
      "410 Unregistered",
    ]);
    await waitUntil(() => rejections(`tina@${HOST}`).length > 0, "ejabberd to log that it disables tina's push");
    expect(rejections(`tina@${HOST}`)).toEqual([
      expect.stringContaining(
        `${PUSH_JID} rejected notification for tina@${HOST} (${node}), disabling push: item-not-found (cancel)`,
      ),
    ]);
    expect(gatewayPublishes(node).map((entry) => `${entry.outcome} ${entry.reply}`)).toEqual([
      "delivered result",
      "token-dead cancel/item-not-found",
    ]);

    // The gateway deleted the registration: a publish of the test's own to that node, from tina's
    // domain, is item-not-found without any request to APNs.
    const answer = await probe(node);
    expect(answer.error).toBe("cancel/item-not-found");
    expect(fakes.apns.to(token)).toHaveLength(2);

    // ejabberd deleted it too: the next message publishes nothing.
    await messageAndSentinel("tina");
    expect(gatewayPublishes(node).map((entry) => `${entry.outcome} ${entry.reply}`)).toEqual([
      "delivered result",
      "token-dead cancel/item-not-found",
      "unknown-node cancel/item-not-found", // the test's own probe
    ]);
    expect(fakes.apns.to(token)).toHaveLength(2);
    expect(rejections(`tina@${HOST}`)).toHaveLength(1);
    expect(bridgeStanzas().filter((line) => !line.endsWith(" gateway 200 -"))).toEqual([]);
    expect(logs.join("\n")).not.toContain(token);
  });

  it("a p2 registration's FCM token dies (UNREGISTERED): cancel/item-not-found, ejabberd disables push, the next message reaches neither the gateway nor FCM", async () => {
    const ejabberd = running(server, "ejabberd");
    const fakes = running(world, "the fake world");
    const token = `fcm-dora-${randomBytes(24).toString("base64url")}`;
    const doraClient = await login(ejabberd, "dora", HOST);
    const { node, secret } = await registerP2AndEnable(doraClient, PUSH_JID, { token, deviceId: "dora-android-id" });
    await logOut(doraClient, "dora");
    fakes.fcm.failToken(token, { code: "UNREGISTERED" });

    await sendChat(`dora@${HOST}`, "hello dora");

    await waitUntil(() => fakes.fcm.to(token).length > 0, "a request to the fake FCM for dora");
    await waitUntil(() => rejections(`dora@${HOST}`).length > 0, "ejabberd to log that it disables dora's push");
    expect(fakes.fcm.to(token).map((receipt) => `${receipt.status} ${receipt.error ?? "-"}`)).toEqual([
      "404 UNREGISTERED",
    ]);
    expect(rejections(`dora@${HOST}`)).toEqual([
      expect.stringContaining(
        `${PUSH_JID} rejected notification for dora@${HOST} (${node}), disabling push: item-not-found (cancel)`,
      ),
    ]);
    expect(gatewayPublishes(node).map((entry) => `${entry.outcome} ${entry.reply}`)).toEqual([
      "token-dead cancel/item-not-found",
    ]);

    // Gone from the gateway even with the right secret, and gone from ejabberd.
    expect((await probe(node, secret)).error).toBe("cancel/item-not-found");
    await messageAndSentinel("dora");
    expect(gatewayPublishes(node)).toHaveLength(2); // ejabberd's publish and the test's probe
    expect(fakes.fcm.to(token)).toHaveLength(1);
    expect(rejections(`dora@${HOST}`)).toHaveLength(1);
    expect(bridgeStanzas().filter((line) => !line.endsWith(" gateway 200 -"))).toEqual([]);
    // Nothing secret in serve's log lines, across the whole group.
    const fcm = fromEarlierTest(ivy, "ivy's registration");
    const apns = fromEarlierTest(tina, "tina's registration");
    for (const text of [token, secret, fcm.token, fcm.secret, apns.token, GATEWAY_TOKEN])
      expect(logs.join("\n")).not.toContain(text);
  });
});
