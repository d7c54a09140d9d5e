import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import {
  assertPortFree,
  type DetachedProcess,
  freePort,
  REPO_ROOT,
  spawnDetached,
  stopProcessGroup,
  waitForOutput,
} from "./processes";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "push-serve-bundle-"));
// Inside the repository, so that the bundle finds better-sqlite3 in node_modules as the image does.
const bundle = join(REPO_ROOT, "dist", `serve-test-${process.pid}.mjs`);
const started: DetachedProcess[] = [];

afterAll(async () => {
  for (const process_ of started) await stopProcessGroup(process_);
  rmSync(dir, { recursive: true, force: true });
  rmSync(bundle, { force: true });
});

describe("the container recipe for npm run serve", () => {
  it("passes the Dockerfile linter", async () => {
    const { stdout } = await run(join(REPO_ROOT, "node_modules/.bin/dockerfilelint"), ["Dockerfile"], {
      cwd: REPO_ROOT,
    });
    expect(stdout).toContain("Issues: None found");
  });

  it("bundles the serve entry the image runs, which names a missing variable and exits 1", async () => {
    await run(
      join(REPO_ROOT, "node_modules/.bin/esbuild"),
      [
        "src/runtime/serve-main.ts",
        "--bundle",
        "--platform=node",
        "--format=esm",
        "--target=node20",
        `--outfile=${bundle}`,
        "--external:better-sqlite3",
        "--log-level=warning",
        "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      ],
      { cwd: REPO_ROOT },
    );
    const failing = spawnDetached(process.execPath, [bundle], {
      env: { PATH: process.env.PATH, XMPP_COMPONENT_SERVICE: "xmpp://127.0.0.1:1" },
    });
    started.push(failing);
    await failing.exited;
    expect(failing.exitStatus()?.code).toBe(1);
    expect(failing.output()).toContain("XMPP_COMPONENT_SECRET is missing");
  });

  it("serves health from the bundle with an SQLite store, keeps /xmpp closed without a token, stops on SIGTERM", async () => {
    const port = await freePort();
    const serve = spawnDetached(process.execPath, [bundle], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        XMPP_COMPONENT_SERVICE: "xmpp://127.0.0.1:1",
        XMPP_COMPONENT_SECRET: "secret",
        STORE_PATH: join(dir, "data", "registrations.sqlite"),
        PORT: String(port),
      },
    });
    started.push(serve);
    await waitForOutput(serve, '"event":"serving"', 20_000);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(await health.json()).toMatchObject({ status: "ok", jid: "push.localhost" });
    const xmpp = await fetch(`http://127.0.0.1:${port}/xmpp`, {
      method: "POST",
      body: "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
    });
    expect(xmpp.status).toBe(401);
    await stopProcessGroup(serve);
    expect(serve.exitStatus()?.code).toBe(0);
    await assertPortFree(port);
  });
});
