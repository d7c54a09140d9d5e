/**
 * Whether `@aws-sdk/client-sns` itself can talk to SNS from inside workerd (the question behind
 * src/runtime/sns-fetch.ts). Run it alone with `node --import tsx bench/sns-sdk-workerd.ts`: it starts the
 * fake SNS (test/fakes/sns-server.ts, verifying SigV4), makes one APNs endpoint there from Node, serves
 * the probe Worker of bench/sns-sdk-workerd/ with `wrangler dev` (127.0.0.1 only, its own process group)
 * and asks it for two `Publish`es to that endpoint through the SDK: one the fake accepts, one it refuses
 * with a scripted `Throttling`. It prints, for each, what the fake received (action, status, whether the
 * signature matched) and what the SDK answered inside workerd, then stops everything.
 *
 * Last result (wrangler 4.86.0, @aws-sdk/client-sns 3.1178.0, compatibility_date 2026-04-20, with and
 * without nodejs_compat): the request goes out signed and the fake accepts it, then the SDK throws
 * `ReferenceError: DOMParser is not defined` reading the answer, the 200 and the error answer alike.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { snsClientFromEnv } from "../src/runtime/sns-sdk";
import {
  assertPortFree,
  freePorts,
  QUIET_WRANGLER_ENV,
  REPO_ROOT,
  spawnDetached,
  stopProcessGroup,
  waitForHttp,
  wranglerDevArgs,
} from "../test/e2e/processes";
import { formatEnvFile } from "../test/fakes/fake-world";
import { FakeSnsServer } from "../test/fakes/sns-server";

const CREDENTIALS = { accessKeyId: "AKIDPROBEEXAMPLE0000", secretAccessKey: "probe/secret+0123456789abcdefghijklmnop" };
const CONFIG = "bench/sns-sdk-workerd/wrangler.toml";

const fake = new FakeSnsServer({ credentials: CREDENTIALS });
const url = await fake.start();
const application = fake.createPlatformApplication("APNS", "probe");
const env = {
  AWS_REGION: fake.region,
  AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
  AWS_ENDPOINT_URL_SNS: url,
};
// From Node, where the SDK parses XML with its Node parser: the endpoint the probe publishes to.
const made = await snsClientFromEnv(env).createPlatformEndpoint({
  platformApplicationArn: application,
  token: "a".repeat(64),
  timeoutMs: 5_000,
});
if (!made.ok) throw new Error(`CreatePlatformEndpoint from Node failed: ${JSON.stringify(made.error)}`);
const target = made.value.endpointArn;

const dir = mkdtempSync(join(tmpdir(), "sns-sdk-workerd-"));
const envFile = join(dir, "probe.env");
writeFileSync(envFile, formatEnvFile(env), { mode: 0o600 });
const ports = await freePorts(2);
const [port = 0, inspectorPort = 0] = ports;
const args = [...wranglerDevArgs({ port, inspectorPort, persistTo: join(dir, "state"), envFile }), "--config", CONFIG];
console.log(
  `$ ${Object.entries(QUIET_WRANGLER_ENV)
    .map(([name, value]) => `${name}=${value}`)
    .join(" ")} npx wrangler ${args.join(" ")}`,
);
const wrangler = spawnDetached(resolve(REPO_ROOT, "node_modules/.bin/wrangler"), args, {
  name: "wrangler",
  env: { ...process.env, ...QUIET_WRANGLER_ENV },
});

try {
  await waitForHttp(`http://127.0.0.1:${port}/`, { process: wrangler, timeoutMs: 45_000 });
  const probe = async (label: string) => {
    const before = fake.requests.length;
    const response = await fetch(`http://127.0.0.1:${port}/probe?target=${encodeURIComponent(target)}`);
    const answer = await response.text();
    const received = fake.requests
      .slice(before)
      .map(
        (request) =>
          `${request.action} ${request.status}${request.error ? ` ${request.error}` : ""} signature ${request.signature?.valid ? "valid" : "NOT valid"}`,
      );
    console.log(
      `\n## ${label}\nfake SNS received: ${received.join("; ") || "nothing"}\nSDK in workerd answered: ${answer}`,
    );
  };
  await probe("Publish the fake accepts");
  fake.failNext("Publish", "Throttling", 400);
  await probe("Publish the fake refuses with Throttling (400)");
} finally {
  await stopProcessGroup(wrangler);
  await fake.close();
  for (const used of ports) await assertPortFree(used);
  rmSync(dir, { recursive: true, force: true });
  // wrangler bundles the probe next to its configuration.
  rmSync(resolve(REPO_ROOT, "bench/sns-sdk-workerd/.wrangler"), { recursive: true, force: true });
}
