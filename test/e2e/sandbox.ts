import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  assertPortFree,
  type DetachedProcess,
  freePorts,
  processGroupAlive,
  spawnDetached,
  stopProcessGroup,
  typescriptEntry,
  waitForOutput,
} from "./processes";

/** `npm start` (scripts/sandbox.ts) running on free ports, as the e2e tests start it. */
export interface RunningSandbox {
  readonly process: DetachedProcess;
  /** The gateway, `http://127.0.0.1:PORT`. */
  readonly gateway: string;
  /** The live device page, `http://127.0.0.1:PORT`. */
  readonly page: string;
  /** A temporary directory of the run (sandbox files, KV state), removed by {@link stop}. */
  readonly dir: string;
  /**
   * Stops the sandbox by process group, checks that it stopped its gateway's group too (killing it
   * if not) and that every port is free again. Resolves to whether the gateway had to be killed.
   */
  stop(): Promise<{ leakedGateway: boolean }>;
}

/**
 * Starts scripts/sandbox.ts (the fakes, the gateway and the device page) detached, every port free,
 * and waits until it says the gateway and the page are up. `flags` add to the sandbox's flags
 * (e.g. `--node` for the Node entry).
 */
export async function startSandbox(flags: readonly string[] = []): Promise<RunningSandbox> {
  const dir = await mkdtemp(join(tmpdir(), "sandbox-e2e-"));
  const ports = await freePorts(6);
  const [port, apnsPort, apnsSandboxPort, fcmPort, inspectorPort, pagePort] = ports.map(String);
  // biome-ignore format: one flag and its value per line
  const args = [
    "scripts/sandbox.ts",
    "--dir", join(dir, "sandbox"),
    "--persist-to", join(dir, "state"),
    "--port", port ?? "",
    "--apns-port", apnsPort ?? "",
    "--apns-sandbox-port", apnsSandboxPort ?? "",
    "--fcm-port", fcmPort ?? "",
    "--inspector-port", inspectorPort ?? "",
    "--page-port", pagePort ?? "",
    ...flags,
  ];
  const sandbox = spawnDetached(process.execPath, typescriptEntry("scripts/sandbox.ts", args.slice(1)), {
    name: "sandbox",
  });
  const stop = async () => {
    await stopProcessGroup(sandbox, { graceMs: 10_000 });
    // The sandbox stops its gateway's group itself; should it not have, stop it here and say so.
    const gatewayPid = Number(/sandbox: started .* \(pid (\d+),/.exec(sandbox.output())?.[1]);
    const leakedGateway = Number.isInteger(gatewayPid) && processGroupAlive(gatewayPid);
    if (leakedGateway) process.kill(-gatewayPid, "SIGKILL");
    for (const used of ports) await assertPortFree(used);
    await rm(dir, { recursive: true, force: true });
    return { leakedGateway };
  };
  try {
    await waitForOutput(sandbox, "sandbox: gateway", 60_000);
    await waitForOutput(sandbox, `sandbox: live device page http://127.0.0.1:${pagePort}`, 5_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    process: sandbox,
    gateway: `http://127.0.0.1:${port}`,
    page: `http://127.0.0.1:${pagePort}`,
    dir,
    stop,
  };
}
