import type { PushNotification } from "../../domain/notification";
import { pushKind } from "../../domain/notification";
import type { Registration } from "../../domain/registration";
import { clampPreview, TYPICAL_IV_BASE64_LENGTH, utf8Length } from "../payload-measure";
import { PUSH_LIFETIME_SECONDS } from "../push-lifetime";
import { type FcmAddressing, SHA1_HEX_LENGTH } from "./device-hash";

/** FCM refuses a message whose data is over 4096 bytes. */
export const FCM_DATA_LIMIT = 4096;

export type FcmData = Record<string, string>;

/** One FCM HTTP v1 message, ready but for its authorization. */
export interface FcmMessage {
  readonly data: FcmData;
  /** The `messages:send` request body. */
  readonly body: string;
}

export interface FcmMessageOptions {
  /** The fallback push of docs/protocol.md 6.4: no `encrypted`/`iv`, no summary texts. */
  readonly withoutEncrypted?: boolean;
}

/**
 * The data of an FCM push (docs/protocol.md 6.2), every value a string: `account` (and `channel`), then
 * for an encrypted push `encrypted`, `iv` and `type: "voip"` for a call; for a plain summary `sender`,
 * `body`, `nickname` and `unread-messages` where the publish had them; `unread-messages: "0"` for a
 * dismissal.
 * @see https://firebase.google.com/docs/cloud-messaging/concept-options#data_messages
 */
export function buildFcmData(
  addressing: FcmAddressing,
  notification: PushNotification,
  options: FcmMessageOptions = {},
): FcmData {
  const data: FcmData = { account: addressing.account };
  if (addressing.channel !== undefined) data.channel = addressing.channel;
  const kind = pushKind(notification);
  if (kind === "dismiss") {
    data["unread-messages"] = "0";
    return data;
  }
  const encrypted = notification.encrypted;
  if (options.withoutEncrypted) {
    if (kind === "voip") data.type = "voip";
    if (notification.messageCount !== undefined) data["unread-messages"] = String(notification.messageCount);
    return data;
  }
  if (encrypted) {
    data.encrypted = encrypted.data;
    data.iv = encrypted.iv;
    if (encrypted.voip) data.type = "voip";
    return data;
  }
  if (notification.sender !== undefined) data.sender = notification.sender;
  if (notification.body !== undefined) data.body = clampPreview(notification.body);
  if (notification.nickname !== undefined) data.nickname = notification.nickname;
  if (notification.messageCount !== undefined) data["unread-messages"] = String(notification.messageCount);
  return data;
}

/**
 * Builds the `messages:send` body of a push: a data-only message, so the app decides what to show,
 * at `high` priority for alerts and calls and `normal` for background pushes and dismissals.
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages
 */
export function buildFcmMessage(
  token: string,
  addressing: FcmAddressing,
  notification: PushNotification,
  options: FcmMessageOptions = {},
): FcmMessage {
  const kind = pushKind(notification);
  const priority = kind === "alert" || kind === "voip" ? "high" : "normal";
  const data = buildFcmData(addressing, notification, options);
  const body = JSON.stringify({
    message: { token, android: { priority, ttl: `${PUSH_LIFETIME_SECONDS[kind]}s` }, data },
  });
  return { data, body };
}

/** The bytes FCM counts against {@link FCM_DATA_LIMIT}, measured as the data's JSON (an upper bound). */
export function fcmDataSize(data: FcmData): number {
  return utf8Length(JSON.stringify(data));
}

/**
 * How many bytes of base64 `encrypted` fit an encrypted push to this registration: the data limit
 * minus the real data envelope of a call (the largest: it adds `type`) with an empty blob, a
 * 16-character IV, and the account (a 40-character hash for p2 registrations) and channel it would carry.
 */
export function fcmMaxPayloadSize(registration: Registration): number {
  const hashed = registration.style === "device";
  const addressing: FcmAddressing = {
    account: hashed ? "0".repeat(SHA1_HEX_LENGTH) : registration.account,
    ...(hashed && registration.muc ? { channel: "0".repeat(SHA1_HEX_LENGTH) } : {}),
  };
  const probe: PushNotification = {
    priority: "high",
    encrypted: { data: "", iv: "A".repeat(TYPICAL_IV_BASE64_LENGTH), voip: true },
  };
  return FCM_DATA_LIMIT - fcmDataSize(buildFcmData(addressing, probe));
}
