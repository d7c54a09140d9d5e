import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe } from "vitest";
import type { Logger } from "../../src/log";
import { type RunningNodeGateway, startNodeGateway } from "../../src/runtime/node";
import { GATEWAY_TOKEN } from "../app/harness";
import { FakeUserServer } from "../fakes/user-server";
import { assertPortFree } from "./processes";
import { type SnsWorld, snsDeliveryScenarios, startSnsWorld } from "./sns-scenarios";

/*
 * The SNS delivery scenarios against the Node entry (startNodeGateway: @aws-sdk/client-sns signing
 * with SigV4, the fake checking each signature), once over the memory store and once over the SQLite
 * store (STORE_PATH), whose endpoint ledger is its own table.
 */

const quiet: Logger = { log() {} };

let dir: string;
let world: SnsWorld;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "delivery-node-sns-"));
  world = await startSnsWorld();
});

afterAll(async () => {
  await world?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

for (const store of ["memory", "sqlite"] as const)
  describe(`delivery over SNS from the Node entry (${store} store) to the fake SNS`, () => {
    let gateway: RunningNodeGateway;
    let server: FakeUserServer;

    beforeAll(async () => {
      const env = { ...world.env, ...(store === "sqlite" ? { STORE_PATH: join(dir, "registrations.db") } : {}) };
      gateway = await startNodeGateway({ env, port: 0, hostname: "127.0.0.1", log: quiet });
      server = new FakeUserServer(gateway.url, GATEWAY_TOKEN);
    });

    afterAll(async () => {
      const port = gateway?.port;
      await gateway?.close();
      if (port !== undefined) await assertPortFree(port);
    });

    snsDeliveryScenarios(() => ({ world, server }));
  });
