import { failure, type Result, success } from "../domain/result";
import { attribute, childElement, childElements, textOf } from "../xmpp/element";
import { bareJid, fullJid, type Jid, parseJid } from "../xmpp/jid";
import type { XmlElement } from "../xmpp/xml";
import { isEmptyOmemoMessage, type OmemoDevice, omemoEncryptedElements, readOmemoForDevice } from "./extract";
import { JINGLE_MESSAGE_NS, JINGLE_RTP_NS } from "./namespaces";
import type { PushPlaintext, PushPriority } from "./plaintext";

/** The `message` of an OMEMO message's push unless the caller picks another text. */
export const DEFAULT_OMEMO_PLACEHOLDER = "New secure message";

export interface PlaintextOptions {
  /** The unread count to write, as the server counts it. */
  readonly unread: number;
  /** The enabled OMEMO device, when the client asked for the OMEMO extension. */
  readonly omemoDevice?: OmemoDevice;
  /** The `message` of an OMEMO message (default {@link DEFAULT_OMEMO_PLACEHOLDER}). */
  readonly placeholder?: string;
}

/**
 * `bad-from`: the stanza has no valid `from`; `not-notifiable`: neither a message nor a subscription
 * request; `bad-omemo-sid`: the OMEMO header that holds the device's keys has no `sid`, or one that
 * is not an unsigned 32-bit integer (a server may then build the push without `omemoDevice`).
 */
export type PlaintextErrorKind = "bad-from" | "not-notifiable" | "bad-omemo-sid";

/** Why no push plaintext can be made from a stanza. */
export interface PlaintextError {
  readonly kind: PlaintextErrorKind;
  readonly reason: string;
}

/** What the builder gives the user's server: the plaintext to seal, and the priority to publish it with. */
export interface BuiltPush {
  readonly plaintext: PushPlaintext;
  /**
   * The text of `<priority xmlns='tigase:push:priority:0'/>` in the publish's `<notification/>`:
   * `low` when the push carries nothing to show (a message without body, an empty OMEMO message such
   * as key transport or a heartbeat), so that the push service sends a background push instead of an
   * alert; `high` otherwise.
   */
  readonly priority: PushPriority;
}

function callMedia(propose: XmlElement): string[] {
  const media = childElements(propose, "description", JINGLE_RTP_NS).map((description) =>
    attribute(description, "media"),
  );
  return [...new Set(media.filter((name) => name !== undefined))];
}

/** A push the user sees: an alert. */
function shown(plaintext: PushPlaintext): BuiltPush {
  return { plaintext, priority: "high" };
}

/** A push with nothing to show: a background push. */
function quiet(plaintext: PushPlaintext): BuiltPush {
  return { plaintext, priority: "low" };
}

function messagePush(message: XmlElement, from: Jid, options: PlaintextOptions): Result<BuiltPush, PlaintextError> {
  const { unread } = options;
  const propose = childElement(message, "propose", JINGLE_MESSAGE_NS);
  const groupchat = attribute(message, "type") === "groupchat";
  if (propose !== undefined && !groupchat) {
    const sid = attribute(propose, "id");
    return success(shown({ unread, sender: fullJid(from), type: "call", sid, media: callMedia(propose) }));
  }
  const sender = bareJid(from);
  const type = groupchat ? "groupchat" : "chat";
  const nickname = groupchat ? from.resource : undefined;
  if (omemoEncryptedElements(message).length > 0) {
    if (isEmptyOmemoMessage(message)) return success(quiet({ unread, sender, type, nickname }));
    const omemo = options.omemoDevice ? readOmemoForDevice(message, options.omemoDevice) : success(undefined);
    if (!omemo.ok) return failure({ kind: omemo.error.kind, reason: omemo.error.reason });
    const placeholder = options.placeholder ?? DEFAULT_OMEMO_PLACEHOLDER;
    return success(shown({ unread, sender, type, message: placeholder, nickname, omemo: omemo.value }));
  }
  const body = childElement(message, "body", message.ns);
  const text = body && textOf(body);
  const plaintext: PushPlaintext = { unread, sender, type, message: text, nickname };
  return success(text === undefined ? quiet(plaintext) : shown(plaintext));
}

/**
 * The builder: makes the push the user's server encrypts for a stanza it holds for an offline device
 * (docs/protocol.md section 7), and the priority to publish it with:
 * - a chat or group-chat `<message/>`: its body (high priority; a message without body has nothing to
 *   show: no `message`, low priority);
 * - an OMEMO message (XEP-0384, any of its namespaces) with a `<payload/>`: the placeholder as
 *   `message`, never the fallback body, and the device's `omemo` object when `omemoDevice` is given
 *   (high priority); refused with `bad-omemo-sid` when the header holding the device's keys has no
 *   valid `sid`;
 * - an empty OMEMO message (no `<payload/>`: key transport, heartbeat): no `message`, no `omemo`, low
 *   priority, since clients show nothing for it;
 * - a Jingle Message Initiation `<propose/>` (XEP-0353) outside a group chat: a call, from the full JID,
 *   with the session id and media (high priority);
 * - a `<presence type='subscribe'/>`: type `unknown`, the one type Siskin decodes for it (high priority).
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 * @see https://xmpp.org/extensions/xep-0384.html#usecases-messagesend
 * @see https://xmpp.org/extensions/xep-0353.html
 */
export function buildPush(stanza: XmlElement, options: PlaintextOptions): Result<BuiltPush, PlaintextError> {
  const from = parseJid(attribute(stanza, "from"));
  if (from === undefined) return failure({ kind: "bad-from", reason: "Stanza without a valid from" });
  const type = attribute(stanza, "type");
  if (stanza.name === "presence" && type === "subscribe") {
    return success(shown({ unread: options.unread, sender: bareJid(from), type: "unknown" }));
  }
  if (stanza.name !== "message" || type === "error") {
    return failure({ kind: "not-notifiable", reason: "Neither a message nor a subscription request" });
  }
  return messagePush(stanza, from, options);
}

/**
 * The plaintext of {@link buildPush} without its priority, for callers that only seal (benchmarks,
 * device-side tests). A server that publishes must use {@link buildPush}: an empty OMEMO message
 * (key transport) has to go out with `<priority>low</priority>`, and only `buildPush` says so.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function buildPushPlaintext(
  stanza: XmlElement,
  options: PlaintextOptions,
): Result<PushPlaintext, PlaintextError> {
  const built = buildPush(stanza, options);
  return built.ok ? success(built.value.plaintext) : built;
}
