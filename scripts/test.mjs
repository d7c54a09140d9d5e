#!/usr/bin/env node
// `npm test`: sets up what the tests need, then runs the whole suite (every vitest project: unit, app,
// workers, e2e) in one vitest run and ends with the one line CI reads:
// "tests: N passed, M failed[, K skipped]", counted from vitest's JSON report (scripts/test-summary.mjs).
// Extra arguments go to vitest; `npm run test:unit` (and :app, :workers, :e2e) are the quick partial runs.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { conclude, summarize } from "./test-summary.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

// The end-to-end tests start Prosody, ejabberd and Chromium from Debian's packages. The script installs
// them on a fresh machine and returns at once, without apt or network, when dpkg already has them all.
// Elsewhere (no dpkg) there is nothing it could do: those tests report what is missing themselves.
if (existsSync("/usr/bin/dpkg-query")) {
  const install = spawnSync("sh", [".ci/install-debian.sh"], { stdio: "inherit" });
  if (install.status !== 0) {
    console.log(`.ci/install-debian.sh failed (${install.status ?? install.signal}): no tests ran`);
    console.log(conclude({ passed: 0, failed: 0, skipped: 0 }, install.status).line);
    process.exit(1);
  }
} else {
  console.log("no dpkg-query here: Prosody, ejabberd and Chromium must be installed by hand (.ci/install-debian.sh)");
}

const report = "reports/vitest.json";
mkdirSync("reports", { recursive: true });
rmSync(report, { force: true });

const run = spawnSync(
  process.execPath,
  [
    "node_modules/vitest/vitest.mjs",
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: "inherit", env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" } },
);

let parsed;
try {
  parsed = JSON.parse(readFileSync(report, "utf8"));
} catch {
  // No report (vitest crashed before writing it): summarize counts that as a failure.
  parsed = undefined;
}
const { line, exitCode } = conclude(summarize(parsed), run.status);
console.log(line);
process.exit(exitCode);
