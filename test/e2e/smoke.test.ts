import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../../src/log";
import { Http2Transport } from "../../src/runtime/http2-transport";
import { type RunningNodeGateway, startNodeGateway } from "../../src/runtime/node";
import { type FakeWorld, startFakeWorld } from "../fakes/fake-world";
import { assertPortFree, freePort, REPO_ROOT, typescriptEntry } from "./processes";
import { type RunningSandbox, startSandbox } from "./sandbox";

/** `npm run smoke -- ARGS` as a child process (node --import tsx, as the npm script runs it). */
function smoke(
  args: readonly string[],
  token?: string,
): Promise<{ code: number | null; output: string; lines: string[] }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.GATEWAY_TOKEN;
  if (token !== undefined) env.GATEWAY_TOKEN = token;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      typescriptEntry("scripts/smoke.ts", args),
      { cwd: REPO_ROOT, env, timeout: 90_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, output, lines: output.split("\n").filter((line) => line.startsWith("smoke: ")) });
      },
    );
  });
}

const STEPS = ["health", "auth", "disco", "register", "publish", "unregister", "re-register"];

function expectPassed(result: { code: number | null; output: string; lines: string[] }): void {
  expect(result.code, result.output).toBe(0);
  expect(result.lines.map((line) => /^smoke: (\S+) ok:/.exec(line)?.[1]).filter(Boolean)).toEqual(STEPS);
  expect(result.lines.at(-1)).toMatch(/^smoke: ok, 7 steps against http:\/\/127\.0\.0\.1:\d+$/);
}

describe.each([
  { name: "npm start (wrangler dev)", flags: [] as string[], sns: false },
  { name: "npm run start:node-sandbox (the Node entry)", flags: ["--node"], sns: false },
  { name: "npm run start:node-sandbox -- --sns (SNS route, AWS SDK)", flags: ["--node", "--sns"], sns: true },
  { name: "npm start -- --sns (SNS route in workerd)", flags: ["--sns"], sns: true },
])("npm run smoke against $name", ({ flags, sns }) => {
  let sandbox: RunningSandbox;
  let snsPort: number | undefined;

  beforeAll(async () => {
    snsPort = sns ? await freePort() : undefined;
    sandbox = await startSandbox(snsPort === undefined ? flags : [...flags, "--sns-port", String(snsPort)]);
  }, 90_000);

  afterAll(async () => {
    const stopped = await sandbox?.stop();
    expect(stopped?.leakedGateway ?? false).toBe(false);
    if (snsPort !== undefined) await assertPortFree(snsPort);
  }, 30_000);

  it("passes every step with an APNs sandbox token, and the push reaches the fake", async () => {
    const result = await smoke([sandbox.gateway]);

    expectPassed(result);
    expect(result.output).toContain("auth ok: no GATEWAY_TOKEN given: expecting an open /xmpp");
    expect(result.output).toMatch(/register ok: apns sandbox token [0-9a-f]{8}… for smoke-[0-9a-f]{12}@smoke\.invalid/);
    expect(result.output).toContain("publish ok: result: the provider accepted the push");
    const token = /apns sandbox token ([0-9a-f]{8})…/.exec(result.output)?.[1] ?? "";
    const received = sandbox.process.output();
    if (sns) expect(received).toMatch(new RegExp(`\\[sns APNS_SANDBOX ${token}… background\\]`));
    else expect(received).toMatch(new RegExp(`\\[apns sandbox HTTP/[12]\\.[01]\\] 200 background token=${token}…`));
  }, 60_000);

  it("passes with FCM too (--provider fcm)", async () => {
    expectPassed(await smoke(["--provider", "fcm", sandbox.gateway]));
  }, 60_000);
});

describe("npm run smoke and GATEWAY_TOKEN", () => {
  const TOKEN = "smoke-test-gateway-token-0123456789";
  let dir: string;
  let world: FakeWorld;
  let gateway: RunningNodeGateway;
  let openGateway: RunningNodeGateway;
  const quiet: Logger = { log() {} };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "smoke-token-"));
    world = await startFakeWorld({ dir });
    const start = (env: Record<string, string>) =>
      startNodeGateway({
        env,
        port: 0,
        hostname: "127.0.0.1",
        transport: new Http2Transport({ ca: world.certificate.cert }),
        log: quiet,
      });
    gateway = await start({ ...world.env, GATEWAY_TOKEN: TOKEN });
    openGateway = await start({ ...world.env });
  }, 60_000);

  afterAll(async () => {
    const ports = [gateway?.port, openGateway?.port];
    await gateway?.close();
    await openGateway?.close();
    await world?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    for (const port of ports) if (port !== undefined) await assertPortFree(port);
  });

  it("passes with the deployment's token, after checking that a wrong one is refused", async () => {
    const result = await smoke([gateway.url], TOKEN);

    expectPassed(result);
    expect(result.output).toContain("auth ok: /xmpp refuses a wrong token (401)");
    expect(result.output).not.toContain(TOKEN);
  }, 60_000);

  it("fails without the token, and with another one", async () => {
    const without = await smoke([gateway.url]);
    const wrong = await smoke([gateway.url], "not-the-token");

    expect(without.code).toBe(1);
    expect(without.lines.at(-1)).toBe(
      "smoke: disco FAILED: /xmpp answered 401: the gateway has a GATEWAY_TOKEN; set the same one for the smoke",
    );
    expect(wrong.code).toBe(1);
    expect(wrong.lines.at(-1)).toBe(
      "smoke: disco FAILED: /xmpp answered 401 to GATEWAY_TOKEN: it is not the deployment's",
    );
  }, 60_000);

  it("fails when GATEWAY_TOKEN is given but the gateway is open to anyone", async () => {
    const result = await smoke([openGateway.url], TOKEN);

    expect(result.code).toBe(1);
    expect(result.lines.at(-1)).toBe(
      "smoke: auth FAILED: /xmpp answered 200 to a wrong token: the deployment has no GATEWAY_TOKEN and is open to anyone",
    );
  }, 60_000);

  it("fails on an unreachable gateway and exits 2 on a usage error", async () => {
    const port = await freePort();
    const unreachable = await smoke([`http://127.0.0.1:${port}`]);
    const usage = await smoke(["--provider", "mpns", gateway.url]);

    expect(unreachable.code).toBe(1);
    expect(unreachable.lines.at(-1)).toMatch(/^smoke: health FAILED: .*\(is http:\/\/127\.0\.0\.1:\d+ reachable\?\)$/);
    expect(usage.code).toBe(2);
    expect(usage.output).toContain("usage: GATEWAY_TOKEN=… npm run smoke -- URL");
  }, 60_000);
});
