import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../../src/log";
import { Http2Transport } from "../../src/runtime/http2-transport";
import { type RunningNodeGateway, startNodeGateway } from "../../src/runtime/node";
import { PUSH_JID, registerP2Iq } from "../app/harness";
import { type FakeWorld, startFakeWorld } from "../fakes/fake-world";
import { encryptedPublish, FakeUserServer } from "../fakes/user-server";
import { apnsToken, deliveryScenarios } from "./delivery-scenarios";
import {
  assertPortFree,
  type DetachedProcess,
  freePort,
  spawnDetached,
  stopProcessGroup,
  typescriptEntry,
  waitForHttp,
} from "./processes";

const JULIET = "juliet@capulet.example";
const quiet: Logger = { log() {} };

/** A fresh 32-byte APNs device token, hex. */

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
  deliveryScenarios(() => ({ world, server }), "2.0");

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
  let child: DetachedProcess | undefined;

  afterAll(async () => {
    if (child) await stopProcessGroup(child);
  });

  it("prints a bad variable as one line naming it and exits with 1", async () => {
    const bad = spawnDetached(process.execPath, typescriptEntry("src/runtime/node-main.ts"), {
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
    const running = spawnDetached(process.execPath, typescriptEntry("src/runtime/node-main.ts"), {
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
