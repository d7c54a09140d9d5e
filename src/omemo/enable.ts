import { failure, type Result, success } from "../domain/result";
import { attribute, childElement, textOf } from "../xmpp/element";
import { type DataForm, parseDataForm } from "../xmpp/forms";
import { parseJid } from "../xmpp/jid";
import { NS } from "../xmpp/namespaces";
import type { XmlElement } from "../xmpp/xml";
import { AES_128_KEY_BYTES } from "./aes-gcm";
import { decodeBase64 } from "./base64";
import { parseOmemoDeviceId } from "./device-id";

/** The one cipher of encrypted push. `aes-gcm`, which the seed's own example writes, is read as this. */
export type PushEncryptionAlgorithm = "aes-128-gcm";

const ALGORITHM_NAMES: Readonly<Record<string, PushEncryptionAlgorithm>> = {
  "aes-128-gcm": "aes-128-gcm",
  "aes-gcm": "aes-128-gcm",
};

/** What `<encrypt xmlns='tigase:push:encrypt:0'/>` asks of the user's server. */
export interface PushEncryption {
  readonly algorithm: PushEncryptionAlgorithm;
  /** The 16-byte AES key the device opens its pushes with. */
  readonly key: Uint8Array<ArrayBuffer>;
  /** The largest length of the base64 `encrypted` text the push service can carry, when given. */
  readonly maxSize?: number;
}

/** A parsed `<enable xmlns='urn:xmpp:push:0'/>`. */
export interface PushEnable {
  readonly jid: string;
  readonly node: string;
  readonly encryption?: PushEncryption;
  /** The device's OMEMO device id in canonical decimal form, when it asked for the OMEMO extension. */
  readonly omemoDeviceId?: string;
  /** The publish options (a `secret`, usually: read it with `formValue`), when the enable carries a form. */
  readonly publishOptions?: DataForm;
}

export type EnableErrorKind =
  | "not-enable"
  | "bad-jid"
  | "missing-node"
  | "unsupported-algorithm"
  | "bad-key"
  | "bad-max-size"
  | "bad-device-id"
  | "omemo-without-encrypt"
  | "bad-publish-options";

/** Why an `<enable/>` was refused; `reason` is short and fit for the `<text/>` of a modify/bad-request error. */
export interface EnableError {
  readonly kind: EnableErrorKind;
  readonly reason: string;
}

function refused(kind: EnableErrorKind, reason: string): Result<never, EnableError> {
  return failure({ kind, reason });
}

function parseEncrypt(encrypt: XmlElement): Result<PushEncryption, EnableError> {
  const algorithm = ALGORITHM_NAMES[attribute(encrypt, "alg") ?? ""];
  if (algorithm === undefined) return refused("unsupported-algorithm", "Unsupported encryption algorithm");
  const key = decodeBase64(textOf(encrypt));
  if (key === undefined) return refused("bad-key", "Encryption key is not base64");
  if (key.length !== AES_128_KEY_BYTES) return refused("bad-key", "Encryption key must be 16 bytes");
  const maxSizeText = attribute(encrypt, "max-size");
  if (maxSizeText === undefined) return success({ algorithm, key });
  const maxSize = /^[0-9]{1,15}$/.test(maxSizeText) ? Number(maxSizeText) : 0;
  if (maxSize < 1) return refused("bad-max-size", "max-size must be a positive integer");
  return success({ algorithm, key, maxSize });
}

/** The enabled device's id: a device id of XEP-0384 other than 0 (no client uses 0). */
function parseDeviceId(omemo: XmlElement): string | undefined {
  const id = parseOmemoDeviceId(attribute(omemo, "deviceId"));
  return id === "0" ? undefined : id;
}

/**
 * Parses the `<enable/>` a client sends its own server, with the optional Tigase `<encrypt/>`
 * (AES-128-GCM key and max-size), the OMEMO extension's `<omemo deviceId='N'/>` and publish options.
 * Returns a typed error for anything the server must refuse with modify/bad-request.
 * @see https://xmpp.org/extensions/xep-0357.html#enabling
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function parseEnable(enable: XmlElement): Result<PushEnable, EnableError> {
  if (enable.name !== "enable" || enable.ns !== NS.push) return refused("not-enable", "Not a push enable");
  const jid = attribute(enable, "jid");
  if (jid === undefined || parseJid(jid) === undefined) return refused("bad-jid", "Missing or invalid jid");
  const node = attribute(enable, "node");
  if (node === undefined || node === "") return refused("missing-node", "Missing node");
  const form = childElement(enable, "x", NS.dataForms);
  const parsedForm = form === undefined ? undefined : parseDataForm(form);
  if (parsedForm !== undefined && !parsedForm.ok) return refused("bad-publish-options", "Malformed publish options");
  const publishOptions = parsedForm?.value;
  const encrypt = childElement(enable, "encrypt", NS.tigaseEncrypt);
  const omemo = childElement(enable, "omemo", NS.tigaseEncryptOmemo);
  if (encrypt === undefined) {
    if (omemo !== undefined) return refused("omemo-without-encrypt", "omemo requires encrypt");
    return success({ jid, node, publishOptions });
  }
  const encryption = parseEncrypt(encrypt);
  if (!encryption.ok) return encryption;
  if (omemo === undefined) return success({ jid, node, encryption: encryption.value, publishOptions });
  const omemoDeviceId = parseDeviceId(omemo);
  if (omemoDeviceId === undefined) return refused("bad-device-id", "deviceId must be an OMEMO device id");
  return success({ jid, node, encryption: encryption.value, omemoDeviceId, publishOptions });
}
