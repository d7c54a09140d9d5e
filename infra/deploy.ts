/**
 * What the pipeline's deploy jobs run (.github/workflows/pipeline.yml), and what an operator can run by
 * hand with the same variables set (infra/README.md):
 *
 *   node --import tsx infra/deploy.ts workers staging|production
 *     `wrangler deploy --env ENV` with the deployment secrets of infra/secrets.ts that are set in the
 *     environment, uploaded with the deployment (`--secrets-file`, a 0600 file removed afterwards).
 *
 *   node --import tsx infra/deploy.ts aws staging|production
 *     merges those secrets into the stack's Secrets Manager secret, synthesizes with the secret's version
 *     as the revision (`npm run synth`), and `cdk deploy`s the stack from dist/cdk.out; on the very
 *     first deploy (the secret does not exist yet) it fills the new secret and deploys a second time.
 *
 * Both write `url=…` to `$GITHUB_OUTPUT` when that is set (Workers: the `WORKERS_URL` variable; AWS: the
 * stack's GatewayUrl output) for the smoke job. Values are never printed, only names.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { CLOUD_ASSEMBLY, REPO_ROOT } from "./aws/assets";
import { parseSecret } from "./aws/platform-applications/handler";
import { collectSecrets, mergeSecret, missingRequired } from "./secrets";

export const DEPLOY_ENVIRONMENTS = ["staging", "production"] as const;
export type DeployEnvironment = (typeof DEPLOY_ENVIRONMENTS)[number];

/** The stack's secret (GatewayStack: `xmpp-push-gateway-{env}/providers`). */
export function providerSecretName(environment: DeployEnvironment): string {
  return `xmpp-push-gateway-${environment}/providers`;
}

export interface SecretSync {
  /** `missing`: the stack has not made the secret yet (first deploy). */
  readonly state: "missing" | "present";
  /** The secret's current version id after the sync (`none` without one): the stack's revision. */
  readonly revision: string;
  /** Whether this sync wrote a new version. */
  readonly changed: boolean;
  /** The names now in the secret (never the values). */
  readonly names: readonly string[];
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "";
}

/**
 * Merges `given` into the secret: names it already holds and `given` lacks are kept; a new version is
 * written only when something changes. Fails, naming them, when a required secret would be missing.
 * @see https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html
 */
export async function syncProviderSecret(
  client: Pick<SecretsManagerClient, "send">,
  secretId: string,
  given: Readonly<Record<string, string>>,
): Promise<SecretSync> {
  let stages: Record<string, string[]>;
  try {
    stages = (await client.send(new DescribeSecretCommand({ SecretId: secretId }))).VersionIdsToStages ?? {};
  } catch (error) {
    if (errorName(error) === "ResourceNotFoundException")
      return { state: "missing", revision: "none", changed: false, names: [] };
    throw error;
  }
  const currentVersion = Object.entries(stages).find(([, labels]) => labels.includes("AWSCURRENT"))?.[0];
  const current =
    currentVersion === undefined
      ? {}
      : parseSecret((await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString);
  const { merged, changed } = mergeSecret(current, given);
  const missing = missingRequired(merged);
  if (missing.length > 0)
    throw new Error(
      `${missing.join(", ")}: neither a secret of this GitHub environment nor in ${secretId} (infra/README.md, "Filling the secret")`,
    );
  if (!changed) return { state: "present", revision: currentVersion ?? "none", changed, names: Object.keys(merged) };
  const put = await client.send(
    new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(merged) }),
  );
  return { state: "present", revision: put.VersionId ?? "none", changed, names: Object.keys(merged) };
}

function run(command: string, args: readonly string[]): void {
  console.log(`deploy: ${command.replace(`${REPO_ROOT}/`, "")} ${args.join(" ")}`);
  const result = spawnSync(command, args, { cwd: REPO_ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`${command} ${args[0] ?? ""} failed (${result.status ?? result.signal})`);
}

function output(name: string, value: string): void {
  const file = process.env.GITHUB_OUTPUT;
  if (file) appendFileSync(file, `${name}=${value}\n`);
}

function summary(text: string): void {
  console.log(text);
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (file) appendFileSync(file, `${text}\n`);
}

async function deployWorkers(environment: DeployEnvironment): Promise<void> {
  const secrets = collectSecrets(process.env);
  const missing = missingRequired(secrets);
  if (missing.length > 0)
    throw new Error(`${missing.join(", ")} must be secrets of the GitHub environment ${environment}`);
  // The smoke test needs the Worker's URL; wrangler.toml's routes name it, but only the operator knows it is live.
  const url = process.env.WORKERS_URL?.trim();
  if (!url)
    throw new Error(`WORKERS_URL (a variable of the GitHub environment ${environment}) must be the Worker's URL`);
  const dir = mkdtempSync(join(process.env.RUNNER_TEMP ?? tmpdir(), "workers-secrets-"));
  const file = join(dir, "secrets.json");
  try {
    writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
    const message = process.env.GITHUB_SHA ? ["--message", `commit ${process.env.GITHUB_SHA}`] : [];
    run(join(REPO_ROOT, "node_modules/.bin/wrangler"), [
      "deploy",
      "--env",
      environment,
      "--secrets-file",
      file,
      ...message,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  summary(`Workers ${environment}: deployed with secrets ${Object.keys(secrets).join(", ")}`);
  output("url", url);
}

function synthAndDeploy(environment: DeployEnvironment, revision: string): Record<string, string> {
  const stack = `XmppPushGateway-${environment}`;
  const outputs = join(REPO_ROOT, "dist", `cdk-outputs-${environment}.json`);
  run("npm", ["run", "-s", "synth", "--", "-c", `${environment}SecretRevision=${revision}`]);
  // biome-ignore format: one option per line
  run(join(REPO_ROOT, "node_modules/.bin/cdk"), [
    "deploy", stack,
    "--app", CLOUD_ASSEMBLY,
    "--require-approval", "never",
    "--ci",
    "--no-notices",
    "--outputs-file", outputs,
  ]);
  const parsed: unknown = JSON.parse(readFileSync(outputs, "utf8"));
  const values = (parsed as Record<string, Record<string, string> | undefined>)[stack];
  if (values === undefined) throw new Error(`${outputs} has no outputs of ${stack}`);
  return values;
}

async function deployAws(environment: DeployEnvironment): Promise<void> {
  const client = new SecretsManagerClient({});
  const secretId = providerSecretName(environment);
  const given = collectSecrets(process.env);
  let sync = await syncProviderSecret(client, secretId, given);
  let outputs = synthAndDeploy(environment, sync.revision);
  if (sync.state === "missing") {
    // First deploy: the stack has just made the secret, empty. Fill it and deploy again.
    sync = await syncProviderSecret(client, secretId, given);
    if (sync.changed) outputs = synthAndDeploy(environment, sync.revision);
  }
  summary(`AWS ${environment}: ${outputs.PlatformApplicationsSummary ?? "(no summary)"}`);
  summary(
    `AWS ${environment}: secret ${secretId} holds ${sync.names.join(", ") || "nothing"} (version ${sync.revision})`,
  );
  const url = outputs.GatewayUrl;
  if (url === undefined) throw new Error("the stack has no GatewayUrl output");
  output("url", url);
}

async function main(): Promise<void> {
  const [target, environment] = process.argv.slice(2);
  if (!DEPLOY_ENVIRONMENTS.includes(environment as DeployEnvironment) || (target !== "workers" && target !== "aws")) {
    console.error("usage: node --import tsx infra/deploy.ts workers|aws staging|production");
    process.exit(2);
  }
  try {
    if (target === "workers") await deployWorkers(environment as DeployEnvironment);
    else await deployAws(environment as DeployEnvironment);
  } catch (error) {
    console.error(`deploy: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
