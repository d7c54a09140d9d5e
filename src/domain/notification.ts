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
 * Decides the sort of push: a read-elsewhere count is a dismissal, an encrypted call a VoIP push,
 * high priority an alert, anything else a background push.
 */
export function pushKind(notification: PushNotification): PushKind {
  if (notification.messageCount === 0 && !notification.encrypted?.voip) return "dismiss";
  if (notification.encrypted?.voip) return "voip";
  return notification.priority === "high" ? "alert" : "background";
}
