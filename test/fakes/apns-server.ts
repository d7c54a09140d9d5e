import { createPublicKey, type KeyObject, randomUUID } from "node:crypto";
import { decodeJwt, verifyJwtSignature } from "./jwt";
import { type FakeHttpRequest, type FakeHttpResponse, FakeTlsServer, type FakeTlsServerStats } from "./tls-server";

export type ApnsEnvironmentName = "production" | "sandbox";

/** A signing key the fake accepts provider tokens from. */
export interface ApnsTrustedKey {
  readonly teamId: string;
  readonly keyId: string;
  /** The public half of the .p8 key (a KeyObject or a PEM). */
  readonly publicKey: KeyObject | string;
}

/** What the fake saw of a provider token it verified. */
export interface ApnsProviderTokenClaims {
  readonly kid: string;
  readonly iss: string;
  readonly iat: number;
}

/** One request to `/3/device/...` and what the fake answered. */
export interface ApnsReceipt {
  readonly environment: ApnsEnvironmentName;
  readonly token: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly rawBody: string;
  /** The body parsed as JSON, when it was JSON. */
  readonly body: unknown;
  readonly httpVersion: "2.0" | "1.1";
  /** `h2-N` / `h1-N`: which connection carried it (per environment). */
  readonly connection: string;
  readonly status: number;
  readonly reason?: string;
  readonly apnsId: string;
  /** The provider token, when its signature verified. */
  readonly jwt?: ApnsProviderTokenClaims;
  /** The provider token as sent (to tell a re-minted token from the old one). */
  readonly authorization?: string;
  readonly at: number;
}

/** A programmed refusal for one device token. */
export interface ApnsFailure {
  readonly status: number;
  readonly reason: string;
  /** 410 only: when the token stopped being valid, in ms (default: now). */
  readonly timestamp?: number;
  /** A `Retry-After` header (seconds or an HTTP date), e.g. with 429 or 503. */
  readonly retryAfter?: number | string;
  /** Only in this environment (e.g. `BadDeviceToken` in production for a sandbox token). Default both. */
  readonly environment?: ApnsEnvironmentName;
  /** Answer this many requests so, then deliver again. Default: until cleared. */
  readonly times?: number;
}

export interface FakeApnsOptions {
  readonly cert: string;
  readonly key: string;
  /** Keys whose provider tokens are accepted. */
  readonly keys: readonly ApnsTrustedKey[];
  /** Bundle ids the keys may push to; `{topic}.voip` is accepted for VoIP pushes. */
  readonly topics: readonly string[];
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (free ports); the sandbox uses fixed ones. */
  readonly productionPort?: number;
  readonly sandboxPort?: number;
  /** What the server announces; APNs announces 1000. */
  readonly maxConcurrentStreams?: number;
  /** Device tokens must be hex (as APNs tokens are), else 400 BadDeviceToken. Default true. */
  readonly hexTokensOnly?: boolean;
  /** Clock for `iat` checks and 410 timestamps. */
  readonly now?: () => number;
  /** Called for every request answered (the sandbox prints them). */
  readonly onReceipt?: (receipt: ApnsReceipt) => void;
}

const PUSH_TYPES = new Set([
  "alert",
  "background",
  "voip",
  "location",
  "complication",
  "fileprovider",
  "mdm",
  "liveactivity",
  "pushtotalk",
  "widgets",
]);
const BODY_LIMIT = 4096;
const VOIP_BODY_LIMIT = 5120;
const TOKEN_MAX_AGE_SECONDS = 3600;
/** Apple tolerates a little clock skew for `iat`; a token from further in the future is invalid. */
const FUTURE_SKEW_SECONDS = 60;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEVICE_PATH = /^\/3\/device\/([^/?]*)$/;

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

interface Refusal {
  readonly status: number;
  readonly reason: string;
  readonly timestamp?: number;
  readonly retryAfter?: number | string;
}

interface ProgrammedFailure extends ApnsFailure {
  remaining: number;
}

/**
 * A fake APNs that behaves like Apple's provider API: `POST /3/device/{token}` over TLS, HTTP/2 (and
 * HTTP/1.1, so that local workerd can reach it); provider tokens checked as Apple does (ES256 by `kid`,
 * `iss` = the key's team, `iat` at most an hour old and not in the future, else 403
 * `InvalidProviderToken` / `ExpiredProviderToken`); `apns-topic`, `apns-push-type`, `apns-priority`,
 * `apns-expiration`, `apns-id`, `apns-collapse-id` validated; bodies over 4096 bytes (5120 VoIP)
 * refused with 413 `PayloadTooLarge`; success is 200 with an empty body and an `apns-id` header, errors
 * are `{"reason"}` (with `timestamp` for 410). A body that is not a JSON object gets 400 `BadPayload` (the
 * fake's own name: Apple documents no reason for it). One instance serves production and sandbox on two ports
 * ({@link productionUrl}, {@link sandboxUrl}). Every request is recorded in {@link received}.
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 * @see https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
 */
export class FakeApns {
  /** Every request to a device path, in arrival order, with the answer it got. */
  readonly received: ApnsReceipt[] = [];
  private readonly failures = new Map<string, ProgrammedFailure[]>();
  private readonly expiredTokens = new Set<string>();
  private readonly keys: ReadonlyMap<string, { teamId: string; publicKey: KeyObject }>;
  private readonly topics: ReadonlySet<string>;
  private readonly now: () => number;
  private expireNextToken = false;
  private servers: Partial<Record<ApnsEnvironmentName, FakeTlsServer>> = {};

  private constructor(private readonly options: FakeApnsOptions) {
    this.now = options.now ?? Date.now;
    this.topics = new Set(options.topics);
    this.keys = new Map(
      options.keys.map((key) => [
        key.keyId,
        {
          teamId: key.teamId,
          publicKey: typeof key.publicKey === "string" ? createPublicKey(key.publicKey) : key.publicKey,
        },
      ]),
    );
  }

  /** Starts both environments' listeners. */
  static async start(options: FakeApnsOptions): Promise<FakeApns> {
    const fake = new FakeApns(options);
    const listen = (environment: ApnsEnvironmentName, port: number | undefined) =>
      FakeTlsServer.listen({
        cert: options.cert,
        key: options.key,
        ...(options.host !== undefined ? { host: options.host } : {}),
        ...(port !== undefined ? { port } : {}),
        maxConcurrentStreams: options.maxConcurrentStreams ?? 1000,
        maxBodyBytes: 64 * 1024,
        handler: (request) => fake.handle(environment, request),
      });
    try {
      fake.servers.production = await listen("production", options.productionPort);
      fake.servers.sandbox = await listen("sandbox", options.sandboxPort);
    } catch (error) {
      await fake.close();
      throw error;
    }
    return fake;
  }

  /** The production base URL (`APNS_ENDPOINT`). */
  get productionUrl(): string {
    return this.server("production").url;
  }

  /** The sandbox base URL (`APNS_SANDBOX_ENDPOINT`). */
  get sandboxUrl(): string {
    return this.server("sandbox").url;
  }

  /** Requests answered 200, optionally only those to one device token. */
  delivered(token?: string): ApnsReceipt[] {
    return this.received.filter(
      (receipt) => receipt.status === 200 && (token === undefined || receipt.token === token),
    );
  }

  /** Requests to one device token, whatever the answer. */
  to(token: string): ApnsReceipt[] {
    return this.received.filter((receipt) => receipt.token === token);
  }

  /**
   * Programs a refusal for a device token, e.g. `failToken(t, {status: 410, reason: "Unregistered"})`,
   * `{status: 503, reason: "ServiceUnavailable"}`, `{status: 429, reason: "TooManyRequests", retryAfter: 1}`
   * or `{status: 400, reason: "BadDeviceToken", environment: "production"}` (a sandbox token). Later
   * programs for the same token queue behind earlier ones.
   */
  failToken(token: string, failure: ApnsFailure): this {
    const list = this.failures.get(token) ?? [];
    list.push({ ...failure, remaining: failure.times ?? Number.POSITIVE_INFINITY });
    this.failures.set(token, list);
    return this;
  }

  /** Forgets the programmed refusals of one token, or of all. */
  clearFailures(token?: string): this {
    if (token === undefined) this.failures.clear();
    else this.failures.delete(token);
    return this;
  }

  /**
   * The next request with a valid provider token is answered 403 `ExpiredProviderToken`, and that
   * token stays refused (as an expired token would); a freshly minted one is accepted.
   */
  expireProviderTokenOnce(): this {
    this.expireNextToken = true;
    return this;
  }

  /** Server-side connection counters of one environment (default production). */
  stats(environment: ApnsEnvironmentName = "production"): FakeTlsServerStats {
    return this.server(environment).stats();
  }

  /** Sends GOAWAY on every HTTP/2 session of one environment. */
  goaway(environment: ApnsEnvironmentName = "production"): void {
    this.server(environment).goawayAll();
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.servers).map((server) => server.close()));
  }

  private server(environment: ApnsEnvironmentName): FakeTlsServer {
    const server = this.servers[environment];
    if (!server) throw new Error(`fake APNs ${environment} is not listening`);
    return server;
  }

  private handle(environment: ApnsEnvironmentName, request: FakeHttpRequest): FakeHttpResponse {
    const offeredId = request.headers["apns-id"];
    const apnsId = offeredId !== undefined && UUID.test(offeredId) ? offeredId.toLowerCase() : randomUUID();
    const match = DEVICE_PATH.exec(request.path);
    const token = match?.[1] === undefined ? "" : decodeURIComponent(match[1]);
    const checked = this.check(environment, request, token, apnsId);
    const refusal = checked.refusal;
    let body: unknown;
    try {
      body = JSON.parse(request.body);
    } catch {
      body = undefined;
    }
    const receipt: ApnsReceipt = {
      environment,
      token,
      method: request.method,
      path: request.path,
      headers: request.headers,
      rawBody: request.body,
      body,
      httpVersion: request.httpVersion,
      connection: request.connection,
      status: refusal?.status ?? 200,
      ...(refusal ? { reason: refusal.reason } : {}),
      apnsId,
      ...(checked.jwt ? { jwt: checked.jwt } : {}),
      ...(request.headers.authorization !== undefined ? { authorization: request.headers.authorization } : {}),
      at: this.now(),
    };
    if (match) {
      this.received.push(receipt);
      this.options.onReceipt?.(receipt);
    }
    const headers: Record<string, string> = { "apns-id": apnsId };
    if (environment === "sandbox") headers["apns-unique-id"] = randomUUID();
    if (!refusal) return { status: 200, headers };
    if (refusal.retryAfter !== undefined) headers["retry-after"] = String(refusal.retryAfter);
    const answer: Record<string, string | number> = { reason: refusal.reason };
    if (refusal.status === 410) answer.timestamp = refusal.timestamp ?? this.now();
    return { status: refusal.status, headers, body: JSON.stringify(answer) };
  }

  private check(
    environment: ApnsEnvironmentName,
    request: FakeHttpRequest,
    token: string,
    apnsId: string,
  ): { refusal?: Refusal; jwt?: ApnsProviderTokenClaims } {
    if (request.method !== "POST") return { refusal: { status: 405, reason: "MethodNotAllowed" } };
    if (!DEVICE_PATH.test(request.path)) return { refusal: { status: 404, reason: "BadPath" } };
    if (token === "") return { refusal: { status: 400, reason: "MissingDeviceToken" } };
    const auth = this.checkProviderToken(request.headers.authorization);
    if ("refusal" in auth) return auth;
    const { jwt } = auth;
    const refusal = this.checkRequest(request, token, apnsId) ?? this.programmed(environment, token);
    return refusal ? { refusal, jwt } : { jwt };
  }

  private checkProviderToken(
    authorization: string | undefined,
  ): { refusal: Refusal } | { jwt: ApnsProviderTokenClaims } {
    const invalid = { refusal: { status: 403, reason: "InvalidProviderToken" } };
    if (authorization === undefined || authorization === "")
      return { refusal: { status: 403, reason: "MissingProviderToken" } };
    const bearer = /^bearer\s+(\S+)$/i.exec(authorization);
    if (!bearer?.[1]) return invalid;
    const providerToken = bearer[1];
    const decoded = decodeJwt(providerToken);
    if (!decoded) return invalid;
    const { kid } = decoded.header;
    const { iss, iat } = decoded.payload;
    if (typeof kid !== "string" || typeof iss !== "string" || typeof iat !== "number") return invalid;
    const trusted = this.keys.get(kid);
    if (!trusted || trusted.teamId !== iss) return invalid;
    if (!verifyJwtSignature(decoded, trusted.publicKey, "ES256")) return invalid;
    const nowSeconds = Math.floor(this.now() / 1000);
    if (iat > nowSeconds + FUTURE_SKEW_SECONDS) return invalid;
    const expired = { refusal: { status: 403, reason: "ExpiredProviderToken" } };
    if (nowSeconds - iat > TOKEN_MAX_AGE_SECONDS || this.expiredTokens.has(providerToken)) return expired;
    if (this.expireNextToken) {
      this.expireNextToken = false;
      this.expiredTokens.add(providerToken);
      return expired;
    }
    return { jwt: { kid, iss, iat } };
  }

  private checkRequest(request: FakeHttpRequest, token: string, apnsId: string): Refusal | undefined {
    const { headers } = request;
    const topic = headers["apns-topic"];
    if (topic === undefined || topic === "") return { status: 400, reason: "MissingTopic" };
    const voipTopic = topic.endsWith(".voip");
    const bundle = voipTopic ? topic.slice(0, -".voip".length) : topic;
    if (!this.topics.has(bundle)) return { status: 400, reason: "TopicDisallowed" };
    const pushType = headers["apns-push-type"] ?? "alert";
    if (!PUSH_TYPES.has(pushType)) return { status: 400, reason: "InvalidPushType" };
    if ((pushType === "voip") !== voipTopic) return { status: 400, reason: "InvalidPushType" };
    const priority = headers["apns-priority"];
    if (priority !== undefined && !["10", "5", "1"].includes(priority)) return { status: 400, reason: "BadPriority" };
    if (pushType === "background" && priority === "10") return { status: 400, reason: "BadPriority" };
    const expiration = headers["apns-expiration"];
    if (expiration !== undefined && !/^\d{1,12}$/.test(expiration)) return { status: 400, reason: "BadExpirationDate" };
    const offeredId = headers["apns-id"];
    if (offeredId !== undefined && offeredId !== apnsId && !UUID.test(offeredId))
      return { status: 400, reason: "BadMessageId" };
    const collapseId = headers["apns-collapse-id"];
    if (collapseId !== undefined && Buffer.byteLength(collapseId) > 64) return { status: 400, reason: "BadCollapseId" };
    if (request.bodyBytes === 0) return { status: 400, reason: "PayloadEmpty" };
    if (request.bodyBytes > (pushType === "voip" ? VOIP_BODY_LIMIT : BODY_LIMIT))
      return { status: 413, reason: "PayloadTooLarge" };
    if (!isJsonObject(request.body)) return { status: 400, reason: "BadPayload" };
    if (this.options.hexTokensOnly !== false && !/^[0-9a-fA-F]+$/.test(token))
      return { status: 400, reason: "BadDeviceToken" };
    return undefined;
  }

  private programmed(environment: ApnsEnvironmentName, token: string): Refusal | undefined {
    const list = this.failures.get(token);
    const failure = list?.find(
      (candidate) => candidate.remaining > 0 && (candidate.environment ?? environment) === environment,
    );
    if (!list || !failure) return undefined;
    failure.remaining -= 1;
    if (failure.remaining <= 0) list.splice(list.indexOf(failure), 1);
    return {
      status: failure.status,
      reason: failure.reason,
      ...(failure.timestamp !== undefined ? { timestamp: failure.timestamp } : {}),
      ...(failure.retryAfter !== undefined ? { retryAfter: failure.retryAfter } : {}),
    };
  }
}
