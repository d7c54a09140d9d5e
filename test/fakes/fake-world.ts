import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type ApnsSigningKey, createApnsSigningKey } from "./apns-key";
import { type ApnsReceipt, FakeApns } from "./apns-server";
import { createLocalCertificate, type LocalCertificate } from "./certificate";
import { FakeFcm, type FcmReceipt } from "./fcm-server";
import { createServiceAccount, type FakeServiceAccount } from "./service-account";

/** The bundle id the sandbox's fake APNs accepts (and `{topic}.voip`). */
export const SANDBOX_TOPIC = "im.example.sandbox";

export interface FakeWorldOptions {
  /** Where the certificate, keys, service account and env file are written (created if missing). */
  readonly dir: string;
  /** Fixed ports; default 0 (free ports) for each. */
  readonly ports?: { readonly apnsProduction?: number; readonly apnsSandbox?: number; readonly fcm?: number };
  /** Default {@link SANDBOX_TOPIC}. */
  readonly topic?: string;
  /** `PUSH_JID` of the gateway; default `push.localhost`. */
  readonly pushJid?: string;
  /** Default `sandbox-project`. */
  readonly projectId?: string;
  /** Extra variables for the gateway (e.g. `GATEWAY_TOKEN`), written into the env file too. */
  readonly extraEnv?: Readonly<Record<string, string>>;
  readonly onApns?: (receipt: ApnsReceipt) => void;
  readonly onFcm?: (receipt: FcmReceipt) => void;
}

/** The fakes of Apple and Google, running, and the gateway configuration that points at them. */
export interface FakeWorld {
  readonly dir: string;
  readonly certificate: LocalCertificate;
  readonly apnsKey: ApnsSigningKey;
  readonly serviceAccount: FakeServiceAccount;
  readonly apns: FakeApns;
  readonly fcm: FakeFcm;
  /** The gateway's variables (docs/protocol.md section 8) pointing at the fakes. */
  readonly env: Readonly<Record<string, string>>;
  /** `{dir}/gateway.env`: {@link env} in the dotenv form `wrangler dev --env-file` reads. */
  readonly envFile: string;
  /** Stops both fakes. */
  close(): Promise<void>;
}

/**
 * One `NAME='value'` line per variable, as dotenv reads it: single quotes keep the value verbatim
 * (no `$` expansion, no escapes), and a PEM's line breaks become the two characters `\n`, which the
 * gateway's configuration turns back into line breaks.
 */
export function formatEnvFile(env: Readonly<Record<string, string>>, comment?: string): string {
  const lines = comment === undefined ? [] : comment.split("\n").map((line) => `# ${line}`);
  for (const [name, value] of Object.entries(env)) {
    const flat = value.replace(/\r?\n/g, "\\n");
    if (flat.includes("'")) throw new Error(`${name} contains a single quote: not representable in the env file`);
    lines.push(`${name}='${flat}'`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Starts the fake APNs (production and sandbox) and the fake FCM with its OAuth endpoint, made
 * fresh: a self-signed certificate, an APNs .p8 key and a service account, all written into `dir`,
 * plus `gateway.env` for the gateway. The sandbox (`npm start`) and the e2e tests use it alike.
 */
export async function startFakeWorld(options: FakeWorldOptions): Promise<FakeWorld> {
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const topic = options.topic ?? SANDBOX_TOPIC;
  const certificate = await createLocalCertificate(dir);
  const apnsKey = createApnsSigningKey();
  const apns = await FakeApns.start({
    cert: certificate.cert,
    key: certificate.key,
    keys: [apnsKey],
    topics: [topic],
    ...(options.ports?.apnsProduction !== undefined ? { productionPort: options.ports.apnsProduction } : {}),
    ...(options.ports?.apnsSandbox !== undefined ? { sandboxPort: options.ports.apnsSandbox } : {}),
    ...(options.onApns ? { onReceipt: options.onApns } : {}),
  });
  let fcm: FakeFcm;
  try {
    fcm = await FakeFcm.start({
      cert: certificate.cert,
      key: certificate.key,
      ...(options.ports?.fcm !== undefined ? { port: options.ports.fcm } : {}),
      ...(options.onFcm ? { onReceipt: options.onFcm } : {}),
    });
  } catch (error) {
    await apns.close();
    throw error;
  }
  const serviceAccount = createServiceAccount({
    tokenUri: fcm.tokenUri,
    ...(options.projectId !== undefined ? { projectId: options.projectId } : {}),
  });
  fcm.trust(serviceAccount);
  const env: Record<string, string> = {
    PUSH_JID: options.pushJid ?? "push.localhost",
    APNS_TEAM_ID: apnsKey.teamId,
    APNS_KEY_ID: apnsKey.keyId,
    APNS_PRIVATE_KEY: apnsKey.pem,
    APNS_TOPIC: topic,
    APNS_ENDPOINT: apns.productionUrl,
    APNS_SANDBOX_ENDPOINT: apns.sandboxUrl,
    FCM_SERVICE_ACCOUNT: serviceAccount.text,
    FCM_ENDPOINT: fcm.url,
    ...options.extraEnv,
  };
  const envFile = join(dir, "gateway.env");
  try {
    await writeFile(join(dir, "apns-key.p8"), apnsKey.pem, { mode: 0o600 });
    await writeFile(join(dir, "service-account.json"), `${JSON.stringify(serviceAccount.json, null, 2)}\n`, {
      mode: 0o600,
    });
    const comment =
      "Gateway configuration for the local sandbox (fake APNs and FCM), made by test/fakes/fake-world.ts.\nRegenerated at every start: edits are lost.";
    await writeFile(envFile, formatEnvFile(env, comment), { mode: 0o600 });
  } catch (error) {
    await Promise.all([apns.close(), fcm.close()]);
    throw error;
  }
  return {
    dir,
    certificate,
    apnsKey,
    serviceAccount,
    apns,
    fcm,
    env,
    envFile,
    close: async () => {
      await Promise.all([apns.close(), fcm.close()]);
    },
  };
}

function clip(text: string, max = 400): string {
  return text.length <= max ? text : `${text.slice(0, max)}…(${text.length} chars)`;
}

function tokenPrefix(token: string | undefined): string {
  if (token === undefined) return "(none)";
  return token.length <= 8 ? token : `${token.slice(0, 8)}…`;
}

/** One readable line for a request the fake APNs answered: environment, status, push type, token prefix, body. */
export function describeApnsReceipt(receipt: ApnsReceipt): string {
  const outcome = receipt.status === 200 ? "200" : `${receipt.status} ${receipt.reason ?? ""}`.trim();
  const type = receipt.headers["apns-push-type"] ?? "alert";
  return `[apns ${receipt.environment} HTTP/${receipt.httpVersion}] ${outcome} ${type} token=${tokenPrefix(receipt.token)} topic=${receipt.headers["apns-topic"] ?? "-"} ${clip(receipt.rawBody)}`;
}

/** One readable line for a message the fake FCM answered: project, status, priority, token prefix, data. */
export function describeFcmReceipt(receipt: FcmReceipt): string {
  const outcome = receipt.status === 200 ? "200" : `${receipt.status} ${receipt.error ?? ""}`.trim();
  const android = receipt.message?.android;
  const priority =
    typeof android === "object" && android !== null && "priority" in android ? String(android.priority) : "-";
  const data = receipt.data ? JSON.stringify(receipt.data) : clip(receipt.rawBody);
  return `[fcm ${receipt.project} HTTP/${receipt.httpVersion}] ${outcome} ${priority} token=${tokenPrefix(receipt.token)} ${clip(data)}`;
}
