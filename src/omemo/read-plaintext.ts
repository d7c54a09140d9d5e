import { failure, type Result, success } from "../domain/result";
import { PUSH_TYPES, type PushType } from "./plaintext";

/**
 * The `omemo` object as a device reads it. Unlike what this project's builder writes, `kex` and `sid`
 * may be missing: writers that follow only the seed document leave `kex` out.
 */
export interface ReceivedOmemoKeyMaterial {
  readonly keys: readonly string[];
  /**
   * Parallel to `keys`: whether each key is a key exchange. **Absent means unknown**, never "no key
   * exchange": the writer did not say (it left `kex` out or wrote `null`). A device must then find
   * out from the key itself (try it as a key exchange, `PreKeySignalMessage` / `OMEMOKeyExchange`,
   * then as a normal message); taking it for `false` loses the first message of every new session.
   */
  readonly kex?: readonly boolean[];
  /** The sender's device id, as text (a number is read as its decimal text). */
  readonly sid?: string;
  readonly iv?: string;
  readonly data: string;
}

/**
 * A push plaintext as a device receives it. Real servers are less tidy than this project's builder:
 * Tigase server 8.4 writes `null` for `unread` and `sender`, Prosody leaves `type` out for some
 * stanzas and cuts bodies at 255 bytes, nobody but this project writes `omemo`. Missing or
 * ill-typed optional fields are absent here; unknown fields are ignored.
 */
export interface ReceivedPushPlaintext {
  readonly unread: number | null;
  readonly sender: string | null;
  /**
   * Absent when the server wrote none or one this reader does not know (such as `subscribe`, which
   * writers following the seed use and Siskin cannot decode).
   */
  readonly type?: PushType;
  readonly message?: string;
  readonly nickname?: string;
  readonly sid?: string;
  readonly media?: readonly string[];
  /** Absent when missing or malformed. A missing `kex` (seed-only writers) stays missing: unknown. */
  readonly omemo?: ReceivedOmemoKeyMaterial;
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

/** The `kex` flags: `unknown` when the writer gave none, `malformed` when they do not fit the keys. */
function readKex(value: unknown, count: number): boolean[] | "unknown" | "malformed" {
  if (value === undefined || value === null) return "unknown";
  if (!Array.isArray(value) || value.length !== count) return "malformed";
  return value.every((item): item is boolean => typeof item === "boolean") ? value : "malformed";
}

function readSid(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return optionalString(value);
}

function readOmemo(value: unknown): ReceivedOmemoKeyMaterial | undefined {
  if (!isObject(value)) return undefined;
  const keys = stringArray(value.keys);
  const data = optionalString(value.data);
  if (keys === undefined || keys.length === 0 || data === undefined) return undefined;
  const kex = readKex(value.kex, keys.length);
  if (kex === "malformed") return undefined;
  const sid = readSid(value.sid);
  const iv = optionalString(value.iv);
  return { keys, ...(kex === "unknown" ? {} : { kex }), sid, iv, data };
}

function readType(value: unknown): PushType | undefined {
  return PUSH_TYPES.find((type) => type === value);
}

/**
 * Reads the JSON a device finds inside an encrypted push, tolerating what real servers emit (see
 * {@link ReceivedPushPlaintext}); a missing `omemo.kex` is kept missing (unknown), never read as
 * "no key exchange" (docs/protocol.md section 7). Only text that is not JSON, or JSON that is not an
 * object, is refused.
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
