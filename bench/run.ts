/**
 * `npm run bench`: measures the gateway's hot paths side by side in one run (this machine is noisy,
 * so ratios between variants measured together mean more than absolute numbers) and writes
 * bench/RESULTS.md. Everything runs on 127.0.0.1 against the fakes in test/fakes; nothing leaves the host.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request as httpsRequest } from "node:https";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { answerStanza } from "../src/gateway/iq";
import { silentLogger } from "../src/log";
import { buildPushPlaintext, openPushNotification, sealPushNotification } from "../src/omemo";
import type { HttpTransport } from "../src/ports/transport";
import { buildGateway } from "../src/runtime/gateway";
import { Http2Transport } from "../src/runtime/http2-transport";
import { MemoryRegistrationStore } from "../src/store";
import { parseXml } from "../src/xmpp";
import { startFakeWorld } from "../test/fakes/fake-world";
import { encryptedPublish } from "../test/fakes/user-server";
import { formField, registerDeviceIq } from "../test/shared/harness";
import { runHostileStanzaBench } from "./hostile-stanzas";
import { runHostileWorkerdBench } from "./hostile-workerd";

interface Row {
  readonly name: string;
  readonly value: string;
  readonly note?: string;
}

const rows: Row[] = [];

function perOp(name: string, fn: () => unknown, iterations: number): number {
  for (let i = 0; i < Math.min(2000, iterations); i++) fn();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  const micros = ((performance.now() - started) * 1000) / iterations;
  rows.push({ name, value: `${micros.toFixed(1)} µs/op` });
  return micros;
}

async function perOpAsync(name: string, fn: () => Promise<unknown>, iterations: number): Promise<number> {
  for (let i = 0; i < 200; i++) await fn();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await fn();
  const micros = ((performance.now() - started) * 1000) / iterations;
  rows.push({ name, value: `${micros.toFixed(1)} µs/op` });
  return micros;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

/** An HTTP/1.1 keep-alive transport, the baseline the HTTP/2 transport is measured against. */
function https11Transport(ca: string, maxSockets: number): { transport: HttpTransport; agent: Agent } {
  const agent = new Agent({ keepAlive: true, maxSockets, ca });
  const transport: HttpTransport = (url, init) =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(url, { method: init.method, headers: init.headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: { get: (name) => String(res.headers[name.toLowerCase()] ?? "") || null },
            text: async () => body,
          });
        });
      });
      req.on("error", reject);
      req.end(init.body);
    });
  return { transport, agent };
}

async function deliveryRun(
  label: string,
  env: Record<string, string>,
  transport: HttpTransport,
  pushes: number,
  concurrency: number,
): Promise<number> {
  const gateway = await buildGateway(env, { store: () => new MemoryRegistrationStore(), transport, log: silentLogger });
  const registered = await answerStanza(
    gateway.deps,
    registerDeviceIq({ from: "juliet@localhost/balcony", token: "ab".repeat(32) }),
  );
  if (registered.status !== 200) throw new Error("registration failed");
  const parsed = parseXml(registered.body);
  if (!parsed.ok) throw new Error("bad reply");
  const node = formField(parsed.value, "node")?.values[0] ?? "";
  const stanza = encryptedPublish(node, { from: "localhost" });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < pushes) {
      next += 1;
      const t = performance.now();
      const answer = await answerStanza(gateway.deps, stanza);
      if (answer.status !== 200 || !answer.body.includes("type='result'"))
        throw new Error(`push failed: ${JSON.stringify(answer)}`);
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const rate = pushes / seconds;
  rows.push({
    name: `${label}, ${pushes} publishes, concurrency ${concurrency}`,
    value: `${rate.toFixed(0)} pushes/s`,
    note: `p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`,
  });
  return rate;
}

async function main(): Promise<void> {
  const publish = encryptedPublish("bench-node", { from: "localhost" });
  const plain = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: "",
    parseTagValue: false,
    trimValues: false,
    processEntities: false,
    cdataPropName: "#cdata",
  });
  const strict = perOp("parseXml (strict stanza parser) on the encrypted publish", () => parseXml(publish), 20_000);
  const raw = perOp(
    "fast-xml-parser validate + parse alone, same input",
    () => XMLValidator.validate(publish) === true && plain.parse(publish),
    20_000,
  );
  rows.push({ name: "cost of the strict checks (ratio)", value: `${(strict / raw).toFixed(2)}×` });

  const key = crypto.getRandomValues(new Uint8Array(16));
  const message = parseXml(
    "<message from='romeo@montague.example/orchard' to='juliet@capulet.example' type='chat'><body>Wherefore art thou?</body></message>",
  );
  if (!message.ok) throw new Error("bad message");
  const plaintext = buildPushPlaintext(message.value, { unread: 1 });
  if (!plaintext.ok) throw new Error("bad plaintext");
  let sealed = { encrypted: "", iv: "" };
  await perOpAsync(
    "OMEMO push: fit to max-size, serialize, seal (AES-128-GCM, WebCrypto)",
    async () => {
      const result = await sealPushNotification(plaintext.value, key, { maxSize: 3000 });
      if (result.ok) sealed = result.value;
    },
    5_000,
  );
  await perOpAsync("OMEMO push: open on the device (tag checked)", () => openPushNotification(sealed, key), 5_000);

  const dir = mkdtempSync(join(tmpdir(), "push-bench-"));
  const world = await startFakeWorld({ dir, pushJid: "push.localhost" });
  try {
    for (const concurrency of [1, 32]) {
      const h2 = new Http2Transport({ ca: world.certificate.cert });
      const h1 = https11Transport(world.certificate.cert, concurrency);
      const rateH2 = await deliveryRun("APNs over HTTP/2 (one session)", world.env, h2.fetch, 2_000, concurrency);
      const rateH1 = await deliveryRun("APNs over HTTP/1.1 keep-alive", world.env, h1.transport, 2_000, concurrency);
      rows.push({
        name: `HTTP/2 vs HTTP/1.1 at concurrency ${concurrency} (ratio)`,
        value: `${(rateH2 / rateH1).toFixed(2)}×`,
      });
      await h2.close();
      h1.agent.destroy();
    }
    const stats = world.apns.stats("production");
    rows.push({ name: "fake APNs: connections accepted over the whole run", value: JSON.stringify(stats) });
  } finally {
    await world.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const lines = [
    "# Benchmark results",
    "",
    `Measured with \`npm run bench\` (bench/run.ts) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version},`,
    `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}). Variants of one question run side by side in`,
    "one process; the ratios are the numbers to compare, absolute figures move with the machine's load.",
    "Delivery runs go through the whole publish path (parse, store lookup, APNs payload, ES256 provider",
    "token from the cache, the transport) to the fake APNs of test/fakes on 127.0.0.1 over TLS. The fake",
    "runs in the same process as the gateway, so both share the two cores: the delivery figures are a",
    "floor, and the HTTP/2 vs HTTP/1.1 ratio speaks of one multiplexed session against one socket per",
    "request in flight.",
    "",
    "Hostile stanzas (parse cost of every attack shape at the body limits): [results/hostile-stanzas.md](results/hostile-stanzas.md)",
    "on Node, [results/hostile-workerd.md](results/hostile-workerd.md) inside workerd.",
    "",
    "| measurement | result | note |",
    "|---|---|---|",
    ...rows.map((row) => `| ${row.name} | ${row.value} | ${row.note ?? ""} |`),
    "",
  ];
  writeFileSync(new URL("RESULTS.md", import.meta.url), lines.join("\n"));
  console.log(lines.join("\n"));
  // The hostile-stanza worst cases of docs/security.md, on Node and inside workerd (their own files).
  console.log(await runHostileStanzaBench());
  console.log(await runHostileWorkerdBench());
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
