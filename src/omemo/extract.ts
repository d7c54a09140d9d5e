import { attribute, childElement, childElements, textOf } from "../xmpp/element";
import { bareJid, parseJid } from "../xmpp/jid";
import type { XmlElement } from "../xmpp/xml";
import { isOmemoNamespace, OMEMO_LEGACY_NS } from "./namespaces";

/**
 * The `omemo` object of the push plaintext: what a device needs to decrypt the OMEMO message
 * itself. Fields are declared in their wire order.
 */
export interface OmemoKeyMaterial {
  /** The texts of every `<key/>` addressed to the device, trimmed, in document order. */
  readonly keys: readonly string[];
  /** Parallel to `keys`: whether each key is a key exchange (`prekey='true'`, or `kex='true'` in OMEMO 1/2). */
  readonly kex: readonly boolean[];
  /** The sender's device id, the header's `sid`, as a string. */
  readonly sid?: string;
  /** The header's `<iv/>` text, trimmed (legacy namespace only). */
  readonly iv?: string;
  /** The `<payload/>` text, trimmed. */
  readonly data: string;
}

/** Whose keys to take: the enabled OMEMO device id, and the bare JID of the account it belongs to. */
export interface OmemoDevice {
  readonly deviceId: string;
  /** The recipient's bare JID: OMEMO 1 and 2 group keys by `<keys jid='...'/>`; legacy OMEMO ignores it. */
  readonly recipient: string;
}

function isXmlTrue(value: string | undefined): boolean {
  return value === "true" || value === "1";
}

function accountOf(jid: string | undefined): string | undefined {
  const parsed = parseJid(jid);
  return parsed && bareJid(parsed);
}

function keysForRecipient(header: XmlElement, recipient: string): XmlElement[] {
  if (header.ns === OMEMO_LEGACY_NS) return childElements(header, "key", header.ns);
  const account = accountOf(recipient);
  if (account === undefined) return [];
  return childElements(header, "keys", header.ns)
    .filter((group) => accountOf(attribute(group, "jid")) === account)
    .flatMap((group) => childElements(group, "key", header.ns));
}

function extractFromEncrypted(encrypted: XmlElement, device: OmemoDevice): OmemoKeyMaterial | undefined {
  const ns = encrypted.ns;
  const header = childElement(encrypted, "header", ns);
  const payload = childElement(encrypted, "payload", ns);
  if (header === undefined || payload === undefined) return undefined;
  const data = textOf(payload).trim();
  if (data === "") return undefined;
  const mine = keysForRecipient(header, device.recipient).filter((key) => attribute(key, "rid") === device.deviceId);
  if (mine.length === 0) return undefined;
  const kexAttribute = ns === OMEMO_LEGACY_NS ? "prekey" : "kex";
  const ivElement = ns === OMEMO_LEGACY_NS ? childElement(header, "iv", ns) : undefined;
  return {
    keys: mine.map((key) => textOf(key).trim()),
    kex: mine.map((key) => isXmlTrue(attribute(key, kexAttribute))),
    sid: attribute(header, "sid"),
    iv: ivElement === undefined ? undefined : textOf(ivElement).trim(),
    data,
  };
}

/** The `<encrypted/>` children of a message that are in an OMEMO namespace, in document order. */
export function omemoEncryptedElements(message: XmlElement): XmlElement[] {
  return childElements(message, "encrypted").filter((child) => isOmemoNamespace(child.ns));
}

/**
 * Extracts the `omemo` object of docs/protocol.md section 7 for one device from a `<message/>` in
 * `eu.siacs.conversations.axolotl`, `urn:xmpp:omemo:1` or `urn:xmpp:omemo:2`, whatever the order of
 * its elements and attributes. Returns `undefined` when the message has no key for the device or
 * no (non-empty) `<payload/>`; with several OMEMO `<encrypted/>` elements the first that yields one
 * wins. Never throws.
 * @see https://xmpp.org/extensions/xep-0384.html#protocol-message_structure
 * @see https://xmpp.org/extensions/attic/xep-0384-0.3.0.html#usecases-messagesend
 */
export function extractOmemoForDevice(message: XmlElement, device: OmemoDevice): OmemoKeyMaterial | undefined {
  for (const encrypted of omemoEncryptedElements(message)) {
    const found = extractFromEncrypted(encrypted, device);
    if (found !== undefined) return found;
  }
  return undefined;
}
