import { describe, expect, it } from "vitest";
import {
  buildEncryptedElement,
  buildPushPlaintext,
  openPayload,
  openPushNotification,
  sealPushNotification,
  serializePushPlaintext,
} from "../../../src/omemo";
import { childElement, serialize, textOf } from "../../../src/xmpp/element";
import { NS } from "../../../src/xmpp/namespaces";
import type { XmlElement } from "../../../src/xmpp/xml";
import { base64Bytes, encryptedPublishVector, parseStanza, readTestFile } from "./fixtures";

const vector = encryptedPublishVector();
const key = base64Bytes(vector.key);

function encryptedOf(publishFile: string): XmlElement {
  const iq = parseStanza(readTestFile(`fixtures/push/${publishFile}`));
  const pubsub = childElement(iq, "pubsub", NS.pubsub);
  const publish = pubsub && childElement(pubsub, "publish");
  const item = publish && childElement(publish, "item");
  const notification = item && childElement(item, "notification", NS.push);
  const encrypted = notification && childElement(notification, "encrypted", NS.tigaseEncrypt);
  if (encrypted === undefined) throw new Error(`no <encrypted/> in ${publishFile}`);
  return encrypted;
}

function blobOf(encrypted: XmlElement): { encrypted: string; iv: string } {
  return { encrypted: textOf(encrypted), iv: encrypted.attrs.iv ?? "" };
}

const chatMessage = parseStanza(
  "<message xmlns='jabber:client' from='juliet@capulet.example/balcony' to='romeo@montague.example' type='chat'>" +
    "<body>Wherefore art thou, Romeo?</body></message>",
);
const callMessage = parseStanza(
  "<message xmlns='jabber:client' from='juliet@capulet.example/balcony' to='romeo@montague.example'>" +
    "<propose xmlns='urn:xmpp:jingle-message:0' id='jmi-7'>" +
    "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/>" +
    "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'/>" +
    "</propose></message>",
);

describe("the Tigase encrypted-publish vector (test/fixtures/push)", () => {
  it("opens the chat blob of encrypted-publish.xml with the key", async () => {
    const opened = await openPayload(blobOf(encryptedOf("encrypted-publish.xml")), key);
    expect(opened).toEqual({ ok: true, value: vector.chat.plaintext });
  });

  it("opens the white-space-wrapped VoIP blob of encrypted-voip-publish.xml to the call plaintext", async () => {
    const encrypted = encryptedOf("encrypted-voip-publish.xml");
    expect(encrypted.attrs.type).toBe("voip");
    const opened = await openPushNotification(blobOf(encrypted), key);
    expect(opened).toEqual({
      ok: true,
      value: {
        unread: 0,
        sender: "juliet@capulet.example/balcony",
        type: "call",
        sid: "jmi-7",
        media: ["audio", "video"],
      },
    });
  });

  it("builds the chat plaintext from a message and seals it to the published element", async () => {
    const built = buildPushPlaintext(chatMessage, { unread: 1 });
    if (!built.ok) throw new Error(built.error.reason);
    expect(serializePushPlaintext(built.value)).toBe(vector.chat.plaintext);
    const sealed = await sealPushNotification(built.value, key, { iv: base64Bytes(vector.chat.iv) });
    if (!sealed.ok) throw new Error(sealed.error.reason);
    expect(serialize(buildEncryptedElement(sealed.value, { voip: sealed.value.voip }))).toBe(
      serialize(encryptedOf("encrypted-publish.xml")),
    );
  });

  it("builds the call plaintext from a Jingle Message Initiation propose and seals it to the VoIP element", async () => {
    const built = buildPushPlaintext(callMessage, { unread: 0 });
    if (!built.ok) throw new Error(built.error.reason);
    expect(serializePushPlaintext(built.value)).toBe(vector.call.plaintext);
    const sealed = await sealPushNotification(built.value, key, { iv: base64Bytes(vector.call.iv) });
    if (!sealed.ok) throw new Error(sealed.error.reason);
    expect(sealed.value.voip).toBe(true);
    const published = encryptedOf("encrypted-voip-publish.xml");
    const element = buildEncryptedElement(sealed.value, { voip: true });
    expect(element.attrs).toEqual(published.attrs);
    expect(textOf(element)).toBe(textOf(published).replace(/\s/g, ""));
  });
});
