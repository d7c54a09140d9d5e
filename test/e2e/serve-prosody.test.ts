import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@xmpp/client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { describeApnsReceipt, describeFcmReceipt, type FakeWorld, startFakeWorld } from "../fakes/fake-world";
import { p2AccountHash } from "../fakes/user-server";
import {
  assertPortFree,
  type DetachedProcess,
  freePorts,
  REPO_ROOT,
  spawnDetached,
  stopProcessGroup,
  typescriptEntry,
  waitForHttp,
  waitForOutput,
} from "./processes";
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
 * Prosody 0.12 + mod_cloud_notify -> `npm run serve` (the Node gateway with its SQLite store and the
 * component in one process, a real child process) -> the fake APNs and FCM over HTTP/2.
 * docs/prosody.md reports what this file proves.
 */

const HOST = "localhost";
const PUSH_JID = "push.localhost";
const GATEWAY_TOKEN = `e2e-gateway-token-${randomBytes(8).toString("hex")}`;
const COMPONENT_SECRET = `e2e-component-secret-${randomBytes(8).toString("hex")}`;
const METRICS_TOKEN = `e2e-metrics-token-${randomBytes(16).toString("hex")}`;
const PASSWORD = "e2e-password";
const USERS = ["alice", "bob", "carol"] as const;
const WAIT_MS = 10_000;
const ALICE_DEVICE = "alice-android-id";

/** What `npm run serve` runs (`node --import tsx ENTRY`), read from package.json so that the test follows it. */
function serveEntry(): string {
  const scripts: unknown = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts;
  const script = typeof scripts === "object" && scripts !== null && "serve" in scripts ? scripts.serve : undefined;
  const entry = typeof script === "string" ? /^node --import tsx (\S+)$/.exec(script)?.[1] : undefined;
  if (entry === undefined)
    throw new Error(`package.json's "serve" script is not "node --import tsx ENTRY": ${String(script)}`);
  return entry;
}

describe("end to end: Prosody 0.12 + mod_cloud_notify -> npm run serve (SQLite) -> fake APNs / FCM over HTTP/2", () => {
  let dir = "";
  let world: FakeWorld | undefined;
  let prosody: ProsodyServer | undefined;
  let serve: DetachedProcess | undefined;
  let users: XmppUsers;
  let bob: Client;
  let ports: number[] = [];
  let serveEnv: NodeJS.ProcessEnv = {};
  let servePort = 0;
  const fcmToken = `fcm-alice-${randomBytes(24).toString("base64url")}`;
  const apnsToken = randomBytes(32).toString("hex");
  const nodes = { alice: "", carol: "" };

  const fakes = (): FakeWorld => {
    if (world === undefined) throw new Error("the fake world is not running");
    return world;
  };

  /** `npm run serve` as a child process in its own process group; resolves once the component is online. */
  const startServeProcess = async (): Promise<DetachedProcess> => {
    const started = spawnDetached(process.execPath, typescriptEntry(serveEntry()), {
      name: "serve",
      env: serveEnv,
    });
    serve = started;
    await waitForHttp(`http://127.0.0.1:${servePort}/health`, { process: started, timeoutMs: 30_000 });
    await waitForOutput(started, '"event":"bridge-online"', WAIT_MS);
    return started;
  };

  const stopServeProcess = async () => {
    const running = serve;
    serve = undefined;
    if (running) await stopProcessGroup(running, { graceMs: 15_000 });
    await assertPortFree(servePort);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "serve-prosody-e2e-"));
    world = await startFakeWorld({ dir: join(dir, "world"), pushJid: PUSH_JID, extraEnv: { GATEWAY_TOKEN } });
    ports = await freePorts(3);
    const [httpPort, c2sPort, componentPort] = ports;
    if (httpPort === undefined || c2sPort === undefined || componentPort === undefined) throw new Error("no ports");
    servePort = httpPort;
    prosody = await startProsody({
      componentSecret: COMPONENT_SECRET,
      users: USERS.map((username) => ({ username, password: PASSWORD })),
      c2sPort,
      componentPort,
    });
    serveEnv = {
      ...process.env,
      ...world.env,
      XMPP_COMPONENT_SERVICE: `xmpp://127.0.0.1:${componentPort}`,
      XMPP_COMPONENT_SECRET: COMPONENT_SECRET,
      PUSH_JID,
      STORE_PATH: join(dir, "store", "registrations.sqlite"),
      HOST: "127.0.0.1",
      PORT: String(servePort),
      NODE_EXTRA_CA_CERTS: world.certificate.certPath,
      METRICS_TOKEN,
    };
    await startServeProcess();
    users = new XmppUsers({ c2sPort, domain: HOST, password: PASSWORD });
    bob = await users.connect("bob");
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      console.error(`Prosody log (last lines):\n${prosody?.logTail(80)}`);
      console.error(`serve output:\n${serve?.output().slice(-6_000)}`);
      console.error(`fake APNs:\n${world?.apns.received.map(describeApnsReceipt).join("\n")}`);
      console.error(`fake FCM:\n${world?.fcm.received.map(describeFcmReceipt).join("\n")}`);
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

  it("answers a user's disco#info through Prosody and the component of npm run serve", async () => {
    const reply = await bob.iqCaller.request(discoInfoIq(PUSH_JID));
    const identities = reply
      .getChild("query", "http://jabber.org/protocol/disco#info")
      ?.getChildren("identity")
      .map((identity) => `${identity.attrs.category}/${identity.attrs.type}`);
    expect(reply.attrs.from).toBe(PUSH_JID);
    expect(identities).toContain("pubsub/push");
  });

  it("p2 style: register-push-fcm, enable, go offline; a chat message reaches the fake FCM over HTTP/2", async () => {
    const alice = await users.connect("alice");
    const { node } = await registerP2AndEnable(alice, PUSH_JID, { token: fcmToken, deviceId: ALICE_DEVICE });
    nodes.alice = node;
    await users.disconnect(alice);

    await bob.send(chat("alice@localhost", "Hello Alice"));

    await waitUntil(() => fakes().fcm.to(fcmToken).length > 0, WAIT_MS, "a push to the fake FCM for alice");
    const [push, ...others] = fakes().fcm.to(fcmToken);
    expect(others).toHaveLength(0);
    expect(push).toMatchObject({ status: 200, httpVersion: "2.0", project: fakes().serviceAccount.json.project_id });
    expect(push?.message?.android).toMatchObject({ priority: "high" });
    // Only what p2 tells Google (issue 14, docs/protocol.md 6.2): the hashed account, nothing from the publish.
    expect(push?.data).toEqual({ account: p2AccountHash("alice@localhost", ALICE_DEVICE) });
    expect(fakes().fcm.tokenRequests.some((request) => request.status === 200 && request.httpVersion === "2.0")).toBe(
      true,
    );
    expect(prosody?.pushStore("alice")).toContain(node);
  });

  it("Tigase style: register-device with APNs, enable, go offline; a chat message reaches the fake APNs over HTTP/2", async () => {
    const carol = await users.connect("carol");
    const { node } = await registerDeviceAndEnable(carol, PUSH_JID, {
      provider: "tigase:messenger:apns:1",
      token: apnsToken,
    });
    nodes.carol = node;
    await users.disconnect(carol);

    await bob.send(chat("carol@localhost", "Hello Carol"));

    await waitUntil(() => fakes().apns.to(apnsToken).length > 0, WAIT_MS, "a push to the fake APNs for carol");
    const [push, ...others] = fakes().apns.to(apnsToken);
    expect(others).toHaveLength(0);
    expect(push).toMatchObject({
      environment: "production",
      status: 200,
      httpVersion: "2.0",
      jwt: { kid: fakes().apnsKey.keyId, iss: fakes().apnsKey.teamId },
    });
    expect(push?.headers).toMatchObject({
      "apns-topic": fakes().env.APNS_TOPIC,
      "apns-push-type": "alert",
      "apns-priority": "10",
    });
    expect(push?.body).toMatchObject({ account: "carol@localhost", "unread-messages": 1 });
    expect(prosody?.pushStore("carol")).toContain(node);
  });

  it("serves GET /metrics: the component connected, and the registrations and pushes the server caused", async () => {
    const response = await fetch(`http://127.0.0.1:${servePort}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    const value = (line: string) =>
      Number(
        text
          .split("\n")
          .find((row) => row.startsWith(`${line} `))
          ?.split(" ")[1],
      );
    expect(value("xmpp_push_bridge_connected")).toBe(1);
    expect(value('xmpp_push_registrations_total{style="device",origin="xmpp",event="created"}')).toBe(1);
    expect(value('xmpp_push_registrations_total{style="token",origin="xmpp",event="created"}')).toBe(1);
    expect(value('xmpp_push_publishes_total{dialect="summary",reply="result"}')).toBeGreaterThanOrEqual(2);
    for (const provider of ["fcm", "apns"])
      expect(
        value(
          `xmpp_push_provider_outcomes_total{provider="${provider}",route="direct",outcome="delivered",reason="none"}`,
        ),
      ).toBeGreaterThanOrEqual(1);
    expect((await fetch(`http://127.0.0.1:${servePort}/metrics`)).status).toBe(401);
  });

  it("restarted with the same STORE_PATH, it pushes to the same tokens without registering again", async () => {
    expect(nodes.alice).not.toBe("");
    expect(nodes.carol).not.toBe("");
    const storePath = serveEnv.STORE_PATH ?? "";
    const first = serve;
    await stopServeProcess();
    expect(first?.exitStatus()).toEqual({ code: 0, signal: null });
    expect(existsSync(storePath)).toBe(true);

    await startServeProcess();
    await bob.send(chat("alice@localhost", "Alice, after the restart"));
    await bob.send(chat("carol@localhost", "Carol, after the restart"));

    await waitUntil(() => fakes().fcm.to(fcmToken).length === 2, WAIT_MS, "a second push to the fake FCM for alice");
    await waitUntil(() => fakes().apns.to(apnsToken).length === 2, WAIT_MS, "a second push to the fake APNs for carol");
    expect(fakes().fcm.to(fcmToken)[1]).toMatchObject({
      status: 200,
      httpVersion: "2.0",
      data: { account: p2AccountHash("alice@localhost", ALICE_DEVICE) },
    });
    expect(fakes().apns.to(apnsToken)[1]).toMatchObject({
      status: 200,
      httpVersion: "2.0",
      body: { account: "carol@localhost" },
    });
    expect(prosody?.pushStore("alice")).toContain(nodes.alice);
    expect(prosody?.pushStore("carol")).toContain(nodes.carol);
  });
});
