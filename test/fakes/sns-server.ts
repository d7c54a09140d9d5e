import { createHash, createHmac, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local stand-in for Amazon SNS's mobile push actions, speaking the awsQuery protocol that
 * `@aws-sdk/client-sns` really uses: a form-encoded `POST /` with `Action=…&Version=2010-03-31&…`, XML
 * answers, and errors as `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`
 * with SNS's HTTP statuses. It keeps platform applications and endpoints, records every request, and lets
 * a test script refusals (a disabled endpoint, a throttled or failing call, an answer that never comes).
 *
 * Error codes and statuses are those of SNS's service model (what `@aws-sdk/client-sns` 3.1178 decodes):
 * AuthorizationError 403, EndpointDisabled 400, InternalError 500, InvalidParameter 400,
 * ParameterValueInvalid 400, NotFound 404, PlatformApplicationDisabled 400. Throttling of these actions
 * comes as the common awsQuery `Throttling` (400, "Rate exceeded"), a code SNS's model does not list (its
 * `Throttled` 429 belongs to the SMS actions).
 * @see https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors
 * @see https://docs.aws.amazon.com/sns/latest/api/API_CreatePlatformEndpoint.html#API_CreatePlatformEndpoint_Errors
 * @see https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html
 */

export const SNS_XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/";
export const SNS_API_VERSION = "2010-03-31";

/** The actions this fake answers. */
export type FakeSnsAction =
  | "CreatePlatformEndpoint"
  | "DeleteEndpoint"
  | "Publish"
  | "CreatePlatformApplication"
  | "GetPlatformApplicationAttributes"
  | "SetPlatformApplicationAttributes"
  | "DeletePlatformApplication";

/** A platform application's platform, as in `arn:aws:sns:REGION:ACCOUNT:app/PLATFORM/NAME`. */
export type SnsPlatform =
  | "APNS"
  | "APNS_SANDBOX"
  | "APNS_VOIP"
  | "APNS_VOIP_SANDBOX"
  | "GCM"
  | "ADM"
  | "BAIDU"
  | "MPNS"
  | "WNS";

const PLATFORMS: ReadonlySet<string> = new Set<SnsPlatform>([
  "APNS",
  "APNS_SANDBOX",
  "APNS_VOIP",
  "APNS_VOIP_SANDBOX",
  "GCM",
  "ADM",
  "BAIDU",
  "MPNS",
  "WNS",
]);

/**
 * The largest platform payload SNS hands on, in bytes: Apple's limits (4 KiB, 5 KiB for VoIP) and FCM's
 * 4 KiB of `data`. SNS refuses a bigger one at `Publish` with InvalidParameter; the text below is the
 * one SNS is known to send for its own size limit ("Invalid parameter: Message too long"); AWS documents
 * no separate text for the per-platform limits.
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 * @see https://firebase.google.com/docs/cloud-messaging/concept-options#notifications_and_data_messages
 */
export const PLATFORM_PAYLOAD_LIMITS: Readonly<Partial<Record<SnsPlatform, number>>> = {
  APNS: 4096,
  APNS_SANDBOX: 4096,
  APNS_VOIP: 5120,
  APNS_VOIP_SANDBOX: 5120,
  GCM: 4096,
};
/** SNS's limit on `Message` itself: 256 KiB. */
export const MESSAGE_LIMIT_BYTES = 262_144;
export const MESSAGE_TOO_LONG = "Invalid parameter: Message too long";

/** The SigV4 `Authorization` of a request, as read from its header. */
export interface FakeSnsSignature {
  readonly accessKeyId: string;
  /** The scope's date, `YYYYMMDD`. */
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  /** Whether the signature matches, when the fake knows the secret key ({@link FakeSnsOptions.credentials}). */
  readonly valid: boolean | undefined;
}

/** One request and what the fake answered. */
export interface FakeSnsRequest {
  readonly action: string;
  /** Every form (and query) parameter, decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly contentType: string;
  /** Present when an `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, …` came. */
  readonly signature: FakeSnsSignature | undefined;
  /** `X-Amz-Security-Token`, when sent (temporary credentials). */
  readonly sessionToken: string | undefined;
  readonly status: number;
  /** The error `Code` answered, if any. */
  readonly error: string | undefined;
  readonly at: number;
}

/** A message attribute of a `Publish`, from `MessageAttributes.entry.N.{Name,Value.DataType,Value.StringValue}`. */
export interface FakeSnsAttribute {
  readonly dataType: string;
  readonly stringValue: string | undefined;
}

/** One accepted `Publish`. */
export interface FakeSnsPublish {
  readonly messageId: string;
  readonly targetArn: string;
  readonly platform: SnsPlatform;
  readonly token: string;
  readonly message: string;
  readonly messageStructure: string | undefined;
  /** What SNS would hand to the platform: the entry for the platform, else `default` (or the whole message without `MessageStructure`). */
  readonly platformMessage: string;
  readonly attributes: Readonly<Record<string, FakeSnsAttribute>>;
  readonly at: number;
}

export interface FakeSnsEndpoint {
  readonly arn: string;
  readonly applicationArn: string;
  readonly platform: SnsPlatform;
  readonly token: string;
  readonly enabled: boolean;
}

/** A platform application as the fake keeps it (what `CreatePlatformApplication` or {@link FakeSnsServer.createPlatformApplication} made). */
export interface FakeSnsApplication {
  readonly arn: string;
  readonly platform: SnsPlatform;
  readonly name: string;
  /** Every attribute set, credentials included (SNS never answers those back; the fake's owner may look). */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface FakeSnsOptions {
  /** Default eu-west-1: requests signed for another region are refused, as SNS refuses them. */
  readonly region?: string;
  /** Default 123456789012. */
  readonly accountId?: string;
  /** Verify SigV4 signatures with this secret (requests by another access key are refused). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly now?: () => number;
  /** Called with every accepted `Publish` (the sandbox prints them). */
  readonly onPublish?: (publish: FakeSnsPublish) => void;
}

interface MutableEndpoint {
  readonly arn: string;
  readonly applicationArn: string;
  readonly platform: SnsPlatform;
  readonly token: string;
  enabled: boolean;
}

interface ScriptedFailure {
  readonly code: string;
  readonly status: number;
  readonly message: string | undefined;
}

/** An SNS error: the fake answers it as an `ErrorResponse`. */
class SnsError {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly message: string,
  ) {}
}

const invalid = (message: string) => new SnsError("InvalidParameter", 400, message);
const missing = (name: string) => invalid(`Invalid parameter: ${name} Reason: no value for required parameter`);

const APPLICATION_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):app\/([A-Z_]+)\/([A-Za-z0-9_.-]+)$/;

export class FakeSnsServer {
  readonly region: string;
  readonly accountId: string;
  readonly requests: FakeSnsRequest[] = [];
  readonly publishes: FakeSnsPublish[] = [];
  url = "";

  private readonly applications = new Map<string, Record<string, string>>();
  private readonly byArn = new Map<string, MutableEndpoint>();
  private readonly byToken = new Map<string, MutableEndpoint>();
  private readonly failures = new Map<string, ScriptedFailure[]>();
  private readonly stalls = new Map<string, number>();
  private readonly stalled = new Set<ServerResponse>();
  private readonly server = createServer((req, res) => this.receive(req, res));
  private readonly now: () => number;

  constructor(private readonly options: FakeSnsOptions = {}) {
    this.region = options.region ?? "eu-west-1";
    this.accountId = options.accountId ?? "123456789012";
    this.now = options.now ?? Date.now;
  }

  /** Listens on 127.0.0.1 on `port` (default a free one); `url` is then `http://127.0.0.1:PORT`. */
  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Stops listening and drops every connection (requests left stalled included). */
  async close(): Promise<void> {
    for (const res of this.stalled) res.destroy();
    this.stalled.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Registers a platform application (what `CreatePlatformApplication` would); returns its ARN. */
  createPlatformApplication(platform: SnsPlatform, name: string): string {
    const arn = this.applicationArn(platform, name);
    if (!this.applications.has(arn)) this.applications.set(arn, {});
    return arn;
  }

  /** Every platform application, in creation order, with the attributes it was given. */
  platformApplications(): FakeSnsApplication[] {
    return [...this.applications].map(([arn, attributes]) => {
      const [, , , platform = "", name = ""] = APPLICATION_ARN.exec(arn) ?? [];
      return { arn, platform: platform as SnsPlatform, name, attributes: { ...attributes } };
    });
  }

  private applicationArn(platform: string, name: string): string {
    return `arn:aws:sns:${this.region}:${this.accountId}:app/${platform}/${name}`;
  }

  /** Every endpoint, in creation order. */
  endpoints(): FakeSnsEndpoint[] {
    return [...this.byArn.values()].map((endpoint) => ({ ...endpoint }));
  }

  /**
   * Marks an endpoint disabled, as SNS does when Apple or Google reject its token: every later `Publish`
   * to it is refused with EndpointDisabled, and `CreatePlatformEndpoint` with the same token still answers
   * its ARN (without enabling it again: that takes `SetEndpointAttributes`).
   */
  disable(endpointArn: string): void {
    const endpoint = this.byArn.get(endpointArn);
    if (endpoint === undefined) throw new Error(`no endpoint ${endpointArn}`);
    endpoint.enabled = false;
  }

  /** Enables a disabled endpoint again (`SetEndpointAttributes` with `Enabled=true`). */
  enable(endpointArn: string): void {
    const endpoint = this.byArn.get(endpointArn);
    if (endpoint === undefined) throw new Error(`no endpoint ${endpointArn}`);
    endpoint.enabled = true;
  }

  /** Answers the next request of `action` with this error (each call queues one more). */
  failNext(action: FakeSnsAction, code: string, status: number, message?: string): void {
    const queue = this.failures.get(action) ?? [];
    queue.push({ code, status, message });
    this.failures.set(action, queue);
  }

  /** Never answers the next request of `action` (a client must time out; `close()` drops it). */
  stallNext(action: FakeSnsAction): void {
    this.stalls.set(action, (this.stalls.get(action) ?? 0) + 1);
  }

  private receive(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => this.handle(req, res, Buffer.concat(chunks)));
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? "/", "http://sns.invalid");
    const params: Record<string, string> = {};
    for (const [name, value] of url.searchParams) params[name] = value;
    const contentType = String(req.headers["content-type"] ?? "");
    if (req.method === "POST" && contentType.startsWith("application/x-www-form-urlencoded"))
      for (const [name, value] of new URLSearchParams(body.toString("utf8"))) params[name] = value;
    const action = params.Action ?? "";
    const signature = this.signatureOf(req, url, body);
    const token = req.headers["x-amz-security-token"];
    const record = (status: number, error: string | undefined) =>
      this.requests.push({
        action,
        params,
        contentType,
        signature,
        sessionToken: typeof token === "string" ? token : undefined,
        status,
        error,
        at: this.now(),
      });

    const stalls = this.stalls.get(action) ?? 0;
    if (stalls > 0) {
      this.stalls.set(action, stalls - 1);
      this.stalled.add(res);
      record(0, undefined);
      return;
    }
    let answer: { readonly status: number; readonly xml: string; readonly error?: string };
    try {
      this.authorize(signature);
      const scripted = this.failures.get(action)?.shift();
      if (scripted !== undefined)
        throw new SnsError(
          scripted.code,
          scripted.status,
          scripted.message ?? defaultMessage(scripted.code, action, params, this.accountId),
        );
      if (params.Version !== SNS_API_VERSION)
        throw new SnsError("InvalidParameterValue", 400, `Version ${params.Version ?? ""} is not supported`);
      answer = { status: 200, xml: this.perform(action, params) };
    } catch (error) {
      if (!(error instanceof SnsError)) throw error;
      answer = { status: error.status, xml: errorXml(error), error: error.code };
    }
    record(answer.status, answer.error);
    res
      .writeHead(answer.status, {
        "content-type": "text/xml",
        "x-amzn-requestid": randomUUID(),
        date: new Date(this.now()).toUTCString(),
      })
      .end(answer.xml);
  }

  private perform(action: string, params: Record<string, string>): string {
    switch (action) {
      case "CreatePlatformEndpoint":
        return resultXml(action, `<EndpointArn>${escapeXml(this.createEndpoint(params))}</EndpointArn>`);
      case "DeleteEndpoint":
        this.deleteEndpoint(params);
        return resultXml(action, undefined);
      case "Publish":
        return resultXml(action, `<MessageId>${escapeXml(this.publish(params))}</MessageId>`);
      case "CreatePlatformApplication":
        return resultXml(
          action,
          `<PlatformApplicationArn>${escapeXml(this.createApplication(params))}</PlatformApplicationArn>`,
        );
      case "GetPlatformApplicationAttributes":
        return resultXml(action, `<Attributes>${attributesXml(this.applicationAttributes(params))}</Attributes>`);
      case "SetPlatformApplicationAttributes":
        this.setApplicationAttributes(params);
        return resultXml(action, undefined);
      case "DeletePlatformApplication":
        this.deleteApplication(params);
        return resultXml(action, undefined);
      default:
        throw new SnsError("InvalidAction", 400, `Could not find operation ${action} for version ${SNS_API_VERSION}`);
    }
  }

  private createEndpoint(params: Record<string, string>): string {
    const applicationArn = params.PlatformApplicationArn;
    if (applicationArn === undefined || applicationArn === "") throw missing("PlatformApplicationArn");
    const parts = applicationArn.split(":").length;
    if (parts < 6)
      throw invalid(
        `Invalid parameter: PlatformApplicationArn Reason: An ARN must have at least 6 elements, not ${parts}`,
      );
    const match = APPLICATION_ARN.exec(applicationArn);
    if (match === null || !PLATFORMS.has(match[3] ?? ""))
      throw invalid("Invalid parameter: PlatformApplicationArn Reason: Wrong format for PlatformApplicationArn");
    // Both the message text and the status are SNS's (moto's tests against AWS check the same text).
    if (!this.applications.has(applicationArn))
      throw new SnsError("NotFound", 404, "PlatformApplication does not exist");
    const token = params.Token;
    if (token === undefined || token === "") throw missing("Token");
    // SNS checks the form of an APNs token (hex) before it makes an endpoint.
    if (match[3]?.startsWith("APNS") && !/^[0-9a-fA-F]{1,400}$/.test(token))
      throw invalid(
        "Invalid parameter: Token Reason: iOS device tokens must be no more than 400 hexadecimal characters",
      );
    // Idempotent per (application, token): the same ARN, whether the endpoint is enabled or not.
    const key = `${applicationArn}\n${token}`;
    const existing = this.byToken.get(key);
    if (existing !== undefined) return existing.arn;
    const [, region, account, platform = "", name] = match;
    const endpoint: MutableEndpoint = {
      arn: `arn:aws:sns:${region}:${account}:endpoint/${platform}/${name}/${randomUUID()}`,
      applicationArn,
      platform: platform as SnsPlatform,
      token,
      enabled: true,
    };
    this.byToken.set(key, endpoint);
    this.byArn.set(endpoint.arn, endpoint);
    return endpoint.arn;
  }

  private deleteEndpoint(params: Record<string, string>): void {
    const arn = params.EndpointArn;
    if (arn === undefined || arn === "") throw missing("EndpointArn");
    // Idempotent: deleting an endpoint that is gone succeeds.
    const endpoint = this.byArn.get(arn);
    if (endpoint === undefined) return;
    this.byArn.delete(arn);
    this.byToken.delete(`${endpoint.applicationArn}\n${endpoint.token}`);
  }

  /**
   * `CreatePlatformApplication`: `Name` (letters, digits, `_`, `-`, `.`, at most 256), `Platform`, and
   * `Attributes.entry.N.{key,value}`. SNS checks the credentials with Apple or Google before it answers;
   * the fake checks only that the attributes SNS requires are there: `PlatformCredential` always,
   * `PlatformPrincipal` for Apple, and with token credentials (a principal that is a key id, not a
   * certificate) `ApplePlatformTeamID` and `ApplePlatformBundleID`. An application of the same name and
   * platform gets the new attributes and keeps its ARN (what SNS does then is not documented).
   * @see https://docs.aws.amazon.com/sns/latest/api/API_CreatePlatformApplication.html
   * @see https://docs.aws.amazon.com/sns/latest/dg/sns-mobile-application-as-subscriber.html
   */
  private createApplication(params: Record<string, string>): string {
    const name = params.Name;
    if (name === undefined || name === "") throw missing("Name");
    if (!/^[A-Za-z0-9_.-]{1,256}$/.test(name))
      throw invalid(
        "Invalid parameter: Name Reason: must be at most 256 letters, digits, hyphens, underscores or periods",
      );
    const platform = params.Platform;
    if (platform === undefined || platform === "") throw missing("Platform");
    if (!PLATFORMS.has(platform)) throw invalid(`Invalid parameter: Platform Reason: ${platform} is not supported`);
    const attributes = decodeMap(params, "Attributes");
    const credential = attributes.PlatformCredential;
    if (credential === undefined || credential === "")
      throw invalid("Invalid parameter: Attributes Reason: PlatformCredential attribute required.");
    if (platform.startsWith("APNS")) {
      const principal = attributes.PlatformPrincipal;
      if (principal === undefined || principal === "")
        throw invalid("Invalid parameter: Attributes Reason: PlatformPrincipal attribute required.");
      if (!principal.includes("BEGIN CERTIFICATE"))
        for (const required of ["ApplePlatformTeamID", "ApplePlatformBundleID"])
          if ((attributes[required] ?? "") === "")
            throw invalid(
              `Invalid parameter: Attributes Reason: ${required} attribute required for token authentication.`,
            );
    }
    const arn = this.applicationArn(platform, name);
    this.applications.set(arn, { ...attributes });
    return arn;
  }

  /** `GetPlatformApplicationAttributes`: like SNS, never the credential or the principal. */
  private applicationAttributes(params: Record<string, string>): Record<string, string> {
    const attributes = this.existingApplication(params);
    const answer: Record<string, string> = { Enabled: "true" };
    for (const [key, value] of Object.entries(attributes))
      if (key !== "PlatformCredential" && key !== "PlatformPrincipal") answer[key] = value;
    return answer;
  }

  /** `SetPlatformApplicationAttributes`: the given attributes replace those of the same key. */
  private setApplicationAttributes(params: Record<string, string>): void {
    const attributes = this.existingApplication(params);
    Object.assign(attributes, decodeMap(params, "Attributes"));
  }

  /**
   * `DeletePlatformApplication` deletes the application and its endpoints; an application that is not
   * there is no error (SNS's model lists no NotFound for this action).
   */
  private deleteApplication(params: Record<string, string>): void {
    const arn = params.PlatformApplicationArn;
    if (arn === undefined || arn === "") throw missing("PlatformApplicationArn");
    this.applications.delete(arn);
    for (const endpoint of [...this.byArn.values()])
      if (endpoint.applicationArn === arn) this.deleteEndpoint({ EndpointArn: endpoint.arn });
  }

  private existingApplication(params: Record<string, string>): Record<string, string> {
    const arn = params.PlatformApplicationArn;
    if (arn === undefined || arn === "") throw missing("PlatformApplicationArn");
    const attributes = this.applications.get(arn);
    if (attributes === undefined) throw new SnsError("NotFound", 404, "PlatformApplication does not exist");
    return attributes;
  }

  /**
   * `Publish` to an endpoint (`TargetArn`). With `MessageStructure=json` the message must be a JSON object;
   * the API reference says it must "contain at least a top-level JSON key of "default" with a value that
   * is a string", which SNS enforces for topics ("Invalid parameter: Message Structure - No default entry
   * in JSON message body"); for a platform endpoint the entry of the endpoint's platform is enough, and
   * SNS's refusal names both ("Invalid parameter: JSON must contain an entry for 'default' or 'APNS'.",
   * as seen from SNS in github.com/evanshortiss/sns-mobile/issues/6). Entries that are not strings are
   * ignored, as the API reference says.
   * @see https://docs.aws.amazon.com/sns/latest/api/API_Publish.html (MessageStructure, "JSON-specific constraints")
   * @see https://docs.aws.amazon.com/sns/latest/dg/sns-send-custom-platform-specific-payloads-mobile-devices.html
   */
  private publish(params: Record<string, string>): string {
    const targetArn = params.TargetArn;
    if (targetArn === undefined || targetArn === "") {
      if (params.TopicArn !== undefined || params.PhoneNumber !== undefined)
        throw invalid("Invalid parameter: this fake serves only TargetArn (platform endpoints)");
      throw invalid("Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter");
    }
    const message = params.Message;
    if (message === undefined || message === "") throw invalid("Invalid parameter: Empty message");
    if (Buffer.byteLength(message, "utf8") > MESSAGE_LIMIT_BYTES) throw invalid(MESSAGE_TOO_LONG);
    const endpoint = this.byArn.get(targetArn);
    if (endpoint === undefined)
      throw invalid("Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified");
    const structure = params.MessageStructure;
    let platformMessage = message;
    if (structure !== undefined) {
      if (structure !== "json") throw invalid(`Invalid parameter: MessageStructure Reason: ${structure} is not json`);
      const entries = parseObject(message);
      if (entries === undefined)
        throw invalid("Invalid parameter: Message Structure - JSON message body failed to parse");
      const entry = stringEntry(entries, endpoint.platform) ?? stringEntry(entries, "default");
      if (entry === undefined)
        throw invalid(`Invalid parameter: JSON must contain an entry for 'default' or '${endpoint.platform}'.`);
      platformMessage = entry;
    }
    const attributes = decodeAttributes(params);
    if (!endpoint.enabled) throw new SnsError("EndpointDisabled", 400, "Endpoint is disabled");
    const limit = PLATFORM_PAYLOAD_LIMITS[endpoint.platform];
    if (limit !== undefined && payloadBytes(endpoint.platform, platformMessage) > limit)
      throw invalid(MESSAGE_TOO_LONG);
    const messageId = randomUUID();
    const published: FakeSnsPublish = {
      messageId,
      targetArn,
      platform: endpoint.platform,
      token: endpoint.token,
      message,
      messageStructure: structure,
      platformMessage,
      attributes,
      at: this.now(),
    };
    this.publishes.push(published);
    this.options.onPublish?.(published);
    return messageId;
  }

  /** Refuses what SNS refuses before any action: no signature, or one scoped elsewhere or not matching. */
  private authorize(signature: FakeSnsSignature | undefined): void {
    if (signature === undefined)
      throw new SnsError("MissingAuthenticationToken", 403, "Request is missing Authentication Token");
    if (signature.service !== "sns" || signature.region !== this.region)
      throw new SnsError(
        "SignatureDoesNotMatch",
        403,
        `Credential should be scoped to a valid region and service, not '${signature.region}/${signature.service}'.`,
      );
    const known = this.options.credentials;
    if (known !== undefined && signature.accessKeyId !== known.accessKeyId)
      throw new SnsError("InvalidClientTokenId", 403, "The security token included in the request is invalid.");
    if (signature.valid === false)
      throw new SnsError(
        "SignatureDoesNotMatch",
        403,
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
      );
  }

  /** Reads (and, knowing the secret, checks) a SigV4 `Authorization` header. */
  private signatureOf(req: IncomingMessage, url: URL, body: Buffer): FakeSnsSignature | undefined {
    const authorization = String(req.headers.authorization ?? "");
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (match === null) return undefined;
    const [, accessKeyId = "", date = "", region = "", service = "", headerList = "", signature = ""] = match;
    const signedHeaders = headerList.split(";");
    const secret = this.options.credentials?.secretAccessKey;
    let valid: boolean | undefined;
    if (secret !== undefined) {
      const amzDate = String(req.headers["x-amz-date"] ?? "");
      const payloadHash = String(req.headers["x-amz-content-sha256"] ?? sha256(body));
      const canonicalRequest = [
        req.method ?? "GET",
        url.pathname
          .split("/")
          .map((segment) => rfc3986(segment))
          .join("/"),
        [...url.searchParams]
          .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
          .sort()
          .join("&"),
        signedHeaders.map((name) => `${name}:${headerValue(req, name)}\n`).join(""),
        headerList,
        payloadHash,
      ].join("\n");
      const scope = `${date}/${region}/${service}/aws4_request`;
      const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
      let key = hmac(`AWS4${secret}`, date);
      for (const part of [region, service, "aws4_request"]) key = hmac(key, part);
      valid =
        amzDate.startsWith(date) &&
        payloadHash === sha256(body) &&
        createHmac("sha256", key).update(stringToSign).digest("hex") === signature;
    }
    return { accessKeyId, date, region, service, signedHeaders, valid };
  }
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function headerValue(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  const text = Array.isArray(value) ? value.join(",") : (value ?? "");
  return text.trim().replace(/\s+/g, " ");
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function stringEntry(entries: Record<string, unknown>, key: string): string | undefined {
  const value = entries[key];
  return typeof value === "string" ? value : undefined;
}

/** The bytes a platform limit counts: the whole APNs payload; FCM's `data` (legacy or `fcmV1Message`) when there is one. */
function payloadBytes(platform: SnsPlatform, payload: string): number {
  if (platform === "GCM") {
    const parsed = parseObject(payload);
    const v1 = parsed?.fcmV1Message;
    const message =
      typeof v1 === "object" && v1 !== null && "message" in v1 && typeof v1.message === "object" ? v1.message : parsed;
    const data = typeof message === "object" && message !== null && "data" in message ? message.data : undefined;
    if (data !== undefined) return Buffer.byteLength(JSON.stringify(data), "utf8");
  }
  return Buffer.byteLength(payload, "utf8");
}

const ATTRIBUTE_TYPES = /^(String|Number|Binary)(\..+)?$|^String\.Array$/;

/** `MessageAttributes.entry.N.{Name,Value.DataType,Value.StringValue}`, N from 1, as the SDK serializes them. */
function decodeAttributes(params: Record<string, string>): Record<string, FakeSnsAttribute> {
  const attributes: Record<string, FakeSnsAttribute> = {};
  for (let n = 1; ; n += 1) {
    const prefix = `MessageAttributes.entry.${n}`;
    const name = params[`${prefix}.Name`];
    if (name === undefined) break;
    const dataType = params[`${prefix}.Value.DataType`] ?? "";
    const stringValue = params[`${prefix}.Value.StringValue`];
    if (!ATTRIBUTE_TYPES.test(dataType))
      throw new SnsError(
        "ParameterValueInvalid",
        400,
        `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`,
      );
    if (dataType.startsWith("String") && (stringValue === undefined || stringValue === ""))
      throw new SnsError(
        "ParameterValueInvalid",
        400,
        `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${dataType}'.`,
      );
    attributes[name] = { dataType, stringValue };
  }
  return attributes;
}

/** An awsQuery map parameter, `NAME.entry.N.key` and `NAME.entry.N.value` with N from 1, as the SDK serializes it. */
function decodeMap(params: Record<string, string>, name: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (let n = 1; ; n += 1) {
    const key = params[`${name}.entry.${n}.key`];
    if (key === undefined) break;
    map[key] = params[`${name}.entry.${n}.value`] ?? "";
  }
  return map;
}

function attributesXml(attributes: Record<string, string>): string {
  return Object.entries(attributes)
    .map(([key, value]) => `<entry><key>${escapeXml(key)}</key><value>${escapeXml(value)}</value></entry>`)
    .join("");
}

/** The texts SNS sends with these codes, for a {@link FakeSnsServer.failNext} without its own. */
function defaultMessage(code: string, action: string, params: Record<string, string>, accountId: string): string {
  const resource = params.TargetArn ?? params.EndpointArn ?? params.PlatformApplicationArn ?? "*";
  switch (code) {
    case "EndpointDisabled":
      return "Endpoint is disabled";
    case "Throttling":
    case "Throttled":
      return "Rate exceeded";
    case "InternalError":
      return "Internal Error";
    case "AuthorizationError":
      return `User: arn:aws:iam::${accountId}:user/push-gateway is not authorized to perform: SNS:${action} on resource: ${resource} because no identity-based policy allows the SNS:${action} action`;
    case "NotFound":
      return action === "CreatePlatformEndpoint" || action.includes("PlatformApplication")
        ? "PlatformApplication does not exist"
        : "Endpoint does not exist";
    case "PlatformApplicationDisabled":
      return "Platform application is disabled";
    default:
      return "Invalid parameter";
  }
}

const XML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
}

function resultXml(action: string, result: string | undefined): string {
  const inner = result === undefined ? "" : `<${action}Result>${result}</${action}Result>`;
  return `<${action}Response xmlns="${SNS_XMLNS}">${inner}<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
}

/** SNS's error body: `Type` is Sender for the client's faults (4xx), Receiver for SNS's own (5xx). */
function errorXml(error: SnsError): string {
  const type = error.status >= 500 ? "Receiver" : "Sender";
  return `<ErrorResponse xmlns="${SNS_XMLNS}"><Error><Type>${type}</Type><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
}
