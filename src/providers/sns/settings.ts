import { ConfigError, type ConfigSource, isRecord, optionalString } from "../../config";
import type { ApnsEnvironment } from "../../domain/registration";

/**
 * The platforms of SNS platform applications this gateway delivers to, as the application ARN names
 * them and as they key a `MessageStructure=json` message.
 * @see https://docs.aws.amazon.com/sns/latest/dg/sns-send-custom-platform-specific-payloads-mobile-devices.html
 */
export type SnsPlatform = "APNS" | "APNS_SANDBOX" | "APNS_VOIP" | "APNS_VOIP_SANDBOX" | "GCM";

/** One SNS platform application (`arn:aws:sns:REGION:ACCOUNT:app/PLATFORM/NAME`). */
export interface SnsApplication {
  readonly arn: string;
  /** SNS calls about it go to its region. */
  readonly region: string;
  readonly platform: SnsPlatform;
}

/** APNs over SNS (`APNS_VIA=sns`): Apple's key lives in the platform applications, not here. */
export interface ApnsSnsConfig {
  readonly via: "sns";
  /** The bundle id, sent as `AWS.SNS.MOBILE.APNS.TOPIC` when set (`{topic}.voip` for VoIP). */
  readonly topic?: string;
  readonly environment: ApnsEnvironment;
  readonly applications: {
    readonly production?: SnsApplication;
    readonly sandbox?: SnsApplication;
    readonly voip?: SnsApplication;
    readonly voipSandbox?: SnsApplication;
  };
}

/** FCM over SNS (`FCM_VIA=sns`): the service account lives in the platform application. */
export interface FcmSnsConfig {
  readonly via: "sns";
  readonly application: SnsApplication;
}

const APPLICATION_ARN =
  /^arn:aws(?:-[a-z]+)*:sns:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):app\/([A-Z_]+)\/([A-Za-z0-9_.-]{1,256})$/;

/**
 * Parses a platform application ARN and checks that it is of the platform its variable is for, so that a
 * sandbox application given as the production one stops start-up instead of losing every push.
 * @see https://docs.aws.amazon.com/sns/latest/api/API_CreatePlatformApplication.html
 */
export function parseApplicationArn(value: unknown, variable: string, platform: SnsPlatform): SnsApplication {
  if (typeof value !== "string" || value.trim() === "")
    throw new ConfigError(variable, "must be an SNS platform application ARN");
  const arn = value.trim();
  const match = APPLICATION_ARN.exec(arn);
  if (!match)
    throw new ConfigError(
      variable,
      "is not an SNS platform application ARN (arn:aws:sns:REGION:ACCOUNT:app/PLATFORM/NAME)",
    );
  if (match[3] !== platform) throw new ConfigError(variable, `names a ${match[3]} application; it must be ${platform}`);
  return { arn, region: match[1] ?? "", platform };
}

function optionalApplication(value: unknown, variable: string, platform: SnsPlatform): SnsApplication | undefined {
  if (value === undefined || value === "") return undefined;
  return parseApplicationArn(value, variable, platform);
}

interface ApnsApplicationNames {
  readonly production: unknown;
  readonly sandbox: unknown;
  readonly voip: unknown;
  readonly voipSandbox: unknown;
}

function apnsSnsConfig(
  names: ApnsApplicationNames,
  variables: Record<keyof ApnsApplicationNames, string>,
  topic: string | undefined,
  environment: ApnsEnvironment,
): ApnsSnsConfig {
  const read = {
    production: optionalApplication(names.production, variables.production, "APNS"),
    sandbox: optionalApplication(names.sandbox, variables.sandbox, "APNS_SANDBOX"),
    voip: optionalApplication(names.voip, variables.voip, "APNS_VOIP"),
    voipSandbox: optionalApplication(names.voipSandbox, variables.voipSandbox, "APNS_VOIP_SANDBOX"),
  };
  // The app's default environment must have an application: every registration that names none uses it.
  const required = environment === "production" ? "production" : "sandbox";
  if (read[required] === undefined)
    throw new ConfigError(
      variables[required],
      `is missing (APNS_VIA is sns and the app's environment is ${environment})`,
    );
  const applications: { -readonly [K in keyof ApnsSnsConfig["applications"]]: SnsApplication } = {};
  for (const slot of ["production", "sandbox", "voip", "voipSandbox"] as const) {
    const application = read[slot];
    if (application !== undefined) applications[slot] = application;
  }
  return { via: "sns", ...(topic !== undefined ? { topic } : {}), environment, applications };
}

/**
 * APNs over SNS for the default app: `SNS_APNS_APPLICATION_ARN`, `SNS_APNS_SANDBOX_APPLICATION_ARN`,
 * `SNS_APNS_VOIP_APPLICATION_ARN`, `SNS_APNS_VOIP_SANDBOX_APPLICATION_ARN`, optional `APNS_TOPIC`
 * (docs/protocol.md section 8).
 */
export function apnsSnsFromEnvironment(env: ConfigSource, environment: ApnsEnvironment): ApnsSnsConfig {
  const variables = {
    production: "SNS_APNS_APPLICATION_ARN",
    sandbox: "SNS_APNS_SANDBOX_APPLICATION_ARN",
    voip: "SNS_APNS_VOIP_APPLICATION_ARN",
    voipSandbox: "SNS_APNS_VOIP_SANDBOX_APPLICATION_ARN",
  };
  const names = {
    production: env[variables.production],
    sandbox: env[variables.sandbox],
    voip: env[variables.voip],
    voipSandbox: env[variables.voipSandbox],
  };
  return apnsSnsConfig(names, variables, optionalString(env, "APNS_TOPIC"), environment);
}

/** APNs over SNS for an `APPS` entry: `snsApplicationArn`, `snsSandboxApplicationArn`, … in its `apns`. */
export function apnsSnsFromAppsEntry(
  apns: Readonly<Record<string, unknown>>,
  appId: string,
  environment: ApnsEnvironment,
): ApnsSnsConfig {
  const variable = (field: string) => `APPS (${appId}.apns.${field})`;
  const variables = {
    production: variable("snsApplicationArn"),
    sandbox: variable("snsSandboxApplicationArn"),
    voip: variable("snsVoipApplicationArn"),
    voipSandbox: variable("snsVoipSandboxApplicationArn"),
  };
  const names = {
    production: apns.snsApplicationArn,
    sandbox: apns.snsSandboxApplicationArn,
    voip: apns.snsVoipApplicationArn,
    voipSandbox: apns.snsVoipSandboxApplicationArn,
  };
  const topic = typeof apns.topic === "string" && apns.topic !== "" ? apns.topic : undefined;
  return apnsSnsConfig(names, variables, topic, environment);
}

/** FCM over SNS: `SNS_FCM_APPLICATION_ARN`, or an `APPS` entry's `fcm.snsApplicationArn`. */
export function fcmSnsConfig(value: unknown, variable: string): FcmSnsConfig {
  if (value === undefined || value === "") throw new ConfigError(variable, "is missing (FCM_VIA is sns)");
  return { via: "sns", application: parseApplicationArn(value, variable, "GCM") };
}

/** Whether an `APPS` entry's provider part is an object (the readers' shared check). */
export function appsPart(
  entry: Readonly<Record<string, unknown>>,
  field: string,
  appId: string,
): Record<string, unknown> | undefined {
  const part = entry[field];
  if (part === undefined) return undefined;
  if (!isRecord(part)) throw new ConfigError("APPS", `${appId}.${field} is not an object`);
  return part;
}
