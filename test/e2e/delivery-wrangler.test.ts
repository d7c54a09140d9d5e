import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe } from "vitest";
import { PUSH_JID } from "../app/harness";
import { type FakeWorld, startFakeWorld } from "../fakes/fake-world";
import { FakeUserServer } from "../fakes/user-server";
import { deliveryScenarios } from "./delivery-scenarios";
import { assertPortFree, type DetachedProcess, freePorts, startWranglerDev, stopProcessGroup } from "./processes";

let dir: string;
let world: FakeWorld;
let wrangler: DetachedProcess | undefined;
let ports: number[] = [];
let server: FakeUserServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "delivery-wrangler-"));
  world = await startFakeWorld({ dir: join(dir, "sandbox"), pushJid: PUSH_JID });
  ports = await freePorts(2);
  const [port = 0, inspectorPort = 0] = ports;
  wrangler = await startWranglerDev({
    port,
    inspectorPort,
    persistTo: join(dir, "state"),
    envFile: world.envFile,
    env: { NODE_EXTRA_CA_CERTS: world.certificate.certPath },
  });
  server = new FakeUserServer(`http://127.0.0.1:${port}`);
});

afterAll(async () => {
  if (wrangler) await stopProcessGroup(wrangler);
  await world?.close();
  for (const port of ports) await assertPortFree(port);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("delivery from wrangler dev (local workerd, HTTP/1.1) to the fake APNs and FCM", () => {
  deliveryScenarios(() => ({ world, server }), "1.1");
});
