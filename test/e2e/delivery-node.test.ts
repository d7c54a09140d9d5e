import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../../src/gateway/log";
import { Http2Transport } from "../../src/runtime/http2-transport";
import { type RunningNodeGateway, startNodeGateway } from "../../src/runtime/node";
import { PUSH_JID, registerP2Iq } from "../app/harness";
import { type FakeWorld, startFakeWorld } from "../fakes/fake-world";
import {
  encryptedPublish,
  encryptedPublishVector,
  FakeUserServer,
  fixtureCiphertext,
  p2AccountHash,
} from "../fakes/user-server";
import {
  assertPortFree,
  type DetachedProcess,
  freePort,
  REPO_ROOT,
  spawnDetached,
  stopProcessGroup,
  waitForHttp,
} from "./processes";

const vector = encryptedPublishVector();
const JULIET = "juliet@capulet.example";
const quiet: Logger = { log() {} };

/** A fresh 32-byte APNs device token, hex. */
function apnsToken(): string {
  return randomBytes(32).toString("hex");
}

let dir: string;
let world: FakeWorld;
let gateway: RunningNodeGateway;
let server: FakeUserServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "delivery-node-"));
  world = await startFakeWorld({ dir, pushJid: PUSH_JID });
  gateway = await startNodeGateway({
    env: world.env,
    port: 0,
    hostname: "127.0.0.1",
    transport: new Http2Transport({ ca: world.certificate.cert }),
    log: quiet,
  });
  server = new FakeUserServer(gateway.url);
});

afterAll(async () => {
  const port = gateway?.port;
  await gateway?.close();
  await world?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (port !== undefined) await assertPortFree(port);
});

describe("delivery from the Node entry over HTTP/2 to the fake APNs and FCM", () => {
  it("delivers the Tigase encrypted publish to APNs with encrypted and iv unchanged, over HTTP/2, with a verified JWT", async () => {
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    const reply = await server.iq(encryptedPublish(node));
    expect(reply.type).toBe("result");
    const [push, ...others] = world.apns.to(token);
    expect(others).toHaveLength(0);
    expect(push).toMatchObject({
      environment: "production",
      status: 200,
      httpVersion: "2.0",
      jwt: { kid: world.apnsKey.keyId, iss: world.apnsKey.teamId },
    });
    expect(push?.headers).toMatchObject({
      "apns-topic": world.env.APNS_TOPIC,
      "apns-push-type": "alert",
      "apns-priority": "10",
    });
    expect(push?.body).toMatchObject({
      aps: { "mutable-content": 1 },
      account: JULIET,
      encrypted: vector.chat.encrypted,
      iv: vector.chat.iv,
    });
  });

  it("sends a VoIP publish to the PushKit token with white space removed from the blob", async () => {
    const token = apnsToken();
    const voipToken = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token, voipToken });
    const reply = await server.iq(encryptedPublish(node, { voip: true }));
    expect(reply.type).toBe("result");
    expect(world.apns.to(token)).toHaveLength(0);
    const [push] = world.apns.to(voipToken);
    expect(push?.headers).toMatchObject({ "apns-topic": `${world.env.APNS_TOPIC}.voip`, "apns-push-type": "voip" });
    expect(push?.body).toEqual({
      account: JULIET,
      encrypted: fixtureCiphertext("encrypted-voip-publish.xml"),
      iv: vector.call.iv,
    });
  });

  it("delivers a p2 registration's publish to FCM with the hashed account", async () => {
    const token = `fcm-${randomBytes(40).toString("base64url")}`;
    const deviceId = randomBytes(8).toString("hex");
    const { node, secret } = await server.registerP2({ from: `${JULIET}/phone`, token, deviceId });
    const reply = await server.iq(encryptedPublish(node, { secret }));
    expect(reply.type).toBe("result");
    const [message] = world.fcm.to(token);
    expect(message).toMatchObject({ status: 200, httpVersion: "2.0", project: world.serviceAccount.json.project_id });
    expect(message?.data).toEqual({
      account: p2AccountHash(JULIET, deviceId),
      encrypted: vector.chat.encrypted,
      iv: vector.chat.iv,
    });
    expect(message?.message).toMatchObject({ android: { priority: "high" } });
    expect(world.fcm.tokenRequests.filter((request) => request.status === 200).length).toBeGreaterThanOrEqual(1);
  });

  it("deletes the registration on 410 Unregistered: item-not-found, then item-not-found without a push", async () => {
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    world.apns.failToken(token, { status: 410, reason: "Unregistered", timestamp: Date.now() });
    expect((await server.iq(encryptedPublish(node))).error).toBe("cancel/item-not-found");
    expect(world.apns.to(token)).toHaveLength(1);
    expect((await server.iq(encryptedPublish(node))).error).toBe("cancel/item-not-found");
    expect(world.apns.to(token)).toHaveLength(1);
  });

  it("deletes an FCM registration on UNREGISTERED", async () => {
    const token = `fcm-${randomBytes(40).toString("base64url")}`;
    const { node, secret } = await server.registerP2({ from: `${JULIET}/phone`, token, deviceId: "dead" });
    world.fcm.failToken(token, { code: "UNREGISTERED" });
    expect((await server.iq(encryptedPublish(node, { secret }))).error).toBe("cancel/item-not-found");
    expect((await server.iq(encryptedPublish(node, { secret }))).error).toBe("cancel/item-not-found");
    expect(world.fcm.to(token)).toHaveLength(1);
  });

  it("answers wait on 503 after one retry, and keeps the registration", async () => {
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    world.apns.failToken(token, { status: 503, reason: "ServiceUnavailable" });
    expect((await server.iq(encryptedPublish(node))).error).toBe("wait/internal-server-error");
    expect(world.apns.to(token).map((receipt) => receipt.status)).toEqual([503, 503]);
    world.apns.clearFailures(token);
    expect((await server.iq(encryptedPublish(node))).type).toBe("result");
  });

  it("re-mints an expired provider token once and delivers", async () => {
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    world.apns.expireProviderTokenOnce();
    expect((await server.iq(encryptedPublish(node))).type).toBe("result");
    const [refused, delivered] = world.apns.to(token);
    expect(refused).toMatchObject({ status: 403, reason: "ExpiredProviderToken" });
    expect(delivered).toMatchObject({ status: 200 });
    expect(delivered?.authorization).not.toBe(refused?.authorization);
  });

  it("tries the sandbox once when production says BadDeviceToken, and delivers there", async () => {
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    world.apns.failToken(token, { status: 400, reason: "BadDeviceToken", environment: "production" });
    expect((await server.iq(encryptedPublish(node))).type).toBe("result");
    expect(world.apns.to(token).map((receipt) => `${receipt.environment} ${receipt.status}`)).toEqual([
      "production 400",
      "sandbox 200",
    ]);
  });

  it("sends 1,000 pushes over one HTTP/2 session", async () => {
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    const replies: (string | undefined)[] = [];
    let next = 0;
    const worker = async () => {
      while (next < 1000) {
        next += 1;
        const reply = await server.iq(encryptedPublish(node, { id: `bulk-${next}` }));
        replies.push(reply.type);
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    expect(replies.filter((type) => type === "result")).toHaveLength(1000);
    const pushes = world.apns.delivered(token);
    expect(pushes).toHaveLength(1000);
    expect(new Set(pushes.map((push) => push.connection)).size).toBe(1);
    expect(world.apns.stats("production").http2Sessions).toBe(1);
    expect(world.apns.stats("production").http2Streams).toBeGreaterThanOrEqual(1000);
    // One session each to APNs production, APNs sandbox and FCM (with its OAuth endpoint): never a reconnect.
    expect(gateway.transport.stats().sessionsOpened).toBe(3);
  });

  it("refuses a registration for a provider that is not configured, with a clear bad-request", async () => {
    const { FCM_SERVICE_ACCOUNT: _unset, ...apnsOnly } = world.env;
    const other = await startNodeGateway({ env: apnsOnly, port: 0, log: quiet });
    try {
      const reply = await new FakeUserServer(other.url).iq(registerP2Iq({ from: `${JULIET}/phone` }));
      expect(reply.error).toBe("modify/bad-request");
      expect(reply.errorText).toMatch(/fcm.*not configured/i);
    } finally {
      await other.close();
    }
  });
});

describe("the Node entry as a process (npm run start:node)", () => {
  const tsx = resolve(REPO_ROOT, "node_modules/.bin/tsx");
  let child: DetachedProcess | undefined;

  afterAll(async () => {
    if (child) await stopProcessGroup(child);
  });

  it("prints a bad variable as one line naming it and exits with 1", async () => {
    const bad = spawnDetached(tsx, ["src/runtime/node-main.ts"], {
      name: "node entry",
      env: {
        PATH: process.env.PATH,
        PORT: "0",
        APNS_TEAM_ID: "TEAM123456",
        APNS_KEY_ID: "KEY7654321",
        APNS_TOPIC: "im.example",
        APNS_PRIVATE_KEY: "garbage",
      },
    });
    child = bad;
    await bad.exited;
    expect(bad.exitStatus()?.code).toBe(1);
    const lines = bad.output().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^configuration: APNS_PRIVATE_KEY /);
  });

  it("serves on PORT and stops cleanly on SIGTERM", async () => {
    const port = await freePort();
    const running = spawnDetached(tsx, ["src/runtime/node-main.ts"], {
      name: "node entry",
      env: { PATH: process.env.PATH, PORT: String(port), HOST: "127.0.0.1", PUSH_JID: "push.example.net" },
    });
    child = running;
    await waitForHttp(`http://127.0.0.1:${port}/health`, { process: running, timeoutMs: 20_000 });
    const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
    expect(health).toMatchObject({ status: "ok", jid: "push.example.net", providers: [] });
    process.kill(-running.pid, "SIGTERM");
    await running.exited;
    expect(running.exitStatus()?.code).toBe(0);
    expect(running.output()).toContain('"event":"stopping"');
    await assertPortFree(port);
  });
});
