import { ConfigError, parseUrl } from "../config";

/** The environment an AWS runtime hands over (`process.env` on Lambda and Node). */
export type AwsEnv = Readonly<Record<string, string | undefined>>;

/** Timeouts of the AWS SDK's HTTP handler: a silently dead keep-alive socket must not eat a publish's budget. */
export const AWS_CONNECTION_TIMEOUT_MS = 3_000;
export const AWS_REQUEST_TIMEOUT_MS = 5_000;

/** What {@link awsClientConfig} gives an AWS SDK v3 client's constructor. */
export interface AwsClientConfig {
  readonly region: string;
  readonly credentials: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  readonly endpoint?: string;
  readonly requestHandler: { readonly connectionTimeout: number; readonly requestTimeout: number };
}

/** A variable that must be set, or a ConfigError naming it. */
export function requiredVariable(env: AwsEnv, name: string, why: string): string {
  const value = env[name]?.trim();
  if (value === undefined || value === "") throw new ConfigError(name, `is missing: ${why}`);
  return value;
}

/**
 * Region, credentials and endpoint of an AWS SDK client, from the variables Lambda sets
 * (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), passed explicitly so
 * the SDK runs no credential-provider chain; `endpointVariable` (`AWS_ENDPOINT_URL_SNS`, …) points the
 * client elsewhere (tests, local stand-ins).
 * @see https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
 * @see https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
 */
export function awsClientConfig(env: AwsEnv, endpointVariable: string): AwsClientConfig {
  const region = requiredVariable(env, "AWS_REGION", "Lambda sets it; set it when running elsewhere");
  const accessKeyId = requiredVariable(env, "AWS_ACCESS_KEY_ID", "Lambda sets it from the execution role");
  const secretAccessKey = requiredVariable(env, "AWS_SECRET_ACCESS_KEY", "Lambda sets it from the execution role");
  const sessionToken = env.AWS_SESSION_TOKEN?.trim() || undefined;
  const endpoint = env[endpointVariable]?.trim();
  return {
    region,
    credentials: { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) },
    ...(endpoint === undefined || endpoint === "" ? {} : { endpoint: parseUrl(endpoint, endpointVariable) }),
    requestHandler: { connectionTimeout: AWS_CONNECTION_TIMEOUT_MS, requestTimeout: AWS_REQUEST_TIMEOUT_MS },
  };
}
