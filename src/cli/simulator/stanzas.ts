import { buildPriorityElement, isOmemoNamespace, OMEMO_LEGACY_NS, type PushPriority } from "../../omemo";
import { attribute, childElement, childElements, element, textOf } from "../../xmpp/element";
import { buildDataForm, parseDataForm } from "../../xmpp/forms";
import { bareJid, parseJid } from "../../xmpp/jid";
import { NS } from "../../xmpp/namespaces";
import type { XmlElement } from "../../xmpp/xml";
import type { SimulatedProvider } from "./options";

/** The `provider` values of `register-device` (docs/protocol.md 3.2). */
export const TIGASE_PROVIDERS: Readonly<Record<SimulatedProvider, string>> = {
  apns: "tigase:messenger:apns:1",
  fcm: "tigase:messenger:fcm:1",
};

export interface RegisterDeviceRequest {
  readonly id: string;
  /** The client's full JID. */
  readonly from: string;
  readonly pushJid: string;
  readonly provider: SimulatedProvider;
  readonly token: string;
  readonly environment?: "production" | "sandbox";
}

/**
 * The `register-device` command a Tigase client (Siskin) sends the push service, one-step submit.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function registerDeviceIq(request: RegisterDeviceRequest): XmlElement {
  const form = buildDataForm("submit", [
    { var: "provider", values: [TIGASE_PROVIDERS[request.provider]] },
    { var: "device-token", values: [request.token] },
    ...(request.environment !== undefined ? [{ var: "environment", values: [request.environment] }] : []),
  ]);
  return element("iq", { type: "set", from: request.from, to: request.pushJid, id: request.id }, [
    element("command", { xmlns: NS.commands, node: "register-device", action: "execute" }, [form]),
  ]);
}

/** What a client keeps from the `register-device` result form. */
export interface DeviceRegistration {
  readonly node: string;
  readonly maxPayloadSize: number;
  readonly features: readonly string[];
}

/** `type/condition: text` of an IQ error reply, or the reply's type when it is no error. */
export function describeIqError(reply: XmlElement): string {
  const error = childElement(reply, "error");
  if (error === undefined) return `IQ of type ${attribute(reply, "type") ?? "(none)"}`;
  const condition = childElements(error).find((child) => child.ns === NS.stanzas && child.name !== "text");
  const text = childElement(error, "text", NS.stanzas);
  const described = `${attribute(error, "type") ?? "?"}/${condition?.name ?? "?"}`;
  return text === undefined ? described : `${described}: ${textOf(text)}`;
}

/** Reads `node`, `max-payload-size` and `features` from the `register-device` reply; a string says what is wrong. */
export function readRegistration(reply: XmlElement): DeviceRegistration | string {
  if (reply.name !== "iq" || attribute(reply, "type") !== "result") return `refused: ${describeIqError(reply)}`;
  const command = childElement(reply, "command", NS.commands);
  const x = command && childElement(command, "x", NS.dataForms);
  const parsed = x && parseDataForm(x);
  if (parsed === undefined || !parsed.ok) return "the result carries no data form";
  const node = parsed.value.fields.get("node")?.[0]?.trim();
  if (node === undefined || node === "") return "the result form has no node";
  const size = parsed.value.fields.get("max-payload-size")?.[0]?.trim() ?? "";
  if (!/^[0-9]{1,9}$/.test(size) || Number(size) < 1)
    return `the result form's max-payload-size is not a positive integer: ${JSON.stringify(size)}`;
  const features = parsed.value.fields.get("features") ?? [];
  return { node, maxPayloadSize: Number(size), features: features.map((feature) => feature.trim()) };
}

export interface EnableRequest {
  readonly pushJid: string;
  readonly node: string;
  /** Base64 of the 16-byte AES key. */
  readonly key: string;
  readonly maxSize: number;
  readonly deviceId: string;
}

/**
 * The `<enable/>` a client sends its own server: the push service and node, the Tigase `<encrypt/>`
 * with its key and max-size, and this project's `<omemo deviceId/>` (docs/protocol.md section 7).
 * @see https://xmpp.org/extensions/xep-0357.html#enabling
 */
export function enableElement(request: EnableRequest): XmlElement {
  return element("enable", { xmlns: NS.push, jid: request.pushJid, node: request.node }, [
    element("encrypt", { xmlns: NS.tigaseEncrypt, alg: "aes-128-gcm", "max-size": request.maxSize }, [request.key]),
    element("omemo", { xmlns: NS.tigaseEncryptOmemo, deviceId: request.deviceId }),
  ]);
}

export interface PublishRequest {
  readonly id: string;
  /** The user's server: the account's domain. */
  readonly from: string;
  readonly pushJid: string;
  readonly node: string;
  readonly encrypted: XmlElement;
  /** The builder's priority, written as `<priority xmlns='tigase:push:priority:0'/>`; none when absent. */
  readonly priority?: PushPriority;
}

/**
 * The publish the user's server sends for an encrypted push: `<encrypted/>` in place of the summary,
 * and the `<priority/>` the builder asked for (`low` makes the push service send a background push),
 * as Tigase server writes it (docs/protocol.md sections 4 and 7).
 * @see https://xmpp.org/extensions/xep-0357.html#publishing
 */
export function publishIq(request: PublishRequest): XmlElement {
  const priority = request.priority === undefined ? [] : [buildPriorityElement(request.priority)];
  const notification = element("notification", { xmlns: NS.push }, [request.encrypted, ...priority]);
  return element("iq", { type: "set", from: request.from, to: request.pushJid, id: request.id }, [
    element("pubsub", { xmlns: NS.pubsub }, [
      element("publish", { node: request.node }, [element("item", {}, [notification])]),
    ]),
  ]);
}

function sameAccount(jid: string | undefined, recipient: string): boolean {
  const parsed = parseJid(jid);
  return parsed !== undefined && bareJid(parsed) === recipient;
}

/**
 * The `rid` of the first OMEMO key addressed to the recipient in a message (legacy OMEMO: the first
 * key of the header; OMEMO 1/2: the first key of the recipient's `<keys jid/>` group): the device id a
 * simulation picks when none is given.
 */
export function firstDeviceIdFor(message: XmlElement, recipient: string): string | undefined {
  for (const encrypted of childElements(message, "encrypted").filter((child) => isOmemoNamespace(child.ns))) {
    const header = childElement(encrypted, "header", encrypted.ns);
    if (header === undefined) continue;
    const keys =
      encrypted.ns === OMEMO_LEGACY_NS
        ? childElements(header, "key", encrypted.ns)
        : childElements(header, "keys", encrypted.ns)
            .filter((group) => sameAccount(attribute(group, "jid"), recipient))
            .flatMap((group) => childElements(group, "key", encrypted.ns));
    const rid = keys.map((key) => attribute(key, "rid")).find((id) => id !== undefined && /^[0-9]{1,10}$/.test(id));
    if (rid !== undefined) return String(Number(rid));
  }
  return undefined;
}
