import type { PushNotification } from "../../domain/notification";
import { isRingingCall, pushKind } from "../../domain/notification";
import type { Registration } from "../../domain/registration";
import { advertisedMaxPayloadSize, clampPreview, TYPICAL_IV_BASE64_LENGTH, utf8Length } from "../payload-measure";
import { PUSH_LIFETIME_SECONDS } from "../push-lifetime";
import { type AlertText, GENERIC_ALERT_TEXT } from "./alert-text";

/** APNs body limits in bytes. */
export const APNS_BODY_LIMIT = 4096;
export const APNS_VOIP_BODY_LIMIT = 5120;
/** Apple refuses a longer `apns-collapse-id`. */
const COLLAPSE_ID_MAX_BYTES = 64;

export type ApnsPushType = "alert" | "background" | "voip";

/** One APNs push, ready but for its authorization, topic and environment. */
export interface ApnsPush {
  readonly pushType: ApnsPushType;
  /** 10: deliver now (alert, VoIP); 5: when the device sees fit (background). */
  readonly priority: 10 | 5;
  /** To the PushKit token and the `{topic}.voip` topic. */
  readonly toVoipToken: boolean;
  /** The token the push goes to: the registration's token, or its PushKit token for VoIP. */
  readonly deviceToken: string;
  readonly body: string;
  readonly lifetimeSeconds: number;
  readonly collapseId?: string;
}

export interface ApnsPushOptions {
  /** The fallback push of docs/protocol.md 6.4: no `encrypted`/`iv`, no summary, generic texts. */
  readonly withoutEncrypted?: boolean;
}

type CustomKeys = Record<string, string | number>;

function encryptedKeys(
  account: string,
  notification: PushNotification,
): { account: string; encrypted: string; iv: string } | undefined {
  const encrypted = notification.encrypted;
  return encrypted ? { account, encrypted: encrypted.data, iv: encrypted.iv } : undefined;
}

function summaryKeys(account: string, notification: PushNotification): CustomKeys {
  const keys: CustomKeys = { account };
  if (notification.sender !== undefined) keys.sender = notification.sender;
  if (notification.body !== undefined) keys.body = clampPreview(notification.body);
  if (notification.nickname !== undefined) keys.nickname = notification.nickname;
  if (notification.messageCount !== undefined) keys["unread-messages"] = notification.messageCount;
  return keys;
}

function countOnlyKeys(account: string, notification: PushNotification): CustomKeys {
  const keys: CustomKeys = { account };
  if (notification.messageCount !== undefined) keys["unread-messages"] = notification.messageCount;
  return keys;
}

function plainAlertText(notification: PushNotification): AlertText {
  const generic = isRingingCall(notification) ? GENERIC_ALERT_TEXT.call : GENERIC_ALERT_TEXT.message;
  const title = notification.sender ?? generic.title;
  if (notification.body === undefined || notification.body === "") return { title, body: generic.body };
  const body = notification.nickname ? `${notification.nickname}: ${notification.body}` : notification.body;
  return { title, body: clampPreview(body) };
}

function alertBody(text: AlertText, keys: CustomKeys): string {
  return JSON.stringify({
    aps: { alert: { title: text.title, body: text.body }, "mutable-content": 1, sound: "default" },
    ...keys,
  });
}

/** {@link alertBody} of an encrypted push, written out (the same keys in the same order, no spread). */
function encryptedAlertBody(text: AlertText, keys: { account: string; encrypted: string; iv: string }): string {
  return JSON.stringify({
    aps: { alert: { title: text.title, body: text.body }, "mutable-content": 1, sound: "default" },
    account: keys.account,
    encrypted: keys.encrypted,
    iv: keys.iv,
  });
}

function backgroundBody(keys: CustomKeys): string {
  return JSON.stringify({ aps: { "content-available": 1 }, ...keys });
}

function collapseIdOf(notification: PushNotification): string | undefined {
  const sid = notification.jingle?.sid;
  if (!sid || utf8Length(sid) > COLLAPSE_ID_MAX_BYTES) return undefined;
  return sid;
}

/**
 * Builds the APNs push of a notification (docs/protocol.md 4 and 6.1). Encrypted pushes carry only
 * `account`, `encrypted` and `iv` beside generic alert texts (the summary, if the server sent one
 * too, is what it chose to encrypt); plain pushes carry `sender`, `body`, `nickname` and
 * `unread-messages` where the publish had them. A ringing call ({@link pushKind} `voip`) goes to the
 * PushKit token when there is one, else it is an alert at priority 10 with the call texts; every other
 * Jingle event marked `type='voip'` is a regular alert or background push to the regular token.
 * @see https://developer.apple.com/documentation/usernotifications/generating-a-remote-notification
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 */
export function buildApnsPush(
  registration: Registration,
  notification: PushNotification,
  options: ApnsPushOptions = {},
): ApnsPush {
  const account = registration.account;
  const kind = pushKind(notification);
  const withoutEncrypted = options.withoutEncrypted === true;
  const encrypted = withoutEncrypted ? undefined : encryptedKeys(account, notification);
  if (kind === "dismiss")
    return {
      pushType: "background",
      priority: 5,
      toVoipToken: false,
      deviceToken: registration.token,
      body: JSON.stringify({ aps: { "content-available": 1 }, account, "unread-messages": 0 }),
      lifetimeSeconds: PUSH_LIFETIME_SECONDS.dismiss,
    };
  if (kind === "voip" && encrypted && registration.voipToken)
    return {
      pushType: "voip",
      priority: 10,
      toVoipToken: true,
      deviceToken: registration.voipToken,
      body: JSON.stringify(encrypted),
      lifetimeSeconds: PUSH_LIFETIME_SECONDS.voip,
    };
  if (kind === "background") {
    const keys = withoutEncrypted
      ? countOnlyKeys(account, notification)
      : (encrypted ?? summaryKeys(account, notification));
    return {
      pushType: "background",
      priority: 5,
      toVoipToken: false,
      deviceToken: registration.token,
      body: backgroundBody(keys),
      lifetimeSeconds: PUSH_LIFETIME_SECONDS.background,
    };
  }
  const generic = isRingingCall(notification) ? GENERIC_ALERT_TEXT.call : GENERIC_ALERT_TEXT.message;
  let body: string;
  if (withoutEncrypted) body = alertBody(generic, countOnlyKeys(account, notification));
  else if (encrypted) body = encryptedAlertBody(generic, encrypted);
  else body = alertBody(plainAlertText(notification), summaryKeys(account, notification));
  const collapseId = collapseIdOf(notification);
  const push = {
    pushType: "alert",
    priority: 10,
    toVoipToken: false,
    deviceToken: registration.token,
    body,
    lifetimeSeconds: kind === "voip" ? PUSH_LIFETIME_SECONDS.voip : PUSH_LIFETIME_SECONDS.alert,
  } satisfies ApnsPush;
  // Only a push that has one carries the key (no empty object spread into every push).
  return collapseId === undefined ? push : Object.assign({}, push, { collapseId });
}

/** The body limit of a push: 5120 bytes for VoIP, 4096 for the rest. */
export function apnsBodyLimit(push: ApnsPush): number {
  return push.pushType === "voip" ? APNS_VOIP_BODY_LIMIT : APNS_BODY_LIMIT;
}

/**
 * The request headers of a push but its authorization.
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 */
export function apnsHeaders(push: ApnsPush, topic: string, nowMs: number): Record<string, string> {
  const headers: Record<string, string> = {
    "apns-topic": push.toVoipToken ? `${topic}.voip` : topic,
    "apns-push-type": push.pushType,
    "apns-priority": String(push.priority),
    "apns-expiration": String(Math.floor(nowMs / 1000) + push.lifetimeSeconds),
  };
  if (push.collapseId !== undefined) headers["apns-collapse-id"] = push.collapseId;
  return headers;
}

/**
 * The request headers of a push with its authorization, in one object (what the provider sends; the
 * same names and values as {@link apnsHeaders} plus `authorization`).
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 */
export function apnsRequestHeaders(
  push: ApnsPush,
  topic: string,
  nowMs: number,
  authorization: string,
): Record<string, string> {
  const headers: Record<string, string> = {
    authorization,
    "apns-topic": push.toVoipToken ? `${topic}.voip` : topic,
    "apns-push-type": push.pushType,
    "apns-priority": push.priority === 10 ? "10" : "5",
    "apns-expiration": String(Math.floor(nowMs / 1000) + push.lifetimeSeconds),
  };
  if (push.collapseId !== undefined) headers["apns-collapse-id"] = push.collapseId;
  return headers;
}

/**
 * How many characters of base64 `encrypted` fit every encrypted push this registration may get: each
 * body limit minus the real envelope (the body built with an empty blob and a 16-character IV), the
 * smallest of message alert, ringing call (VoIP or alert) and background (docs/protocol.md 6.4). A blob
 * of this length fits exactly; one character more does not.
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 */
export function apnsPayloadCapacity(registration: Registration): number {
  const probe = { data: "", iv: "A".repeat(TYPICAL_IV_BASE64_LENGTH) };
  const probes: PushNotification[] = [
    { priority: "high", encrypted: Object.assign({}, probe, { voip: false }) },
    { priority: "high", encrypted: Object.assign({}, probe, { voip: true }) },
    { priority: "low", encrypted: Object.assign({}, probe, { voip: false }) },
  ];
  return Math.min(
    ...probes.map((notification) => {
      const push = buildApnsPush(registration, notification);
      return apnsBodyLimit(push) - utf8Length(push.body);
    }),
  );
}

/**
 * The `max-payload-size` advertised to this registration's server (docs/protocol.md 6.4): the
 * {@link apnsPayloadCapacity} less what Tigase's server adds beyond `max-size` when it trims a body
 * ({@link advertisedMaxPayloadSize}), so that its largest ordinary pushes still fit Apple's limit.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function apnsMaxPayloadSize(registration: Registration): number {
  return advertisedMaxPayloadSize(apnsPayloadCapacity(registration));
}
