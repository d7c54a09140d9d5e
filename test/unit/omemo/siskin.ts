/*
 * What Siskin IM's notification service extension makes of the JSON inside an encrypted push, modelled
 * from its source (tigase/siskin-im, read at commit d77818f9 (7.4.0-b1) and 0e214ac1):
 * - NotificationService/NotificationService.swift: `try? JSONDecoder().decode(Payload.self, from:
 *   decoded)`; when that gives nil the extension hands iOS the push's own alert unchanged ("bare alert").
 * - Shared/notifications/NotificationsManagerHelper.swift, `class Payload: Decodable`, decoding in this
 *   order: `unread` as `Int` (required), `sender` as Martin's `JID` (required; any string), `type` with
 *   `decodeIfPresent(String)` and then `Kind(rawValue: type ?? "unknown")!` where `Kind` is exactly
 *   `unknown`, `groupchat`, `chat`, `call`: any other string fails the force-unwrap, a runtime trap that
 *   kills the extension, and iOS shows the bare alert; then `nickname`, `message`, `sid` as optional
 *   strings and `media` as an optional array of strings. Other keys (`omemo`) are ignored.
 * - `prepareNewMessageNotification(..., body: payload.message, ...)` shows the message text when there
 *   is one, and a generic "New message!" when `message` is absent.
 * This is an independent model written for the tests, not Siskin's code.
 */

/** Siskin's `Payload.Kind`. */
export type SiskinKind = "unknown" | "groupchat" | "chat" | "call";

const KINDS: readonly string[] = ["unknown", "groupchat", "chat", "call"];

export interface SiskinPayload {
  readonly unread: number;
  readonly sender: string;
  readonly type: SiskinKind;
  readonly nickname?: string;
  readonly message?: string;
  readonly sid?: string;
  readonly media?: readonly string[];
}

/**
 * `decoded`: the extension builds its own notification (`shows` says with which text); `not-decoded`:
 * `JSONDecoder` threw, the bare alert is shown; `crash`: the force-unwrap of an unknown `type` trapped.
 */
export type SiskinOutcome =
  | { readonly outcome: "decoded"; readonly payload: SiskinPayload; readonly shows: string }
  | { readonly outcome: "not-decoded"; readonly reason: string }
  | { readonly outcome: "crash"; readonly type: string };

/** Swift's `decodeIfPresent(String.self)`: absent or null is nil, a non-string throws. */
function optionalString(object: Record<string, unknown>, key: string): string | undefined | "throws" {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : "throws";
}

/** Decodes the plaintext JSON as Siskin's notification extension does. */
export function siskinDecode(json: string): SiskinOutcome {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { outcome: "not-decoded", reason: "not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { outcome: "not-decoded", reason: "not an object" };
  const object = value as Record<string, unknown>;
  const { unread, sender } = object;
  if (typeof unread !== "number" || !Number.isSafeInteger(unread)) return { outcome: "not-decoded", reason: "unread" };
  if (typeof sender !== "string") return { outcome: "not-decoded", reason: "sender" };
  const type = optionalString(object, "type");
  if (type === "throws") return { outcome: "not-decoded", reason: "type" };
  const kind = type ?? "unknown";
  if (!KINDS.includes(kind)) return { outcome: "crash", type: kind };
  const nickname = optionalString(object, "nickname");
  const message = optionalString(object, "message");
  const sid = optionalString(object, "sid");
  if (nickname === "throws" || message === "throws" || sid === "throws")
    return { outcome: "not-decoded", reason: "nickname, message or sid" };
  const { media } = object;
  const mediaOk =
    media === undefined || media === null || (Array.isArray(media) && media.every((item) => typeof item === "string"));
  if (!mediaOk) return { outcome: "not-decoded", reason: "media" };
  const payload: SiskinPayload = {
    unread,
    sender,
    type: kind as SiskinKind,
    ...(nickname === undefined ? {} : { nickname }),
    ...(message === undefined ? {} : { message }),
    ...(sid === undefined ? {} : { sid }),
    ...(Array.isArray(media) ? { media: media as string[] } : {}),
  };
  return { outcome: "decoded", payload, shows: message ?? "New message!" };
}
