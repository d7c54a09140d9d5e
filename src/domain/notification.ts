/** The Tigase encrypted blob, forwarded as received but for white space (docs/protocol.md 4). */
export interface EncryptedPayload {
  /** Base64 ciphertext with every white-space character removed. */
  readonly data: string;
  /** Base64 IV with every white-space character removed. */
  readonly iv: string;
  /** `type='voip'`: a call, to go out at high priority to the VoIP token when there is one. */
  readonly voip: boolean;
}

/** A Tigase Jingle Message Initiation hint (`tigase:push:jingle:0`). */
export interface JingleHint {
  readonly action: string;
  readonly sid: string;
  readonly media: readonly string[];
}

/**
 * What one publish asks the gateway to push, in any of the dialects of docs/protocol.md section 4,
 * reduced to what providers need.
 */
export interface PushNotification {
  readonly priority: "high" | "low";
  /** `message-count`; `0` means the messages were read elsewhere (dismiss, background push). */
  readonly messageCount?: number;
  readonly sender?: string;
  readonly body?: string;
  readonly pendingSubscriptionCount?: number;
  /** Tigase `<groupchat><nickname/>`: the sender's nickname in a MUC. */
  readonly nickname?: string;
  readonly encrypted?: EncryptedPayload;
  readonly jingle?: JingleHint;
}

/** What sort of push a notification becomes (docs/protocol.md 4 and 6.1). */
export type PushKind = "alert" | "background" | "voip" | "dismiss";

/**
 * Whether a notification announces a call that is ringing now, so that a device may show it as an
 * incoming call. Tigase's server marks every Jingle Message Initiation event `type='voip'` (XEP-0353:
 * `propose`, `proceed`, `accept`, `reject`, `retract`) and names the event in clear in
 * `<jingle xmlns='tigase:push:jingle:0' action='…'/>`: only `propose` rings. Servers older than the
 * `action` attribute (Tigase before December 2025) copy a `<media/>` child for every RTP description,
 * and only a `propose` carries descriptions, so a `<jingle/>` without `action` rings when it lists
 * media. Without a `<jingle/>` hint an encrypted `type='voip'` publish is a call, as Tigase meant it.
 * @see https://xmpp.org/extensions/xep-0353.html
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function isRingingCall(notification: PushNotification): boolean {
  const jingle = notification.jingle;
  if (jingle === undefined) return notification.encrypted?.voip === true;
  if (jingle.action !== "") return jingle.action === "propose";
  return jingle.media.length > 0;
}

/**
 * Decides the sort of push (docs/protocol.md 4), the one place both providers ask: an encrypted call
 * that rings ({@link isRingingCall}) is a VoIP push (PushKit on APNs, `type: "voip"` at high priority on
 * FCM); any other Jingle event marked `type='voip'` (`proceed`, `accept`, `reject`, `retract`) is a
 * regular push, since iOS ends an app that gets a PushKit push and reports no new call to CallKit. A
 * read-elsewhere count is a dismissal, high priority an alert, anything else a background push.
 * @see https://developer.apple.com/documentation/pushkit/responding-to-voip-notifications-from-pushkit
 */
export function pushKind(notification: PushNotification): PushKind {
  const ringing = notification.encrypted?.voip === true && isRingingCall(notification);
  if (ringing) return "voip";
  if (notification.messageCount === 0) return "dismiss";
  return notification.priority === "high" ? "alert" : "background";
}
