/** Helpers shared by the benchmark's parts: child processes, the sink, statistics. */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = fileURLToPath(new URL(".", import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A child running a TypeScript entry under `node --import tsx`, in the repository's folder. */
export function spawnTs(
  script: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; nodeArgs?: readonly string[]; ipc?: boolean } = {},
): ChildProcess {
  return spawn(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", script, ...args], {
    cwd: REPO_ROOT,
    env: options.env ?? process.env,
    stdio: options.ipc ? ["pipe", "pipe", "inherit", "ipc"] : ["pipe", "pipe", "inherit"],
  });
}

/** The first line a child prints, parsed as JSON. */
export function firstJsonLine<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    if (!child.stdout) {
      reject(new Error(`${what}: no stdout`));
      return;
    }
    const lines = createInterface({ input: child.stdout });
    const onExit = (code: number | null) => reject(new Error(`${what} exited (${code}) before answering`));
    child.once("exit", onExit);
    lines.once("line", (line) => {
      child.off("exit", onExit);
      try {
        resolve(JSON.parse(line) as T);
      } catch (error) {
        reject(new Error(`${what}: not JSON: ${line.slice(0, 200)} (${String(error)})`));
      }
    });
  });
}

/** Runs a child to its end and returns the JSON of its first stdout line. */
export async function runJsonChild<T>(script: string, args: readonly string[], what: string): Promise<T> {
  const child = spawnTs(script, args);
  child.stdin?.end();
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const result = await firstJsonLine<T>(child, what);
  const code = await exited;
  if (code !== 0) throw new Error(`${what} exited with ${code}`);
  return result;
}

/** A process that lives until stopped (its stdin closing stops it too). */
export interface Running {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Starts the sink (bench/sink.ts) and returns its origin. */
export async function startSink(
  certPath: string,
  keyPath: string,
  http1 = false,
): Promise<Running & { origin: string; port: number }> {
  const child = spawnTs("bench/sink.ts", [certPath, keyPath, ...(http1 ? ["--http1"] : [])]);
  const { port } = await firstJsonLine<{ port: number }>(child, "sink");
  return { child, port, origin: `https://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted[sorted.length - 1] ?? Number.NaN };
}

export function fmt(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

export function showSpread(s: Spread, digits = 0): string {
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

/** The order of `items` in round `round`: rotated by one each round, reversed every other. */
export function rotated<T>(items: readonly T[], round: number): T[] {
  const shift = round % items.length;
  const turned = [...items.slice(shift), ...items.slice(0, shift)];
  return round % 2 === 1 ? turned.reverse() : turned;
}
