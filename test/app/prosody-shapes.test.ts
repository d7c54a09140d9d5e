import { createCipheriv, createDecipheriv } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type PushNotification, pushKind } from "../../src/domain/notification";
import { formField, type Harness, makeHarness, publishIq, registerDeviceIq } from "./harness";

/*
 * The publish stanzas Prosody writes with mod_cloud_notify and the community modules Siskin needs for
 * encrypted pushes (docs/prosody.md, "Encrypted pushes and their priority"), built from their source and
 * published through the real /xmpp against a register-device (APNs) registration. Debian's
 * prosody-modules (0.0~hg20230223) ships mod_cloud_notify only, so the shapes are tested, not the
 * modules. Sources read (prosody-modules as mirrored at decent-im/prosody-modules 37b6c888, 2024-01-27):
 *
 * - mod_cloud_notify: the summary form from util.dataforms with type 'form': FORM_TYPE hidden, then
 *   message-count (always "1"), pending-subscription-count, last-message-sender (jid-single),
 *   last-message-body (text-single); a field without a value has no <value/>. last-message-body is
 *   `push_notification_important_body` ("New Message!") for an important stanza (a message with a
 *   body, OMEMO/PGP encrypted, or a Jingle propose), the real body with
 *   `push_notification_with_body = true`, absent otherwise. The hook event's `important` is "the form
 *   has a last-message-body". No publish-options: Siskin's <enable/> carries no form.
 * - mod_cloud_notify_encrypted (hook priority 1): removes the <x xmlns='jabber:x:data'/> children and
 *   appends <encrypted xmlns='tigase:push:encrypt:0' iv='B64'>B64</encrypted>, AES-128-GCM of a JSON
 *   object {unread, sender, message?, type, nickname?, sid?, media?}; type='voip' and important = true
 *   for a Jingle propose. Nothing in the stanza says whether the push is important.
 * - mod_cloud_notify_priority_tag (hook priority 0, so after the encryption): appends
 *   <priority xmlns='tigase:push:priority:0'>high</priority> when the event is important, nothing
 *   otherwise. It never writes `low`, and the encrypted module removes only the form, so the element
 *   survives.
 *
 * What Siskin does with what the gateway sends (tigase/siskin-im d77818f9, NotificationService and
 * AppDelegate): an alert push is shown; its notification extension decrypts `encrypted` and shows the
 * sender and `message`, or its generic "New message!" with a sound when the payload has no message (a
 * receipt or a marker). A background push (content-available) wakes the app silently, as iOS allows;
 * nothing is shown.
 */

const KEY = Buffer.from("000102030405060708090a0b0c0d0e0f", "hex");
const IV = Buffer.from("a1a2a3a4a5a6a7a8a9aaabac", "hex");
/** Prosody's publish ids are a SHA-256 hex of random bytes. */
const PROSODY_ID = "0c1b14f0e5a1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabb";

/**
 * What mod_cloud_notify_encrypted encrypts, with the 16-byte GCM tag appended. (At 37b6c888 it uses
 * luaossl, which cannot read the tag, and appends 16 NUL bytes instead; Siskin does not check the tag,
 * and the gateway never opens the blob.)
 */
function sealLikeProsody(payload: Record<string, unknown>): { data: string; iv: string } {
  const cipher = createCipheriv("aes-128-gcm", KEY, IV);
  const sealed = Buffer.concat([cipher.update(JSON.stringify(payload), "utf8"), cipher.final(), cipher.getAuthTag()]);
  return { data: sealed.toString("base64"), iv: IV.toString("base64") };
}

/** What Siskin's notification extension reads from the blob the gateway forwarded. */
function openLikeSiskin(notification: PushNotification | undefined): Record<string, unknown> {
  const encrypted = notification?.encrypted;
  if (!encrypted) throw new Error("no encrypted blob was forwarded");
  const bytes = Buffer.from(encrypted.data, "base64");
  const decipher = createDecipheriv("aes-128-gcm", KEY, Buffer.from(encrypted.iv, "base64"));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  const plain = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]);
  return JSON.parse(plain.toString("utf8"));
}

/** mod_cloud_notify's summary form (util.dataforms, type 'form'), values as the options give them. */
function summaryForm(values: { sender?: string; body?: string }): string {
  const field = (name: string, type: string, value: string | undefined) =>
    value === undefined
      ? `<field var='${name}' type='${type}'/>`
      : `<field var='${name}' type='${type}'><value>${value}</value></field>`;
  return (
    "<x xmlns='jabber:x:data' type='form'>" +
    field("FORM_TYPE", "hidden", "urn:xmpp:push:summary") +
    field("message-count", "text-single", "1") +
    field("pending-subscription-count", "text-single", undefined) +
    field("last-message-sender", "jid-single", values.sender) +
    field("last-message-body", "text-single", values.body) +
    "</x>"
  );
}

/** mod_cloud_notify_encrypted's element; `voip` for a Jingle propose. */
function encryptedElement(payload: Record<string, unknown>, voip = false): string {
  const { data, iv } = sealLikeProsody(payload);
  return `<encrypted xmlns='tigase:push:encrypt:0' iv='${iv}'${voip ? " type='voip'" : ""}>${data}</encrypted>`;
}

/** mod_cloud_notify_priority_tag's element (it only ever writes `high`). */
function priorityElement(value: "high" | "low"): string {
  return `<priority xmlns='tigase:push:priority:0'>${value}</priority>`;
}

/** A register-device (APNs) registration as Siskin makes it, then one publish as Prosody sends it. */
async function publishAsProsody(notification: string): Promise<{ h: Harness; reply: string | undefined }> {
  const h = makeHarness();
  const node = formField(await h.iq(registerDeviceIq({ from: "romeo@montague.example/orchard" })), "node")?.values[0];
  if (node === undefined) throw new Error("register-device gave no node");
  const reply = await h.iq(publishIq({ node, from: "montague.example", id: PROSODY_ID, notification }));
  return { h, reply: reply.attrs.type };
}

const SENDER = "juliet@capulet.example";

describe("mod_cloud_notify's summary form (Debian's prosody-modules)", () => {
  it("default options, an important stanza: the dummy body makes an alert (Siskin shows its generic text)", async () => {
    const { h, reply } = await publishAsProsody(summaryForm({ body: "New Message!" }));
    expect(reply).toBe("result");
    const notification = h.apns.sent[0]?.notification;
    expect(notification).toEqual({ priority: "high", messageCount: 1, body: "New Message!" });
    expect(notification && pushKind(notification)).toBe("alert");
  });

  it("default options, a receipt or marker: no body, a background push (Siskin wakes silently)", async () => {
    const { h } = await publishAsProsody(summaryForm({}));
    const notification = h.apns.sent[0]?.notification;
    expect(notification).toEqual({ priority: "low", messageCount: 1 });
    expect(notification && pushKind(notification)).toBe("background");
  });

  it("push_notification_with_body (and _with_sender): the real body is an alert, with the full JID as sender", async () => {
    const { h } = await publishAsProsody(summaryForm({ sender: `${SENDER}/balcony`, body: "Wherefore art thou?" }));
    const notification = h.apns.sent[0]?.notification;
    expect(notification).toEqual({
      priority: "high",
      messageCount: 1,
      sender: `${SENDER}/balcony`,
      body: "Wherefore art thou?",
    });
    expect(notification && pushKind(notification)).toBe("alert");
  });

  it("push_notification_with_body, a receipt: the body field has no value, a background push", async () => {
    const { h } = await publishAsProsody(summaryForm({ sender: `${SENDER}/balcony` }));
    const notification = h.apns.sent[0]?.notification;
    expect(notification).toEqual({ priority: "low", messageCount: 1, sender: `${SENDER}/balcony` });
    expect(notification && pushKind(notification)).toBe("background");
  });
});

describe("mod_cloud_notify_encrypted without mod_cloud_notify_priority_tag", () => {
  it("a chat message: encrypted, no priority, an alert; Siskin decrypts sender and message", async () => {
    const payload = { unread: 1, sender: SENDER, message: "Wherefore art thou?", type: "chat" };
    const { h, reply } = await publishAsProsody(encryptedElement(payload));
    expect(reply).toBe("result");
    const notification = h.apns.sent[0]?.notification;
    expect(notification?.priority).toBe("high");
    expect(notification?.encrypted).toEqual({ ...sealLikeProsody(payload), voip: false });
    expect(notification && pushKind(notification)).toBe("alert");
    expect(openLikeSiskin(notification)).toEqual(payload);
  });

  it("a receipt: the same shape, so the same alert; Siskin shows 'New message!' with a sound (item 6)", async () => {
    // Nothing in the stanza marks it unimportant: the module drops the summary form (and with it the
    // only hint, last-message-body) and writes no priority. The gateway cannot tell it from a message.
    const payload = { unread: 1, sender: SENDER, type: "chat" };
    const { h } = await publishAsProsody(encryptedElement(payload));
    const notification = h.apns.sent[0]?.notification;
    expect(notification?.priority).toBe("high");
    expect(notification && pushKind(notification)).toBe("alert");
    expect(openLikeSiskin(notification)).not.toHaveProperty("message");
  });
});

describe("mod_cloud_notify_encrypted with mod_cloud_notify_priority_tag (as mod_cloud_notify_extensions loads them)", () => {
  it("an important message: <encrypted/> then <priority>high</priority>, an alert", async () => {
    const payload = { unread: 1, sender: SENDER, message: "You have received an encrypted message", type: "chat" };
    const { h } = await publishAsProsody(encryptedElement(payload) + priorityElement("high"));
    const notification = h.apns.sent[0]?.notification;
    expect(notification?.priority).toBe("high");
    expect(notification?.encrypted).toEqual({ ...sealLikeProsody(payload), voip: false });
    expect(notification && pushKind(notification)).toBe("alert");
  });

  it("a receipt: <encrypted/> alone; read as high, so Siskin still gets an alert (reported, see the comment)", async () => {
    // KNOWN MIS-READING, reported rather than fixed here: the priority tag marks the important pushes
    // and leaves the others unmarked (as Tigase's own PriorityExtension does); Siskin asks for
    // encryption only from servers that offer tigase:push:priority:0. src/xmpp/publish.ts reads an
    // <encrypted/> without <priority/> as high (docs/protocol.md section 4), so this receipt still
    // wakes the user. When that rule changes, this push becomes "low" / "background".
    const payload = { unread: 1, sender: SENDER, type: "chat" };
    const { h } = await publishAsProsody(encryptedElement(payload));
    const notification = h.apns.sent[0]?.notification;
    expect(notification?.priority).toBe("high");
    expect(notification && pushKind(notification)).toBe("alert");
  });

  it("a call (Jingle propose): type='voip' and the priority tag; a VoIP push (an alert without a PushKit token)", async () => {
    const payload = { unread: 1, sender: `${SENDER}/balcony`, type: "call", sid: "jmi-1", media: ["audio"] };
    const { h } = await publishAsProsody(encryptedElement(payload, true) + priorityElement("high"));
    const notification = h.apns.sent[0]?.notification;
    expect(notification?.priority).toBe("high");
    expect(notification?.encrypted?.voip).toBe(true);
    expect(notification && pushKind(notification)).toBe("voip");
  });

  it("<priority>low</priority> (no module writes it; the parser honours it): a background push", async () => {
    const payload = { unread: 1, sender: SENDER, type: "chat" };
    const { h } = await publishAsProsody(encryptedElement(payload) + priorityElement("low"));
    const notification = h.apns.sent[0]?.notification;
    expect(notification?.priority).toBe("low");
    expect(notification?.encrypted).toEqual({ ...sealLikeProsody(payload), voip: false });
    expect(notification && pushKind(notification)).toBe("background");
  });
});
