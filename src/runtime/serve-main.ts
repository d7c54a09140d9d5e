import { type RunningServe, startServe } from "./serve";

/** `npm run serve`: the whole push service in one process; SIGTERM / SIGINT stop it cleanly. */
async function main(): Promise<void> {
  let running: RunningServe;
  try {
    running = await startServe();
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
  console.log(
    JSON.stringify({
      level: "info",
      event: "serving",
      url: running.gateway.url,
      jid: running.gateway.gateway.deps.config.pushJid,
      providers: running.gateway.gateway.deps.providers.offered().join(",") || "none",
    }),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // The bridge and the server each wait up to 10 s for work in flight; never hang past that.
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

void main();
