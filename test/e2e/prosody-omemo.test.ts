import { randomBytes, randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, type Element, xml } from "@xmpp/client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Bridge, gatewayPoster, type PostStanza, startBridge } from "../../src/bridge";
import { openPayload } from "../../src/omemo";
import { parseXml, type XmlElement } from "../../src/xmpp/xml";
import type { ApnsReceipt } from "../fakes/apns-server";
import { describeApnsReceipt, describeFcmReceipt, type FakeWorld, startFakeWorld } from "../fakes/fake-world";
import type { FcmReceipt } from "../fakes/fcm-server";
import {
  assertPortFree,
  type DetachedProcess,
  freePorts,
  REPO_ROOT,
  spawnDetached,
  startWranglerDev,
  stopProcessGroup,
  typescriptEntry,
  waitForHttp,
  waitForOutput,
} from "./processes";
import {
  commandIq,
  discoInfoIq,
  formValue,
  type ProsodyServer,
  startProsody,
  waitUntil,
  XmppUsers,
} from "./prosody-server";

/*
 * This project's Prosody module (integrations/prosody/mod_push_encrypt_omemo) in a real Prosody 0.12
 * with Debian's mod_cloud_notify: a second user sends one-to-one OMEMO messages (legacy
 * eu.siacs.conversations.axolotl and urn:xmpp:omemo:2, in the shapes of XEP-0384's examples and of
 * Conversations' messages); Prosody seals the push (AES-128-GCM with a real tag, the OMEMO key
 * material for the enabled device inside), publishes it to the push component; the gateway delivers
 * it to the fake APNs and FCM; the device's key opens it with the tag verified (src/omemo/open.ts).
 * Nothing in this file builds or seals a push: every <encrypted/> comes from Prosody.
 * Two gateways: the bridge + `wrangler dev`, and `npm run serve`. integrations/prosody/README.md and
 * docs/prosody.md report what this file proves.
 */

const HOST = "localhost";
const PUSH_JID = "push.localhost";
const GATEWAY_TOKEN = `e2e-gateway-token-${randomBytes(8).toString("hex")}`;
const PASSWORD = "e2e-password";
const WAIT_MS = 10_000;
const PLUGIN_PATH = join(REPO_ROOT, "integrations", "prosody");

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_PUSH = "urn:xmpp:push:0";
const NS_ENCRYPT = "tigase:push:encrypt:0";
const NS_ENCRYPT_OMEMO = "tigase:push:encrypt:omemo:0";
const NS_LEGACY = "eu.siacs.conversations.axolotl";
const NS_OMEMO2 = "urn:xmpp:omemo:2";
const MODULE_FEATURES = [NS_ENCRYPT, "tigase:push:encrypt:aes-128-gcm", NS_ENCRYPT_OMEMO];

/*
 * Playing the clients.
 */

/** A device of the push-receiving user: its push key and OMEMO device id, and its token. */
interface Device {
  readonly key: string;
  readonly deviceId: string;
  readonly token: string;
}

function newDevice(token: string): Device {
  return { key: randomBytes(16).toString("base64"), deviceId: String(randomInt(1, 2 ** 31)), token };
}

/** Random base64 of `bytes` bytes (OMEMO keys and payloads are opaque base64 to the server). */
function b64(bytes: number): string {
  return randomBytes(bytes).toString("base64");
}

/** `<enable/>` with the OMEMO extension, as docs/protocol.md section 7 has the client send it. */
function encryptedEnableIq(
  node: string,
  options: { key: string; alg?: string; maxSize?: number; deviceId?: string; omitEncrypt?: boolean },
): Element {
  const children: Element[] = [];
  if (options.omitEncrypt !== true)
    children.push(
      xml(
        "encrypt",
        {
          xmlns: NS_ENCRYPT,
          alg: options.alg ?? "aes-128-gcm",
          ...(options.maxSize === undefined ? {} : { "max-size": String(options.maxSize) }),
        },
        options.key,
      ),
    );
  if (options.deviceId !== undefined)
    children.push(xml("omemo", { xmlns: NS_ENCRYPT_OMEMO, deviceId: options.deviceId }));
  return xml("iq", { type: "set" }, xml("enable", { xmlns: NS_PUSH, jid: PUSH_JID, node }, ...children));
}

/** Tigase's register-device (as Siskin sends it); returns the node. */
async function registerDevice(xmpp: Client, provider: string, token: string): Promise<string> {
  const reply = await xmpp.iqCaller.request(
    commandIq(PUSH_JID, "register-device", { provider, "device-token": token }),
  );
  const node = formValue(reply, "node");
  if (node === undefined) throw new Error(`no node in ${reply.toString()}`);
  return node;
}

/** register-device, then enable with the device's key and OMEMO device id. */
async function registerEncrypted(
  xmpp: Client,
  provider: string,
  device: Device,
  options: { maxSize?: number } = {},
): Promise<string> {
  const node = await registerDevice(xmpp, provider, device.token);
  await xmpp.iqCaller.request(encryptedEnableIq(node, { key: device.key, deviceId: device.deviceId, ...options }));
  return node;
}

function accountDiscoIq(bareJid: string): Element {
  return xml("iq", { type: "get", to: bareJid }, xml("query", { xmlns: NS_DISCO_INFO }));
}

interface SentKey {
  readonly rid: string;
  readonly kex: boolean;
  readonly text: string;
}

/** What the test sent, to compare the device's `omemo` object with. */
interface SentOmemo {
  readonly stanza: Element;
  readonly sid: string;
  readonly keys: readonly SentKey[];
  readonly iv?: string;
  readonly payload?: string;
}

/**
 * A legacy OMEMO message as Conversations sends it (XEP-0384 v0.3, "Sending a message": keys with
 * `prekey`, `<iv/>` in the header; plus Conversations' fallback body, the EME hint and the store hint).
 * Without `payload`: a key transport element.
 */
function legacyOmemo(to: string, keys: readonly SentKey[], withPayload = true): SentOmemo {
  const sid = String(randomInt(1, 2 ** 31));
  const iv = b64(12);
  const payload = withPayload ? b64(48) : undefined;
  const header = xml(
    "header",
    { sid },
    ...keys.map((key) => xml("key", key.kex ? { prekey: "true", rid: key.rid } : { rid: key.rid }, key.text)),
    xml("iv", {}, iv),
  );
  const encrypted = xml("encrypted", { xmlns: NS_LEGACY }, header, ...(payload ? [xml("payload", {}, payload)] : []));
  const stanza = xml(
    "message",
    { to, type: "chat", id: `legacy-${randomBytes(4).toString("hex")}` },
    ...(payload
      ? [xml("body", {}, "I sent you an OMEMO encrypted message but your client doesn’t seem to support that.")]
      : []),
    encrypted,
    ...(payload ? [xml("encryption", { xmlns: "urn:xmpp:eme:0", name: "OMEMO", namespace: NS_LEGACY })] : []),
    xml("store", { xmlns: "urn:xmpp:hints" }),
  );
  return { stanza, sid, keys, iv, ...(payload ? { payload } : {}) };
}

/**
 * An OMEMO 2 message in the shape of XEP-0384's "Sending a message" example: keys grouped by
 * `<keys jid/>`, the recipient's devices and the sender's own, `kex='true'` on a key exchange, no
 * `<iv/>`, no body.
 */
function omemo2(to: string, groups: readonly { jid: string; keys: readonly SentKey[] }[]): SentOmemo {
  const sid = String(randomInt(1, 2 ** 31));
  const payload = b64(40);
  const header = xml(
    "header",
    { sid },
    ...groups.map((group) =>
      xml(
        "keys",
        { jid: group.jid },
        ...group.keys.map((key) => xml("key", key.kex ? { rid: key.rid, kex: "true" } : { rid: key.rid }, key.text)),
      ),
    ),
  );
  const stanza = xml(
    "message",
    { to, type: "chat", id: `omemo2-${randomBytes(4).toString("hex")}` },
    xml("encrypted", { xmlns: NS_OMEMO2 }, header, xml("payload", {}, payload)),
    xml("store", { xmlns: "urn:xmpp:hints" }),
  );
  const keys = groups.find((group) => group.jid === to)?.keys ?? [];
  return { stanza, sid, keys, payload };
}

/** An element of src/xmpp's parser as an @xmpp element, to send it. */
function toXmppElement(element: XmlElement): Element {
  const children = element.children.map((child) => (typeof child === "string" ? child : toXmppElement(child)));
  return xml(element.name, { ...element.attrs }, ...children);
}

/**
 * One of XEP-0384's own examples (test/fixtures/xep/, verbatim XML from xsf/xeps) as a message from the
 * sending user: its XML comments removed (XMPP forbids them), its `from` left to the server, its JIDs
 * and the recipient's `rid` replaced (`[from, to]` pairs, in order).
 */
function xepExample(file: string, replacements: readonly (readonly [string, string])[]): Element {
  let text = readFileSync(join(REPO_ROOT, "test", "fixtures", "xep", file), "utf8").replace(/<!--[\s\S]*?-->/g, "");
  for (const [from, to] of replacements) text = text.split(from).join(to);
  const parsed = parseXml(text.trim());
  if (!parsed.ok) throw new Error(`${file}: ${parsed.error.reason}`);
  const { from: _from, ...attrs } = parsed.value.attrs;
  return toXmppElement({ ...parsed.value, attrs: { ...attrs, type: "chat" } });
}

/** The `omemo` object the device must find for `deviceId`: built from what the test sent, not by src/omemo. */
function expectedOmemo(sent: SentOmemo, deviceId: string) {
  const mine = sent.keys.filter((key) => key.rid === deviceId);
  return {
    keys: mine.map((key) => key.text),
    kex: mine.map((key) => key.kex),
    sid: sent.sid,
    ...(sent.iv === undefined ? {} : { iv: sent.iv }),
    data: sent.payload,
  };
}

/** Opens a push as the device does: base64, the GCM tag verified (src/omemo/open.ts), the JSON parsed. */
async function openPush(encrypted: unknown, iv: unknown, key: string): Promise<Record<string, unknown>> {
  if (typeof encrypted !== "string" || typeof iv !== "string") throw new Error("the push has no encrypted/iv");
  const keyBytes = Uint8Array.from(Buffer.from(key, "base64"));
  const opened = await openPayload({ encrypted, iv }, keyBytes);
  if (!opened.ok) throw new Error(`the device could not open the push: ${opened.error.kind}`);
  // A changed tag does not open: the tag is real and checked.
  const sealed = Buffer.from(encrypted, "base64");
  sealed[sealed.length - 1] = (sealed[sealed.length - 1] ?? 0) ^ 1;
  const refused = await openPayload({ encrypted: sealed.toString("base64"), iv }, keyBytes);
  expect(refused.ok ? "opened" : refused.error.kind).toBe("tag-mismatch");
  return JSON.parse(opened.value) as Record<string, unknown>;
}

function apnsBody(receipt: ApnsReceipt | undefined): Record<string, unknown> {
  const body = receipt?.body;
  if (typeof body !== "object" || body === null) throw new Error("no APNs body");
  return body as Record<string, unknown>;
}

function fcmData(receipt: FcmReceipt | undefined): Record<string, string> {
  const data = receipt?.data;
  if (data === undefined) throw new Error("no FCM data");
  return data as Record<string, string>;
}

function accountFeatures(reply: Element): string[] {
  return (
    reply
      .getChild("query", NS_DISCO_INFO)
      ?.getChildren("feature")
      .map((feature) => String(feature.attrs.var)) ?? []
  );
}

/** An <iq/> error as `type/condition text`. */
async function iqError(xmpp: Client, iq: Element): Promise<string> {
  try {
    await xmpp.iqCaller.request(iq);
    return "result";
  } catch (error) {
    const { type, condition, text } = error as { type?: string; condition?: string; text?: string };
    return `${type}/${condition} ${text ?? ""}`.trim();
  }
}

/** What the module logs for each push it sealed (debug level; no content). */
function sealedLines(prosody: ProsodyServer | undefined, user: string): string[] {
  const log = readFileSync(join(prosody?.dir ?? "", "prosody.log"), "utf8");
  return log.split("\n").filter((line) => line.includes(`push for ${user} (`) && line.includes("Sealed"));
}

interface Exchange {
  readonly request: string;
  readonly status: number;
  readonly reply: string;
}

function recordingPoster(post: PostStanza, exchanges: Exchange[]): PostStanza {
  return async (text, signal) => {
    const answer = await post(text, signal);
    exchanges.push({ request: text, status: answer.status, reply: answer.body });
    return answer;
  };
}

const silentLogger = { log: () => undefined };

describe("Prosody 0.12 + mod_cloud_notify + mod_push_encrypt_omemo -> bridge -> wrangler dev -> fake APNs / FCM", () => {
  const exchanges: Exchange[] = [];
  let dir = "";
  let world: FakeWorld | undefined;
  let wrangler: DetachedProcess | undefined;
  let prosody: ProsodyServer | undefined;
  let bridge: Bridge | undefined;
  let users: XmppUsers;
  let bob: Client;
  let ports: number[] = [];
  const alice = newDevice(randomBytes(32).toString("hex"));
  const dave = newDevice(`fcm-dave-${randomBytes(24).toString("base64url")}`);
  const carol = newDevice(randomBytes(32).toString("hex"));
  const erinToken = randomBytes(32).toString("hex");

  const fakes = (): FakeWorld => {
    if (world === undefined) throw new Error("the fake world is not running");
    return world;
  };

  /** The publishes the bridge relayed to `node`. */
  const publishesTo = (node: string) =>
    exchanges.filter((exchange) => exchange.request.includes("<publish") && exchange.request.includes(node));

  /**
   * The publish (as the bridge relayed it) that carried this encrypted text, once the bridge has
   * recorded the gateway's answer to it.
   */
  const publishCarrying = async (encrypted: unknown): Promise<string> => {
    const text = String(encrypted);
    const find = () => exchanges.find((exchange) => exchange.request.includes(text))?.request;
    await waitUntil(() => find() !== undefined, WAIT_MS, "the bridge to record the publish");
    return find() ?? "";
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "prosody-omemo-e2e-"));
    const componentSecret = `e2e-component-secret-${randomBytes(8).toString("hex")}`;
    world = await startFakeWorld({ dir: join(dir, "world"), pushJid: PUSH_JID, extraEnv: { GATEWAY_TOKEN } });
    ports = await freePorts(4);
    const [httpPort, inspectorPort, c2sPort, componentPort] = ports;
    if (httpPort === undefined || inspectorPort === undefined || c2sPort === undefined || componentPort === undefined)
      throw new Error("no free ports");
    const started = await Promise.allSettled([
      startWranglerDev({
        port: httpPort,
        inspectorPort,
        persistTo: join(dir, "wrangler-state"),
        envFile: world.envFile,
        env: { NODE_EXTRA_CA_CERTS: world.certificate.certPath },
      }).then((process_) => {
        wrangler = process_;
      }),
      startProsody({
        componentSecret,
        users: ["alice", "bob", "carol", "dave", "erin", "frank"].map((username) => ({ username, password: PASSWORD })),
        c2sPort,
        componentPort,
        pluginPaths: [PLUGIN_PATH],
        extraModules: ["push_encrypt_omemo"],
      }).then((server) => {
        prosody = server;
      }),
    ]);
    for (const outcome of started) if (outcome.status === "rejected") throw outcome.reason;
    bridge = startBridge({
      config: { service: `xmpp://127.0.0.1:${componentPort}`, secret: componentSecret, pushJid: PUSH_JID },
      post: recordingPoster(gatewayPoster(`http://127.0.0.1:${httpPort}`, GATEWAY_TOKEN), exchanges),
      log: silentLogger,
      backoff: { baseMs: 50, capMs: 500 },
      shutdownGraceMs: 2_000,
    });
    await bridge.waitOnline(WAIT_MS);
    users = new XmppUsers({ c2sPort, domain: HOST, password: PASSWORD });
    bob = await users.connect("bob");
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      console.error(`Prosody log (last lines):\n${prosody?.logTail(80)}`);
      console.error(`exchanges:\n${exchanges.map((exchange) => JSON.stringify(exchange)).join("\n")}`);
      console.error(`fake APNs:\n${world?.apns.received.map(describeApnsReceipt).join("\n")}`);
      console.error(`fake FCM:\n${world?.fcm.received.map(describeFcmReceipt).join("\n")}`);
      console.error(`wrangler output:\n${wrangler?.output().slice(-3_000)}`);
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

  it("Prosody loaded the module from plugin_paths: the three features on the user's bare JID", async () => {
    const own = accountFeatures(await bob.iqCaller.request(accountDiscoIq("bob@localhost")));
    expect(own).toEqual(expect.arrayContaining([NS_PUSH, ...MODULE_FEATURES]));
    expect(prosody?.configText).toContain(`plugin_paths = { ${JSON.stringify(PLUGIN_PATH)} }`);
  });

  it("refuses bad keys, algorithms and device ids with modify/bad-request; the alias aes-gcm is accepted", async () => {
    const frank = await users.connect("frank");
    const node = await registerDevice(frank, "tigase:messenger:apns:1", randomBytes(32).toString("hex"));
    const key = randomBytes(16).toString("base64");
    const refusals = [
      await iqError(frank, encryptedEnableIq(node, { key, alg: "aes-256-gcm", deviceId: "1325" })),
      await iqError(frank, encryptedEnableIq(node, { key: randomBytes(15).toString("base64"), deviceId: "1325" })),
      await iqError(frank, encryptedEnableIq(node, { key: "not base64!", deviceId: "1325" })),
      await iqError(frank, encryptedEnableIq(node, { key, deviceId: "0" })),
      await iqError(frank, encryptedEnableIq(node, { key, deviceId: "4294967296" })),
      await iqError(frank, encryptedEnableIq(node, { key, deviceId: "-7" })),
      await iqError(frank, encryptedEnableIq(node, { key, maxSize: 0 })),
      await iqError(frank, encryptedEnableIq(node, { key, deviceId: "1325", omitEncrypt: true })),
    ];
    expect(refusals).toEqual([
      "modify/bad-request Unsupported encryption algorithm",
      "modify/bad-request Encryption key must be 16 bytes",
      "modify/bad-request Encryption key is not base64",
      "modify/bad-request deviceId must be an OMEMO device id",
      "modify/bad-request deviceId must be an OMEMO device id",
      "modify/bad-request deviceId must be an OMEMO device id",
      "modify/bad-request max-size must be a positive integer",
      "modify/bad-request omemo requires encrypt",
    ]);
    expect(prosody?.pushStore("frank")).toBeUndefined();

    expect(await iqError(frank, encryptedEnableIq(node, { key, alg: "aes-gcm", deviceId: "1325" }))).toBe("result");
    const stored = prosody?.pushStore("frank") ?? "";
    expect(stored).toContain(node);
    expect(stored).toContain("encrypt_omemo");
    expect(stored).toContain('"aes-128-gcm"');
    await users.disconnect(frank);
  });

  it("legacy OMEMO (Conversations' shape) -> an alert at the fake APNs; the device opens it and finds the stanza's keys, kex, sid, iv and data", async () => {
    const xmpp = await users.connect("alice");
    const node = await registerEncrypted(xmpp, "tigase:messenger:apns:1", alice);
    await users.disconnect(xmpp);

    const sent = legacyOmemo("alice@localhost", [
      { rid: "4242", kex: false, text: b64(120) },
      { rid: alice.deviceId, kex: true, text: b64(150) },
      { rid: alice.deviceId, kex: false, text: b64(120) },
    ]);
    await bob.send(sent.stanza);

    await waitUntil(() => fakes().apns.to(alice.token).length === 1, WAIT_MS, "a push to the fake APNs for alice");
    const [push] = fakes().apns.to(alice.token);
    expect(push?.status).toBe(200);
    expect(push?.headers).toMatchObject({ "apns-push-type": "alert", "apns-priority": "10" });
    const body = apnsBody(push);
    expect(body).toMatchObject({ account: "alice@localhost", aps: { "mutable-content": 1 } });
    expect(await openPush(body.encrypted, body.iv, alice.key)).toEqual({
      unread: 1,
      sender: "bob@localhost",
      type: "chat",
      message: "New secure message",
      omemo: expectedOmemo(sent, alice.deviceId),
    });
    // Apple sees neither the sender, nor the fallback body, nor any OMEMO key.
    for (const secret of ["bob@localhost", "OMEMO encrypted message", ...sent.keys.map((key) => key.text)])
      expect(push?.rawBody).not.toContain(secret);

    // What Prosody published (as the bridge relayed it): the module's elements, no summary form.
    const publish = await publishCarrying(body.encrypted);
    expect(publishesTo(node)).toHaveLength(1);
    expect(publish).toMatch(/from=["']localhost["']/);
    expect(publish).toMatch(/<encrypted [^>]*xmlns=["']tigase:push:encrypt:0["']/);
    expect(publish).toMatch(/<priority xmlns=["']tigase:push:priority:0["']>high<\/priority>/);
    expect(publish).not.toContain("jabber:x:data");
    expect(publish).toContain(String(body.encrypted));
    expect(sealedLines(prosody, "alice")).toHaveLength(1);
  });

  it("OMEMO 2 (XEP-0384's shape, keys grouped by JID) -> only the keys of alice's group for her device, no iv", async () => {
    const sent = omemo2("alice@localhost", [
      {
        jid: "alice@localhost",
        keys: [
          { rid: alice.deviceId, kex: true, text: b64(160) },
          { rid: "31415", kex: false, text: b64(120) },
        ],
      },
      { jid: "bob@localhost", keys: [{ rid: alice.deviceId, kex: false, text: b64(120) }] },
    ]);
    await bob.send(sent.stanza);

    await waitUntil(() => fakes().apns.to(alice.token).length === 2, WAIT_MS, "a second push for alice");
    const push = fakes().apns.to(alice.token)[1];
    expect(push?.headers).toMatchObject({ "apns-push-type": "alert", "apns-priority": "10" });
    const body = apnsBody(push);
    const plaintext = await openPush(body.encrypted, body.iv, alice.key);
    expect(plaintext).toEqual({
      unread: 1,
      sender: "bob@localhost",
      type: "chat",
      message: "New secure message",
      omemo: expectedOmemo(sent, alice.deviceId),
    });
    expect(plaintext.omemo).not.toHaveProperty("iv");
  });

  it("an OMEMO 2 message not encrypted to alice's enabled device -> an alert without omemo object", async () => {
    const sent = omemo2("alice@localhost", [
      { jid: "alice@localhost", keys: [{ rid: "31415", kex: false, text: b64(120) }] },
    ]);
    await bob.send(sent.stanza);

    await waitUntil(() => fakes().apns.to(alice.token).length === 3, WAIT_MS, "a third push for alice");
    const push = fakes().apns.to(alice.token)[2];
    expect(push?.headers).toMatchObject({ "apns-push-type": "alert" });
    const body = apnsBody(push);
    expect(await openPush(body.encrypted, body.iv, alice.key)).toEqual({
      unread: 1,
      sender: "bob@localhost",
      type: "chat",
      message: "New secure message",
    });
  });

  it("key transport (OMEMO without payload) -> a background push: no visible notification, nothing to show inside", async () => {
    const sent = legacyOmemo("alice@localhost", [{ rid: alice.deviceId, kex: true, text: b64(150) }], false);
    await bob.send(sent.stanza);

    await waitUntil(() => fakes().apns.to(alice.token).length === 4, WAIT_MS, "a fourth push for alice");
    const push = fakes().apns.to(alice.token)[3];
    expect(push?.headers).toMatchObject({ "apns-push-type": "background", "apns-priority": "5" });
    const body = apnsBody(push);
    expect(body.aps).toEqual({ "content-available": 1 });
    expect(await openPush(body.encrypted, body.iv, alice.key)).toEqual({
      unread: 1,
      sender: "bob@localhost",
      type: "chat",
    });
    expect(await publishCarrying(body.encrypted)).toMatch(
      /<priority xmlns=["']tigase:push:priority:0["']>low<\/priority>/,
    );
  });

  it("XEP-0384's own 'Sending a message' examples (legacy and OMEMO 2), sent as written but for the JIDs and alice's rid", async () => {
    const count = fakes().apns.to(alice.token).length;
    await bob.send(
      xepExample("xep0384-v0.3-axolotl-message.xml", [
        ["juliet@capulet.lit", "alice@localhost"],
        ["rid='31415'", `rid='${alice.deviceId}'`],
      ]),
    );
    await waitUntil(() => fakes().apns.to(alice.token).length === count + 1, WAIT_MS, "the legacy example's push");
    await bob.send(
      xepExample("xep0384-omemo2-message.xml", [
        ["juliet@capulet.lit", "alice@localhost"],
        ["romeo@montague.lit", "bob@localhost"],
        ["rid='31415'", `rid='${alice.deviceId}'`],
      ]),
    );
    await waitUntil(() => fakes().apns.to(alice.token).length === count + 2, WAIT_MS, "the OMEMO 2 example's push");

    const [legacyPush, omemo2Push] = fakes().apns.to(alice.token).slice(count);
    const legacyBody = apnsBody(legacyPush);
    expect(await openPush(legacyBody.encrypted, legacyBody.iv, alice.key)).toEqual({
      unread: 1,
      sender: "bob@localhost",
      type: "chat",
      message: "New secure message",
      omemo: { keys: ["BASE64ENCODED..."], kex: [false], sid: "27183", iv: "BASE64ENCODED...", data: "BASE64ENCODED" },
    });
    const omemo2Body = apnsBody(omemo2Push);
    expect(await openPush(omemo2Body.encrypted, omemo2Body.iv, alice.key)).toEqual({
      unread: 1,
      sender: "bob@localhost",
      type: "chat",
      message: "New secure message",
      omemo: {
        keys: ["b64/encoded/data"],
        kex: [false],
        sid: "27183",
        data: "base64/encoded/message/key/encrypted/envelope/element",
      },
    });
  });

  it("a Jingle call proposal -> <encrypted type='voip'/>, rung as an alert (no PushKit token), the caller's full JID inside", async () => {
    const callId = `call-${randomBytes(4).toString("hex")}`;
    const count = fakes().apns.to(alice.token).length;
    await bob.send(
      xml(
        "message",
        { to: "alice@localhost", type: "chat", id: callId },
        xml(
          "propose",
          { xmlns: "urn:xmpp:jingle-message:0", id: callId },
          xml("description", { xmlns: "urn:xmpp:jingle:apps:rtp:1", media: "audio" }),
        ),
        xml("store", { xmlns: "urn:xmpp:hints" }),
      ),
    );

    await waitUntil(() => fakes().apns.to(alice.token).length === count + 1, WAIT_MS, "the call's push");
    const push = fakes().apns.to(alice.token)[count];
    expect(push?.headers).toMatchObject({ "apns-push-type": "alert", "apns-priority": "10" });
    const body = apnsBody(push);
    expect(await openPush(body.encrypted, body.iv, alice.key)).toEqual({
      unread: 1,
      sender: "bob@localhost/e2e",
      type: "call",
      sid: callId,
      media: ["audio"],
    });
    expect(await publishCarrying(body.encrypted)).toMatch(/<encrypted [^>]*type=["']voip["']/);
  });

  it("a plain chat message -> its body only inside the encrypted push, never in clear", async () => {
    const text = `Meet me at the orchard ${randomBytes(4).toString("hex")}`;
    const count = fakes().apns.to(alice.token).length;
    await bob.send(xml("message", { to: "alice@localhost", type: "chat" }, xml("body", {}, text)));

    await waitUntil(() => fakes().apns.to(alice.token).length === count + 1, WAIT_MS, "the chat's push");
    const push = fakes().apns.to(alice.token)[count];
    expect(push?.rawBody).not.toContain(text);
    const body = apnsBody(push);
    expect(await publishCarrying(body.encrypted)).not.toContain(text);
    expect(await openPush(body.encrypted, body.iv, alice.key)).toEqual({
      unread: 1,
      sender: "bob@localhost",
      type: "chat",
      message: text,
    });
    const ivs = fakes()
      .apns.to(alice.token)
      .map((receipt) => apnsBody(receipt).iv);
    expect(ivs).toHaveLength(8);
    expect(new Set(ivs).size).toBe(ivs.length);
    expect(sealedLines(prosody, "alice")).toHaveLength(ivs.length);
  });

  it("FCM (register-device with tigase:messenger:fcm:1): OMEMO 2 at high priority, key transport at normal", async () => {
    const xmpp = await users.connect("dave");
    await registerEncrypted(xmpp, "tigase:messenger:fcm:1", dave);
    await users.disconnect(xmpp);

    const sent = omemo2("dave@localhost", [
      { jid: "dave@localhost", keys: [{ rid: dave.deviceId, kex: false, text: b64(120) }] },
    ]);
    // One at a time: the bridge relays publishes concurrently, so two in flight may reach FCM in either order.
    await bob.send(sent.stanza);
    await waitUntil(() => fakes().fcm.to(dave.token).length === 1, WAIT_MS, "a push to the fake FCM for dave");
    await bob.send(legacyOmemo("dave@localhost", [{ rid: dave.deviceId, kex: true, text: b64(150) }], false).stanza);
    await waitUntil(() => fakes().fcm.to(dave.token).length === 2, WAIT_MS, "a second push to the fake FCM for dave");
    const [message, keyTransport] = fakes().fcm.to(dave.token);
    expect(message?.message?.android).toMatchObject({ priority: "high" });
    expect(keyTransport?.message?.android).toMatchObject({ priority: "normal" });
    const data = fcmData(message);
    expect(Object.keys(data).sort()).toEqual(["account", "encrypted", "iv"]);
    expect(await openPush(data.encrypted, data.iv, dave.key)).toEqual({
      unread: 1,
      sender: "bob@localhost",
      type: "chat",
      message: "New secure message",
      omemo: expectedOmemo(sent, dave.deviceId),
    });
    const quiet = fcmData(keyTransport);
    expect(await openPush(quiet.encrypted, quiet.iv, dave.key)).toEqual({
      unread: 1,
      sender: "bob@localhost",
      type: "chat",
    });
  });

  it("max-size: a push that would not fit loses its omemo object first and stays within max-size", async () => {
    const xmpp = await users.connect("carol");
    await registerEncrypted(xmpp, "tigase:messenger:apns:1", carol, { maxSize: 200 });
    await users.disconnect(xmpp);

    await bob.send(legacyOmemo("carol@localhost", [{ rid: carol.deviceId, kex: true, text: b64(150) }]).stanza);

    await waitUntil(() => fakes().apns.to(carol.token).length === 1, WAIT_MS, "a push for carol");
    const body = apnsBody(fakes().apns.to(carol.token)[0]);
    expect(String(body.encrypted).length).toBeLessThanOrEqual(200);
    expect(await openPush(body.encrypted, body.iv, carol.key)).toEqual({
      unread: 1,
      sender: "bob@localhost",
      type: "chat",
      message: "New secure message",
    });
  });

  it("without <encrypt/>: an OMEMO 2 message without body still alerts, a legacy key transport no longer does", async () => {
    // Debian's mod_cloud_notify alone knows only the legacy namespace: it would wake this OMEMO 2
    // message silently and alert for the invisible key transport.
    const xmpp = await users.connect("erin");
    const node = await registerDevice(xmpp, "tigase:messenger:apns:1", erinToken);
    await xmpp.iqCaller.request(xml("iq", { type: "set" }, xml("enable", { xmlns: NS_PUSH, jid: PUSH_JID, node })));
    await users.disconnect(xmpp);

    await bob.send(
      omemo2("erin@localhost", [{ jid: "erin@localhost", keys: [{ rid: "77", kex: false, text: b64(99) }] }]).stanza,
    );
    await waitUntil(() => fakes().apns.to(erinToken).length === 1, WAIT_MS, "a push for erin");
    await bob.send(legacyOmemo("erin@localhost", [{ rid: "77", kex: true, text: b64(99) }], false).stanza);
    await waitUntil(() => fakes().apns.to(erinToken).length === 2, WAIT_MS, "a second push for erin");

    const [message, keyTransport] = fakes().apns.to(erinToken);
    expect(message?.headers).toMatchObject({ "apns-push-type": "alert", "apns-priority": "10" });
    expect(apnsBody(message)).toMatchObject({ body: "New Message!" });
    expect(keyTransport?.headers).toMatchObject({ "apns-push-type": "background", "apns-priority": "5" });
    expect(apnsBody(keyTransport)).not.toHaveProperty("encrypted");
  });

  it("no push was made by the test: every <encrypted/> the gateway got was published by Prosody and logged by the module", () => {
    const sealedPublishes = exchanges.filter((exchange) => exchange.request.includes(NS_ENCRYPT));
    // alice 8, dave 2, carol 1; erin's registration has no <encrypt/>.
    expect(sealedPublishes.length).toBe(8 + 2 + 1);
    for (const exchange of sealedPublishes) {
      expect(exchange.request).toMatch(/^<iq [^>]*from=["']localhost["']/);
      expect(exchange.reply).toMatch(/type=["']result["']/);
    }
    expect(
      sealedLines(prosody, "alice").length + sealedLines(prosody, "dave").length + sealedLines(prosody, "carol").length,
    ).toBe(sealedPublishes.length);
    const log = readFileSync(join(prosody?.dir ?? "", "prosody.log"), "utf8").split("\n");
    expect(log.filter((line) => /push_encrypt_omemo\s+(error|warn)\s/.test(line))).toEqual([]);
    expect(log.filter((line) => /\serror\s/.test(line) && !line.includes("bad-request"))).toEqual([]);
  });
});

/** What `npm run serve` runs, read from package.json (as serve-prosody.test.ts does). */
function serveEntry(): string {
  const scripts: unknown = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts;
  const script = typeof scripts === "object" && scripts !== null && "serve" in scripts ? scripts.serve : undefined;
  const entry = typeof script === "string" ? /^node --import tsx (\S+)$/.exec(script)?.[1] : undefined;
  if (entry === undefined) throw new Error(`package.json's "serve" script is not "node --import tsx ENTRY"`);
  return entry;
}

describe("Prosody 0.12 + mod_cloud_notify + mod_push_encrypt_omemo -> npm run serve -> fake APNs over HTTP/2", () => {
  let dir = "";
  let world: FakeWorld | undefined;
  let prosody: ProsodyServer | undefined;
  let serve: DetachedProcess | undefined;
  let users: XmppUsers;
  let bob: Client;
  let ports: number[] = [];
  const alice = newDevice(randomBytes(32).toString("hex"));

  const fakes = (): FakeWorld => {
    if (world === undefined) throw new Error("the fake world is not running");
    return world;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "prosody-omemo-serve-e2e-"));
    const componentSecret = `e2e-component-secret-${randomBytes(8).toString("hex")}`;
    world = await startFakeWorld({ dir: join(dir, "world"), pushJid: PUSH_JID, extraEnv: { GATEWAY_TOKEN } });
    ports = await freePorts(3);
    const [httpPort, c2sPort, componentPort] = ports;
    if (httpPort === undefined || c2sPort === undefined || componentPort === undefined) throw new Error("no ports");
    prosody = await startProsody({
      componentSecret,
      users: ["alice", "bob"].map((username) => ({ username, password: PASSWORD })),
      c2sPort,
      componentPort,
      pluginPaths: [PLUGIN_PATH],
      extraModules: ["push_encrypt_omemo"],
    });
    serve = spawnDetached(process.execPath, typescriptEntry(serveEntry()), {
      name: "serve",
      env: {
        ...process.env,
        ...world.env,
        XMPP_COMPONENT_SERVICE: `xmpp://127.0.0.1:${componentPort}`,
        XMPP_COMPONENT_SECRET: componentSecret,
        PUSH_JID,
        STORE_PATH: join(dir, "store", "registrations.sqlite"),
        HOST: "127.0.0.1",
        PORT: String(httpPort),
        NODE_EXTRA_CA_CERTS: world.certificate.certPath,
      },
    });
    await waitForHttp(`http://127.0.0.1:${httpPort}/health`, { process: serve, timeoutMs: 30_000 });
    await waitForOutput(serve, '"event":"bridge-online"', WAIT_MS);
    users = new XmppUsers({ c2sPort, domain: HOST, password: PASSWORD });
    bob = await users.connect("bob");
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      console.error(`Prosody log (last lines):\n${prosody?.logTail(80)}`);
      console.error(`serve output:\n${serve?.output().slice(-4_000)}`);
      console.error(`fake APNs:\n${world?.apns.received.map(describeApnsReceipt).join("\n")}`);
    });
  });

  afterAll(async () => {
    await users?.disconnectAll();
    if (serve) await stopProcessGroup(serve, { graceMs: 15_000 });
    await prosody?.stop();
    await world?.close();
    for (const port of ports) await assertPortFree(port);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the features on the user's bare JID, and the push component of npm run serve behind Prosody", async () => {
    expect(accountFeatures(await bob.iqCaller.request(accountDiscoIq("bob@localhost")))).toEqual(
      expect.arrayContaining(MODULE_FEATURES),
    );
    const reply = await bob.iqCaller.request(discoInfoIq(PUSH_JID));
    expect(reply.attrs.from).toBe(PUSH_JID);
  });

  it("legacy and OMEMO 2 messages reach the fake APNs over HTTP/2 and open with the stanza's key material; key transport stays silent", async () => {
    const xmpp = await users.connect("alice");
    await registerEncrypted(xmpp, "tigase:messenger:apns:1", alice);
    await users.disconnect(xmpp);

    const legacy = legacyOmemo("alice@localhost", [
      { rid: alice.deviceId, kex: true, text: b64(150) },
      { rid: "99", kex: false, text: b64(120) },
    ]);
    const modern = omemo2("alice@localhost", [
      { jid: "alice@localhost", keys: [{ rid: alice.deviceId, kex: false, text: b64(120) }] },
    ]);
    await bob.send(legacy.stanza);
    await waitUntil(() => fakes().apns.to(alice.token).length === 1, WAIT_MS, "the legacy push");
    await bob.send(modern.stanza);
    await waitUntil(() => fakes().apns.to(alice.token).length === 2, WAIT_MS, "the OMEMO 2 push");
    await bob.send(legacyOmemo("alice@localhost", [{ rid: alice.deviceId, kex: true, text: b64(150) }], false).stanza);
    await waitUntil(() => fakes().apns.to(alice.token).length === 3, WAIT_MS, "the key transport push");

    const [first, second, third] = fakes().apns.to(alice.token);
    for (const push of [first, second, third]) expect(push).toMatchObject({ status: 200, httpVersion: "2.0" });
    expect([first, second, third].map((push) => push?.headers["apns-push-type"])).toEqual([
      "alert",
      "alert",
      "background",
    ]);
    const sent = [legacy, modern];
    for (const [index, push] of [first, second].entries()) {
      const body = apnsBody(push);
      expect(await openPush(body.encrypted, body.iv, alice.key)).toEqual({
        unread: 1,
        sender: "bob@localhost",
        type: "chat",
        message: "New secure message",
        omemo: expectedOmemo(sent[index] as SentOmemo, alice.deviceId),
      });
    }
    const quiet = apnsBody(third);
    expect(await openPush(quiet.encrypted, quiet.iv, alice.key)).toEqual({
      unread: 1,
      sender: "bob@localhost",
      type: "chat",
    });
    expect(sealedLines(prosody, "alice")).toHaveLength(3);
  });
});
