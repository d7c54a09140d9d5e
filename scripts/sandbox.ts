/**
 * The local sandbox behind `npm start` (docs/sandbox.md): fake APNs and FCM on fixed local ports, a
 * fresh certificate, APNs key and service account in `.sandbox/`, and the gateway pointed at them:
 * `wrangler dev` (default) or, with `--node`, the Node entry (the HTTP/2 path). Every push the fakes
 * receive is printed as one line, and shown on the live device page (docs/simulator.md). Ctrl-C stops
 * everything.
 *
 * With `--sns`, APNs and FCM pushes go through a fake Amazon SNS instead (`APNS_VIA=sns`, `FCM_VIA=sns`,
 * the SNS route of docs/protocol.md 6.3): the Node entry with the AWS SDK, or `wrangler dev --env sns`.
 *
 *   node --import tsx scripts/sandbox.ts [--node] [--sns] [--port 8787] [--dir .sandbox] [--persist-to .wrangler/state]
 *                          [--apns-port 8443] [--apns-sandbox-port 8445] [--fcm-port 8444] [--sns-port 8446]
 *                          [--inspector-port N] [--page-port 8790]
 */
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  type DetachedProcess,
  QUIET_WRANGLER_ENV,
  REPO_ROOT,
  spawnDetached,
  stopProcessGroup,
  waitForHttp,
  wranglerDevArgs,
} from "../test/e2e/processes";
import { DEVICE_PAGE_PORT, DevicePage } from "../test/fakes/device-page";
import { describeApnsReceipt, describeFcmReceipt, type FakeWorld, startFakeWorld } from "../test/fakes/fake-world";
import { FakeSnsServer } from "../test/fakes/sns-server";

/** Fixed local ports of the sandbox (docs/sandbox.md). */
const DEFAULTS = {
  port: 8787,
  apnsPort: 8443,
  fcmPort: 8444,
  apnsSandboxPort: 8445,
  snsPort: 8446,
  pagePort: DEVICE_PAGE_PORT,
  dir: ".sandbox",
  persistTo: ".wrangler/state",
};

/** Variables of docs/protocol.md section 8 that must not leak from the developer's shell into the Node child. */
const GATEWAY_VARIABLE =
  /^(APNS_|FCM_|SNS_|PUSH_JID$|GATEWAY_TOKEN$|NODE_MAC_KEY$|SERVER_KEY$|REST_API_KEYS$|APPS$|MAX_|RATE_LIMIT_PER_MINUTE$|TRUSTED_PROXIES$|TOMBSTONE_TTL_SECONDS$|PORT$|HOST$)/;

/** The sandbox's REST credential of the default app (REST_API_KEYS), fresh at every start and printed. */
const REST_KEY = randomBytes(24).toString("base64url");

function portOption(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`--${name} must be a port number`);
  return port;
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      node: { type: "boolean", default: false },
      sns: { type: "boolean", default: false },
      "sns-port": { type: "string" },
      port: { type: "string" },
      dir: { type: "string" },
      "persist-to": { type: "string" },
      "apns-port": { type: "string" },
      "apns-sandbox-port": { type: "string" },
      "fcm-port": { type: "string" },
      "inspector-port": { type: "string" },
      "page-port": { type: "string" },
    },
    strict: true,
  });
  return {
    node: values.node === true,
    sns: values.sns === true,
    snsPort: portOption(values["sns-port"], DEFAULTS.snsPort, "sns-port"),
    port: portOption(values.port, DEFAULTS.port, "port"),
    apnsPort: portOption(values["apns-port"], DEFAULTS.apnsPort, "apns-port"),
    apnsSandboxPort: portOption(values["apns-sandbox-port"], DEFAULTS.apnsSandboxPort, "apns-sandbox-port"),
    fcmPort: portOption(values["fcm-port"], DEFAULTS.fcmPort, "fcm-port"),
    pagePort: portOption(values["page-port"], DEFAULTS.pagePort, "page-port"),
    inspectorPort:
      values["inspector-port"] === undefined ? undefined : portOption(values["inspector-port"], 0, "inspector-port"),
    dir: resolve(values.dir ?? DEFAULTS.dir),
    persistTo: resolve(values["persist-to"] ?? DEFAULTS.persistTo),
  };
}

type Options = ReturnType<typeof parseOptions>;

/** wrangler.toml's local-development server key (top-level `[vars]`, which `[env.sns]` does not inherit). */
const LOCAL_SERVER_KEY = "local-development-only-server-key-0000000";

/** The sandbox's AWS credentials: the fake SNS checks every request's SigV4 signature with them. */
const SNS_CREDENTIALS = { accessKeyId: "AKIDSANDBOX", secretAccessKey: randomBytes(24).toString("base64url") };

/**
 * The fake SNS with one platform application per platform, and the variables that send APNs and FCM
 * through it; every publish is printed as one `[sns PLATFORM …]` line.
 */
async function startSns(options: Options): Promise<{ sns: FakeSnsServer; env: Record<string, string> }> {
  const sns = new FakeSnsServer({
    credentials: SNS_CREDENTIALS,
    onPublish: (publish) =>
      console.log(
        `[sns ${publish.platform} ${publish.token.slice(0, 8)}… ${publish.attributes["AWS.SNS.MOBILE.APNS.PUSH_TYPE"]?.stringValue ?? ""}] ${publish.platformMessage.slice(0, 160)}`,
      ),
  });
  await sns.start(options.snsPort);
  const env = {
    APNS_VIA: "sns",
    FCM_VIA: "sns",
    SNS_APNS_APPLICATION_ARN: sns.createPlatformApplication("APNS", "sandbox"),
    SNS_APNS_SANDBOX_APPLICATION_ARN: sns.createPlatformApplication("APNS_SANDBOX", "sandbox"),
    SNS_APNS_VOIP_APPLICATION_ARN: sns.createPlatformApplication("APNS_VOIP", "sandbox"),
    SNS_APNS_VOIP_SANDBOX_APPLICATION_ARN: sns.createPlatformApplication("APNS_VOIP_SANDBOX", "sandbox"),
    SNS_FCM_APPLICATION_ARN: sns.createPlatformApplication("GCM", "sandbox"),
    AWS_ACCESS_KEY_ID: SNS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: SNS_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_SNS: sns.url,
  };
  return { sns, env };
}

/** The world's variables, with the direct providers' replaced by the SNS route's when `--sns` is on. */
function gatewayEnv(world: FakeWorld, snsEnv: Record<string, string> | undefined): Record<string, string> {
  if (snsEnv === undefined) return { ...world.env };
  const env: Record<string, string> = {};
  // Over SNS, Apple's key and Google's account live in the platform applications, not in the gateway.
  for (const [name, value] of Object.entries(world.env))
    if (!/^(APNS_TEAM_ID|APNS_KEY_ID|APNS_PRIVATE_KEY|APNS_ENDPOINT|APNS_SANDBOX_ENDPOINT|FCM_)/.test(name))
      env[name] = value;
  return { ...env, ...snsEnv };
}

function startGateway(options: Options, world: FakeWorld, snsEnv?: Record<string, string>): DetachedProcess {
  const forward = (text: string) => process.stdout.write(text);
  const trust = { NODE_EXTRA_CA_CERTS: world.certificate.certPath };
  if (options.node) {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) if (!GATEWAY_VARIABLE.test(name)) env[name] = value;
    return spawnDetached(process.execPath, ["--import", "tsx", "src/runtime/node-main.ts"], {
      name: "node gateway",
      env: { ...env, ...gatewayEnv(world, snsEnv), ...trust, PORT: String(options.port), HOST: "127.0.0.1" },
      onOutput: forward,
    });
  }
  // wrangler reads .dev.vars only when no --env-file is given: the developer's file stays untouched and unused.
  const args = wranglerDevArgs({
    port: options.port,
    persistTo: options.persistTo,
    envFile: world.envFile,
    ...(options.inspectorPort !== undefined ? { inspectorPort: options.inspectorPort } : {}),
    // `[env.sns]` inherits no `[vars]`: the local-only server key of wrangler.toml comes along here.
    ...(snsEnv !== undefined ? { vars: { SERVER_KEY: LOCAL_SERVER_KEY, ...gatewayEnv(world, snsEnv) } } : {}),
  });
  // The Worker with the SNS route is its own entry (wrangler.toml `[env.sns]`).
  if (snsEnv !== undefined) args.push("--env", "sns");
  return spawnDetached(resolve(REPO_ROOT, "node_modules/.bin/wrangler"), args, {
    name: "wrangler dev",
    env: { ...process.env, ...QUIET_WRANGLER_ENV, ...trust },
    onOutput: forward,
  });
}

/**
 * The live device page is a convenience: when its port is taken the sandbox says so and runs without it,
 * as it did before the page existed.
 */
async function startPage(options: Options, world: FakeWorld): Promise<DevicePage | undefined> {
  try {
    return await DevicePage.start({ source: world, port: options.pagePort });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    console.error(
      `sandbox: the device page did not start on 127.0.0.1:${options.pagePort} (${reason}); running without it`,
    );
    return undefined;
  }
}

function banner(options: Options, world: FakeWorld, page: DevicePage | undefined): string {
  const gateway = `http://127.0.0.1:${options.port}`;
  const pageLine = page
    ? `sandbox: live device page ${page.url} (pushes as the device sees them, decrypted; npm run simulate)`
    : "sandbox: no live device page (its port was taken; --page-port picks another)";
  return [
    "",
    `sandbox: gateway (${options.node ? "Node entry, HTTP/2 to the fakes" : "wrangler dev, HTTP/1.1 to the fakes"}) at ${gateway}`,
    `sandbox: fake APNs production ${world.apns.productionUrl}, sandbox ${world.apns.sandboxUrl} (topic ${world.env.APNS_TOPIC})`,
    `sandbox: fake FCM and OAuth ${world.fcm.url} (project ${world.serviceAccount.json.project_id})`,
    pageLine,
    `sandbox: files in ${world.dir} (cert.pem, key.pem, apns-key.p8, service-account.json, gateway.env)`,
    `sandbox: PUSH_JID=${world.env.PUSH_JID}, no GATEWAY_TOKEN: try  curl ${gateway}/health`,
    `sandbox: REST registration is on; the default app's API credential is ${REST_KEY}`,
    `sandbox:   curl -H 'Authorization: Bearer ${REST_KEY}' -H 'content-type: application/json' -d '{"provider":"apns","token":"abc123","account":"juliet@example.com"}' ${gateway}/v1/registrations`,
    "sandbox: every push the fakes receive is printed as a line starting with [apns ...] or [fcm ...]; Ctrl-C stops",
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions();
  } catch (error) {
    console.error(`sandbox: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
  let world: FakeWorld;
  try {
    world = await startFakeWorld({
      dir: options.dir,
      ports: { apnsProduction: options.apnsPort, apnsSandbox: options.apnsSandboxPort, fcm: options.fcmPort },
      onApns: (receipt) => console.log(describeApnsReceipt(receipt)),
      onFcm: (receipt) => console.log(describeFcmReceipt(receipt)),
      extraEnv: { REST_API_KEYS: JSON.stringify({ default: REST_KEY }) },
    });
  } catch (error) {
    console.error(`sandbox: cannot start the fakes: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  let sns: { sns: FakeSnsServer; env: Record<string, string> } | undefined;
  if (options.sns) {
    try {
      sns = await startSns(options);
    } catch (error) {
      console.error(`sandbox: cannot start the fake SNS: ${error instanceof Error ? error.message : String(error)}`);
      await world.close();
      process.exit(1);
    }
  }
  const page = await startPage(options, world);
  const gateway = startGateway(options, world, sns?.env);
  console.log(`sandbox: started ${gateway.name} (pid ${gateway.pid}, its own process group)`);
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await stopProcessGroup(gateway);
    await page?.close();
    await sns?.sns.close();
    await world.close();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  process.on("SIGHUP", () => void stop(0));
  void gateway.exited.then(() => {
    if (stopping) return;
    console.error(`sandbox: ${gateway.name} exited (${JSON.stringify(gateway.exitStatus())}); stopping`);
    void stop(1);
  });
  try {
    await waitForHttp(`http://127.0.0.1:${options.port}/health`, {
      process: gateway,
      timeoutMs: 60_000,
      ready: (status) => status !== 404,
    });
  } catch (error) {
    if (stopping) return;
    console.error(
      `sandbox: the gateway did not come up: ${error instanceof Error ? error.message.split("\n")[0] : ""}`,
    );
    await stop(1);
    return;
  }
  console.log(banner(options, world, page));
  if (sns !== undefined)
    console.log(
      `sandbox: --sns: APNs and FCM go through the fake SNS at ${sns.sns.url} (APNS_VIA=sns, FCM_VIA=sns); each publish prints a line starting with [sns ...]\n`,
    );
}

void main();
