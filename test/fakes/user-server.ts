import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseXml, type XmlElement } from "../../src/xmpp";
import { errorOf, errorText, formField, registerDeviceIq, registerP2Iq } from "../app/harness";

const PUSH_FIXTURES = new URL("../fixtures/push/", import.meta.url);

/** The key, IVs and ciphertext behind the encrypted publish fixtures. */
export interface EncryptedPublishVector {
  readonly key: string;
  readonly chat: { readonly iv: string; readonly plaintext: string; readonly encrypted: string };
  readonly call: { readonly iv: string; readonly plaintext: string };
}

/** test/fixtures/push/encrypted-publish.vector.json. */
export function encryptedPublishVector(): EncryptedPublishVector {
  return JSON.parse(readFileSync(new URL("encrypted-publish.vector.json", PUSH_FIXTURES), "utf8"));
}

/** The `<encrypted/>` text of a fixture, white space removed (what the device must get). */
export function fixtureCiphertext(file: "encrypted-publish.xml" | "encrypted-voip-publish.xml"): string {
  const xml = readFileSync(new URL(file, PUSH_FIXTURES), "utf8");
  const text = /<encrypted[^>]*>([^<]*)<\/encrypted>/.exec(xml)?.[1];
  if (text === undefined) throw new Error(`${file} has no <encrypted/>`);
  return text.replace(/\s+/g, "");
}

/**
 * A Tigase encrypted publish fixture for `node`: the NODE placeholder filled in and, for a registration
 * with a secret, the publish-options carrying it.
 */
export function encryptedPublish(
  node: string,
  options: { secret?: string; voip?: boolean; id?: string; from?: string } = {},
): string {
  const file = options.voip ? "encrypted-voip-publish.xml" : "encrypted-publish.xml";
  let xml = readFileSync(new URL(file, PUSH_FIXTURES), "utf8").replace("NODE", node);
  if (options.id !== undefined) xml = xml.replace(/id='[^']*'/, `id='${options.id}'`);
  if (options.from !== undefined) xml = xml.replace(/from='[^']*'/, `from='${options.from}'`);
  if (options.secret !== undefined)
    xml = xml.replace(
      "</publish>",
      `</publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>${options.secret}</value></field></x></publish-options>`,
    );
  return xml;
}

/** What p2 clients put in FCM data `account`: lowercase hex SHA-1 of `bareJid + "\0" + deviceId` (docs/protocol.md 6.2). */
export function p2AccountHash(bareJid: string, deviceId: string): string {
  return createHash("sha1").update(`${bareJid}\u0000${deviceId}`).digest("hex");
}

/** An IQ reply, and its error as `type/condition` when it is one. */
export interface IqReply {
  readonly element: XmlElement;
  readonly type: string | undefined;
  readonly error: string | undefined;
  readonly errorText: string | undefined;
}

/**
 * Plays the user's XMPP server (through the bridge) against a running gateway: posts stanzas to
 * `/xmpp` as the bridge does, registers devices as the clients' commands arrive, publishes.
 */
export class FakeUserServer {
  constructor(
    readonly gatewayUrl: string,
    private readonly gatewayToken?: string,
  ) {}

  /** POSTs one stanza to `/xmpp`. */
  post(stanza: string): Promise<Response> {
    return fetch(`${this.gatewayUrl}/xmpp`, {
      method: "POST",
      headers: {
        "content-type": "application/xml",
        ...(this.gatewayToken !== undefined ? { authorization: `Bearer ${this.gatewayToken}` } : {}),
      },
      body: stanza,
    });
  }

  /** POSTs an IQ and parses its 200 reply. */
  async iq(stanza: string): Promise<IqReply> {
    const response = await this.post(stanza);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`gateway answered ${response.status}: ${text}`);
    const parsed = parseXml(text);
    if (!parsed.ok) throw new Error(`reply is not XML: ${text}`);
    const element = parsed.value;
    return { element, type: element.attrs.type, error: errorOf(element), errorText: errorText(element) };
  }

  /** `register-device` as Siskin sends it; returns the node. */
  async registerDevice(options: Parameters<typeof registerDeviceIq>[0]): Promise<string> {
    const reply = await this.iq(registerDeviceIq(options));
    const node = formField(reply.element, "node")?.values[0];
    if (reply.type !== "result" || node === undefined)
      throw new Error(`register-device failed: ${reply.error} ${reply.errorText}`);
    return node;
  }

  /** `register-push-fcm` / `register-push-apns` as Conversations sends it; returns node and secret. */
  async registerP2(options: Parameters<typeof registerP2Iq>[0]): Promise<{ node: string; secret: string }> {
    const reply = await this.iq(registerP2Iq(options));
    const node = formField(reply.element, "node")?.values[0];
    const secret = formField(reply.element, "secret")?.values[0];
    if (reply.type !== "result" || node === undefined || secret === undefined)
      throw new Error(`register-push failed: ${reply.error} ${reply.errorText}`);
    return { node, secret };
  }
}
