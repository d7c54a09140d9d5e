import type { OmemoKeyMaterial } from "./extract";

/**
 * What a push is about, as the `type` of the plaintext. Only values clients decode: Siskin reads
 * `type` into an enum of exactly these four (absent reads as `unknown`) and traps on any other
 * string, so a presence subscription, which used to be written `subscribe`, is written `unknown`.
 */
export type PushType = "chat" | "groupchat" | "call" | "unknown";

export const PUSH_TYPES: readonly PushType[] = ["chat", "groupchat", "call", "unknown"];

/**
 * The `<priority xmlns='tigase:push:priority:0'/>` the user's server publishes a push with: `high` for
 * something the user sees (an alert), `low` for a push that carries nothing to show (a background
 * push: the app may wake, no notification).
 */
export type PushPriority = "high" | "low";

/**
 * The JSON object the user's server encrypts into a push (docs/protocol.md section 7), fields declared in
 * their wire order.
 */
export interface PushPlaintext {
  /** How many messages are unread, as the server counts them. */
  readonly unread: number;
  /** The sender's bare JID; the caller's full JID for a call. */
  readonly sender: string;
  readonly type: PushType;
  /**
   * The body, or the OMEMO placeholder; absent for calls, subscriptions and messages with nothing to
   * show (no body, or an OMEMO element without payload).
   */
  readonly message?: string;
  /** The sender's nickname in a group chat. */
  readonly nickname?: string;
  /** The Jingle session id of a call. */
  readonly sid?: string;
  /** The media of a call (`audio`, `video`). */
  readonly media?: readonly string[];
  readonly omemo?: OmemoKeyMaterial;
}

/**
 * Writes the plaintext as the extension's byte-exact JSON: fields in the order `unread, sender, type,
 * message, nickname, sid, media, omemo` (inside `omemo`: `keys, kex, sid, iv, data`), absent fields
 * left out, no white space (docs/protocol.md section 7).
 * @see ../../test/vectors/README.md
 */
export function serializePushPlaintext(plaintext: PushPlaintext): string {
  const { omemo } = plaintext;
  return JSON.stringify({
    unread: plaintext.unread,
    sender: plaintext.sender,
    type: plaintext.type,
    message: plaintext.message,
    nickname: plaintext.nickname,
    sid: plaintext.sid,
    media: plaintext.media,
    omemo: omemo && { keys: omemo.keys, kex: omemo.kex, sid: omemo.sid, iv: omemo.iv, data: omemo.data },
  });
}
