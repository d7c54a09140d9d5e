import type { PushNotification } from "../domain/notification";
import type { PushOutcome } from "../domain/outcome";
import { type MetricLabels, OTHER_LABEL, OUTCOME_REASONS, type OutcomeReason } from "../ports/metrics";
import type { PublishReply } from "./publish";

const CODES: ReadonlySet<string> = new Set(OUTCOME_REASONS);

/**
 * What the gateway itself says in an outcome's reason, in the order they are tried: each becomes one
 * label, whatever text (an error message, an app id) follows it.
 */
const OWN_REASONS: readonly (readonly [RegExp, OutcomeReason])[] = [
  [/^no answer within|^SNS did not answer in time/, "timeout"],
  [/^(?:SNS )?network error/, "network"],
  [/^push budget spent/, "budget-spent"],
  [/^FCM OAuth/, "oauth"],
  [/ of \d+ bytes is over \d+$/, "too-large"],
  [/^no \S+ provider for app /, "no-provider"],
  [/^no SNS platform application /, "no-sns-application"],
  [/^SNS platform application not found/, "sns-application-not-found"],
  [/^SNS refused the /, "endpoint-refused"],
  [/^the endpoint has too many registrations/, "endpoint-full"],
];

/** A provider's answer as its provider writes it: `APNs 410 Unregistered`, `FCM 404 UNREGISTERED: …`. */
const PROVIDER_ANSWER = /^(?:APNs|FCM|SNS) ([1-5])\d\d(?: ([A-Za-z_]+))?/;

/**
 * The reason label of an outcome (docs/operations.md section 2): `none` for a delivery, the provider's
 * own code when it is a documented one (`Unregistered`, `UNREGISTERED`, `EndpointDisabled`), what the
 * gateway saw (`timeout`, `network`, `too-large`, …), `http-4xx` or `http-5xx` for an unknown code,
 * else `other`. Never a part of the reason's free text.
 */
export function outcomeReason(outcome: PushOutcome): OutcomeReason {
  if (outcome.kind === "delivered") return "none";
  const text = outcome.reason;
  for (const [pattern, label] of OWN_REASONS) if (pattern.test(text)) return label;
  const answer = PROVIDER_ANSWER.exec(text);
  if (answer === null) return OTHER_LABEL;
  const [, statusClass, code = ""] = answer;
  if (CODES.has(code)) return code as OutcomeReason;
  return statusClass === "5" ? "http-5xx" : statusClass === "4" ? "http-4xx" : OTHER_LABEL;
}

/** The dialect label of a publish (docs/protocol.md section 4): Tigase encrypted, a summary, or empty. */
export function publishDialect(notification: PushNotification): MetricLabels<"publishes">["dialect"] {
  if (notification.encrypted !== undefined) return "encrypted";
  const { messageCount, pendingSubscriptionCount, sender, body, nickname, jingle } = notification;
  const said = [messageCount, pendingSubscriptionCount, sender, body, nickname, jingle];
  return said.some((value) => value !== undefined) ? "summary" : "empty";
}

/** The reply label of a publish (docs/protocol.md section 5): `result`, `item-not-found`, `forbidden` or `wait`. */
export function publishReplyLabel(reply: PublishReply): MetricLabels<"publishes">["reply"] {
  if (reply.kind === "result") return "result";
  if (reply.error.type === "wait") return "wait";
  return reply.error.condition === "forbidden" ? "forbidden" : "item-not-found";
}
