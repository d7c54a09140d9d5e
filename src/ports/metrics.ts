import type { PushOutcomeKind } from "../domain/outcome";
import { type IdentityStyle, PROVIDER_IDS, type RegistrationOrigin } from "../domain/registration";

/**
 * What any label value outside its closed set becomes: a label never carries a JID, a token, a node or
 * free text, whatever a caller hands over (docs/operations.md section 2).
 */
export const OTHER_LABEL = "other";

const OUTCOME_KINDS = [
  "delivered",
  "token-dead",
  "retry-later",
  "payload-rejected",
  "misconfigured",
  "rejected",
] as const satisfies readonly PushOutcomeKind[];
/** Fails to compile when an outcome kind is missing from {@link OUTCOME_KINDS}. */
const everyOutcomeKind: Exclude<PushOutcomeKind, (typeof OUTCOME_KINDS)[number]> extends never ? true : never = true;
void everyOutcomeKind;

/**
 * The reason label of a provider outcome: the provider's own code when it is one of those its
 * documentation lists (APNs `reason`, FCM `errorCode` or `error.status`, SNS error code), else what
 * the gateway itself saw. `none` for a delivery.
 * @see https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
 * @see https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors
 */
export const OUTCOME_REASONS = [
  "none",
  // What the gateway saw before or instead of a provider's answer.
  "timeout",
  "network",
  "budget-spent",
  "too-large",
  "oauth",
  "no-provider",
  "no-sns-application",
  "sns-application-not-found",
  "endpoint-refused",
  "endpoint-full",
  "http-4xx",
  "http-5xx",
  // APNs reasons.
  "BadCollapseId",
  "BadDeviceToken",
  "BadExpirationDate",
  "BadMessageId",
  "BadPriority",
  "BadTopic",
  "DeviceTokenNotForTopic",
  "DuplicateHeaders",
  "IdleTimeout",
  "InvalidPushType",
  "MissingDeviceToken",
  "MissingTopic",
  "PayloadEmpty",
  "TopicDisallowed",
  "BadCertificate",
  "BadCertificateEnvironment",
  "ExpiredProviderToken",
  "Forbidden",
  "InvalidProviderToken",
  "MissingProviderToken",
  "BadPath",
  "MethodNotAllowed",
  "Unregistered",
  "ExpiredToken",
  "PayloadTooLarge",
  "TooManyProviderTokenUpdates",
  "TooManyRequests",
  "InternalServerError",
  "ServiceUnavailable",
  "Shutdown",
  // FCM error codes and Google RPC statuses.
  "UNSPECIFIED_ERROR",
  "INVALID_ARGUMENT",
  "UNREGISTERED",
  "SENDER_ID_MISMATCH",
  "QUOTA_EXCEEDED",
  "UNAVAILABLE",
  "INTERNAL",
  "THIRD_PARTY_AUTH_ERROR",
  "NOT_FOUND",
  "PERMISSION_DENIED",
  "UNAUTHENTICATED",
  "RESOURCE_EXHAUSTED",
  "DEADLINE_EXCEEDED",
  // SNS error codes.
  "EndpointDisabled",
  "InvalidParameter",
  "NotFound",
  "AuthorizationError",
  "AccessDenied",
  "AccessDeniedException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "MissingAuthenticationToken",
  "UnrecognizedClientException",
  "InvalidSecurity",
  "PlatformApplicationDisabled",
  "KMSAccessDenied",
  "KMSDisabled",
  "KMSInvalidState",
  "KMSNotFound",
  "KMSOptInRequired",
  "OptInRequired",
  "Throttling",
  "ThrottlingException",
  "Throttled",
  "ThrottledException",
  "KMSThrottling",
  "RequestLimitExceeded",
  "InternalError",
  "InternalFailure",
  OTHER_LABEL,
] as const;

export type OutcomeReason = (typeof OUTCOME_REASONS)[number];

const STYLES = ["token", "device"] as const satisfies readonly IdentityStyle[];
const ORIGINS = ["xmpp", "rest"] as const satisfies readonly RegistrationOrigin[];
const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The closed value set of each label of a metric. */
type LabelSets = Readonly<Record<string, readonly string[]>>;

interface MetricDefinition {
  readonly kind: "counter" | "histogram" | "gauge";
  /** The Prometheus name; Analytics Engine and CloudWatch names are the runtimes' (docs/operations.md). */
  readonly name: string;
  readonly help: string;
  readonly labels: LabelSets;
  /** Histograms: bucket upper bounds in seconds. */
  readonly buckets?: readonly number[];
}

/**
 * Every metric of the gateway, defined once (docs/operations.md section 1): its kind, its name, and the
 * closed set of values of each label. Histograms observe seconds. The runtimes export them their own
 * way (Prometheus on Node, Analytics Engine on Workers, CloudWatch EMF on Lambda).
 */
export const METRICS = {
  publishes: {
    kind: "counter",
    name: "xmpp_push_publishes_total",
    help: "Publishes answered, by notification dialect and XMPP reply (docs/protocol.md sections 4 and 5).",
    labels: {
      dialect: ["summary", "encrypted", "empty"],
      reply: ["result", "item-not-found", "forbidden", "wait"],
    },
  },
  publishSeconds: {
    kind: "histogram",
    name: "xmpp_push_publish_seconds",
    help: "Time from a publish's arrival at the use case to its reply, by reply.",
    labels: { reply: ["result", "item-not-found", "forbidden", "wait"] },
    buckets: [0.005, 0.01, ...LATENCY_BUCKETS, 25],
  },
  providerOutcomes: {
    kind: "counter",
    name: "xmpp_push_provider_outcomes_total",
    help: "What each push sent to a provider came to, by provider, delivery route, outcome and reason.",
    labels: {
      provider: PROVIDER_IDS,
      route: ["direct", "sns", "none"],
      outcome: OUTCOME_KINDS,
      reason: OUTCOME_REASONS,
    },
  },
  providerSeconds: {
    kind: "histogram",
    name: "xmpp_push_provider_request_seconds",
    help: "Time one push took at its provider (token mint included when one was needed), by outcome.",
    labels: { provider: PROVIDER_IDS, route: ["direct", "sns", "none"], outcome: OUTCOME_KINDS },
    buckets: LATENCY_BUCKETS,
  },
  providerTokenMints: {
    kind: "counter",
    name: "xmpp_push_provider_token_mints_total",
    help: "Provider credentials minted (APNs provider token, FCM access token), and mints that failed.",
    labels: { provider: PROVIDER_IDS, result: ["minted", "failed"] },
  },
  registrations: {
    kind: "counter",
    name: "xmpp_push_registrations_total",
    help: "Registrations created or refreshed, by identity style and origin.",
    labels: { style: STYLES, origin: ORIGINS, event: ["created", "refreshed"] },
  },
  registrationRemovals: {
    kind: "counter",
    name: "xmpp_push_registration_removals_total",
    help: "Registrations deleted, by identity style and why.",
    labels: { style: STYLES, reason: ["unregistered", "token-dead", "token-dead-shared", "route-refused"] },
  },
  rateLimited: {
    kind: "counter",
    name: "xmpp_push_rate_limited_total",
    help: "Requests refused with 429 by the per-client limit, by route pattern.",
    labels: {
      route: [
        "/v1/registrations",
        "/v1/registrations/*",
        "/unregister-device/*",
        "/rest/push/unregister-device/*",
        "/health",
        "/metrics",
      ],
    },
  },
  storeFailures: {
    kind: "counter",
    name: "xmpp_push_store_failures_total",
    help: "Registration store operations that threw, by operation.",
    labels: {
      operation: [
        "get",
        "find",
        "register",
        "update",
        "delete",
        "endpoint-attach",
        "endpoint-detach",
        "endpoint-users",
      ],
    },
  },
  bridgeConnected: {
    kind: "gauge",
    name: "xmpp_push_bridge_connected",
    help: "1 while the XEP-0114 component is connected and authenticated to the XMPP server, else 0.",
    labels: {},
  },
  bridgeReconnects: {
    kind: "counter",
    name: "xmpp_push_bridge_reconnects_total",
    help: "Reconnections the component scheduled after losing or failing to open its stream.",
    labels: {},
  },
} as const satisfies Readonly<Record<string, MetricDefinition>>;

export type MetricName = keyof typeof METRICS;
type NamesOf<Kind extends MetricDefinition["kind"]> = {
  [K in MetricName]: (typeof METRICS)[K]["kind"] extends Kind ? K : never;
}[MetricName];
export type CounterName = NamesOf<"counter">;
export type HistogramName = NamesOf<"histogram">;
export type GaugeName = NamesOf<"gauge">;

/** The labels of one sample of `K`: each from its closed set. */
export type MetricLabels<K extends MetricName> = {
  readonly [L in keyof (typeof METRICS)[K]["labels"]]: (typeof METRICS)[K]["labels"][L] extends readonly (infer V)[]
    ? V
    : never;
};

/**
 * Where the use cases report what happened (docs/operations.md): counters, histograms in seconds and
 * gauges of {@link METRICS}. Never throws; an implementation passes every label through
 * {@link closedLabels} before it keeps or exports it.
 */
export interface Metrics {
  /** Adds `by` (default 1) to a counter. */
  count<K extends CounterName>(metric: K, labels: MetricLabels<K>, by?: number): void;
  /** Records one observation of a histogram, in seconds. */
  observe<K extends HistogramName>(metric: K, labels: MetricLabels<K>, seconds: number): void;
  /** Sets a gauge. */
  set<K extends GaugeName>(metric: K, labels: MetricLabels<K>, value: number): void;
}

/** Metrics that go nowhere (tests, and runtimes that export none). */
export const NO_METRICS: Metrics = { count() {}, observe() {}, set() {} };

/**
 * The labels of a sample of `metric` as they may be exported: exactly the metric's label names, each
 * value kept only if it is in its closed set and {@link OTHER_LABEL} otherwise.
 */
export function closedLabels(metric: MetricName, labels: object): Record<string, string> {
  const sets: LabelSets = METRICS[metric].labels;
  const given = labels as Readonly<Record<string, unknown>>;
  const closed: Record<string, string> = {};
  for (const [name, values] of Object.entries(sets)) {
    const value = given[name];
    closed[name] = typeof value === "string" && values.includes(value) ? value : OTHER_LABEL;
  }
  return closed;
}

/** The closed value set of one label of a metric, {@link OTHER_LABEL} included. */
export function labelValues(metric: MetricName, label: string): readonly string[] {
  const sets: LabelSets = METRICS[metric].labels;
  const values = sets[label] ?? [];
  return values.includes(OTHER_LABEL) ? values : [...values, OTHER_LABEL];
}
