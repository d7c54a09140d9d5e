import type { PushNotification } from "../../domain/notification";
import { type PushKind, pushKind } from "../../domain/notification";
import type { Registration } from "../../domain/registration";
import { advertisedMaxPayloadSize, clampPreview, TYPICAL_IV_BASE64_LENGTH, utf8Length } from "../payload-measure";
import { PUSH_LIFETIME_SECONDS } from "../push-lifetime";
import { type FcmAddressing, fcmAddressing } from "./device-hash";

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
  /**
   * A p2 / Conversations registration ({@link carriesAddressOnly}): the data is `account` and `channel`
   * and nothing else from the publish (docs/protocol.md 6.2).
   */
  readonly addressOnly?: boolean;
}

/**
 * Whether pushes to this registration tell Google no more than p2 does: for device-style registrations
 * (`register-push-fcm`, and REST registrations made with a `deviceId`) the FCM data carries only the
 * hashed `account` and, for a MUC registration, `channel`, whatever the publish held: no sender, body,
 * nickname, count, call type, and no `encrypted`/`iv` either (Conversations never sends `<encrypt/>` in
 * its `<enable/>` and reads nothing but `account`; p2 puts only `account` and `channel` in its messages).
 * @see https://github.com/iNPUTmice/p2
 */
export function carriesAddressOnly(registration: Registration): boolean {
  return registration.style === "device";
}

/**
 * The data of an FCM push (docs/protocol.md 6.2), every value a string: `account` (and `channel`), and
 * nothing more for a p2 registration (`addressOnly`); otherwise for an encrypted push `encrypted`, `iv`
 * and `type: "voip"` for a ringing call ({@link pushKind} `voip`: not for the other Jingle events Tigase
 * marks `type='voip'`); for a plain summary `sender`, `body`, `nickname` and `unread-messages` where the
 * publish had them; `unread-messages: "0"` for a dismissal.
 * @see https://firebase.google.com/docs/cloud-messaging/concept-options#data_messages
 */
export function buildFcmData(
  addressing: FcmAddressing,
  notification: PushNotification,
  options: FcmMessageOptions = {},
): FcmData {
  const data: FcmData = { account: addressing.account };
  if (addressing.channel !== undefined) data.channel = addressing.channel;
  if (options.addressOnly) return data;
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
    if (kind === "voip") data.type = "voip";
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
 * at `high` priority for alerts and ringing calls and `normal` for background pushes and dismissals
 * (also for a p2 registration, whose data says nothing else: the priority only decides how soon the
 * device wakes up).
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages
 */
export function buildFcmMessage(
  token: string,
  addressing: FcmAddressing,
  notification: PushNotification,
  options: FcmMessageOptions = {},
): FcmMessage {
  // The Android options of fcmMessageParts, made once per kind of push (never mutated: only serialised here).
  const android = ANDROID_OPTIONS[pushKind(notification)];
  const data = buildFcmData(addressing, notification, options);
  return { data, body: JSON.stringify({ message: { token, android, data } }) };
}

/** {@link FcmMessageParts.android} per kind of push, as fcmMessageParts makes it. */
const ANDROID_OPTIONS: Readonly<Record<PushKind, FcmMessageParts["android"]>> = Object.freeze({
  alert: Object.freeze({ priority: "high", ttl: `${PUSH_LIFETIME_SECONDS.alert}s` }),
  voip: Object.freeze({ priority: "high", ttl: `${PUSH_LIFETIME_SECONDS.voip}s` }),
  background: Object.freeze({ priority: "normal", ttl: `${PUSH_LIFETIME_SECONDS.background}s` }),
  dismiss: Object.freeze({ priority: "normal", ttl: `${PUSH_LIFETIME_SECONDS.dismiss}s` }),
});

/** The parts of an FCM v1 message but its target: Android options and data. */
export interface FcmMessageParts {
  readonly android: { readonly priority: "high" | "normal"; readonly ttl: string };
  readonly data: FcmData;
  /** How long the push is worth delivering, in seconds (the `ttl`). */
  readonly lifetimeSeconds: number;
}

/**
 * The Android options and data of a push (see {@link buildFcmMessage}), for routes that name the target
 * themselves (SNS puts the endpoint's token in).
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#AndroidConfig
 */
export function fcmMessageParts(
  addressing: FcmAddressing,
  notification: PushNotification,
  options: FcmMessageOptions = {},
): FcmMessageParts {
  const kind = pushKind(notification);
  const priority = kind === "alert" || kind === "voip" ? "high" : "normal";
  const lifetimeSeconds = PUSH_LIFETIME_SECONDS[kind];
  return {
    android: { priority, ttl: `${lifetimeSeconds}s` },
    data: buildFcmData(addressing, notification, options),
    lifetimeSeconds,
  };
}

/**
 * Builds the push of a publish for a registration (docs/protocol.md 6.2): names the account through
 * {@link fcmAddressing} and keeps p2 registrations to their address ({@link carriesAddressOnly}).
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages
 */
export async function buildFcmPush(
  registration: Registration,
  notification: PushNotification,
  options: Pick<FcmMessageOptions, "withoutEncrypted"> = {},
): Promise<FcmMessage> {
  const addressing = await fcmAddressing(registration);
  return buildFcmMessage(
    registration.token,
    addressing,
    notification,
    Object.assign({}, options, { addressOnly: carriesAddressOnly(registration) }),
  );
}

/** The bytes FCM counts against {@link FCM_DATA_LIMIT}, measured as the data's JSON (an upper bound). */
export function fcmDataSize(data: FcmData): number {
  return utf8Length(JSON.stringify(data));
}

/**
 * How many characters of base64 `encrypted` fit an encrypted push to this registration: the data limit
 * minus the real data envelope of a ringing call (the largest: it adds `type`) with an empty blob and a
 * 16-character IV. `0` for a p2 registration, whose pushes never carry the blob ({@link carriesAddressOnly}).
 * @see https://firebase.google.com/docs/cloud-messaging/concept-options#data_messages
 */
export function fcmPayloadCapacity(registration: Registration): number {
  if (carriesAddressOnly(registration)) return 0;
  const probe: PushNotification = {
    priority: "high",
    encrypted: { data: "", iv: "A".repeat(TYPICAL_IV_BASE64_LENGTH), voip: true },
  };
  return FCM_DATA_LIMIT - fcmDataSize(buildFcmData({ account: registration.account }, probe));
}

/**
 * The `max-payload-size` advertised to this registration's server (docs/protocol.md 6.4): the
 * {@link fcmPayloadCapacity} less what Tigase's server adds beyond `max-size` when it trims a body
 * ({@link advertisedMaxPayloadSize}); `0` for a p2 registration.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function fcmMaxPayloadSize(registration: Registration): number {
  return advertisedMaxPayloadSize(fcmPayloadCapacity(registration));
}
