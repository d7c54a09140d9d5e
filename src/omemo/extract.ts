import { failure, type Result, success } from "../domain/result";
import { attribute, childElement, childElements, textOf } from "../xmpp/element";
import { bareJid, parseJid } from "../xmpp/jid";
import type { XmlElement } from "../xmpp/xml";
import { parseOmemoDeviceId } from "./device-id";
import { isOmemoNamespace, OMEMO_LEGACY_NS } from "./namespaces";

/**
 * The `omemo` object of the push plaintext as the builder writes it: what a device needs to decrypt
 * the OMEMO message itself. Fields are declared in their wire order.
 */
export interface OmemoKeyMaterial {
  /** The texts of every `<key/>` addressed to the device, trimmed, in document order. */
  readonly keys: readonly string[];
  /**
   * Parallel to `keys`: whether each key is a key exchange (`prekey='true'`, or `kex='true'` in OMEMO
   * 1/2; `1` counts as true, a missing attribute as false, as XEP-0384's schema defaults it). Always
   * written: a reader that finds none cannot tell a key exchange from a normal message.
   */
  readonly kex: readonly boolean[];
  /** The sender's device id, the header's `sid`: an unsigned 32-bit integer in canonical decimal. */
  readonly sid: string;
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

/** Why no `omemo` object can be written for a message that has keys for the device. */
export interface OmemoSidError {
  readonly kind: "bad-omemo-sid";
  readonly reason: string;
  /** The header's `sid` as written; absent when the header has none. */
  readonly sid?: string;
}

/** The trimmed text of an OMEMO element's `<payload/>`; `undefined` when it has none or an empty one. */
function payloadOf(encrypted: XmlElement): string | undefined {
  const payload = childElement(encrypted, "payload", encrypted.ns);
  const data = payload === undefined ? "" : textOf(payload).trim();
  return data === "" ? undefined : data;
}

function readFromEncrypted(
  encrypted: XmlElement,
  device: OmemoDevice,
): Result<OmemoKeyMaterial | undefined, OmemoSidError> {
  const ns = encrypted.ns;
  const header = childElement(encrypted, "header", ns);
  const data = payloadOf(encrypted);
  if (header === undefined || data === undefined) return success(undefined);
  const mine = keysForRecipient(header, device.recipient).filter((key) => attribute(key, "rid") === device.deviceId);
  if (mine.length === 0) return success(undefined);
  const written = attribute(header, "sid");
  const sid = parseOmemoDeviceId(written);
  if (sid === undefined) {
    const reason =
      written === undefined
        ? "OMEMO header without sid"
        : `OMEMO header sid ${JSON.stringify(written)} is not an unsigned 32-bit integer`;
    return failure({ kind: "bad-omemo-sid", reason, ...(written === undefined ? {} : { sid: written }) });
  }
  const kexAttribute = ns === OMEMO_LEGACY_NS ? "prekey" : "kex";
  const ivElement = ns === OMEMO_LEGACY_NS ? childElement(header, "iv", ns) : undefined;
  return success({
    keys: mine.map((key) => textOf(key).trim()),
    kex: mine.map((key) => isXmlTrue(attribute(key, kexAttribute))),
    sid,
    iv: ivElement === undefined ? undefined : textOf(ivElement).trim(),
    data,
  });
}

/** The `<encrypted/>` children of a message that are in an OMEMO namespace, in document order. */
export function omemoEncryptedElements(message: XmlElement): XmlElement[] {
  return childElements(message, "encrypted").filter((child) => isOmemoNamespace(child.ns));
}

/**
 * Whether a message is an empty OMEMO message: it has OMEMO `<encrypted/>` elements and none of them
 * carries a (non-empty) `<payload/>`. Such a message moves key material only (a key transport
 * element, a heartbeat, the answer that completes a session) and clients show nothing for it, so
 * its push has no `message` and is published at low priority (docs/protocol.md section 7).
 * @see https://xmpp.org/extensions/xep-0384.html#usecases-messagesend
 * @see https://xmpp.org/extensions/attic/xep-0384-0.3.0.html#usecases-keysend
 */
export function isEmptyOmemoMessage(message: XmlElement): boolean {
  const elements = omemoEncryptedElements(message);
  return elements.length > 0 && elements.every((encrypted) => payloadOf(encrypted) === undefined);
}

/**
 * Reads the `omemo` object of docs/protocol.md section 7 for one device from a `<message/>` in
 * `eu.siacs.conversations.axolotl`, `urn:xmpp:omemo:1` or `urn:xmpp:omemo:2`, whatever the order of
 * its elements and attributes. Succeeds with `undefined` when the message has no key for the device
 * or no (non-empty) `<payload/>`; with several OMEMO `<encrypted/>` elements the first that has both
 * wins. Fails when that element's header has no `sid` or one that is not an unsigned 32-bit integer
 * in plain decimal: a device cannot find the session without it. Never throws.
 * @see https://xmpp.org/extensions/xep-0384.html#message-structure-description
 * @see https://xmpp.org/extensions/attic/xep-0384-0.3.0.html#usecases-messagesend
 */
export function readOmemoForDevice(
  message: XmlElement,
  device: OmemoDevice,
): Result<OmemoKeyMaterial | undefined, OmemoSidError> {
  for (const encrypted of omemoEncryptedElements(message)) {
    const found = readFromEncrypted(encrypted, device);
    if (!found.ok || found.value !== undefined) return found;
  }
  return success(undefined);
}

/**
 * The `omemo` object for one device, as {@link readOmemoForDevice} reads it; `undefined` when there is
 * none, and also when the header's `sid` is refused (ask {@link readOmemoForDevice} why).
 * @see https://xmpp.org/extensions/xep-0384.html#message-structure-description
 */
export function extractOmemoForDevice(message: XmlElement, device: OmemoDevice): OmemoKeyMaterial | undefined {
  const read = readOmemoForDevice(message, device);
  return read.ok ? read.value : undefined;
}
