import type { PushOutcome } from "../../domain/outcome";
import { parseJsonObject } from "../json-body";
import type { ProviderResponse } from "../provider-request";
import { parseRetryAfter } from "../retry-after";
import { apnsDisposition } from "./reasons";

/** What APNs said to one request. */
export interface ApnsAnswer {
  readonly status: number;
  readonly reason?: string;
  /** 410 only: when the token was last known valid, in ms. */
  readonly timestamp?: number;
  readonly retryAfterMs?: number;
}

function readTimestamp(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

/**
 * Reads an APNs response: the `reason` and, for 410, the `timestamp` (milliseconds since the epoch,
 * as Apple documents it) of its JSON body, and `Retry-After` when present.
 * @see https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
 */
export function readApnsAnswer(response: ProviderResponse, nowMs: number): ApnsAnswer {
  const body = parseJsonObject(response.body);
  const reason = typeof body.reason === "string" ? body.reason : undefined;
  const timestamp = readTimestamp(body.timestamp);
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), nowMs);
  return {
    status: response.status,
    ...(reason !== undefined ? { reason } : {}),
    ...(timestamp !== undefined ? { timestamp } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
}

/** Turns an APNs answer into the outcome of the push (docs/protocol.md section 5). */
export function apnsOutcome(answer: ApnsAnswer): PushOutcome {
  if (answer.status >= 200 && answer.status < 300) return { kind: "delivered" };
  const reason = `APNs ${answer.status} ${answer.reason ?? "(no reason)"}`;
  const disposition = apnsDisposition(answer.status, answer.reason);
  switch (disposition) {
    case "token-dead":
      return { kind: disposition, reason, ...(answer.timestamp !== undefined ? { timestamp: answer.timestamp } : {}) };
    case "retry-later":
      return {
        kind: disposition,
        reason,
        ...(answer.retryAfterMs !== undefined ? { retryAfterMs: answer.retryAfterMs } : {}),
      };
    case "payload-rejected":
    case "misconfigured":
    case "rejected":
      return { kind: disposition, reason };
  }
}
