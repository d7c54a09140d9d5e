import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (where package.json and node_modules are). */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The arguments that run a TypeScript entry point in one Node process (`node --import tsx FILE`), as
 * the npm scripts do. Not the `tsx` CLI: its wrapper process relays SIGTERM to the child and, when the
 * child is slow to confirm (a loaded machine), kills it with SIGKILL, which breaks graceful shutdown.
 */
export function typescriptEntry(script: string, args: readonly string[] = []): string[] {
  return ["--import", "tsx", script, ...args];
}

/** A child process started in its own process group, with its output kept for error messages. */
export interface DetachedProcess {
  /** A short name used in messages. */
  readonly name: string;
  readonly child: ChildProcess;
  /** The process id, which is also the process group id. */
  readonly pid: number;
  /** stdout and stderr interleaved, the last `maxOutput` characters. */
  output(): string;
  /** The exit code (or the signal) once the process has ended; `undefined` while it runs. */
  exitStatus(): { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
  /** Resolves when the process has ended. */
  readonly exited: Promise<void>;
}

export interface SpawnDetachedOptions {
  /** A short name for messages; default the command's base name. */
  readonly name?: string;
  /** Default {@link REPO_ROOT}. */
  readonly cwd?: string;
  /** The whole environment of the child (merge `process.env` yourself when wanted). */
  readonly env?: NodeJS.ProcessEnv;
  /** How much output to keep; default 64 KiB. */
  readonly maxOutput?: number;
  /** Called with each chunk of output (e.g. to look for a line). */
  readonly onOutput?: (text: string) => void;
}

/**
 * Starts a command detached, in a process group of its own (so that {@link stopProcessGroup} reaches
 * its children too, e.g. workerd under wrangler), with stdin closed and its output captured.
 */
export function spawnDetached(
  command: string,
  args: readonly string[],
  options: SpawnDetachedOptions = {},
): DetachedProcess {
  const child = spawn(command, [...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command}`);
  const maxOutput = options.maxOutput ?? 64 * 1024;
  let output = "";
  const append = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    output = (output + text).slice(-maxOutput);
    options.onOutput?.(text);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((done) => {
    child.once("exit", (code, signal) => {
      status = { code, signal };
      done();
    });
    child.once("error", (error) => {
      output += `\n[spawn error] ${String(error)}`;
      status = { code: null, signal: null };
      done();
    });
  });
  return {
    name: options.name ?? command.split("/").pop() ?? command,
    child,
    pid,
    output: () => output,
    exitStatus: () => status,
    exited,
  };
}

/** Whether nothing listens on `host:port` (by trying to listen there). */
export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => done(true)));
  });
}

/**
 * A port that is free now on `host` (the OS picks it: listen on port 0, then close). Another process
 * could take it before it is used; the OS hands out recently used ports last, so that is rare.
 */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? done(port) : fail(new Error("no port"))));
    });
  });
}

/** `count` distinct free ports. */
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(host));
  return [...ports];
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

export interface WaitForHttpOptions {
  /** Give up after this long; default 30 s. */
  readonly timeoutMs?: number;
  /** The process that should answer: waiting stops early, with its output, if it exits. */
  readonly process?: DetachedProcess;
  /** Which status means ready; default any 2xx. */
  readonly ready?: (status: number) => boolean;
}

/**
 * Polls `url` with GET until it answers as ready. Fails with the process's output when the process
 * exits first or the time is up.
 */
export async function waitForHttp(url: string, options: WaitForHttpOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  // 429: the gateway answered, its per-client limit on /health just caught this polling.
  const ready = options.ready ?? ((status: number) => (status >= 200 && status < 300) || status === 429);
  let last = "no answer";
  while (Date.now() < deadline) {
    const status = options.process?.exitStatus();
    if (options.process && status !== undefined)
      throw new Error(
        `${options.process.name} exited (code ${status.code}, signal ${status.signal}) before ${url} was ready:\n${options.process.output()}`,
      );
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (ready(response.status)) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = String(error);
    }
    await sleep(100);
  }
  const output = options.process ? `\n${options.process.name} output:\n${options.process.output()}` : "";
  throw new Error(`${url} not ready in time (${last})${output}`);
}

/** Waits until `text` shows up in the process's output. */
export async function waitForOutput(
  process: DetachedProcess,
  text: string | RegExp,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const found = () => (typeof text === "string" ? process.output().includes(text) : text.test(process.output()));
  while (Date.now() < deadline) {
    if (found()) return;
    if (process.exitStatus() !== undefined) break;
    await sleep(50);
  }
  if (found()) return;
  throw new Error(`${process.name}: ${String(text)} did not appear in its output:\n${process.output()}`);
}

function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process of the process group `pid` is still alive. */
export function processGroupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface StopOptions {
  /** How long to wait after SIGTERM before SIGKILL; default 5 s. */
  readonly graceMs?: number;
}

/**
 * Stops a process started by {@link spawnDetached} and everything in its process group: SIGTERM,
 * then SIGKILL after `graceMs`, then waits until no member of the group is left. Safe to call twice
 * and on a process that has already ended.
 */
export async function stopProcessGroup(process_: DetachedProcess, options: StopOptions = {}): Promise<void> {
  const { pid } = process_;
  if (!signalGroup(pid, "SIGTERM")) return;
  const deadline = Date.now() + (options.graceMs ?? 5_000);
  while (processGroupAlive(pid) && Date.now() < deadline) await sleep(50);
  if (processGroupAlive(pid)) signalGroup(pid, "SIGKILL");
  const killDeadline = Date.now() + 5_000;
  while (processGroupAlive(pid) && Date.now() < killDeadline) await sleep(50);
  await Promise.race([process_.exited, sleep(1_000)]);
}

/** Fails unless `host:port` is free, retrying for up to `timeoutMs` (a closing socket takes a moment). */
export async function assertPortFree(port: number, host = "127.0.0.1", timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isPortFree(port, host))) {
    if (Date.now() > deadline) throw new Error(`port ${host}:${port} is still in use`);
    await sleep(100);
  }
}

export interface WranglerDevOptions {
  readonly port: number;
  /** wrangler's own inspector port: tests pick a free one, so that two instances never collide. */
  readonly inspectorPort?: number;
  /** `--persist-to`: local KV state (a temporary directory in tests). */
  readonly persistTo: string;
  /** `--env`: a wrangler.toml environment (e.g. `sns`, the Worker with the SNS route); default the top level. */
  readonly environment?: string;
  /** `--env-file`: the gateway's variables (when given, wrangler does not read `.dev.vars`). */
  readonly envFile?: string;
  /** `--var NAME:VALUE` pairs. */
  readonly vars?: Readonly<Record<string, string>>;
  /** Added to the environment, e.g. `NODE_EXTRA_CA_CERTS` so local workerd trusts the fakes' certificate. */
  readonly env?: Readonly<Record<string, string>>;
  readonly onOutput?: (text: string) => void;
}

/** The environment that keeps wrangler quiet and offline: no `request.cf` fetch, no telemetry. */
export const QUIET_WRANGLER_ENV = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" } as const;

/** The arguments of `wrangler dev` for {@link WranglerDevOptions} (also what `npm start` runs). */
export function wranglerDevArgs(options: WranglerDevOptions): string[] {
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(options.port)];
  if (options.inspectorPort !== undefined) args.push("--inspector-port", String(options.inspectorPort));
  args.push("--persist-to", options.persistTo);
  if (options.environment !== undefined) args.push("--env", options.environment);
  if (options.envFile !== undefined) args.push("--env-file", options.envFile);
  for (const [name, value] of Object.entries(options.vars ?? {})) args.push("--var", `${name}:${value}`);
  return args;
}

/**
 * Starts `./node_modules/.bin/wrangler dev` detached (not through npx, so that stopping the group
 * reaches workerd) and waits until `/health` answers. Stop it with {@link stopProcessGroup}.
 */
export async function startWranglerDev(options: WranglerDevOptions, readyTimeoutMs = 45_000): Promise<DetachedProcess> {
  const wrangler = spawnDetached(resolve(REPO_ROOT, "node_modules/.bin/wrangler"), wranglerDevArgs(options), {
    name: "wrangler",
    env: { ...process.env, ...QUIET_WRANGLER_ENV, ...options.env },
    ...(options.onOutput ? { onOutput: options.onOutput } : {}),
  });
  try {
    await waitForHttp(`http://127.0.0.1:${options.port}/health`, {
      process: wrangler,
      timeoutMs: readyTimeoutMs,
      ready: (status) => status !== 404 && status < 600,
    });
  } catch (error) {
    await stopProcessGroup(wrangler);
    throw error;
  }
  return wrangler;
}
