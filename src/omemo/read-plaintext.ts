import { failure, type Result, success } from "../domain/result";
import type { OmemoKeyMaterial } from "./extract";
import { PUSH_TYPES, type PushType } from "./plaintext";

/**
 * A push plaintext as a device receives it. Real servers are less tidy than this project's builder:
 * Tigase server 8.4 writes `null` for `unread` and `sender`, Prosody leaves `type` out for some
 * stanzas and cuts bodies at 255 bytes, nobody but this project writes `omemo`. Missing or
 * ill-typed optional fields are absent here; unknown fields are ignored.
 */
export interface ReceivedPushPlaintext {
  readonly unread: number | null;
  readonly sender: string | null;
  /** Absent when the server wrote none or one this reader does not know. */
  readonly type?: PushType;
  readonly message?: string;
  readonly nickname?: string;
  readonly sid?: string;
  readonly media?: readonly string[];
  /** Absent when missing or malformed. A missing `kex` (seed-only writers) reads as all `false`. */
  readonly omemo?: OmemoKeyMaterial;
}

export interface PlaintextParseError {
  readonly kind: "not-json" | "not-an-object";
  readonly reason: string;
}

type JsonObject = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item): item is string => typeof item === "string") ? value : undefined;
}

function readKex(value: unknown, count: number): boolean[] | undefined {
  if (value === undefined) return Array.from({ length: count }, () => false);
  if (!Array.isArray(value) || value.length !== count) return undefined;
  return value.every((item): item is boolean => typeof item === "boolean") ? value : undefined;
}

function readSid(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return optionalString(value);
}

function readOmemo(value: unknown): OmemoKeyMaterial | undefined {
  if (!isObject(value)) return undefined;
  const keys = stringArray(value.keys);
  const data = optionalString(value.data);
  if (keys === undefined || keys.length === 0 || data === undefined) return undefined;
  const kex = readKex(value.kex, keys.length);
  if (kex === undefined) return undefined;
  return { keys, kex, sid: readSid(value.sid), iv: optionalString(value.iv), data };
}

function readType(value: unknown): PushType | undefined {
  return PUSH_TYPES.find((type) => type === value);
}

/**
 * Reads the JSON a device finds inside an encrypted push, tolerating what real servers emit (see
 * {@link ReceivedPushPlaintext}). Only text that is not JSON, or JSON that is not an object, is refused.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function parsePushPlaintext(json: string): Result<ReceivedPushPlaintext, PlaintextParseError> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return failure({ kind: "not-json", reason: "Push plaintext is not JSON" });
  }
  if (!isObject(value)) return failure({ kind: "not-an-object", reason: "Push plaintext is not a JSON object" });
  const unread = typeof value.unread === "number" && Number.isFinite(value.unread) ? value.unread : null;
  return success({
    unread,
    sender: optionalString(value.sender) ?? null,
    type: readType(value.type),
    message: optionalString(value.message),
    nickname: optionalString(value.nickname),
    sid: readSid(value.sid),
    media: stringArray(value.media),
    omemo: readOmemo(value.omemo),
  });
}
