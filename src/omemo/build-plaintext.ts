import { failure, type Result, success } from "../domain/result";
import { attribute, childElement, childElements, textOf } from "../xmpp/element";
import { bareJid, fullJid, type Jid, parseJid } from "../xmpp/jid";
import type { XmlElement } from "../xmpp/xml";
import { extractOmemoForDevice, type OmemoDevice, omemoEncryptedElements } from "./extract";
import { JINGLE_MESSAGE_NS, JINGLE_RTP_NS } from "./namespaces";
import type { PushPlaintext } from "./plaintext";

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

export type PlaintextErrorKind = "bad-from" | "not-notifiable";

/** Why no push plaintext can be made from a stanza. */
export interface PlaintextError {
  readonly kind: PlaintextErrorKind;
  readonly reason: string;
}

function callMedia(propose: XmlElement): string[] {
  const media = childElements(propose, "description", JINGLE_RTP_NS).map((description) =>
    attribute(description, "media"),
  );
  return [...new Set(media.filter((name) => name !== undefined))];
}

function messagePlaintext(message: XmlElement, from: Jid, options: PlaintextOptions): PushPlaintext {
  const { unread } = options;
  const propose = childElement(message, "propose", JINGLE_MESSAGE_NS);
  const groupchat = attribute(message, "type") === "groupchat";
  if (propose !== undefined && !groupchat) {
    return { unread, sender: fullJid(from), type: "call", sid: attribute(propose, "id"), media: callMedia(propose) };
  }
  const sender = bareJid(from);
  const type = groupchat ? "groupchat" : "chat";
  const nickname = groupchat ? from.resource : undefined;
  if (omemoEncryptedElements(message).length > 0) {
    const placeholder = options.placeholder ?? DEFAULT_OMEMO_PLACEHOLDER;
    const omemo = options.omemoDevice && extractOmemoForDevice(message, options.omemoDevice);
    return { unread, sender, type, message: placeholder, nickname, omemo };
  }
  const body = childElement(message, "body", message.ns);
  return { unread, sender, type, message: body && textOf(body), nickname };
}

/**
 * Builds the push plaintext the user's server encrypts for a stanza it holds for an offline device:
 * a chat or group-chat `<message/>` (its body, or the placeholder and the device's `omemo` object for
 * an OMEMO message), a Jingle Message Initiation `<propose/>` (a call: full JID of the caller, session
 * id, media) or a `<presence type='subscribe'/>`.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 * @see https://xmpp.org/extensions/xep-0353.html
 */
export function buildPushPlaintext(
  stanza: XmlElement,
  options: PlaintextOptions,
): Result<PushPlaintext, PlaintextError> {
  const from = parseJid(attribute(stanza, "from"));
  if (from === undefined) return failure({ kind: "bad-from", reason: "Stanza without a valid from" });
  const type = attribute(stanza, "type");
  if (stanza.name === "presence" && type === "subscribe") {
    return success({ unread: options.unread, sender: bareJid(from), type: "subscribe" });
  }
  if (stanza.name !== "message" || type === "error") {
    return failure({ kind: "not-notifiable", reason: "Neither a message nor a subscription request" });
  }
  return success(messagePlaintext(stanza, from, options));
}
