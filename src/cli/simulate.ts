import { parseSimulatorOptions, type SimulatorOptions, USAGE, UsageError } from "./simulator/options";
import { describeFailure, describeStep } from "./simulator/report";
import { Simulation, SimulationError } from "./simulator/run";

/**
 * `npm run simulate -- [options]` (docs/simulator.md): plays the client, the user's server and the
 * device against a running gateway, end to end. Exit code 0 when the device opened the push, 1 when a
 * step failed, 2 for a command-line mistake.
 */
async function main(): Promise<number> {
  let options: SimulatorOptions | "help";
  try {
    options = parseSimulatorOptions(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`simulate: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const { json } = options;
  const simulation = new Simulation(options, (event) => {
    if (!json) process.stdout.write(`${describeStep(event)}\n`);
  });
  try {
    const report = await simulation.execute();
    if (json) process.stdout.write(`${JSON.stringify({ ok: true, ...report }, null, 2)}\n`);
    else
      process.stdout.write(
        report.device === undefined
          ? "simulate: published; the device step was skipped (--no-device)\n"
          : "simulate: ok, the device received and opened the push\n",
      );
    return 0;
  } catch (error) {
    if (!(error instanceof SimulationError)) throw error;
    if (json)
      process.stdout.write(
        `${JSON.stringify({ ok: false, step: error.step, error: error.message, ...error.partial }, null, 2)}\n`,
      );
    process.stderr.write(`${describeFailure(error.step, error.message)}\n`);
    return 1;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `simulate: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
