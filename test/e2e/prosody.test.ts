import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@xmpp/client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Bridge, gatewayPoster, type PostStanza, startBridge } from "../../src/bridge";
import type { LogFields, Logger, LogLevel } from "../../src/log";
import { describeApnsReceipt, describeFcmReceipt, type FakeWorld, startFakeWorld } from "../fakes/fake-world";
import { FakeUserServer, p2AccountHash } from "../fakes/user-server";
import { assertPortFree, type DetachedProcess, freePorts, startWranglerDev, stopProcessGroup } from "./processes";
import {
  chat,
  discoInfoIq,
  type ProsodyServer,
  registerDeviceAndEnable,
  registerP2AndEnable,
  startProsody,
  waitUntil,
  XmppUsers,
} from "./prosody-server";

/*
 * Prosody 0.12 + mod_cloud_notify -> the bridge (src/bridge/, in process) -> the real gateway under
 * `wrangler dev` (local workerd, KV persisted in a temporary directory) -> the fake APNs and FCM.
 * docs/prosody.md reports what this file proves.
 */

const HOST = "localhost";
const PUSH_JID = "push.localhost";
const GATEWAY_TOKEN = `e2e-gateway-token-${randomBytes(8).toString("hex")}`;
const COMPONENT_SECRET = `e2e-component-secret-${randomBytes(8).toString("hex")}`;
const PASSWORD = "e2e-password";
const USERS = ["alice", "bob", "carol", "dave", "grace", "erin", "frank"] as const;
const WAIT_MS = 10_000;

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_COMMANDS = "http://jabber.org/protocol/commands";
const NS_PUSH = "urn:xmpp:push:0";

interface LogEntry {
  readonly level: LogLevel;
  readonly event: string;
  readonly fields: LogFields;
}

function collectingLogger(entries: LogEntry[]): Logger {
  return { log: (level, event, fields = {}) => entries.push({ level, event, fields }) };
}

/** One stanza the bridge posted to the gateway, and what came back (`status` 0: unreachable). */
interface Exchange {
  readonly request: string;
  readonly status: number;
  readonly reply: string;
}

/** A poster that records every exchange the bridge has with the gateway. */
function recordingPoster(post: PostStanza, exchanges: Exchange[]): PostStanza {
  return async (text, signal) => {
    try {
      const answer = await post(text, signal);
      exchanges.push({ request: text, status: answer.status, reply: answer.body });
      return answer;
    } catch (error) {
      exchanges.push({ request: text, status: 0, reply: String(error) });
      throw error;
    }
  };
}

/** An APNs device token as Apple hands them out: 32 bytes, hex. */
function apnsToken(): string {
  return randomBytes(32).toString("hex");
}

/** An FCM registration token (the fake takes any text). */
function fcmToken(user: string): string {
  return `fcm-${user}-${randomBytes(24).toString("base64url")}`;
}

/**
 * mod_cloud_notify's publish as Prosody sends it (from the user's domain), to POST ourselves; with the
 * secret in publish-options when there is one.
 */
function prosodyStylePublish(node: string, secret?: string): string {
  const options =
    secret === undefined
      ? ""
      : `<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>${secret}</value></field></x></publish-options>`;
  return `<iq type='set' from='${HOST}' to='${PUSH_JID}' id='probe-${randomBytes(4).toString("hex")}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node}'><item><notification xmlns='${NS_PUSH}'><x xmlns='jabber:x:data' type='form'><field type='hidden' var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field type='text-single' var='message-count'><value>1</value></field><field type='text-single' var='last-message-body'><value>New Message!</value></field></x></notification></item></publish>${options}</pubsub></iq>`;
}

describe("end to end: Prosody 0.12 + mod_cloud_notify -> bridge -> wrangler dev -> fake APNs / FCM", () => {
  const bridgeLogs: LogEntry[] = [];
  const exchanges: Exchange[] = [];
  /** Every device token handed out, to check that none shows up in a log line. */
  const tokens: string[] = [];
  let dir = "";
  let world: FakeWorld | undefined;
  let wrangler: DetachedProcess | undefined;
  let prosody: ProsodyServer | undefined;
  let bridge: Bridge | undefined;
  let users: XmppUsers;
  let bob: Client;
  let ports: number[] = [];
  let wranglerPort = 0;
  let inspectorPort = 0;

  const gatewayUrl = () => `http://127.0.0.1:${wranglerPort}`;
  const running = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not running`);
    return value;
  };

  /** `wrangler dev` on the same port and persist directory every time, so that KV survives a restart. */
  const startGateway = async (): Promise<DetachedProcess> => {
    const fakes = running(world, "the fake world");
    wrangler = await startWranglerDev({
      port: wranglerPort,
      inspectorPort,
      persistTo: join(dir, "wrangler-state"),
      envFile: fakes.envFile,
      env: { NODE_EXTRA_CA_CERTS: fakes.certificate.certPath },
    });
    return wrangler;
  };

  const stopGateway = async () => {
    const process_ = wrangler;
    wrangler = undefined;
    if (process_) await stopProcessGroup(process_);
    await assertPortFree(wranglerPort);
    await assertPortFree(inspectorPort);
  };

  /** The exchanges whose stanza is a publish to `node`. */
  const publishesTo = (node: string) =>
    exchanges.filter((exchange) => exchange.request.includes("<publish") && exchange.request.includes(node));

  /**
   * Waits until Prosody has routed everything bob sent before and the bridge has settled it: a
   * disco#info from bob travels the same path after it, and the bridge has nothing in flight.
   */
  const settle = async () => {
    await bob.iqCaller.request(discoInfoIq(PUSH_JID));
    await waitUntil(() => running(bridge, "the bridge").inFlight === 0, WAIT_MS, "the bridge to settle");
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "prosody-wrangler-e2e-"));
    world = await startFakeWorld({ dir: join(dir, "world"), pushJid: PUSH_JID, extraEnv: { GATEWAY_TOKEN } });
    ports = await freePorts(4);
    const [httpPort, inspector, c2sPort, componentPort] = ports;
    if (httpPort === undefined || inspector === undefined || c2sPort === undefined || componentPort === undefined)
      throw new Error("no free ports");
    wranglerPort = httpPort;
    inspectorPort = inspector;
    // The bridge first, so that it has to wait for Prosody (with back-off).
    bridge = startBridge({
      config: { service: `xmpp://127.0.0.1:${componentPort}`, secret: COMPONENT_SECRET, pushJid: PUSH_JID },
      post: recordingPoster(gatewayPoster(gatewayUrl(), GATEWAY_TOKEN), exchanges),
      log: collectingLogger(bridgeLogs),
      backoff: { baseMs: 50, capMs: 500 },
      shutdownGraceMs: 2_000,
    });
    const started = await Promise.allSettled([
      startGateway(),
      startProsody({
        componentSecret: COMPONENT_SECRET,
        users: USERS.map((username) => ({ username, password: PASSWORD })),
        c2sPort,
        componentPort,
      }).then((server) => {
        prosody = server;
      }),
    ]);
    for (const outcome of started) if (outcome.status === "rejected") throw outcome.reason;
    await bridge.waitOnline(WAIT_MS);
    users = new XmppUsers({ c2sPort, domain: HOST, password: PASSWORD });
    bob = await users.connect("bob");
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      console.error(`Prosody log (last lines):\n${prosody?.logTail(80)}`);
      console.error(`bridge log:\n${bridgeLogs.map((entry) => JSON.stringify(entry)).join("\n")}`);
      console.error(`exchanges:\n${exchanges.map((exchange) => JSON.stringify(exchange)).join("\n")}`);
      console.error(`fake APNs:\n${world?.apns.received.map(describeApnsReceipt).join("\n")}`);
      console.error(`fake FCM:\n${world?.fcm.received.map(describeFcmReceipt).join("\n")}`);
      console.error(`wrangler output:\n${wrangler?.output().slice(-4_000)}`);
    });
  });

  afterAll(async () => {
    await users?.disconnectAll();
    await bridge?.stop();
    if (wrangler) await stopProcessGroup(wrangler);
    await prosody?.stop();
    await world?.close();
    for (const port of ports) await assertPortFree(port);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("connects as the component once Prosody is up, retrying with back-off until then", () => {
    const events = bridgeLogs.map((entry) => entry.event);
    expect(events).toContain("bridge-reconnect-scheduled");
    expect(events.indexOf("bridge-online")).toBeGreaterThan(events.indexOf("bridge-reconnect-scheduled"));
    expect(bridge?.online).toBe(true);
  });

  it("answers a user's disco#info for the push service through Prosody, the bridge and wrangler dev", async () => {
    const reply = await bob.iqCaller.request(discoInfoIq(PUSH_JID));

    const query = reply.getChild("query", NS_DISCO_INFO);
    const identities = query?.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`);
    const features = query?.getChildren("feature").map((f) => f.attrs.var);
    expect(reply.attrs.from).toBe(PUSH_JID);
    expect(identities).toContain("pubsub/push");
    expect(features).toEqual(
      expect.arrayContaining([NS_PUSH, NS_COMMANDS, "tigase:messenger:apns:1", "tigase:messenger:fcm:1"]),
    );
  });

  it("p2 style: register-push-fcm, enable, go offline; a chat message reaches the fake FCM at high priority with the hashed account", async () => {
    const fakes = running(world, "the fake world");
    const token = fcmToken("alice");
    tokens.push(token);
    const alice = await users.connect("alice");
    const { node, secret, jid } = await registerP2AndEnable(alice, PUSH_JID, { token, deviceId: "alice-android-id" });
    expect(jid).toBe(PUSH_JID);
    await users.disconnect(alice);

    await bob.send(chat("alice@localhost", "Hello Alice, are you there?"));

    await waitUntil(() => fakes.fcm.to(token).length > 0, WAIT_MS, "a push to the fake FCM for alice");
    const [push, ...others] = fakes.fcm.to(token);
    expect(others).toHaveLength(0);
    expect(push).toMatchObject({
      status: 200,
      project: fakes.serviceAccount.json.project_id,
      account: fakes.serviceAccount.json.client_email,
    });
    expect(push?.message?.android).toMatchObject({ priority: "high" });
    // Only what p2 tells Google (issue 14, docs/protocol.md 6.2): the hashed account, nothing from the publish.
    expect(push?.data).toEqual({ account: p2AccountHash("alice@localhost", "alice-android-id") });
    await waitUntil(() => publishesTo(node).length === 1, WAIT_MS, "the bridge to record the publish");
    const [publish] = publishesTo(node);
    expect(publish?.request).toMatch(/^<iq [^>]*type=["']set["']/);
    expect(publish?.request).toMatch(/from=["']localhost["']/);
    expect(publish?.request).toContain(secret);
    expect(publish?.request).toContain("http://jabber.org/protocol/pubsub#publish-options");
    expect(publish?.status).toBe(200);
    expect(publish?.reply).toMatch(/^<iq [^>]*type=["']result["']/);
    expect(prosody?.pushStore("alice")).toContain(node);
  });

  it("Tigase style: register-device with APNs, enable without a secret; a chat message reaches the fake APNs as an alert with a verified JWT", async () => {
    const fakes = running(world, "the fake world");
    const token = apnsToken();
    tokens.push(token);
    const carol = await users.connect("carol");
    const { node, features, maxPayloadSize } = await registerDeviceAndEnable(carol, PUSH_JID, {
      provider: "tigase:messenger:apns:1",
      token,
    });
    expect(features).toContain("tigase:push:encrypt:0");
    expect(maxPayloadSize).toBeGreaterThan(0);
    await users.disconnect(carol);

    await bob.send(chat("carol@localhost", "Hello Carol"));

    await waitUntil(() => fakes.apns.to(token).length > 0, WAIT_MS, "a push to the fake APNs for carol");
    const [push, ...others] = fakes.apns.to(token);
    expect(others).toHaveLength(0);
    expect(push).toMatchObject({
      environment: "production",
      status: 200,
      httpVersion: "1.1",
      jwt: { kid: fakes.apnsKey.keyId, iss: fakes.apnsKey.teamId },
    });
    expect(push?.headers).toMatchObject({
      "apns-topic": fakes.env.APNS_TOPIC,
      "apns-push-type": "alert",
      "apns-priority": "10",
    });
    expect(push?.body).toMatchObject({
      aps: { alert: { body: "New Message!" }, "mutable-content": 1 },
      account: "carol@localhost",
      body: "New Message!",
      "unread-messages": 1,
    });
    await waitUntil(() => publishesTo(node).length === 1, WAIT_MS, "the bridge to record the publish");
    const [publish] = publishesTo(node);
    expect(publish?.request).not.toContain("publish-options");
    expect(publish?.status).toBe(200);
    expect(publish?.reply).toMatch(/^<iq [^>]*type=["']result["']/);
  });

  it("dead FCM token (UNREGISTERED): item-not-found, the node is gone from the gateway and from Prosody", async () => {
    const fakes = running(world, "the fake world");
    const token = fcmToken("dave");
    tokens.push(token);
    const dave = await users.connect("dave");
    const { node, secret } = await registerP2AndEnable(dave, PUSH_JID, { token, deviceId: "dave-android-id" });
    await users.disconnect(dave);
    expect(prosody?.pushStore("dave")).toContain(node);
    fakes.fcm.failToken(token, { code: "UNREGISTERED" });

    await bob.send(chat("dave@localhost", "Hello Dave"));

    await waitUntil(() => publishesTo(node).length === 1, WAIT_MS, "the publish for dave");
    const [publish] = publishesTo(node);
    expect(publish?.status).toBe(200);
    expect(publish?.reply).toMatch(/type=["']cancel["']/);
    expect(publish?.reply).toContain("item-not-found");
    expect(fakes.fcm.to(token).map((receipt) => `${receipt.status} ${receipt.error}`)).toEqual(["404 UNREGISTERED"]);
    await waitUntil(() => !prosody?.pushStore("dave")?.includes(node), WAIT_MS, "Prosody to drop dave's registration");

    // The gateway forgot the node: a publish of our own, from dave's domain with the right secret.
    const probe = await new FakeUserServer(gatewayUrl(), GATEWAY_TOKEN).iq(prosodyStylePublish(node, secret));
    expect(probe.error).toBe("cancel/item-not-found");
    expect(fakes.fcm.to(token)).toHaveLength(1);

    // Prosody forgot it too: the next message publishes nothing.
    await bob.send(chat("dave@localhost", "Dave, are you still there?"));
    await settle();
    expect(publishesTo(node)).toHaveLength(1);
    expect(fakes.fcm.to(token)).toHaveLength(1);
  });

  it("dead APNs token (410 Unregistered): item-not-found, the node is gone from the gateway and from Prosody", async () => {
    const fakes = running(world, "the fake world");
    const token = apnsToken();
    tokens.push(token);
    const grace = await users.connect("grace");
    const { node } = await registerDeviceAndEnable(grace, PUSH_JID, { provider: "tigase:messenger:apns:1", token });
    await users.disconnect(grace);
    expect(prosody?.pushStore("grace")).toContain(node);
    fakes.apns.failToken(token, { status: 410, reason: "Unregistered" });

    await bob.send(chat("grace@localhost", "Hello Grace"));

    await waitUntil(() => publishesTo(node).length === 1, WAIT_MS, "the publish for grace");
    expect(publishesTo(node)[0]?.reply).toMatch(/<error type=["']cancel["']><item-not-found /);
    expect(fakes.apns.to(token).map((receipt) => `${receipt.status} ${receipt.reason}`)).toEqual(["410 Unregistered"]);
    await waitUntil(
      () => !prosody?.pushStore("grace")?.includes(node),
      WAIT_MS,
      "Prosody to drop grace's registration",
    );

    const probe = await new FakeUserServer(gatewayUrl(), GATEWAY_TOKEN).iq(prosodyStylePublish(node));
    expect(probe.error).toBe("cancel/item-not-found");
    expect(fakes.apns.to(token)).toHaveLength(1);
  });

  it("gateway down (wrangler dev stopped): the bridge answers wait, Prosody keeps the registration; restarted, the next message is pushed", async () => {
    const fakes = running(world, "the fake world");
    const token = fcmToken("erin");
    tokens.push(token);
    const erin = await users.connect("erin");
    const { node } = await registerP2AndEnable(erin, PUSH_JID, { token, deviceId: "erin-android-id" });
    await users.disconnect(erin);
    await stopGateway();
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
    expect(publishesTo(node).map((exchange) => exchange.status)).toEqual([0]);
    const marker = await bob.iqCaller.request(discoInfoIq(PUSH_JID)).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(marker).toMatchObject({ condition: "internal-server-error", type: "wait" });
    expect(prosody?.pushStore("erin")).toContain(node);
    expect(fakes.fcm.to(token)).toHaveLength(0);

    await startGateway();
    await bob.send(chat("erin@localhost", "Erin, the gateway is back"));

    await waitUntil(() => fakes.fcm.to(token).length > 0, WAIT_MS, "a push to the fake FCM for erin");
    expect(fakes.fcm.to(token)).toMatchObject([
      { status: 200, data: { account: p2AccountHash("erin@localhost", "erin-android-id") } },
    ]);
    await waitUntil(() => publishesTo(node).length === 2, WAIT_MS, "the bridge to record the second publish");
    expect(publishesTo(node).map((exchange) => exchange.status)).toEqual([0, 200]);
    expect(publishesTo(node)[1]?.reply).toMatch(/^<iq [^>]*type=["']result["']/);
    expect(prosody?.pushStore("erin")).toContain(node);
  });

  it("the bridge stops cleanly: Prosody then answers for the push service itself (wait)", async () => {
    const frank = await users.connect("frank");
    const stopping = running(bridge, "the bridge");
    await stopping.stop();
    expect(stopping.online).toBe(false);

    const error = await frank.iqCaller.request(discoInfoIq(PUSH_JID)).then(
      () => undefined,
      (reason: unknown) => reason,
    );

    expect(error).toMatchObject({ condition: "remote-server-timeout", type: "wait" });
    expect(bridgeLogs.map((entry) => entry.event)).toContain("bridge-stopped");
  });

  it("never logs a secret, a device token or a stanza in the bridge's log lines", () => {
    const text = JSON.stringify(bridgeLogs);
    expect(bridgeLogs.filter((entry) => entry.event === "stanza").length).toBeGreaterThan(5);
    expect(tokens.length).toBeGreaterThan(4);
    for (const secret of [COMPONENT_SECRET, GATEWAY_TOKEN, ...tokens, "<iq", "alice@", "bob@"])
      expect(text).not.toContain(secret);
  });
});
