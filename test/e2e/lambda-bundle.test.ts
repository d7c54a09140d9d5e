import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./processes";

const run = promisify(execFile);
const BUNDLE = join(REPO_ROOT, "dist", "lambda", "index.mjs");
const dir = mkdtempSync(join(tmpdir(), "lambda-bundle-"));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/**
 * What Lambda's Node runtime does with the bundle, in a fresh process: import it (timed with
 * `performance.now()`, the cold load of a new container) and invoke `handler` with a Function URL
 * event for `/health`, then print both as one JSON line.
 */
const LOADER = `
const bundle = process.argv[2];
const started = performance.now();
const { handler } = await import(bundle);
const loadMs = performance.now() - started;
const event = {
  version: "2.0",
  routeKey: "$default",
  rawPath: "/health",
  rawQueryString: "",
  headers: { host: "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws", "user-agent": "probe" },
  requestContext: {
    accountId: "anonymous",
    apiId: "abcdefghijklmnopqrstuvwxyz012345",
    domainName: "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws",
    domainPrefix: "abcdefghijklmnopqrstuvwxyz012345",
    http: { method: "GET", path: "/health", protocol: "HTTP/1.1", sourceIp: "203.0.113.10", userAgent: "probe" },
    requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    routeKey: "$default",
    stage: "$default",
    time: "03/Dec/2026:19:03:58 +0000",
    timeEpoch: 1796324638390,
  },
  isBase64Encoded: false,
};
const invoked = performance.now();
const response = await handler(event);
const firstInvokeMs = performance.now() - invoked;
process.stdout.write("RESULT " + JSON.stringify({ loadMs, firstInvokeMs, response }) + "\\n");
`;

describe("the Lambda bundle (npm run build:lambda)", () => {
  it("builds, loads in a fresh Node process and answers /health to a Function URL event", async () => {
    await run("npm", ["run", "-s", "build:lambda"], { cwd: REPO_ROOT, timeout: 60_000 });
    const bytes = statSync(BUNDLE).size;
    const loader = join(dir, "loader.mjs");
    writeFileSync(loader, LOADER);
    const env = {
      PATH: process.env.PATH ?? "",
      NODE_NO_WARNINGS: "1",
      SERVER_KEY: "bundle-test-server-key-0123456789abcdef",
      GATEWAY_TOKEN: "bundle-test-gateway-token",
      REGISTRATIONS_TABLE: "registrations",
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret",
      // Never reached by /health; a closed local port in case it were.
      AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:9",
    };
    const output = await new Promise<string>((resolve, reject) => {
      const started = spawn(process.execPath, [loader, BUNDLE], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
      child = started;
      let text = "";
      started.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
      });
      started.stderr.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
      });
      const timer = setTimeout(() => started.kill("SIGKILL"), 20_000);
      started.on("error", reject);
      started.on("exit", (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(text);
        else reject(new Error(`loader exited with ${code ?? signal}:\n${text}`));
      });
    });
    const line = output.split("\n").find((candidate) => candidate.startsWith("RESULT "));
    expect(line, output).toBeDefined();
    const result = JSON.parse(line?.slice("RESULT ".length) ?? "{}") as {
      loadMs: number;
      firstInvokeMs: number;
      response: { statusCode: number; body: string };
    };
    expect(result.response.statusCode).toBe(200);
    expect(JSON.parse(result.response.body)).toMatchObject({ status: "ok" });
    // The child ended by itself: nothing (HTTP/2 session, timer) keeps a container's event loop alive.
    expect(child?.exitCode).toBe(0);
    console.log(
      `lambda bundle: ${(bytes / 1024).toFixed(0)} KiB; cold load ${result.loadMs.toFixed(0)} ms, first /health ${result.firstInvokeMs.toFixed(0)} ms`,
    );
  });
});
