import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context as LambdaInvocationContext,
} from "aws-lambda";
import { type APIGatewayProxyResult, handle, type LambdaEvent } from "hono/aws-lambda";
import { ConfigError, type ConfigSource, type GatewayConfig, isRecord } from "../config";
import type { ClientAddress } from "../http/rate-limit";
import { jsonLogger, type Logger } from "../log";
import type { CredentialCache, HttpTransport } from "../ports";
import type { RegistrationStore } from "../ports/store";
import { MemoryCredentialCache } from "../providers";
import { createSnsRoute } from "../providers/sns/route";
import { DynamoDbRegistrationStore } from "../store/dynamodb";
import { awsClientConfig, requiredVariable } from "./aws-config";
import { emfLines } from "./emf-metrics";
import { buildGateway, buildOnce } from "./gateway";
import { Http2Transport } from "./http2-transport";
import { MemoryRateLimiter } from "./memory-rate-limiter";
import { MetricBatch } from "./metric-batch";
import { snsClientsFromEnv } from "./sns-sdk";

/**
 * The event of both HTTP sources this handler serves, which share one shape: a Lambda Function URL
 * and an API Gateway HTTP API integration with payload format 2.0.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
 */
export type LambdaHttpEvent = APIGatewayProxyEventV2;
/** What the handler answers: the structured payload 2.0 response (status, headers, body, cookies). */
export type LambdaHttpResult = APIGatewayProxyStructuredResultV2;
/** The handler Lambda invokes (async form: Lambda waits for the promise, not for the event loop). */
export type LambdaHttpHandler = (
  event: LambdaHttpEvent,
  context?: LambdaInvocationContext,
) => Promise<LambdaHttpResult>;

/** The environment as Lambda hands it over (`process.env`). */
export type LambdaEnv = Readonly<Record<string, string | undefined>>;

/**
 * Sessions to APNs and FCM idle longer than this are not trusted: a container may have been frozen in
 * between (no PING ran, the peer or a NAT may have dropped the connection silently). Equal to the
 * PING interval of the {@link Http2Transport} it wraps, so a session is reused exactly as long as it
 * would have been checked by a PING on a server that never sleeps.
 */
export const STALE_SESSION_MS = 60_000;

/** The container's transports by default: HTTP/2 sessions that PING at the staleness interval. */
const DEFAULT_CREATE = (): ClosableTransport => new Http2Transport({ pingIntervalMs: STALE_SESSION_MS });

/** The part of {@link Http2Transport} the container transport uses (tests give a counting fake). */
export interface ClosableTransport {
  readonly fetch: HttpTransport;
  close(): Promise<void>;
}

/**
 * The providers' transport of one Lambda container: one {@link Http2Transport} (one HTTP/2 session per
 * origin) reused by every invocation, replaced by a fresh one before the first request after an idle
 * gap of `staleAfterMs`. While a container is frozen between invocations no timer runs, so the
 * transport's PINGs never find a dead session; a request on such a session would wait for its whole
 * timeout. Starting over after the gap costs one TLS handshake, never the publish's budget. The old
 * transport is closed (its sessions are idle, so at once). The transport's own timers are `unref()`'d.
 */
export class ContainerTransport {
  /** Enforces each request's `timeoutMs` when the transports it makes do (Http2Transport does). */
  readonly fetch: HttpTransport;
  #current: ClosableTransport | undefined;
  #lastUse = Number.NEGATIVE_INFINITY;
  #inFlight = 0;
  #renewals = 0;

  constructor(
    private readonly create: () => ClosableTransport = DEFAULT_CREATE,
    private readonly staleAfterMs: number = STALE_SESSION_MS,
    private readonly now: () => number = Date.now,
    enforcesTimeout = create === DEFAULT_CREATE,
  ) {
    const request: HttpTransport = (url, init) => this.#request(url, init);
    this.fetch = enforcesTimeout ? Object.assign(request, { enforcesTimeout: true as const }) : request;
  }

  /** Transports made so far (a new one after every idle gap). */
  get renewals(): number {
    return this.#renewals;
  }

  /** Closes the current transport (tests; Lambda itself never says goodbye). */
  async close(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    await current?.close();
  }

  async #request(url: string, init: Parameters<HttpTransport>[1]) {
    const now = this.now();
    if (this.#current === undefined || (this.#inFlight === 0 && now - this.#lastUse >= this.staleAfterMs)) {
      const stale = this.#current;
      this.#current = this.create();
      this.#renewals += 1;
      void stale?.close().catch(() => undefined);
    }
    const transport = this.#current;
    this.#inFlight += 1;
    this.#lastUse = now;
    try {
      return await transport.fetch(url, init);
    } finally {
      this.#inFlight -= 1;
      this.#lastUse = this.now();
    }
  }
}

/** Reused by every invocation of this container: the HTTP/2 sessions and the providers' tokens. */
const containerTransport = new ContainerTransport();
const containerCredentials = new MemoryCredentialCache(Date.now);

/**
 * Writes one line to stdout directly, not through `console.log`: Lambda's console adds its own prefix
 * (or, with JSON logs, wraps the line in a `message`), and CloudWatch then reads no embedded metrics.
 * Synchronous on Lambda (stdout is a pipe on Linux), so every line is out before the handler returns.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Generation.html
 */
function writeStdoutLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

export interface LambdaHandlerOptions {
  /** The variables of docs/protocol.md section 8; default `process.env`, read at the first invocation. */
  readonly env?: LambdaEnv;
  /** The providers' transport; default this container's {@link ContainerTransport}. */
  readonly transport?: HttpTransport;
  /** The providers' token cache; default this container's memory cache. */
  readonly credentials?: CredentialCache;
  /** Default JSON lines on `console.log` (synchronous on Lambda: written before the handler returns). */
  readonly log?: Logger;
  /** The registration store; default {@link DynamoDbRegistrationStore} over `REGISTRATIONS_TABLE`. */
  readonly store?: (config: GatewayConfig) => RegistrationStore;
  readonly now?: () => number;
  /** Where the CloudWatch EMF lines of each invocation go (docs/operations.md section 5); default stdout. */
  readonly writeMetrics?: (line: string) => void;
}

/**
 * The DynamoDB client of the store: region and credentials passed explicitly from the environment
 * (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so the SDK runs no
 * credential-provider chain; `AWS_ENDPOINT_URL_DYNAMODB` points it elsewhere (tests, DynamoDB Local).
 * @see https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
 * @see https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
 */
export function createDynamoDbClient(env: LambdaEnv): DynamoDBClient {
  return new DynamoDBClient(awsClientConfig(env, "AWS_ENDPOINT_URL_DYNAMODB"));
}

/** Secrets Manager errors that mean the secret named by `PROVIDER_SECRET_ID` cannot be used as configured. */
const SECRET_CONFIG_ERRORS = new Set([
  "ResourceNotFoundException",
  "AccessDeniedException",
  "DecryptionFailure",
  "InvalidParameterException",
  "InvalidRequestException",
  "UnrecognizedClientException",
]);

/**
 * Reads the secret named by `PROVIDER_SECRET_ID` (an id or ARN) once: a JSON object whose members are
 * configuration variables and their string values (`APNS_PRIVATE_KEY`, `FCM_SERVICE_ACCOUNT`,
 * `SERVER_KEY`, …). Anything else is a ConfigError naming `PROVIDER_SECRET_ID`; so is a secret that does
 * not exist or may not be read. `AWS_ENDPOINT_URL_SECRETS_MANAGER` points the client elsewhere (tests).
 * @see https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
 */
export async function readProviderSecret(env: LambdaEnv): Promise<Record<string, string>> {
  const secretId = env.PROVIDER_SECRET_ID?.trim();
  if (secretId === undefined || secretId === "") return {};
  const { SecretsManagerClient, GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
  const client = new SecretsManagerClient(awsClientConfig(env, "AWS_ENDPOINT_URL_SECRETS_MANAGER"));
  let text: string | undefined;
  try {
    text = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    if (error instanceof Error && SECRET_CONFIG_ERRORS.has(error.name))
      throw new ConfigError("PROVIDER_SECRET_ID", `cannot be read: ${error.name}: ${error.message}`);
    throw error;
  } finally {
    client.destroy();
  }
  if (text === undefined) throw new ConfigError("PROVIDER_SECRET_ID", "names a secret without a SecretString");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError("PROVIDER_SECRET_ID", "names a secret that is not JSON");
  }
  if (!isRecord(parsed)) throw new ConfigError("PROVIDER_SECRET_ID", "names a secret that is not a JSON object");
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== "string")
      throw new ConfigError("PROVIDER_SECRET_ID", `names a secret whose ${name} is not a string`);
    values[name] = value;
  }
  return values;
}

/** The secret's values overlaid by the environment's: a variable set (non-empty) in the environment wins. */
function mergeSources(secret: Readonly<Record<string, string>>, env: LambdaEnv): ConfigSource {
  const source: Record<string, unknown> = { ...secret };
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== "") source[name] = value;
  return source;
}

/**
 * The client address the rate limiter counts: `requestContext.http.sourceIp` of the payload 2.0
 * event, which the Function URL or API Gateway fills in from the TCP connection (no header a client
 * could forge).
 */
export const lambdaClientAddress: ClientAddress = (c) => {
  const env: unknown = c.env;
  if (!isRecord(env)) return undefined;
  const context = env.requestContext;
  if (!isRecord(context) || !isRecord(context.http)) return undefined;
  const sourceIp = context.http.sourceIp;
  return typeof sourceIp === "string" && sourceIp !== "" ? sourceIp : undefined;
};

/** The event in the shape `hono/aws-lambda` types it (its payload 2.0 type is stricter than AWS's). */
function toHonoEvent(event: LambdaHttpEvent): LambdaEvent {
  return {
    ...event,
    body: event.body ?? null,
    requestContext: { ...event.requestContext, authentication: null, authorizer: {} },
  };
}

function isPayloadV2(event: unknown): event is LambdaHttpEvent {
  return (
    isRecord(event) &&
    typeof event.rawPath === "string" &&
    isRecord(event.requestContext) &&
    isRecord(event.requestContext.http) &&
    typeof event.requestContext.http.method === "string"
  );
}

function toResult(result: APIGatewayProxyResult): LambdaHttpResult {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  return {
    statusCode: result.statusCode,
    headers,
    body: result.body,
    isBase64Encoded: result.isBase64Encoded,
    ...(result.cookies === undefined ? {} : { cookies: result.cookies }),
  };
}

function plain(status: number, text: string): LambdaHttpResult {
  return {
    statusCode: status,
    headers: { "content-type": "text/plain; charset=UTF-8" },
    body: `${text}\n`,
    isBase64Encoded: false,
  };
}

/**
 * Makes a Lambda handler for Function URL and API Gateway HTTP API (payload 2.0) events over the same
 * app as every runtime ({@link buildGateway} through `hono/aws-lambda`'s `handle`). The configuration
 * is read once, at the first invocation: the environment overlaid on the secret named by
 * `PROVIDER_SECRET_ID`; `SERVER_KEY` is required (no fallback: containers are many and short-lived);
 * registrations live in DynamoDB (`REGISTRATIONS_TABLE`). A bad variable answers every request with a
 * 500 naming it and is logged once, as on Workers. Requests are limited per client by a
 * {@link MemoryRateLimiter} keyed on `requestContext.http.sourceIp`. Each invocation's metrics are written
 * as CloudWatch EMF lines before it returns (docs/operations.md section 5).
 * @see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html
 * @see https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
 * @see https://hono.dev/docs/getting-started/aws-lambda
 */
export function createLambdaHandler(options: LambdaHandlerOptions = {}): LambdaHttpHandler {
  // console.log on Lambda's Node runtime writes synchronously, so every line is out before we return.
  const log = options.log ?? jsonLogger((line) => console.log(line));
  // One invocation at a time per container: what the batch holds after one is that invocation's.
  const metrics = new MetricBatch();
  const writeMetrics = options.writeMetrics ?? writeStdoutLine;
  const flushMetrics = () => {
    try {
      for (const line of emfLines(metrics.drain(), log)) writeMetrics(line);
    } catch (error) {
      log.log("warn", "metrics-not-written", { error: String(error).slice(0, 200) });
    }
  };
  const built = buildOnce(async () => {
    const env = options.env ?? process.env;
    const source = mergeSources(await readProviderSecret(env), env);
    const gateway = await buildGateway(source, {
      store:
        options.store ??
        ((config) =>
          new DynamoDbRegistrationStore(
            createDynamoDbClient(env),
            requiredVariable(env, "REGISTRATIONS_TABLE", "set it to the DynamoDB table of the registrations"),
            { tombstoneTtlSeconds: config.limits.tombstoneTtlSeconds },
          )),
      transport: options.transport ?? containerTransport.fetch,
      credentials: options.credentials ?? containerCredentials,
      log,
      metrics,
      sns: (store, routeLog) =>
        createSnsRoute({ client: snsClientsFromEnv(env), ledger: store.endpoints, log: routeLog }),
      ...(options.now === undefined ? {} : { now: options.now }),
      http: (config) => ({
        // Per container: each concurrent container counts on its own, so a client spread over N
        // containers gets up to N times RATE_LIMIT_PER_MINUTE (a shared limit needs a shared store).
        rateLimiter: new MemoryRateLimiter({
          ratePerMinute: config.limits.ratePerMinute,
          ...(options.now === undefined ? {} : { now: options.now }),
        }),
        clientAddress: lambdaClientAddress,
      }),
    });
    const serve = handle(gateway.app);
    return { gateway, serve: (event: LambdaEvent) => serve(event) };
  }, log);

  return async (event) => {
    try {
      const result = await built();
      if (!result.ok) return plain(500, result.error.message);
      if (!isPayloadV2(event)) return plain(400, "unsupported event: expected a Function URL or HTTP API 2.0 event");
      return toResult(await result.value.serve(toHonoEvent(event)));
    } finally {
      flushMetrics();
    }
  };
}

/**
 * The Lambda entry (`index.handler` in the bundle `dist/lambda/index.mjs`): configuration from
 * `process.env`, parsed once per container; the HTTP/2 sessions and provider tokens kept for the
 * container's life.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html
 */
export const handler: LambdaHttpHandler = createLambdaHandler();
