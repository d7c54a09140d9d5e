import { ConfigError } from "../config";
import { jsonLogger } from "../log";
import { startBridge } from "./bridge";
import { parseBridgeConfig } from "./config";
import { gatewayPoster } from "./gateway-client";

/**
 * `npm run bridge`: the XEP-0114 component bridge as a long-running Node process, configured from
 * the environment (docs/protocol.md section 8). A missing or bad variable stops start-up with one line
 * naming it; SIGTERM and SIGINT shut down gracefully.
 */
function main(): void {
  let config: ReturnType<typeof parseBridgeConfig>;
  try {
    config = parseBridgeConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const log = jsonLogger((line) => process.stdout.write(`${line}\n`));
  const bridge = startBridge({ config, log, post: gatewayPoster(config.gatewayUrl, config.gatewayToken) });
  const shutdown = (signal: NodeJS.Signals) => {
    log.log("info", "bridge-signal", { signal });
    bridge.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.log("error", "bridge-stop-failed", { detail: String(error).slice(0, 200) });
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

main();
