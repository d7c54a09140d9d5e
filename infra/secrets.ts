/**
 * The one list of the gateway's deployment secrets: what the pipeline takes from a GitHub environment's
 * secrets (`staging`, `production`) and sets on each deployment, through infra/deploy.ts (Workers: a
 * secrets file uploaded with `wrangler deploy`; AWS: merged into the Secrets Manager secret the Lambda
 * reads). The workflow passes exactly these names to that step, and infra/README.md lists them; the
 * tests (test/unit/infra/workflows.test.ts) hold all three equal.
 *
 * The names are the gateway's own variables (docs/protocol.md section 8).
 */
export interface DeploymentSecret {
  readonly name: string;
  /** The deploy stops when this one is unset (on AWS: neither given nor already in the secret). */
  readonly required: boolean;
  readonly meaning: string;
}

export const DEPLOYMENT_SECRETS: readonly DeploymentSecret[] = [
  {
    name: "SERVER_KEY",
    required: true,
    meaning: "32+ random characters; publish secrets are derived from it: never change it",
  },
  { name: "GATEWAY_TOKEN", required: true, meaning: "the bridge's bearer token on /xmpp (and the smoke's)" },
  {
    name: "NODE_MAC_KEY",
    required: false,
    meaning: "16+ characters; lets a Worker answer wait for a node minted moments ago",
  },
  { name: "REST_API_KEYS", required: false, meaning: 'JSON {"app id": "credential"}: turns REST registration on' },
  { name: "APNS_TEAM_ID", required: false, meaning: "Apple team id (all four APNS_ names or none)" },
  { name: "APNS_KEY_ID", required: false, meaning: "the .p8 key's id" },
  { name: "APNS_PRIVATE_KEY", required: false, meaning: "the .p8 key (PEM; \\n escapes accepted)" },
  { name: "APNS_TOPIC", required: false, meaning: "the app's bundle id" },
  { name: "FCM_SERVICE_ACCOUNT", required: false, meaning: "the Firebase service-account JSON" },
  { name: "APPS", required: false, meaning: "JSON array of further apps (docs/protocol.md section 8)" },
];

/** The names, in list order. */
export const DEPLOYMENT_SECRET_NAMES: readonly string[] = DEPLOYMENT_SECRETS.map((secret) => secret.name);

/** What the pipeline itself needs, beside the gateway's secrets (infra/README.md, "The pipeline"). */
export const PIPELINE_SECRETS = ["CLOUDFLARE_API_TOKEN"] as const;
/** Repository or environment variables (not secrets) the workflow reads. */
export const PIPELINE_VARIABLES = [
  "DEPLOY_AWS",
  "DEPLOY_WORKERS",
  "AWS_DEPLOY_ROLE_ARN",
  "AWS_REGION",
  "CLOUDFLARE_ACCOUNT_ID",
  "WORKERS_URL",
] as const;

/** The secrets found in an environment (unset and empty are the same: GitHub passes "" for a missing secret). */
export function collectSecrets(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const { name } of DEPLOYMENT_SECRETS) {
    const value = env[name];
    if (value !== undefined && value !== "") values[name] = value;
  }
  return values;
}

/** The required names that `values` lacks. */
export function missingRequired(values: Readonly<Record<string, string>>): string[] {
  return DEPLOYMENT_SECRETS.filter((secret) => secret.required && !(values[secret.name] ?? "")).map(
    (secret) => secret.name,
  );
}

/**
 * The AWS secret's new content: what it holds, overlaid by what the pipeline was given (names set by
 * hand and not in GitHub stay), and whether that differs from what it holds.
 */
export function mergeSecret(
  current: Readonly<Record<string, string>>,
  given: Readonly<Record<string, string>>,
): { merged: Record<string, string>; changed: boolean } {
  const merged = { ...current, ...given };
  const changed = Object.keys(merged).some((name) => merged[name] !== current[name]);
  return { merged, changed };
}
