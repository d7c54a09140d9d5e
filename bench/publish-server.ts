/**
 * One HTTP server under test for the publish path, in a process of its own (a fresh one per run), forked
 * with an IPC channel: `gateway` is the Node entry (`startNodeGateway`, src/runtime/node.ts) with its
 * providers pointed at the sink; `floor` is bench/floors/publish-floor.ts. It sends `{port}` when
 * listening, answers `{cpu}` (process.cpuUsage, µs) and `{rss}` (bytes, after a GC when exposed) to a
 * message of the same name, and exits on `stop` or when its parent goes. Its stdout (the gateway's log
 * lines, one JSON line per publish) goes where the parent pointed it (/dev/null in the benchmark).
 */
import { readFileSync } from "node:fs";
import { Http2Transport } from "../src/runtime/http2-transport";
import { startNodeGateway } from "../src/runtime/node";
import { servePublishFloor } from "./floors/publish-floor";

const [kind, envPath] = process.argv.slice(2);

function reply(message: Record<string, unknown>): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  let port: number;
  if (kind === "floor") {
    port = (await servePublishFloor()).port;
  } else if (kind === "gateway" && envPath !== undefined) {
    const env = JSON.parse(readFileSync(envPath, "utf8")) as Record<string, string> & { BENCH_CA: string };
    const running = await startNodeGateway({
      env,
      port: 0,
      hostname: "127.0.0.1",
      transport: new Http2Transport({ ca: env.BENCH_CA }),
    });
    port = running.port;
  } else throw new Error("usage: publish-server.ts floor | gateway ENV.json");
  process.on("message", (message: { type?: string }) => {
    if (message.type === "cpu") {
      const { user, system } = process.cpuUsage();
      reply({ type: "cpu", user, system });
    } else if (message.type === "rss") {
      (globalThis as { gc?: () => void }).gc?.();
      reply({ type: "rss", rss: process.memoryUsage().rss });
    } else if (message.type === "stop") process.exit(0);
  });
  process.on("disconnect", () => process.exit(0));
  reply({ type: "port", port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
