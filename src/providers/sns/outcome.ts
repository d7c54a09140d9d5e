import type { PushOutcome } from "../../domain/outcome";
import type { SnsFailure } from "../../ports/sns";

/**
 * SNS error codes that mean the gateway's own AWS set-up is wrong (credentials, policy, a disabled or
 * missing platform application, the KMS key of an encrypted topic): never the user's fault.
 * @see https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors
 * @see https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html
 */
export const SNS_MISCONFIGURED_CODES: ReadonlySet<string> = new Set([
  "AuthorizationError",
  "AccessDenied",
  "AccessDeniedException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "MissingAuthenticationToken",
  "UnrecognizedClientException",
  "ExpiredToken",
  "InvalidSecurity",
  "PlatformApplicationDisabled",
  "KMSAccessDenied",
  "KMSDisabled",
  "KMSInvalidState",
  "KMSNotFound",
  "KMSOptInRequired",
  "OptInRequired",
]);

/** Codes SNS uses when it sheds load; with every 5xx they are transient. */
export const SNS_TRANSIENT_CODES: ReadonlySet<string> = new Set([
  "Throttling",
  "ThrottlingException",
  "Throttled",
  "ThrottledException",
  "KMSThrottling",
  "RequestLimitExceeded",
  "ServiceUnavailable",
  "InternalError",
  "InternalFailure",
]);

/** SNS's words when a platform's payload is over its limit (`InvalidParameter`). */
const TOO_LONG = /too long|too large|exceed|maximum (?:allowed )?(?:size|length)/i;

/**
 * Maps what SNS said at once about a `Publish` (docs/protocol.md 6.3 and section 5). SNS accepts and
 * delivers later, so Apple's and Google's own answers never come back: only `EndpointDisabled` (a token
 * that Apple or Google rejected before) says the token is dead; a size refusal is the fallback push;
 * throttling, 5xx, timeouts and network errors are transient; the gateway's own AWS faults are loud.
 * `NotFound` for an endpoint is handled before this (the endpoint is made again).
 * @param resource the ledger key of the endpoint published to, for the route's `tokenDead` hook
 * @see https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors
 */
export function snsOutcome(failure: SnsFailure, resource: string): PushOutcome {
  if (failure.kind === "timeout") return { kind: "retry-later", reason: "SNS did not answer in time" };
  if (failure.kind === "network")
    return { kind: "retry-later", reason: `SNS network error: ${failure.reason.slice(0, 120)}` };
  const reason = `SNS ${failure.status} ${failure.code}: ${failure.message.slice(0, 160)}`;
  if (failure.code === "EndpointDisabled") return { kind: "token-dead", reason, resource };
  if (failure.code === "InvalidParameter" && TOO_LONG.test(failure.message))
    return { kind: "payload-rejected", reason };
  if (SNS_TRANSIENT_CODES.has(failure.code) || failure.status >= 500 || failure.status === 429)
    return { kind: "retry-later", reason };
  if (SNS_MISCONFIGURED_CODES.has(failure.code) || failure.status === 401 || failure.status === 403)
    return { kind: "misconfigured", reason };
  return { kind: "rejected", reason };
}
