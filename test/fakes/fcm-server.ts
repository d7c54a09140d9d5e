import { type KeyObject, randomBytes } from "node:crypto";
import { decodeJwt, verifyJwtSignature } from "./jwt";
import type { FakeServiceAccount } from "./service-account";
import { type FakeHttpRequest, type FakeHttpResponse, FakeTlsServer, type FakeTlsServerStats } from "./tls-server";

/** The FcmError codes a fake can answer with (the ones the HTTP v1 API documents). */
export type FcmFailureCode =
  | "UNREGISTERED"
  | "SENDER_ID_MISMATCH"
  | "INVALID_ARGUMENT"
  | "QUOTA_EXCEEDED"
  | "UNAVAILABLE"
  | "INTERNAL"
  | "THIRD_PARTY_AUTH_ERROR";

/** A programmed refusal for one registration token. */
export interface FcmFailure {
  readonly code: FcmFailureCode;
  /** A `Retry-After` header (seconds or an HTTP date), e.g. with QUOTA_EXCEEDED or UNAVAILABLE. */
  readonly retryAfter?: number | string;
  /** Answer this many requests so, then deliver again. Default: until cleared. */
  readonly times?: number;
}

/** One `messages:send` request and what the fake answered. */
export interface FcmReceipt {
  readonly project: string;
  /** `message.token`, when there was one. */
  readonly token?: string;
  /** The parsed `message` object, when the body had one. */
  readonly message?: Readonly<Record<string, unknown>>;
  /** `message.data`, when every value was a string. */
  readonly data?: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly rawBody: string;
  readonly httpVersion: "2.0" | "1.1";
  readonly connection: string;
  readonly status: number;
  /** The FcmError code or the google.rpc status of a refusal. */
  readonly error?: string;
  /** The client_email of the service account whose access token was used. */
  readonly account?: string;
  readonly at: number;
}

/** One request to the OAuth token endpoint and its answer. */
export interface OAuthReceipt {
  readonly status: number;
  readonly error?: string;
  readonly account?: string;
  readonly httpVersion: "2.0" | "1.1";
  readonly at: number;
}

export interface FakeFcmOptions {
  readonly cert: string;
  readonly key: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (a free port); the sandbox uses a fixed one. */
  readonly port?: number;
  /** Lifetime of issued access tokens; Google says 3599 s. */
  readonly accessTokenSeconds?: number;
  readonly now?: () => number;
  /** Called for every `messages:send` request answered (the sandbox prints them). */
  readonly onReceipt?: (receipt: FcmReceipt) => void;
}

const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";
const SEND_PATH = /^\/v1\/projects\/([^/]+)\/messages:send$/;
const DATA_LIMIT = 4096;
const MAX_TTL_SECONDS = 2_419_200;
const RESERVED_DATA_KEYS = new Set(["from", "message_type"]);

/**
 * Error bodies as FCM HTTP v1 sends them (see test/fixtures/fcm/): HTTP status, google.rpc status,
 * message, and the FcmError detail.
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
 */
const FCM_FAILURES: Readonly<Record<FcmFailureCode, { http: number; status: string; message: string }>> = {
  UNREGISTERED: { http: 404, status: "NOT_FOUND", message: "Requested entity was not found." },
  SENDER_ID_MISMATCH: { http: 403, status: "PERMISSION_DENIED", message: "SenderId mismatch" },
  INVALID_ARGUMENT: {
    http: 400,
    status: "INVALID_ARGUMENT",
    message: "The registration token is not a valid FCM registration token",
  },
  QUOTA_EXCEEDED: { http: 429, status: "RESOURCE_EXHAUSTED", message: "Quota exceeded for quota metric 'Send'." },
  UNAVAILABLE: { http: 503, status: "UNAVAILABLE", message: "The service is currently unavailable." },
  INTERNAL: { http: 500, status: "INTERNAL", message: "Internal error encountered." },
  THIRD_PARTY_AUTH_ERROR: { http: 401, status: "UNAUTHENTICATED", message: "Auth error from APNS or Web Push Service" },
};

interface TrustedAccount {
  readonly clientEmail: string;
  readonly projectId: string;
  readonly tokenUri: string;
  readonly publicKey: KeyObject;
}

interface IssuedToken {
  readonly account: TrustedAccount;
  readonly expiresAt: number;
}

interface ProgrammedFailure extends FcmFailure {
  remaining: number;
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): FakeHttpResponse {
  return {
    status,
    headers: { "content-type": "application/json; charset=UTF-8", ...headers },
    body: JSON.stringify(value),
  };
}

function googleError(
  http: number,
  status: string,
  message: string,
  details: readonly Record<string, unknown>[] = [],
): Record<string, unknown> {
  return { error: { code: http, message, status, ...(details.length > 0 ? { details } : {}) } };
}

function badRequest(field: string, description: string, withFcmError = true): FakeHttpResponse {
  const details: Record<string, unknown>[] = [];
  if (withFcmError) details.push({ "@type": FCM_ERROR, errorCode: "INVALID_ARGUMENT" });
  details.push({ "@type": BAD_REQUEST, fieldViolations: [{ field, description }] });
  return json(400, googleError(400, "INVALID_ARGUMENT", description, details));
}

function oauthError(error: string, description: string): FakeHttpResponse {
  return json(400, { error, error_description: description });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A fake FCM HTTP v1 with Google's OAuth token endpoint, on one TLS port speaking HTTP/2 and
 * HTTP/1.1. `POST /token` takes the form-encoded JWT-bearer grant and checks the RS256 assertion with
 * the service account's public key (`iss` = client_email, `scope`, `aud` = token_uri, `exp - iat` at most
 * 3600 s) before issuing `{"access_token","expires_in":3599,"token_type":"Bearer"}`. `POST
 * /v1/projects/{project}/messages:send` accepts only access tokens it issued for that project, checks
 * the v1 message shape (a token, data values all strings, no reserved keys, data at most 4096 bytes,
 * android priority and ttl) and answers `{"name"}`, or a programmed FcmError per token, in the bodies
 * FCM really sends.
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
 * @see https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 */
export class FakeFcm {
  /** Every `messages:send` request, in arrival order. */
  readonly received: FcmReceipt[] = [];
  /** Every token-endpoint request, in arrival order. */
  readonly tokenRequests: OAuthReceipt[] = [];
  private readonly accounts = new Map<string, TrustedAccount>();
  private readonly issued = new Map<string, IssuedToken>();
  private readonly failures = new Map<string, ProgrammedFailure[]>();
  private readonly now: () => number;
  private server: FakeTlsServer | undefined;
  private messageCounter = 0;

  private constructor(private readonly options: FakeFcmOptions) {
    this.now = options.now ?? Date.now;
  }

  static async start(options: FakeFcmOptions): Promise<FakeFcm> {
    const fake = new FakeFcm(options);
    fake.server = await FakeTlsServer.listen({
      cert: options.cert,
      key: options.key,
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      maxConcurrentStreams: 100,
      maxBodyBytes: 256 * 1024,
      handler: (request) => fake.handle(request),
    });
    return fake;
  }

  /** The base URL (`FCM_ENDPOINT`). */
  get url(): string {
    return this.listening().url;
  }

  /** The OAuth token endpoint, for the service account's `token_uri`. */
  get tokenUri(): string {
    return `${this.url}/token`;
  }

  /** Accepts assertions signed by this service account, and sends for its project. */
  trust(account: FakeServiceAccount): this {
    this.accounts.set(account.json.client_email, {
      clientEmail: account.json.client_email,
      projectId: account.json.project_id,
      tokenUri: account.json.token_uri,
      publicKey: account.publicKey,
    });
    return this;
  }

  /** Messages answered 200, optionally only those to one registration token. */
  delivered(token?: string): FcmReceipt[] {
    return this.received.filter(
      (receipt) => receipt.status === 200 && (token === undefined || receipt.token === token),
    );
  }

  /** Messages to one registration token, whatever the answer. */
  to(token: string): FcmReceipt[] {
    return this.received.filter((receipt) => receipt.token === token);
  }

  /** Programs a refusal for a registration token, e.g. `failToken(t, {code: "UNREGISTERED"})`. */
  failToken(token: string, failure: FcmFailure): this {
    const list = this.failures.get(token) ?? [];
    list.push({ ...failure, remaining: failure.times ?? Number.POSITIVE_INFINITY });
    this.failures.set(token, list);
    return this;
  }

  clearFailures(token?: string): this {
    if (token === undefined) this.failures.clear();
    else this.failures.delete(token);
    return this;
  }

  /** Forgets every access token issued so far (the next send with one is 401 UNAUTHENTICATED). */
  revokeAccessTokens(): this {
    this.issued.clear();
    return this;
  }

  stats(): FakeTlsServerStats {
    return this.listening().stats();
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  private listening(): FakeTlsServer {
    if (!this.server) throw new Error("fake FCM is not listening");
    return this.server;
  }

  private handle(request: FakeHttpRequest): FakeHttpResponse {
    const path = request.path.split("?")[0] ?? "";
    if (path === "/token") {
      const { response, receipt } = this.token(request);
      this.tokenRequests.push(receipt);
      return response;
    }
    const match = SEND_PATH.exec(path);
    if (!match?.[1]) return json(404, googleError(404, "NOT_FOUND", `The requested URL ${path} was not found.`));
    if (request.method !== "POST")
      return json(405, googleError(405, "INVALID_ARGUMENT", `Method ${request.method} is not allowed.`));
    return this.send(decodeURIComponent(match[1]), request);
  }

  private token(request: FakeHttpRequest): { response: FakeHttpResponse; receipt: OAuthReceipt } {
    const base = { httpVersion: request.httpVersion, at: this.now() };
    const refuse = (error: string, description: string, account?: string) => ({
      response: oauthError(error, description),
      receipt: { ...base, status: 400, error, ...(account !== undefined ? { account } : {}) },
    });
    if (request.method !== "POST") return refuse("invalid_request", "Method not allowed: use POST");
    const type = request.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
    if (type !== "application/x-www-form-urlencoded")
      return refuse("invalid_request", "Content-Type must be application/x-www-form-urlencoded");
    const form = new URLSearchParams(request.body);
    const grantType = form.get("grant_type");
    if (grantType !== JWT_BEARER) return refuse("unsupported_grant_type", `Invalid grant_type: ${grantType ?? ""}`);
    const assertion = form.get("assertion");
    const jwt = assertion ? decodeJwt(assertion) : undefined;
    if (!jwt) return refuse("invalid_request", "Invalid JWT: assertion is missing or malformed");
    const { iss, scope, aud, iat, exp } = jwt.payload;
    const account = typeof iss === "string" ? this.accounts.get(iss) : undefined;
    if (!account) return refuse("invalid_grant", "Invalid grant: account not found");
    const email = account.clientEmail;
    if (!verifyJwtSignature(jwt, account.publicKey, "RS256"))
      return refuse("invalid_grant", "Invalid JWT Signature.", email);
    if (aud !== account.tokenUri)
      return refuse(
        "invalid_grant",
        `Invalid JWT: Failed audience check. The right audience is ${account.tokenUri}`,
        email,
      );
    const nowSeconds = Math.floor(this.now() / 1000);
    const timely =
      typeof iat === "number" &&
      typeof exp === "number" &&
      exp > iat &&
      exp - iat <= 3600 &&
      iat <= nowSeconds + 60 &&
      exp > nowSeconds;
    if (!timely)
      return refuse(
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        email,
      );
    const scopes = typeof scope === "string" ? scope.split(" ") : [];
    if (!scopes.includes(SCOPE))
      return refuse("invalid_scope", "Invalid OAuth scope or ID token audience provided.", email);
    const seconds = this.options.accessTokenSeconds ?? 3599;
    const accessToken = `ya29.fake-${randomBytes(24).toString("base64url")}`;
    this.issued.set(accessToken, { account, expiresAt: this.now() + seconds * 1000 });
    return {
      response: json(200, { access_token: accessToken, expires_in: seconds, token_type: "Bearer" }),
      receipt: { ...base, status: 200, account: email },
    };
  }

  private send(project: string, request: FakeHttpRequest): FakeHttpResponse {
    let parsed: unknown;
    let parseFailed = false;
    try {
      parsed = JSON.parse(request.body);
    } catch {
      parseFailed = true;
    }
    const message = isRecord(parsed) && isRecord(parsed.message) ? parsed.message : undefined;
    const token = typeof message?.token === "string" ? message.token : undefined;
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
    const grant = bearer === undefined ? undefined : this.issued.get(bearer);
    const checked = this.checkSend(project, grant, parseFailed, message, token);
    const data = checked.data;
    const response = checked.response ?? this.programmed(token) ?? this.success(project);
    const receipt: FcmReceipt = {
      project,
      ...(token !== undefined ? { token } : {}),
      ...(message ? { message } : {}),
      ...(data ? { data } : {}),
      headers: request.headers,
      rawBody: request.body,
      httpVersion: request.httpVersion,
      connection: request.connection,
      status: response.status,
      ...(response.status !== 200 ? { error: errorCodeOf(response) } : {}),
      ...(grant ? { account: grant.account.clientEmail } : {}),
      at: this.now(),
    };
    this.received.push(receipt);
    this.options.onReceipt?.(receipt);
    return response;
  }

  private checkSend(
    project: string,
    grant: IssuedToken | undefined,
    parseFailed: boolean,
    message: Record<string, unknown> | undefined,
    token: string | undefined,
  ): { response?: FakeHttpResponse; data?: Record<string, string> } {
    if (!grant || grant.expiresAt <= this.now())
      return {
        response: json(
          401,
          googleError(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
          ),
        ),
      };
    if (grant.account.projectId !== project)
      return {
        response: json(
          403,
          googleError(
            403,
            "PERMISSION_DENIED",
            `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}' (or it may not exist).`,
          ),
        ),
      };
    if (parseFailed) return { response: badRequest("", "Invalid JSON payload received.", false) };
    if (!message) return { response: badRequest("message", "Request is missing required field: message", false) };
    const targets = ["token", "topic", "condition"].filter((field) => message[field] !== undefined);
    if (targets.length === 0) return { response: badRequest("message", "Recipient of the message is not set.") };
    if (targets.length > 1)
      return { response: badRequest("message", "Only one of token, topic or condition is allowed.") };
    if (token === undefined || token === "")
      return { response: badRequest("message.token", "The registration token is not a valid FCM registration token") };
    const data = message.data;
    let strings: Record<string, string> | undefined;
    if (data !== undefined) {
      if (!isRecord(data)) return { response: badRequest("message.data", "Invalid value at 'message.data'", false) };
      strings = {};
      let index = 0;
      for (const [key, value] of Object.entries(data)) {
        if (typeof value !== "string") {
          const description = `Invalid value at 'message.data[${index}].value' (TYPE_STRING), ${JSON.stringify(value)}`;
          return { response: badRequest(`message.data[${index}].value`, description, false) };
        }
        if (RESERVED_DATA_KEYS.has(key) || key.startsWith("google") || key.startsWith("gcm"))
          return { response: badRequest("message.data", `Invalid data payload key: ${key}`) };
        strings[key] = value;
        index += 1;
      }
      if (Buffer.byteLength(JSON.stringify(strings)) > DATA_LIMIT)
        return { response: badRequest("message", `Message is too big. Limit is ${DATA_LIMIT} bytes.`) };
    }
    const android = message.android;
    if (android !== undefined) {
      if (!isRecord(android))
        return { response: badRequest("message.android", "Invalid value at 'message.android'", false) };
      const priority = android.priority;
      if (
        priority !== undefined &&
        (typeof priority !== "string" || !["normal", "high"].includes(priority.toLowerCase()))
      )
        return {
          response: badRequest(
            "message.android.priority",
            `Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), ${JSON.stringify(priority)}`,
            false,
          ),
        };
      const ttl = android.ttl;
      const ttlMatch = typeof ttl === "string" ? /^(\d+)(\.\d{1,9})?s$/.exec(ttl) : undefined;
      if (ttl !== undefined && (!ttlMatch?.[1] || Number(ttlMatch[1]) > MAX_TTL_SECONDS))
        return {
          response: badRequest(
            "message.android.ttl",
            `Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(ttl)}`,
            false,
          ),
        };
    }
    return strings ? { data: strings } : {};
  }

  private success(project: string): FakeHttpResponse {
    this.messageCounter += 1;
    const id = `0:${this.now()}${String(this.messageCounter).padStart(6, "0")}%${randomBytes(8).toString("hex")}`;
    return json(200, { name: `projects/${project}/messages/${id}` });
  }

  private programmed(token: string | undefined): FakeHttpResponse | undefined {
    if (token === undefined) return undefined;
    const list = this.failures.get(token);
    const failure = list?.find((candidate) => candidate.remaining > 0);
    if (!list || !failure) return undefined;
    failure.remaining -= 1;
    if (failure.remaining <= 0) list.splice(list.indexOf(failure), 1);
    const shape = FCM_FAILURES[failure.code];
    const headers: Record<string, string> =
      failure.retryAfter !== undefined ? { "retry-after": String(failure.retryAfter) } : {};
    const body = googleError(shape.http, shape.status, shape.message, [
      { "@type": FCM_ERROR, errorCode: failure.code },
    ]);
    return json(shape.http, body, headers);
  }
}

function errorCodeOf(response: FakeHttpResponse): string {
  try {
    const parsed: unknown = JSON.parse(response.body ?? "");
    const error = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : undefined;
    const details = Array.isArray(error?.details) ? error.details : [];
    const fcm = details.find((detail) => isRecord(detail) && detail["@type"] === FCM_ERROR);
    if (isRecord(fcm) && typeof fcm.errorCode === "string") return fcm.errorCode;
    return typeof error?.status === "string" ? error.status : `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}
