import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  CreatePlatformApplicationCommand,
  DeletePlatformApplicationCommand,
  GetPlatformApplicationAttributesCommand,
  SetPlatformApplicationAttributesCommand,
  SNSClient,
} from "@aws-sdk/client-sns";
import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse } from "aws-lambda";
import { ARN_ATTRIBUTES, MANAGED_PLATFORMS, type ManagedPlatform } from "./platforms";

export { ARN_ATTRIBUTES, ARN_VARIABLES, MANAGED_PLATFORMS, type ManagedPlatform } from "./platforms";

/**
 * The custom resource behind the stack's SNS platform applications (CloudFormation has no resource type
 * for them). At every create and update it reads the provider secret and makes the platform
 * applications the secret has credentials for, or gives existing ones the secret's current credentials;
 * on delete it removes every application it may have made. It answers CloudFormation itself (a PUT of
 * the response to the pre-signed `ResponseURL`), so it needs no provider framework.
 *
 * With an empty secret (no value yet, `{}`, or no provider credentials in it) it makes nothing, succeeds,
 * and says so in its `Summary` attribute (a stack output) and in its log: first deploy, fill the secret,
 * deploy again (infra/README.md).
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
 * @see https://docs.aws.amazon.com/sns/latest/api/API_CreatePlatformApplication.html
 */

/** The resource's properties, as the stack sets them (CloudFormation hands every value over as a string). */
export interface PlatformApplicationsProperties {
  /** The provider secret's ARN. */
  readonly SecretId: string;
  /** The name of every application (`app/PLATFORM/NAME`): letters, digits, `_`, `-`, `.`. */
  readonly ApplicationName: string;
  /** `"true"` to make the VoIP applications (`APNS_VOIP`, `APNS_VOIP_SANDBOX`) too. */
  readonly Voip: string;
  /** Changes when the secret changes, so that CloudFormation sends an update (infra/README.md). */
  readonly Revision: string;
}

/** A problem with the secret's content: the deploy stops with this message (never with a value in it). */
export class SecretContentError extends Error {
  override readonly name = "SecretContentError";
}

/** One application the secret asks for: its platform and the attributes `CreatePlatformApplication` takes. */
export interface DesiredApplication {
  readonly platform: ManagedPlatform;
  readonly attributes: Readonly<Record<string, string>>;
}

const APNS_VARIABLES = ["APNS_TEAM_ID", "APNS_KEY_ID", "APNS_PRIVATE_KEY", "APNS_TOPIC"] as const;

/** A `.p8` key given with `\n` escapes (as the gateway accepts it) as the PEM SNS expects. */
function pem(key: string): string {
  return key.includes("\n") ? key : key.replace(/\\n/g, "\n");
}

/**
 * The applications the secret's values ask for: with `APNS_TEAM_ID`, `APNS_KEY_ID`, `APNS_PRIVATE_KEY`
 * and `APNS_TOPIC` (all four or none, as the gateway reads them), `APNS` and `APNS_SANDBOX` with token
 * credentials (and `APNS_VOIP`, `APNS_VOIP_SANDBOX` when `voip`); with `FCM_SERVICE_ACCOUNT` (the JSON),
 * `GCM` with token credentials. Nothing else in the secret matters here.
 * @see https://docs.aws.amazon.com/sns/latest/dg/sns-apple-authentication-methods.html
 * @see https://docs.aws.amazon.com/sns/latest/dg/sns-fcm-authentication-methods.html
 */
export function desiredApplications(
  secret: Readonly<Record<string, string>>,
  options: { readonly voip: boolean },
): DesiredApplication[] {
  const desired: DesiredApplication[] = [];
  const apns = APNS_VARIABLES.map((name) => secret[name]?.trim() ?? "");
  if (apns.some((value) => value !== "")) {
    const missing = APNS_VARIABLES.filter((_, index) => apns[index] === "");
    if (missing.length > 0)
      throw new SecretContentError(`the secret has some APNS_ variables but not ${missing.join(", ")}`);
    const [teamId = "", keyId = "", privateKey = "", topic = ""] = apns;
    const attributes = {
      PlatformCredential: pem(privateKey),
      PlatformPrincipal: keyId,
      ApplePlatformTeamID: teamId,
      ApplePlatformBundleID: topic,
    };
    const platforms: ManagedPlatform[] = options.voip
      ? ["APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX"]
      : ["APNS", "APNS_SANDBOX"];
    for (const platform of platforms) desired.push({ platform, attributes });
  }
  const account = secret.FCM_SERVICE_ACCOUNT?.trim() ?? "";
  if (account !== "") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(account);
    } catch {
      throw new SecretContentError("the secret's FCM_SERVICE_ACCOUNT is not JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new SecretContentError("the secret's FCM_SERVICE_ACCOUNT is not a JSON object");
    desired.push({ platform: "GCM", attributes: { PlatformCredential: JSON.stringify(parsed) } });
  }
  return desired;
}

/** Reads a secret's text as the gateway does: a JSON object of strings (docs/protocol.md section 8). */
export function parseSecret(text: string | undefined): Record<string, string> {
  if (text === undefined || text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretContentError("the secret is not JSON (it must be an object of variable names and strings)");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new SecretContentError("the secret is not a JSON object of variable names and strings");
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== "string") throw new SecretContentError(`the secret's ${name} is not a string`);
    values[name] = value;
  }
  return values;
}

/** Where the stack runs, read from the event's `StackId` (`arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/…`). */
export interface StackPlace {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

export function stackPlace(stackId: string): StackPlace {
  const [arn, partition, service, region, account] = stackId.split(":");
  if (arn !== "arn" || service !== "cloudformation" || !partition || !region || !account)
    throw new Error(`not a stack id: ${stackId}`);
  return { partition, region, account };
}

/** The ARN SNS gives the application `name` of `platform` (`arn:aws:sns:REGION:ACCOUNT:app/PLATFORM/NAME`). */
export function applicationArn(place: StackPlace, platform: ManagedPlatform, name: string): string {
  return `arn:${place.partition}:sns:${place.region}:${place.account}:app/${platform}/${name}`;
}

/** What the handler needs from AWS: one SNS and one Secrets Manager client, and how to answer CloudFormation. */
export interface PlatformApplicationsDeps {
  readonly sns: Pick<SNSClient, "send">;
  readonly secrets: Pick<SecretsManagerClient, "send">;
  /** PUTs the response to the pre-signed URL; default `fetch`. */
  readonly respond?: (url: string, body: string) => Promise<void>;
  /** One line per event; default `console.log` (CloudWatch Logs on Lambda). */
  readonly log?: (line: string) => void;
}

/** The resource's attributes: one ARN per platform ("" without one), the routes, and a sentence. */
export type PlatformApplicationsData = Record<string, string>;

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "";
}

async function readSecret(deps: PlatformApplicationsDeps, secretId: string): Promise<Record<string, string>> {
  try {
    const output = await deps.secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    return parseSecret(output.SecretString);
  } catch (error) {
    // A secret created without a value has no AWSCURRENT version yet: the same as an empty one.
    if (errorName(error) === "ResourceNotFoundException") return {};
    throw error;
  }
}

async function applicationExists(deps: PlatformApplicationsDeps, arn: string): Promise<boolean> {
  try {
    await deps.sns.send(new GetPlatformApplicationAttributesCommand({ PlatformApplicationArn: arn }));
    return true;
  } catch (error) {
    if (errorName(error) === "NotFoundException" || errorName(error) === "NotFound") return false;
    throw error;
  }
}

/**
 * Create or update: reads the secret, then makes each application it asks for (or sets the secret's
 * credentials on one that exists, so a rotated key reaches SNS). Applications the secret no longer asks
 * for are left as they are (deleting one deletes its endpoints: only the stack's deletion does that),
 * but the gateway is no longer given their ARNs.
 */
export async function reconcileApplications(
  deps: PlatformApplicationsDeps,
  properties: PlatformApplicationsProperties,
  place: StackPlace,
): Promise<PlatformApplicationsData> {
  const log = deps.log ?? ((line: string) => console.log(line));
  const secret = await readSecret(deps, properties.SecretId);
  const desired = desiredApplications(secret, { voip: properties.Voip === "true" });
  const data: PlatformApplicationsData = { ApnsVia: "", FcmVia: "" };
  for (const platform of MANAGED_PLATFORMS) data[ARN_ATTRIBUTES[platform]] = "";
  const made: string[] = [];
  for (const { platform, attributes } of desired) {
    const arn = applicationArn(place, platform, properties.ApplicationName);
    if (await applicationExists(deps, arn)) {
      await deps.sns.send(
        new SetPlatformApplicationAttributesCommand({ PlatformApplicationArn: arn, Attributes: { ...attributes } }),
      );
      made.push(`${platform} (updated)`);
    } else {
      const output = await deps.sns.send(
        new CreatePlatformApplicationCommand({
          Name: properties.ApplicationName,
          Platform: platform,
          Attributes: { ...attributes },
        }),
      );
      if (output.PlatformApplicationArn !== undefined && output.PlatformApplicationArn !== arn)
        throw new Error(`SNS made ${output.PlatformApplicationArn}, expected ${arn}`);
      made.push(`${platform} (created)`);
    }
    data[ARN_ATTRIBUTES[platform]] = arn;
    if (platform === "GCM") data.FcmVia = "sns";
    else data.ApnsVia = "sns";
  }
  data.Summary =
    made.length === 0
      ? "no platform applications: the secret holds no APNs or FCM credentials yet; fill it and deploy again (infra/README.md)"
      : `platform applications ${properties.ApplicationName}: ${made.join(", ")}`;
  log(JSON.stringify({ event: "platform-applications", summary: data.Summary }));
  return data;
}

/** Delete: removes every application this resource may have made (SNS deletes their endpoints with them). */
export async function deleteApplications(
  deps: PlatformApplicationsDeps,
  properties: Pick<PlatformApplicationsProperties, "ApplicationName">,
  place: StackPlace,
): Promise<void> {
  const log = deps.log ?? ((line: string) => console.log(line));
  for (const platform of MANAGED_PLATFORMS) {
    const arn = applicationArn(place, platform, properties.ApplicationName);
    try {
      await deps.sns.send(new DeletePlatformApplicationCommand({ PlatformApplicationArn: arn }));
    } catch (error) {
      if (errorName(error) !== "NotFoundException" && errorName(error) !== "NotFound") throw error;
    }
  }
  log(JSON.stringify({ event: "platform-applications-deleted", name: properties.ApplicationName }));
}

function readProperties(event: CloudFormationCustomResourceEvent): PlatformApplicationsProperties {
  const raw = event.ResourceProperties as unknown as Record<string, unknown>;
  const text = (name: string) => (typeof raw[name] === "string" ? (raw[name] as string) : "");
  const properties = {
    SecretId: text("SecretId"),
    ApplicationName: text("ApplicationName"),
    Voip: text("Voip"),
    Revision: text("Revision"),
  };
  if (!/^[A-Za-z0-9_.-]{1,256}$/.test(properties.ApplicationName))
    throw new Error("ApplicationName must be 1 to 256 letters, digits, hyphens, underscores or periods");
  if (event.RequestType !== "Delete" && properties.SecretId === "") throw new Error("SecretId is missing");
  return properties;
}

async function putResponse(url: string, body: string): Promise<void> {
  // The pre-signed S3 URL is signed without a content type: send none.
  const response = await fetch(url, { method: "PUT", headers: { "content-type": "" }, body });
  if (!response.ok) throw new Error(`CloudFormation's response URL answered ${response.status}`);
}

/**
 * Handles one CloudFormation event and answers it: SUCCESS with the attributes, or FAILED with the
 * error's message as the reason (which CloudFormation shows in the stack's events; it never holds a
 * secret value). The physical id is the application name, so a renamed resource is replaced and the old
 * applications deleted.
 */
export function createPlatformApplicationsHandler(
  deps: PlatformApplicationsDeps,
): (event: CloudFormationCustomResourceEvent) => Promise<CloudFormationCustomResourceResponse> {
  const respond = deps.respond ?? putResponse;
  const log = deps.log ?? ((line: string) => console.log(line));
  return async (event) => {
    let response: CloudFormationCustomResourceResponse;
    const base = { StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId };
    const fallbackId = event.RequestType === "Create" ? `failed-${event.RequestId}` : event.PhysicalResourceId;
    try {
      const properties = readProperties(event);
      const place = stackPlace(event.StackId);
      if (event.RequestType === "Delete") {
        // A create that failed before it made anything has this fallback id: nothing to delete.
        if (!event.PhysicalResourceId.startsWith("failed-")) await deleteApplications(deps, properties, place);
        response = { ...base, Status: "SUCCESS", PhysicalResourceId: event.PhysicalResourceId };
      } else {
        const data = await reconcileApplications(deps, properties, place);
        response = { ...base, Status: "SUCCESS", PhysicalResourceId: properties.ApplicationName, Data: data };
      }
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      log(JSON.stringify({ event: "platform-applications-failed", requestType: event.RequestType, reason }));
      response = { ...base, Status: "FAILED", Reason: reason.slice(0, 1000), PhysicalResourceId: fallbackId };
    }
    await respond(event.ResponseURL, JSON.stringify(response));
    return response;
  };
}

let lambdaHandler: ReturnType<typeof createPlatformApplicationsHandler> | undefined;

/**
 * The Lambda entry (`index.handler` of the bundle `npm run synth` builds): clients in the function's own
 * region, with the credentials of its role, made at the first event.
 */
export async function handler(event: CloudFormationCustomResourceEvent): Promise<CloudFormationCustomResourceResponse> {
  lambdaHandler ??= createPlatformApplicationsHandler({
    sns: new SNSClient({}),
    secrets: new SecretsManagerClient({}),
  });
  return lambdaHandler(event);
}
