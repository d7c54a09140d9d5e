import type { PushOutcomeKind } from "../../domain/outcome";

/** What an APNs refusal means for the push; `delivered` is never a refusal. */
export type ApnsDisposition = Exclude<PushOutcomeKind, "delivered">;

interface ApnsReasonRule {
  /** The HTTP status Apple documents with the reason. */
  readonly status: number;
  readonly disposition: ApnsDisposition;
  /** One line on why it is classified so. */
  readonly why: string;
  /** Apple's documentation of the reason; required on every dead-token entry. */
  readonly see?: string;
}

const RESPONSES_DOC =
  "https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns";

/**
 * Every `reason` APNs may answer, classified by docs/protocol.md section 5 (which wins over the
 * fixture's `token_disposition` hints). `BadDeviceToken` is dead only after the one sandbox retry and
 * `ExpiredProviderToken` a misconfiguration only after the one re-mint: the provider does both first.
 * @see https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
 */
export const APNS_REASONS = {
  BadCollapseId: { status: 400, disposition: "rejected", why: "our apns-collapse-id is too long" },
  BadDeviceToken: {
    status: 400,
    disposition: "token-dead",
    why: "the token is malformed or belongs to the other environment; dead once the sandbox was tried too",
    see: RESPONSES_DOC,
  },
  BadExpirationDate: { status: 400, disposition: "rejected", why: "our apns-expiration is bad" },
  BadMessageId: { status: 400, disposition: "rejected", why: "our apns-id is bad" },
  BadPriority: { status: 400, disposition: "rejected", why: "our apns-priority is bad" },
  BadTopic: { status: 400, disposition: "misconfigured", why: "the configured topic (bundle id) is invalid" },
  DeviceTokenNotForTopic: {
    status: 400,
    disposition: "token-dead",
    why: "the token belongs to another app: it will never work for this topic",
    see: RESPONSES_DOC,
  },
  DuplicateHeaders: { status: 400, disposition: "rejected", why: "we repeated a header" },
  IdleTimeout: { status: 400, disposition: "retry-later", why: "the connection sat idle; a new request works" },
  InvalidPushType: { status: 400, disposition: "rejected", why: "our apns-push-type is invalid" },
  MissingDeviceToken: { status: 400, disposition: "rejected", why: "the request path had no token" },
  MissingTopic: { status: 400, disposition: "misconfigured", why: "no topic: the app's topic is not configured" },
  PayloadEmpty: { status: 400, disposition: "rejected", why: "we sent an empty body" },
  TopicDisallowed: { status: 400, disposition: "misconfigured", why: "the key may not push to the configured topic" },
  BadCertificate: { status: 403, disposition: "misconfigured", why: "the gateway's credentials are bad" },
  BadCertificateEnvironment: {
    status: 403,
    disposition: "misconfigured",
    why: "the gateway's credentials are for the other environment",
  },
  ExpiredProviderToken: {
    status: 403,
    disposition: "misconfigured",
    why: "still expired after one re-mint: the clock or the key is wrong",
  },
  Forbidden: { status: 403, disposition: "misconfigured", why: "Apple refuses the action to our credentials" },
  InvalidProviderToken: {
    status: 403,
    disposition: "misconfigured",
    why: "the key id, team id or key does not verify",
  },
  MissingProviderToken: { status: 403, disposition: "misconfigured", why: "no authorization header was sent" },
  BadPath: { status: 404, disposition: "rejected", why: "our request path is bad" },
  MethodNotAllowed: { status: 405, disposition: "rejected", why: "we did not POST" },
  Unregistered: {
    status: 410,
    disposition: "token-dead",
    why: "the app was removed or stopped taking pushes; the body's timestamp says since when",
    see: RESPONSES_DOC,
  },
  ExpiredToken: {
    status: 410,
    disposition: "token-dead",
    why: "the device token expired; the body's timestamp says since when",
    see: RESPONSES_DOC,
  },
  PayloadTooLarge: { status: 413, disposition: "payload-rejected", why: "the body is over 4096 (VoIP 5120) bytes" },
  TooManyProviderTokenUpdates: {
    status: 429,
    disposition: "retry-later",
    why: "the provider token was minted too often; the cached one will do",
  },
  TooManyRequests: { status: 429, disposition: "retry-later", why: "too many pushes to this token just now" },
  InternalServerError: { status: 500, disposition: "retry-later", why: "Apple's own failure" },
  ServiceUnavailable: { status: 503, disposition: "retry-later", why: "Apple is overloaded" },
  Shutdown: { status: 503, disposition: "retry-later", why: "the APNs server is shutting down" },
} as const satisfies Record<string, ApnsReasonRule>;

export type ApnsReason = keyof typeof APNS_REASONS;

/** Whether a text is a reason of {@link APNS_REASONS}. */
export function isApnsReason(reason: string): reason is ApnsReason {
  return Object.hasOwn(APNS_REASONS, reason);
}

/**
 * Classifies an APNs refusal: by its reason when Apple gave a known one, else by the HTTP status
 * (410 dead, 413 too large, 429 and 5xx transient, any other status rejected).
 * @see https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
 */
export function apnsDisposition(status: number, reason: string | undefined): ApnsDisposition {
  if (reason !== undefined && isApnsReason(reason)) return APNS_REASONS[reason].disposition;
  if (status === 410) return "token-dead";
  if (status === 413) return "payload-rejected";
  if (status === 429 || status >= 500) return "retry-later";
  return "rejected";
}
