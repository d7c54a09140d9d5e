/**
 * Profiles the gateway's publish path on the Node entry: `node --import tsx bench/profile-publish.ts
 * [DIALECT] [PUBLISHES] [DIR]` starts the sink and a gateway process under `node --cpu-prof`
 * (bench/publish-bench.ts), registers one device for DIALECT (default Prosody), sends 500 publishes of
 * warm-up and PUBLISHES more (default 20,000) on 8 keep-alive connections, and prints
 * bench/profile-summary.ts's tables of the gateway's profile (written to DIR, default a temporary folder).
 */
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { join } from "node:path";
import { startSink } from "./lib";
import { summariseProfile } from "./profile-summary";
import { DIALECTS, type Dialect, isResult, publishMany, registerFor, startPublishServer } from "./publish-bench";
import { gatewayEnv, makeWorld } from "./world";

async function main(): Promise<void> {
  const dialect = (process.argv[2] ?? "Prosody") as Dialect;
  if (!DIALECTS.includes(dialect)) throw new Error(`dialect must be one of ${DIALECTS.join(", ")}`);
  const total = Number(process.argv[3] ?? 20_000);
  const world = await makeWorld();
  const out = process.argv[4] ?? join(world.dir, "profiles");
  const sink = await startSink(world.certPath, world.keyPath);
  const envPath = join(world.dir, "gateway-env.json");
  writeFileSync(envPath, JSON.stringify({ ...gatewayEnv(world, sink.origin), BENCH_CA: world.cert }));
  const server = await startPublishServer("gateway", envPath, { profileDir: out });
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const body = await registerFor(agent, server.port, dialect);
    await publishMany(agent, server.port, body, 500, 8, isResult);
    const before = await server.cpuUs();
    const failures = await publishMany(agent, server.port, body, total, 8, isResult);
    const used = (await server.cpuUs()) - before;
    if (failures > 0) throw new Error(`${failures} publishes not answered with a result`);
    console.log(`${dialect}: ${(used / total).toFixed(0)} µs CPU per publish (with the profiler on)`);
  } finally {
    agent.destroy();
    await server.stop();
    await sink.stop();
  }
  const main = readdirSync(out)
    .filter((name) => name.endsWith(".cpuprofile"))
    .sort()[0];
  if (main === undefined) throw new Error("no profile written");
  console.log(summariseProfile(join(out, main), 40));
  if (process.argv[4] === undefined) rmSync(world.dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
