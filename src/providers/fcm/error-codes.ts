import type { PushOutcomeKind } from "../../domain/outcome";
import { isJsonObject, parseJsonObject } from "../json-body";

/** What an FCM refusal means for the push; `delivered` is never a refusal. */
export type FcmDisposition = Exclude<PushOutcomeKind, "delivered">;

interface FcmCodeRule {
  /** The HTTP status Google documents with the code, when it documents one. */
  readonly http: number | null;
  readonly disposition: FcmDisposition;
  /** One line on why it is classified so. */
  readonly why: string;
  /** Google's documentation of the code; required on every dead-token entry. */
  readonly see?: string;
}

const ERROR_CODE_DOC = "https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode";

/**
 * Every FcmError `errorCode` of the HTTP v1 API, classified by docs/protocol.md section 5 (which wins
 * over the fixture's hints). `INVALID_ARGUMENT` is dead only with an FcmError detail and no
 * `google.rpc.BadRequest` detail; {@link classifyFcmError} applies that rule.
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
 */
export const FCM_ERROR_CODES = {
  UNSPECIFIED_ERROR: { http: null, disposition: "rejected", why: "Google gave no more information" },
  INVALID_ARGUMENT: {
    http: 400,
    disposition: "token-dead",
    why: "with an FcmError detail and no BadRequest detail it is the token that is malformed",
    see: ERROR_CODE_DOC,
  },
  UNREGISTERED: {
    http: 404,
    disposition: "token-dead",
    why: "the app instance unregistered or the token expired: it will never work again",
    see: ERROR_CODE_DOC,
  },
  SENDER_ID_MISMATCH: {
    http: 403,
    disposition: "token-dead",
    why: "the token belongs to another sender (project): this gateway can never reach it",
    see: ERROR_CODE_DOC,
  },
  QUOTA_EXCEEDED: { http: 429, disposition: "retry-later", why: "a sending limit was hit; Retry-After says when" },
  UNAVAILABLE: { http: 503, disposition: "retry-later", why: "FCM is overloaded" },
  INTERNAL: { http: 500, disposition: "retry-later", why: "FCM's own failure" },
  THIRD_PARTY_AUTH_ERROR: {
    http: 401,
    disposition: "misconfigured",
    why: "the APNs credentials in the Firebase project are missing or invalid",
  },
} as const satisfies Record<string, FcmCodeRule>;

export type FcmErrorCode = keyof typeof FCM_ERROR_CODES;

/**
 * The canonical `error.status` values FCM answers with, for errors without an FcmError detail.
 * @see https://cloud.google.com/apis/design/errors#handling_errors
 */
export const GOOGLE_RPC_STATUSES = {
  INVALID_ARGUMENT: { disposition: "rejected", why: "without an FcmError detail the message is what is bad" },
  NOT_FOUND: { disposition: "rejected", why: "without UNREGISTERED it may be the project path: keep the token" },
  PERMISSION_DENIED: { disposition: "misconfigured", why: "the service account may not send for this project" },
  UNAUTHENTICATED: { disposition: "misconfigured", why: "the access token was refused" },
  RESOURCE_EXHAUSTED: { disposition: "retry-later", why: "a quota was hit" },
  UNAVAILABLE: { disposition: "retry-later", why: "FCM is overloaded" },
  INTERNAL: { disposition: "retry-later", why: "FCM's own failure" },
  DEADLINE_EXCEEDED: { disposition: "retry-later", why: "FCM did not finish in time" },
} as const satisfies Record<string, { readonly disposition: FcmDisposition; readonly why: string }>;

export type GoogleRpcStatus = keyof typeof GOOGLE_RPC_STATUSES;

const FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest";
const TOO_BIG = /too (big|large)/i;

/** How an FCM refusal was classified, and by what. */
export interface FcmErrorClassification {
  readonly disposition: FcmDisposition;
  /** The FcmError code, else the status, else `HTTP <status>`. */
  readonly code: string;
  readonly message?: string;
}

function parseError(body: string): Record<string, unknown> {
  const { error } = parseJsonObject(body);
  return isJsonObject(error) ? error : {};
}

function hasOwnKey<T extends object>(table: T, key: string): key is Extract<keyof T, string> {
  return Object.hasOwn(table, key);
}

function saysTooBig(message: string | undefined, details: readonly Record<string, unknown>[]): boolean {
  if (message !== undefined && TOO_BIG.test(message)) return true;
  return details.some((detail) => {
    const violations = Array.isArray(detail.fieldViolations) ? detail.fieldViolations : [];
    return violations.some((violation) => isJsonObject(violation) && TOO_BIG.test(String(violation.description ?? "")));
  });
}

function byHttpStatus(status: number): FcmDisposition {
  if (status === 413) return "payload-rejected";
  if (status === 429 || status >= 500) return "retry-later";
  if (status === 401 || status === 403) return "misconfigured";
  return "rejected";
}

/**
 * Classifies an FCM v1 error response: by the FcmError detail's `errorCode` first, then by
 * `error.status`, then by the HTTP status (`SENDER_ID_MISMATCH` is a 403 that means a dead token, not
 * a misconfiguration). `INVALID_ARGUMENT` is a dead token only with an FcmError detail and no
 * BadRequest detail, and a payload refusal whenever it says the message is too big.
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
 */
export function classifyFcmError(status: number, body: string): FcmErrorClassification {
  const error = parseError(body);
  const message = typeof error.message === "string" ? error.message : undefined;
  const details = (Array.isArray(error.details) ? error.details : []).filter(isJsonObject);
  const fcmDetail = details.find((detail) => detail["@type"] === FCM_ERROR_TYPE);
  const hasBadRequest = details.some((detail) => detail["@type"] === BAD_REQUEST_TYPE);
  const errorCode = typeof fcmDetail?.errorCode === "string" ? fcmDetail.errorCode : undefined;
  const rpcStatus = typeof error.status === "string" ? error.status : undefined;
  const withMessage = message !== undefined ? { message } : {};
  if ((errorCode ?? rpcStatus) === "INVALID_ARGUMENT" && saysTooBig(message, details))
    return { disposition: "payload-rejected", code: "INVALID_ARGUMENT", ...withMessage };
  if (errorCode !== undefined && hasOwnKey(FCM_ERROR_CODES, errorCode)) {
    const disposition =
      errorCode === "INVALID_ARGUMENT" && hasBadRequest ? "rejected" : FCM_ERROR_CODES[errorCode].disposition;
    return { disposition, code: errorCode, ...withMessage };
  }
  if (rpcStatus !== undefined && hasOwnKey(GOOGLE_RPC_STATUSES, rpcStatus))
    return { disposition: GOOGLE_RPC_STATUSES[rpcStatus].disposition, code: rpcStatus, ...withMessage };
  return { disposition: byHttpStatus(status), code: errorCode ?? rpcStatus ?? `HTTP ${status}`, ...withMessage };
}
