import { ConfigError } from "../config";
import { type RunningNodeGateway, SHUTDOWN_GRACE_MS, startNodeGateway } from "./node";

function describeStartFailure(error: unknown): string {
  if (error instanceof ConfigError) return error.message;
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  if (code === "EADDRINUSE") return `cannot listen: the address is in use (set PORT or HOST): ${String(error)}`;
  return `cannot start: ${error instanceof Error ? error.message : String(error)}`;
}

/** The command-line entry (`npm run start:node`): start, and stop cleanly on SIGTERM / SIGINT. */
async function main(): Promise<void> {
  let running: RunningNodeGateway;
  try {
    running = await startNodeGateway();
  } catch (error) {
    console.error(describeStartFailure(error));
    process.exit(1);
  }
  const providers = running.gateway.deps.providers.offered().join(",") || "none";
  console.log(
    JSON.stringify({
      level: "info",
      event: "listening",
      url: running.url,
      jid: running.gateway.deps.config.pushJid,
      providers,
    }),
  );
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(JSON.stringify({ level: "info", event: "stopping", signal }));
    const force = setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS + 5_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`error while stopping: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

void main();
