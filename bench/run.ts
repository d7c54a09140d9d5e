/**
 * `npm run bench` (not in CI): the measurements of issue 18, side by side with what users would pick
 * instead, in interleaved rounds (variants alternate, their order turning every round, a fresh process
 * per run) on this noisy machine, so that the ratios, taken round by round, are what to read.
 *
 * - Senders: the gateway's APNs sender (ApnsProvider over Http2Transport), @parse/node-apn, apns2 (its
 *   undici Pool replaced by a one-connection Pool pointed at the sink) and the bare `node:http2` loop of
 *   bench/floors; the gateway's FCM sender and its bare loop. Client CPU per notification
 *   (process.cpuUsage in the client process) and throughput, 10,000 notifications, 100 in flight, after
 *   500 of warm-up, against bench/sink.ts in its own process.
 * - The publish path over HTTP on the Node entry against the publish floor (bench/floors), per dialect:
 *   the server process's CPU per publish; the gateway's providers point at the sink.
 * - The Worker: bundle size (`wrangler deploy --dry-run`), start (`wrangler check startup`), CPU per
 *   publish inside workerd against bench/io-only-worker (KV read, outbound request, log line).
 * - The Lambda bundle's cold load; RSS over 100k publishes; the hostile-stanza worst case.
 *
 * Knobs: BENCH_ROUNDS (5–7, default 5), BENCH_SECTIONS (comma list of senders, publish, worker, lambda,
 * rss, hostile; default all), BENCH_NOTIFICATIONS (default 10000), BENCH_PUBLISHES (per publish batch,
 * default 10000), BENCH_WARM_UP (default 500, before every timed part), BENCH_RSS_PUBLISHES (default 100000), BENCH_HOSTILE_WORKERD=1 (also the workerd hostile
 * run, minutes). Output: the table on stdout, and bench/results/latest.{md,json} (generated,
 * untracked); bench/RESULTS.md is the tracked summary the README links.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { freePorts, processGroupAlive, QUIET_WRANGLER_ENV, stopProcessGroup } from "../test/e2e/processes";
import { createServiceAccount } from "../test/fakes/service-account";
import { runHostileStanzaBench } from "./hostile-stanzas";
import { type Batch, measureBatch, post, type Served, startServed, versionOf } from "./hostile-workerd";
import { fmt, REPO_ROOT, rotated, runJsonChild, type Spread, showSpread, spread, startSink } from "./lib";
import {
  DIALECTS,
  type Dialect,
  dialectStanza,
  GATEWAY_TOKEN,
  isResult,
  PUSH_JID,
  publishMany,
  registerFor,
  startPublishServer,
} from "./publish-bench";
import { APNS_VARIANTS, FCM_VARIANTS, type SenderResult, type SenderRun, type SenderVariant } from "./sender-client";
import { gatewayEnv, makeWorld, type World } from "./world";

function boundedInteger(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name} must be an integer ${min}–${max}`);
  return value;
}

const ROUNDS = boundedInteger("BENCH_ROUNDS", 5, 1, 7);
const NOTIFICATIONS = boundedInteger("BENCH_NOTIFICATIONS", 10_000, 1_000, 100_000);
// 10,000 timed after 500 of warm-up, as the issue measured: with fewer, the JIT still works through the timed part.
const PUBLISHES = boundedInteger("BENCH_PUBLISHES", 10_000, 200, 50_000);
const RSS_PUBLISHES = boundedInteger("BENCH_RSS_PUBLISHES", 100_000, 1_000, 200_000);
const SECTIONS = new Set(
  (process.env.BENCH_SECTIONS ?? "senders,publish,worker,lambda,rss,hostile").split(",").map((s) => s.trim()),
);
// 500, as the issue measured; more (BENCH_WARM_UP=5000) shows what is left once the JIT has compiled the code.
const WARM_UP = boundedInteger("BENCH_WARM_UP", 500, 100, 50_000);
const IN_FLIGHT = 100;
const PUBLISH_CONCURRENCY = 8;
/** Sequential publishes per Worker batch: the CPU of two batches is subtracted, so each must be long. */
const WORKER_BATCH = 300;

const lines: string[] = [];
const json: Record<string, unknown> = {};
function out(line = ""): void {
  lines.push(line);
  console.log(line);
}

const ratio = (value: number) => `${fmt(value, 2)}×`;
const showRatio = (s: Spread) => `${ratio(s.median)} (${fmt(s.min, 2)}–${fmt(s.max, 2)})`;
const verdict = (ok: boolean) => (ok ? "**met**" : "**missed**");

function gitState(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "bench"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    })
      .split("\n")
      .filter((line) => line.trim() !== "").length;
    return dirty === 0 ? `commit ${head}` : `commit ${head} + ${dirty} changed file(s) under src/ and bench/`;
  } catch {
    return "git state unknown";
  }
}

function undiciOfApns2(): string {
  try {
    const path = join(REPO_ROOT, "node_modules/apns2/node_modules/undici/package.json");
    const own = statSync(path, { throwIfNoEntry: false }) ? path : join(REPO_ROOT, "node_modules/undici/package.json");
    return (JSON.parse(readFileSync(own, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

// ---- the world: certificate, keys, sink ----

// ---- senders ----

type SenderRows = Map<SenderVariant, SenderResult[]>;

async function senders(world: World): Promise<SenderRows> {
  const sink = await startSink(world.certPath, world.keyPath);
  const serviceAccount = createServiceAccount({ tokenUri: `${sink.origin}/token`, projectId: "bench-project" });
  const results: SenderRows = new Map();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const group of [APNS_VARIANTS, FCM_VARIANTS] as readonly (readonly SenderVariant[])[])
        for (const variant of rotated(group, round)) {
          const run: SenderRun = {
            variant,
            origin: sink.origin,
            ca: world.cert,
            apns: world.apns,
            serviceAccount: serviceAccount.text,
            warmUp: WARM_UP,
            total: NOTIFICATIONS,
            inFlight: IN_FLIGHT,
          };
          const result = await runJsonChild<SenderResult>("bench/sender-client.ts", [JSON.stringify(run)], variant);
          if (result.failures > 0) throw new Error(`${variant}: ${result.failures} sends failed`);
          const list = results.get(variant) ?? [];
          list.push(result);
          results.set(variant, list);
        }
      console.error(`senders: round ${round + 1}/${ROUNDS} done`);
    }
  } finally {
    await sink.stop();
  }
  return results;
}

const cpuPer = (r: SenderResult) => r.cpuUs / r.total;
const ratePer = (r: SenderResult) => (r.total * 1000) / r.wallMs;

function perRound(results: SenderRows, a: SenderVariant, b: SenderVariant, of: (r: SenderResult) => number): Spread {
  const left = results.get(a) ?? [];
  const right = results.get(b) ?? [];
  return spread(left.map((r, i) => of(r) / of(right[i] as SenderResult)));
}

function reportSenders(results: SenderRows): { gatewayApnsCpu: number[]; gatewayFcmCpu: number[] } {
  out("## Senders: client CPU per notification and throughput");
  out();
  out(
    `${NOTIFICATIONS} notifications per run, ${IN_FLIGHT} in flight, after ${WARM_UP} of warm-up; one connection per client to ` +
      "bench/sink.ts (HTTP/2 over TLS, its own process, answers 200, records nothing); a fresh process per run; " +
      `${ROUNDS} rounds, the order turning every round. CPU = process.cpuUsage (user + system) of the client process over the ` +
      "timed part / notifications. Median (min–max) over the rounds.",
  );
  out();
  out("| sender | µs CPU / notification | notifications/s |");
  out("|---|---:|---:|");
  for (const variant of [...APNS_VARIANTS, ...FCM_VARIANTS]) {
    const list = results.get(variant) ?? [];
    out(`| ${variant} | ${showSpread(spread(list.map(cpuPer)), 1)} | ${showSpread(spread(list.map(ratePer)))} |`);
  }
  out();
  const apnsBare = perRound(results, "gateway-apns", "bare-apns", cpuPer);
  const apnsNodeApn = perRound(results, "gateway-apns", "node-apn", cpuPer);
  const apnsRate = perRound(results, "gateway-apns", "node-apn", ratePer);
  const fcmBare = perRound(results, "gateway-fcm", "bare-fcm", cpuPer);
  out("| goal (ratios per round) | measured | |");
  out("|---|---|---|");
  out(`| APNs sender CPU ≤ 1.15× the bare loop | ${showRatio(apnsBare)} | ${verdict(apnsBare.median <= 1.15)} |`);
  out(
    `| APNs sender CPU ≤ 0.85× @parse/node-apn | ${showRatio(apnsNodeApn)} | ${verdict(apnsNodeApn.median <= 0.85)} |`,
  );
  out(`| APNs throughput ≥ @parse/node-apn's | ${showRatio(apnsRate)} | ${verdict(apnsRate.median >= 1)} |`);
  out(`| FCM sender CPU ≤ 1.15× its bare loop | ${showRatio(fcmBare)} | ${verdict(fcmBare.median <= 1.15)} |`);
  out(
    `| (for reference) apns2 CPU vs the gateway | ${showRatio(perRound(results, "apns2", "gateway-apns", cpuPer))} | |`,
  );
  out();
  json.senders = Object.fromEntries(results);
  return {
    gatewayApnsCpu: (results.get("gateway-apns") ?? []).map(cpuPer),
    gatewayFcmCpu: (results.get("gateway-fcm") ?? []).map(cpuPer),
  };
}

// ---- publish path ----

async function publishRun(
  kind: "gateway" | "floor",
  envPath: string,
  dialect: Dialect,
): Promise<{ cpuPerPublish: number; rate: number }> {
  const server = await startPublishServer(kind, envPath);
  const agent = new Agent({ keepAlive: true, maxSockets: PUBLISH_CONCURRENCY });
  try {
    const body =
      kind === "gateway" ? await registerFor(agent, server.port, dialect) : dialectStanza(dialect, "floor-node");
    const ok = kind === "gateway" ? isResult : (answer: { status: number }) => answer.status === 200;
    let failures = await publishMany(agent, server.port, body, WARM_UP, PUBLISH_CONCURRENCY, ok);
    const before = await server.cpuUs();
    const started = performance.now();
    failures += await publishMany(agent, server.port, body, PUBLISHES, PUBLISH_CONCURRENCY, ok);
    const wall = performance.now() - started;
    const used = (await server.cpuUs()) - before;
    if (failures > 0) throw new Error(`${kind} ${dialect}: ${failures} publishes not answered as expected`);
    return { cpuPerPublish: used / PUBLISHES, rate: (PUBLISHES * 1000) / wall };
  } finally {
    agent.destroy();
    await server.stop();
  }
}

async function publishPath(
  world: World,
  senderCpu: { gatewayApnsCpu: number[]; gatewayFcmCpu: number[] },
): Promise<void> {
  const sink = await startSink(world.certPath, world.keyPath);
  const envPath = join(world.dir, "gateway-env.json");
  writeFileSync(envPath, JSON.stringify({ ...gatewayEnv(world, sink.origin), BENCH_CA: world.cert }));
  const rows = new Map<string, { gateway: number[]; floor: number[]; gatewayRate: number[]; floorRate: number[] }>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, dialect] of DIALECTS.entries()) {
        const row = rows.get(dialect) ?? { gateway: [], floor: [], gatewayRate: [], floorRate: [] };
        rows.set(dialect, row);
        const order: ("gateway" | "floor")[] = (round + index) % 2 === 0 ? ["gateway", "floor"] : ["floor", "gateway"];
        for (const kind of order) {
          const result = await publishRun(kind, envPath, dialect);
          row[kind].push(result.cpuPerPublish);
          row[kind === "gateway" ? "gatewayRate" : "floorRate"].push(result.rate);
        }
      }
      console.error(`publish path: round ${round + 1}/${ROUNDS} done`);
    }
  } finally {
    await sink.stop();
  }
  out("## Publish path over HTTP on the Node entry vs the publish floor");
  out();
  out(
    `Per dialect and round: a fresh gateway (\`startNodeGateway\`, memory store, providers at the sink, log lines to /dev/null) ` +
      `and a fresh floor (Hono + fast-xml-parser validate + parse, bench/floors/publish-floor.ts), ${WARM_UP} publishes of warm-up ` +
      `then ${PUBLISHES} timed, ${PUBLISH_CONCURRENCY} keep-alive connections; CPU = process.cpuUsage of the server process. ` +
      "*Without the send* subtracts, round by round, the gateway sender's CPU per notification measured in the senders section " +
      "(APNs for Prosody, ejabberd and Tigase; FCM for p2), which the floor does not do at all.",
  );
  out();
  out(
    "| dialect | gateway µs CPU / publish | floor µs CPU / publish | gateway / floor | without the send / floor (goal ≤ 1.5×) | |",
  );
  out("|---|---:|---:|---:|---:|---|");
  const summary: Record<string, unknown> = {};
  for (const dialect of DIALECTS) {
    const row = rows.get(dialect);
    if (!row) continue;
    const send = dialect === "p2 with secret" ? senderCpu.gatewayFcmCpu : senderCpu.gatewayApnsCpu;
    const whole = spread(row.gateway.map((g, i) => g / (row.floor[i] as number)));
    const without = spread(row.gateway.map((g, i) => (g - (send[i] ?? send[0] ?? 0)) / (row.floor[i] as number)));
    out(
      `| ${dialect} | ${showSpread(spread(row.gateway))} | ${showSpread(spread(row.floor))} | ${showRatio(whole)} | ` +
        `${send.length > 0 ? showRatio(without) : "n/a (run with senders)"} | ${send.length > 0 ? verdict(without.median <= 1.5) : ""} |`,
    );
    summary[dialect] = row;
  }
  out();
  json.publish = summary;
}

// ---- Worker ----

function wranglerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...QUIET_WRANGLER_ENV, ...extra };
}

function bundleSize(outdir: string): { raw: number; gzip: number } {
  let raw = 0;
  let gzip = 0;
  for (const name of readdirSync(outdir).filter((file) => file.endsWith(".js") || file.endsWith(".mjs"))) {
    const data = readFileSync(join(outdir, name));
    raw += data.length;
    gzip += gzipSync(data, { level: 9 }).length;
  }
  return { raw, gzip };
}

/** The Worker's start by `wrangler check startup`: the profile's non-idle time, and the part in the bundle. */
function workerStart(dir: string): { total: number; script: number } {
  const outfile = join(dir, "startup.cpuprofile");
  const ran = spawnSync(join(REPO_ROOT, "node_modules/.bin/wrangler"), ["check", "startup", "--outfile", outfile], {
    cwd: REPO_ROOT,
    env: wranglerEnv(),
    encoding: "utf8",
  });
  if (ran.status !== 0) throw new Error(`wrangler check startup failed: ${ran.stderr.slice(-400)}`);
  const profile = JSON.parse(readFileSync(outfile, "utf8")) as {
    nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const inScript = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
      if (byId.get(at)?.callFrame.url.endsWith("worker.js")) return true;
    return false;
  };
  let total = 0;
  let script = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    if (byId.get(id)?.callFrame.functionName === "(idle)") return;
    total += delta;
    if (inScript(id)) script += delta;
  });
  return { total: total / 1000, script: script / 1000 };
}

async function worker(world: World): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-worker-"));
  const outdir = join(dir, "dist");
  const dry = spawnSync(join(REPO_ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: REPO_ROOT,
    env: wranglerEnv(),
    encoding: "utf8",
  });
  if (dry.status !== 0) throw new Error(`wrangler deploy --dry-run failed: ${dry.stderr.slice(-400)}`);
  const size = bundleSize(outdir);
  const starts = Array.from({ length: ROUNDS }, () => workerStart(dir));
  const total = spread(starts.map((s) => s.total));
  const script = spread(starts.map((s) => s.script));

  // CPU per publish inside workerd: the gateway against the I/O-only Worker, both under `wrangler dev`.
  const sink = await startSink(world.certPath, world.keyPath, true);
  const token = GATEWAY_TOKEN;
  const [gatewayPort, gatewayInspector, ioPort, ioInspector] = await freePorts(4);
  if (gatewayPort === undefined || gatewayInspector === undefined || ioPort === undefined || ioInspector === undefined)
    throw new Error("no free ports");
  const previousCa = process.env.NODE_EXTRA_CA_CERTS;
  process.env.NODE_EXTRA_CA_CERTS = world.certPath;
  const started: Served[] = [];
  const gatewayBatches: Batch[] = [];
  const ioBatches: Batch[] = [];
  try {
    const vars = {
      GATEWAY_TOKEN: token,
      PUSH_JID,
      APNS_TEAM_ID: world.apns.teamId,
      APNS_KEY_ID: world.apns.keyId,
      APNS_PRIVATE_KEY: world.apnsPem.replace(/\n/g, "\\n"),
      APNS_TOPIC: world.apns.topic,
      APNS_ENDPOINT: sink.origin,
      APNS_SANDBOX_ENDPOINT: sink.origin,
    };
    const gateway = await startServed(
      "gateway",
      "wrangler.toml",
      { port: gatewayPort, inspectorPort: gatewayInspector },
      join(dir, "gateway-state"),
      vars,
    );
    started.push(gateway);
    const ioOnly = await startServed(
      "I/O-only",
      "bench/io-only-worker/wrangler.toml",
      { port: ioPort, inspectorPort: ioInspector },
      join(dir, "io-state"),
      { GATEWAY_TOKEN: token, PUSH_JID, OUTBOUND_URL: `${sink.origin}/3/device/${"a1".repeat(32)}` },
    );
    started.push(ioOnly);
    const register = `<iq type='set' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='reg-1'><command xmlns='http://jabber.org/protocol/commands' node='register-device' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>tigase:messenger:apns:1</value></field><field var='device-token'><value>${"a1".repeat(32)}</value></field></x></command></iq>`;
    const registered = await post(gateway, register, token);
    const node = /<field var='node'[^>]*>\s*<value>([^<]*)<\/value>/.exec(registered.text)?.[1];
    if (registered.status !== 200 || node === undefined)
      throw new Error(`Worker registration: ${registered.status} ${registered.text.slice(0, 200)}`);
    const publish = dialectStanza("Tigase encrypted", node);
    const first = await post(gateway, publish, token);
    if (!isResult({ status: first.status, text: first.text }))
      throw new Error(`Worker publish: ${first.status} ${first.text.slice(0, 300)}`);
    // The same warm-up as every other section (500), so that both Workers are measured with their code compiled.
    for (const served of started) for (let i = 0; i < WARM_UP; i++) await post(served, publish, token);
    for (let round = 0; round < ROUNDS; round++) {
      const order: [Served, Batch[]][] = [
        [gateway, gatewayBatches],
        [ioOnly, ioBatches],
      ];
      if (round % 2 === 1) order.reverse();
      for (const [served, batches] of order) batches.push(await measureBatch(served, publish, token, WORKER_BATCH));
    }
  } finally {
    for (const served of started.reverse()) await stopProcessGroup(served.wrangler, { graceMs: 5_000 });
    if (previousCa === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = previousCa;
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
    for (const served of started)
      if (processGroupAlive(served.wrangler.pid)) console.error(`${served.label}: process group still alive`);
  }
  const gatewayCpu = spread(gatewayBatches.map((b) => b.workerMs * 1000));
  const ioCpu = spread(ioBatches.map((b) => b.workerMs * 1000));
  const own = spread(gatewayBatches.map((b, i) => (b.workerMs - (ioBatches[i]?.workerMs ?? Number.NaN)) * 1000));
  const statuses = [...new Set(gatewayBatches.flatMap((b) => [...b.statuses.keys()]))].join(", ");
  out("## Worker");
  out();
  out(
    `wrangler ${versionOf("wrangler")}, workerd ${versionOf("workerd")}. Bundle: \`wrangler deploy --dry-run --outdir\`, the .js files ` +
      `(gzip -9). Start: \`wrangler check startup\`, the profile's non-idle time (and the part inside the bundle), ${ROUNDS} runs. ` +
      `CPU per publish: the Worker's workerd process CPU (/proc schedstat, bench/hostile-workerd.ts's \`measureBatch\`), after ${WARM_UP} publishes of warm-up, over ${WORKER_BATCH} ` +
      "sequential Tigase encrypted publishes to a registered node (KV read, one APNs request to the HTTP/1.1 sink, one log " +
      `line), against bench/io-only-worker doing the KV read, one outbound POST and one log line; ${ROUNDS} rounds alternating. ` +
      "The goal is judged on the gateway's own cost: local workerd's outbound HTTPS request alone costs the I/O-only Worker " +
      "milliseconds, which no code of the gateway can remove.",
  );
  out();
  out("| measurement | result | goal | |");
  out("|---|---|---|---|");
  out(
    `| bundle, gzipped | ${fmt(size.gzip / 1024, 1)} KiB (${fmt(size.raw / 1024, 1)} KiB raw) | ≤ 100 KiB | ${verdict(size.gzip <= 100 * 1024)} |`,
  );
  out(
    `| start (wrangler check startup) | ${showSpread(total, 1)} ms, of which in the bundle ${showSpread(script, 1)} ms | ≤ 20 ms | ${verdict(total.median <= 20)} |`,
  );
  out(`| gateway CPU per publish in workerd, raw | ${showSpread(gatewayCpu)} µs (statuses ${statuses}) | | |`);
  out(`| I/O-only Worker, same I/O | ${showSpread(ioCpu)} µs | | |`);
  out(
    `| gateway's own CPU per publish (raw − I/O-only, per round) | ${showSpread(own)} µs | ≤ 1000 µs | ${verdict(own.median <= 1000)} |`,
  );
  out();
  json.worker = { size, starts, gatewayBatches, ioBatches };
}

// ---- Lambda ----

async function lambda(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-lambda-"));
  try {
    const outfile = join(dir, "index.mjs");
    await build({
      entryPoints: [join(REPO_ROOT, "src/runtime/lambda.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile,
      logLevel: "warning",
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    const bytes = statSync(outfile).size;
    const loads: number[] = [];
    const script = `const t=performance.now();await import(${JSON.stringify(`file://${outfile}`)});const c=process.cpuUsage();process.stdout.write(JSON.stringify({ms:performance.now()-t,cpu:(c.user+c.system)/1000}));`;
    const cpu: number[] = [];
    for (let run = 0; run < ROUNDS; run++) {
      const ran = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: dir,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", AWS_REGION: "eu-west-1" },
      });
      if (ran.status !== 0) throw new Error(`lambda import failed: ${ran.stderr.slice(-400)}`);
      const measured = JSON.parse(ran.stdout) as { ms: number; cpu: number };
      loads.push(measured.ms);
      cpu.push(measured.cpu);
    }
    out("## Lambda bundle");
    out();
    out(
      "The bundle as `npm run build:lambda` makes it (esbuild, ESM, node20); cold load = `await import()` of it in a fresh " +
        `\`node\` process (wall ms; and the process's whole CPU by then, Node's own start included), ${ROUNDS} runs.`,
    );
    out();
    out("| measurement | result |");
    out("|---|---|");
    out(
      `| bundle | ${fmt(bytes / 1024, 1)} KiB (${fmt(gzipSync(readFileSync(outfile), { level: 9 }).length / 1024, 1)} KiB gzipped) |`,
    );
    out(`| cold load (import) | ${showSpread(spread(loads), 1)} ms |`);
    out(`| process CPU at the end of the import | ${showSpread(spread(cpu), 1)} ms |`);
    out();
    json.lambda = { bytes, loads, cpu };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- RSS ----

async function rss(world: World): Promise<void> {
  const sink = await startSink(world.certPath, world.keyPath);
  const envPath = join(world.dir, "gateway-env-rss.json");
  writeFileSync(envPath, JSON.stringify({ ...gatewayEnv(world, sink.origin), BENCH_CA: world.cert }));
  const server = await startPublishServer("gateway", envPath, { exposeGc: true });
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const samples: { publishes: number; mb: number }[] = [];
  try {
    const body = await registerFor(agent, server.port, "Tigase encrypted");
    await publishMany(agent, server.port, body, 2_000, 16, isResult);
    samples.push({ publishes: 0, mb: (await server.rss()) / 2 ** 20 });
    const step = RSS_PUBLISHES / 4;
    for (let done = step; done <= RSS_PUBLISHES; done += step) {
      const failures = await publishMany(agent, server.port, body, step, 16, isResult);
      if (failures > 0) throw new Error(`rss: ${failures} publishes failed`);
      samples.push({ publishes: done, mb: (await server.rss()) / 2 ** 20 });
    }
  } finally {
    agent.destroy();
    await server.stop();
    await sink.stop();
  }
  out("## Memory over many publishes");
  out();
  out(
    `One gateway process (Node entry, memory store, \`--expose-gc\`), Tigase encrypted publishes to one registration, 16 ` +
      `connections; RSS after a full GC, after 2,000 of warm-up and every ${RSS_PUBLISHES / 4} publishes.`,
  );
  out();
  out(`| publishes | ${samples.map((s) => s.publishes).join(" | ")} |`);
  out(`|---|${samples.map(() => "---:").join("|")}|`);
  out(`| RSS MB | ${samples.map((s) => fmt(s.mb, 1)).join(" | ")} |`);
  const first = samples[0]?.mb ?? 0;
  const middle = samples[Math.floor(samples.length / 2)]?.mb ?? first;
  const last = samples[samples.length - 1]?.mb ?? 0;
  out();
  out(
    `From the warm-up to the middle: ${fmt(middle - first, 1)} MB (V8 sizing its heap for the load); over the second ` +
      `half: ${fmt(last - middle, 1)} MB. Goal, memory flat: no growth over the second half beyond 5% ` +
      `(${verdict(last <= middle * 1.05)}).`,
  );
  out();
  json.rss = samples;
}

// ---- main ----

async function main(): Promise<void> {
  const world = await makeWorld();
  out("# Benchmark results (generated by `npm run bench`)");
  out();
  out(
    `${new Date().toISOString()}; ${cpus().length} cores (${cpus()[0]?.model.trim() ?? "unknown"}), ${fmt(totalmem() / 2 ** 30)} GiB, ` +
      `Linux ${release()}, Node ${process.version}; ${gitState()}. @parse/node-apn ${versionOf("@parse/node-apn")}, apns2 ` +
      `${versionOf("apns2")} (undici ${undiciOfApns2()}), hono ${versionOf("hono")}, @hono/node-server ${versionOf("@hono/node-server")}, ` +
      `fast-xml-parser ${versionOf("fast-xml-parser")}. ${ROUNDS} rounds. The machine is shared: read the ratios per round.`,
  );
  out();
  try {
    let senderCpu = { gatewayApnsCpu: [] as number[], gatewayFcmCpu: [] as number[] };
    if (SECTIONS.has("senders")) senderCpu = reportSenders(await senders(world));
    if (SECTIONS.has("publish")) await publishPath(world, senderCpu);
    if (SECTIONS.has("worker")) await worker(world);
    if (SECTIONS.has("lambda")) await lambda();
    if (SECTIONS.has("rss")) await rss(world);
    if (SECTIONS.has("hostile")) {
      const hostile = await runHostileStanzaBench();
      const worst = hostile.split("\n").find((line) => line.startsWith("Worst median at 64 KiB"));
      out("## Hostile stanzas");
      out();
      out(
        `parseXml on every attack shape (bench/hostile-stanzas.ts; full table in bench/results/hostile-stanzas.md): ${worst ?? "see the file"}`,
      );
      if (process.env.BENCH_HOSTILE_WORKERD === "1") {
        const { runHostileWorkerdBench } = await import("./hostile-workerd");
        const workerd = await runHostileWorkerdBench();
        const verdictLine = workerd.split("\n").find((line) => line.startsWith("Worst gateway median"));
        out(`Inside workerd (bench/results/hostile-workerd.md): ${verdictLine ?? "see the file"}`);
      } else
        out("Inside workerd: `BENCH_HOSTILE_WORKERD=1 npm run bench` (or bench/hostile-workerd.ts alone; minutes).");
      out();
    }
  } finally {
    rmSync(world.dir, { recursive: true, force: true });
  }
  const folder = join(REPO_ROOT, "bench/results");
  mkdirSync(folder, { recursive: true });
  // Untracked (.gitignore): the tracked summary is written by hand from these.
  const latest = join(folder, "latest");
  writeFileSync(`${latest}.md`, `${lines.join("\n")}\n`);
  writeFileSync(`${latest}.json`, `${JSON.stringify(json, null, 1)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
