/**
 * `npm run synth [-- CDK options]`: builds the two Lambda bundles the stacks deploy, then runs the CDK
 * CLI's `synth` on infra/aws/cdk.json, offline and without Docker, into dist/cdk.out (templates and
 * assets; `cdk deploy --app dist/cdk.out STACK` deploys exactly that). cdk-nag runs during synthesis:
 * an unacknowledged finding fails it. Extra arguments go to `cdk synth`, e.g.
 * `npm run synth -- -c stagingSecretRevision=VERSION_ID`.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { buildPlatformApplicationsCode, CLOUD_ASSEMBLY, REPO_ROOT } from "./assets";

/** Keeps the CDK CLI offline and quiet: no version check, no telemetry, no notices. */
export const QUIET_CDK_ENV = { CDK_DISABLE_VERSION_CHECK: "true", CDK_DISABLE_CLI_TELEMETRY: "true" } as const;

function run(command: string, args: readonly string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, stdio: "inherit", env: { ...process.env, ...QUIET_CDK_ENV } });
  if (result.status !== 0) {
    console.error(`synth: ${command} ${args.join(" ")} failed (${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

const started = Date.now();
run("npm", ["run", "-s", "build:lambda"], REPO_ROOT);
await buildPlatformApplicationsCode();
const built = Date.now();
run(
  join(REPO_ROOT, "node_modules/.bin/cdk"),
  ["synth", "--quiet", "--no-notices", ...process.argv.slice(2)],
  join(REPO_ROOT, "infra/aws"),
);
console.log(
  `synth: XmppPushGateway-staging and XmppPushGateway-production in ${CLOUD_ASSEMBLY} ` +
    `(bundles ${built - started} ms, cdk synth ${Date.now() - built} ms)`,
);
