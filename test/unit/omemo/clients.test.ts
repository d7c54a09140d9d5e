import { describe, expect, it } from "vitest";
import {
  type BuiltPush,
  buildPush,
  type OmemoDevice,
  type PlaintextOptions,
  parsePushPlaintext,
  readOmemoForDevice,
  serializePushPlaintext,
} from "../../../src/omemo";
import { element } from "../../../src/xmpp/element";
import type { XmlElement } from "../../../src/xmpp/xml";
import { omemoPushVectors, parseStanza, readTestFile } from "./fixtures";
import { siskinDecode } from "./siskin";

/*
 * Element shapes as real clients write them, described from their code (no code copied; the base64
 * texts are synthetic):
 * - Conversations (iNPUTmice/Conversations, src/main/java/eu/siacs/conversations/crypto/axolotl/
 *   XmppAxolotlMessage.java toElement, generator/MessageGenerator.java generateKeyTransportMessage):
 *   header with `sid`, keys with `rid` and `prekey='true'` only on key exchanges, then `<iv/>`;
 *   `<payload/>` only when there is a message, so a key transport element is a header alone, sent as
 *   a chat message with a `<store/>` hint and no body.
 * - Dino (dino/dino, xmpp-vala/src/module/xep/0384_omemo/omemo_encryptor.vala): `<iv/>` first in the
 *   header, the keys after it, `<payload/>` after the header and only with a message; `sid` is the
 *   device id printed from a uint32.
 * - Monal (monal-im/Monal, Monal/Classes/MLOMEMO.m encryptString): `<payload/>` before the header,
 *   `<iv/>` first in the header, every key with `prekey='1'` or `prekey='0'`, `sid` printed with `%u`
 *   (unsigned 32-bit); no payload for a key transport element.
 * - Siskin's MartinOMEMO (tigase/MartinOMEMO, Sources/MartinOMEMO/OMEMOModule.swift): `<payload/>`
 *   before the header, `sid` from a UInt32, `prekey='true'`.
 */

const juliet: OmemoDevice = { deviceId: "1325", recipient: "juliet@capulet.example" };
const K1 = "MwohBbXd2Zl5g7q1o0eW3nY9n0mVqP2l5b0T1s3c6bXRXhIQABiIEMwohBQ==";
const K2 = "MwgBEiEFn7p0q2bQk4o3vV9mJq1uO2bW5X8cX9aZ1y3o0m0Jf2bqgQ8=";
const K3 = "NAohBXo5sA9m2bP0k4u7n1q3vW6aY8cE2f0hJ4lM6oQ8sU0wY2a4cQ==";
const IV = "9Fq8y0mXoYd3lB2c";
const PAYLOAD = "q0mY3pK8cQ1wZ7vB5nR2tX9uL4sJ6hF0dG3aE8iO2yU=";

function build(stanza: string | XmlElement, options: Partial<PlaintextOptions> = {}): BuiltPush {
  const parsed = typeof stanza === "string" ? parseStanza(stanza) : stanza;
  const built = buildPush(parsed, { unread: 1, omemoDevice: juliet, ...options });
  if (!built.ok) throw new Error(built.error.reason);
  return built.value;
}

/** What Siskin's notification extension decodes from what the builder writes. */
function siskinOf(built: BuiltPush) {
  return siskinDecode(serializePushPlaintext(built.plaintext));
}

function legacyMessage(inner: string, extra = "", type = "chat"): string {
  return `<message xmlns='jabber:client' from='romeo@montague.example/phone' to='juliet@capulet.example' type='${type}' id='m'>${inner}${extra}</message>`;
}

describe("key transport and other empty OMEMO messages: no message, low priority", () => {
  it("Conversations' key transport element (header and iv only, a store hint, no body)", () => {
    const built = build(
      legacyMessage(
        "<encrypted xmlns='eu.siacs.conversations.axolotl'>" +
          `<header sid='1846357102'><key rid='1325' prekey='true'>${K1}</key><key rid='9001'>${K2}</key><iv>${IV}</iv></header>` +
          "</encrypted>",
        "<store xmlns='urn:xmpp:hints'/>",
      ),
    );
    expect(built).toEqual({
      plaintext: { unread: 1, sender: "romeo@montague.example", type: "chat", message: undefined, nickname: undefined },
      priority: "low",
    });
    expect(serializePushPlaintext(built.plaintext)).toBe(
      '{"unread":1,"sender":"romeo@montague.example","type":"chat"}',
    );
    expect(siskinOf(built)).toEqual({
      outcome: "decoded",
      payload: { unread: 1, sender: "romeo@montague.example", type: "chat" },
      shows: "New message!",
    });
  });

  it("Dino's empty element (iv before the keys, no payload) in a group chat keeps the nickname", () => {
    const built = build(
      "<message xmlns='jabber:client' from='verona@rooms.example/Romeo' to='juliet@capulet.example/balcony' type='groupchat'>" +
        `<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='27183'><iv>${IV}</iv><key rid='1325' prekey='true'>${K1}</key></header></encrypted>` +
        "</message>",
    );
    expect(built.priority).toBe("low");
    expect(serializePushPlaintext(built.plaintext)).toBe(
      '{"unread":1,"sender":"verona@rooms.example","type":"groupchat","nickname":"Romeo"}',
    );
    expect(siskinOf(built)).toEqual({
      outcome: "decoded",
      payload: { unread: 1, sender: "verona@rooms.example", type: "groupchat", nickname: "Romeo" },
      shows: "New message!",
    });
  });

  it("Monal's key transport element (no payload, prekey='1')", () => {
    const built = build(
      legacyMessage(
        `<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='3735928559'><iv>${IV}</iv><key rid='1325' prekey='1'>${K3}</key></header></encrypted>`,
      ),
    );
    expect(built.priority).toBe("low");
    expect(built.plaintext.message).toBeUndefined();
    expect(built.plaintext.omemo).toBeUndefined();
  });

  it("XEP-0384 v0.3's 'Sending a key' example, in a message", () => {
    const encrypted = parseStanza(readTestFile("fixtures/xep/xep0384-v0.3-axolotl-keytransport.xml"));
    const message = element("message", { xmlns: "jabber:client", from: "romeo@montague.lit/orchard", type: "chat" }, [
      encrypted,
    ]);
    const built = build(message, { omemoDevice: { deviceId: "12321", recipient: "juliet@capulet.lit" } });
    expect(built).toEqual({
      plaintext: { unread: 1, sender: "romeo@montague.lit", type: "chat", message: undefined, nickname: undefined },
      priority: "low",
    });
  });

  it("XEP-0384's empty OMEMO message (urn:xmpp:omemo:2 heartbeat: its message example without payload)", () => {
    const example = parseStanza(readTestFile("fixtures/xep/xep0384-omemo2-message.xml"));
    const heartbeat: XmlElement = {
      ...example,
      children: example.children.map((child) =>
        typeof child !== "string" && child.name === "encrypted"
          ? { ...child, children: child.children.filter((part) => typeof part === "string" || part.name !== "payload") }
          : child,
      ),
    };
    const device = { deviceId: "31415", recipient: "juliet@capulet.lit" };
    expect(build(example, { omemoDevice: device }).priority).toBe("high");
    const built = build(heartbeat, { omemoDevice: device });
    expect(built.priority).toBe("low");
    expect(serializePushPlaintext(built.plaintext)).toBe('{"unread":1,"sender":"romeo@montague.lit","type":"chat"}');
  });

  it("stays silent when the empty OMEMO message also has a body (the fallback text is never shown)", () => {
    const built = build(
      legacyMessage(
        `<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='27183'><key rid='1325'>${K1}</key><iv>${IV}</iv></header><payload>  </payload></encrypted>`,
        "<body>I sent you an OMEMO encrypted message</body>",
      ),
    );
    expect(built.priority).toBe("low");
    expect(built.plaintext.message).toBeUndefined();
  });

  it("alerts when any OMEMO element of the message has a payload", () => {
    const built = build(
      legacyMessage(
        `<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='27183'><key rid='1325'>${K1}</key><iv>${IV}</iv></header></encrypted>` +
          `<encrypted xmlns='urn:xmpp:omemo:2'><header sid='27183'><keys jid='juliet@capulet.example'><key rid='1325' kex='true'>${K2}</key></keys></header><payload>${PAYLOAD}</payload></encrypted>`,
      ),
    );
    expect(built.priority).toBe("high");
    expect(built.plaintext.message).toBe("New secure message");
    expect(built.plaintext.omemo).toEqual({ keys: [K2], kex: [true], sid: "27183", data: PAYLOAD });
  });

  it("publishes a plain message without body (a chat state) at low priority too: nothing to show", () => {
    const built = build(
      "<message xmlns='jabber:client' from='romeo@montague.example/phone' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
    );
    expect(built).toEqual({
      plaintext: { unread: 1, sender: "romeo@montague.example", type: "chat", message: undefined, nickname: undefined },
      priority: "low",
    });
  });
});

describe("OMEMO messages with a payload, as clients write them: placeholder, omemo, high priority", () => {
  it("Monal: payload first, iv first, prekey='1' and prekey='0', an unsigned sid above 2^31", () => {
    const built = build(
      legacyMessage(
        `<encrypted xmlns='eu.siacs.conversations.axolotl'><payload>${PAYLOAD}</payload>` +
          `<header sid='3735928559'><iv>${IV}</iv><key rid='1325' prekey='1'>${K1}</key><key rid='1325' prekey='0'>${K2}</key><key rid='77' prekey='1'>${K3}</key></header>` +
          "</encrypted>",
      ),
    );
    expect(built.priority).toBe("high");
    expect(built.plaintext.omemo).toEqual({
      keys: [K1, K2],
      kex: [true, false],
      sid: "3735928559",
      iv: IV,
      data: PAYLOAD,
    });
    expect(siskinOf(built)).toMatchObject({
      outcome: "decoded",
      payload: { type: "chat", message: "New secure message" },
    });
  });

  it("Dino: iv first, keys after it, payload after the header", () => {
    const built = build(
      legacyMessage(
        `<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='2147483647'><iv>${IV}</iv><key rid='9001'>${K2}</key><key rid='1325' prekey='true'>${K1}</key></header><payload>${PAYLOAD}</payload></encrypted>`,
        "<body>fallback</body>",
      ),
    );
    expect(serializePushPlaintext(built.plaintext)).toBe(
      `{"unread":1,"sender":"romeo@montague.example","type":"chat","message":"New secure message","omemo":{"keys":["${K1}"],"kex":[true],"sid":"2147483647","iv":"${IV}","data":"${PAYLOAD}"}}`,
    );
  });

  it("XEP-0384's group chat example, as the room reflects it: groupchat, the nickname, the member's key exchange", () => {
    const sent = parseStanza(readTestFile("fixtures/xep/xep0384-omemo2-groupchat.xml"));
    const reflected = {
      ...sent,
      attrs: { ...sent.attrs, from: "secret-room@conference.capulet.lit/Juliet", to: "mercutio@verona.lit/phone" },
    };
    const built = build(reflected, { omemoDevice: { deviceId: "456", recipient: "mercutio@verona.lit" } });
    expect(built.priority).toBe("high");
    expect(built.plaintext.omemo).toEqual({
      keys: ["b64/encoded/data"],
      kex: [true],
      sid: "27183",
      data: "base64/encoded/message/key/encrypted/envelope/element",
    });
    expect(siskinOf(built)).toEqual({
      outcome: "decoded",
      payload: {
        unread: 1,
        sender: "secret-room@conference.capulet.lit",
        type: "groupchat",
        nickname: "Juliet",
        message: "New secure message",
      },
      shows: "New secure message",
    });
  });
});

describe("sid: an unsigned 32-bit integer, or the builder refuses", () => {
  function withSid(sid: string | undefined): XmlElement {
    const attribute = sid === undefined ? "" : ` sid='${sid}'`;
    return parseStanza(
      legacyMessage(
        `<encrypted xmlns='eu.siacs.conversations.axolotl'><header${attribute}><key rid='1325'>${K1}</key><iv>${IV}</iv></header><payload>${PAYLOAD}</payload></encrypted>`,
      ),
    );
  }

  it.each([
    ["0", "0"],
    ["27183", "27183"],
    ["2147483648", "2147483648"],
    ["4294967295", "4294967295"],
    ["027183", "27183"],
  ])("writes sid %j as %j", (sid, written) => {
    expect(build(withSid(sid)).plaintext.omemo?.sid).toBe(written);
  });

  it.each([
    ["negative", "-1"],
    ["over 4294967295", "4294967296"],
    ["far over", "99999999999"],
    ["a leading +", "+27183"],
    ["empty", ""],
    ["white space", " 27183"],
    ["hexadecimal", "0x6a2f"],
    ["an exponent", "2e4"],
    ["a fraction", "27183.0"],
    ["other digits", "٢٧١٨٣"],
  ])("refuses a sid that is %s (%j) with a typed error", (_name, sid) => {
    const built = buildPush(withSid(sid), { unread: 1, omemoDevice: juliet });
    expect(built).toEqual({ ok: false, error: { kind: "bad-omemo-sid", reason: expect.stringContaining(sid) } });
    expect(readOmemoForDevice(withSid(sid), juliet)).toEqual({
      ok: false,
      error: { kind: "bad-omemo-sid", reason: expect.any(String), sid },
    });
  });

  it("refuses a header without sid", () => {
    expect(buildPush(withSid(undefined), { unread: 1, omemoDevice: juliet })).toEqual({
      ok: false,
      error: { kind: "bad-omemo-sid", reason: "OMEMO header without sid" },
    });
  });

  it("checks the sid only where it is written: not without the OMEMO extension, a key for the device or a payload", () => {
    expect(build(withSid("-1"), { omemoDevice: undefined }).plaintext.omemo).toBeUndefined();
    expect(build(withSid("-1"), { omemoDevice: { ...juliet, deviceId: "999" } }).priority).toBe("high");
    const keyTransport = legacyMessage(
      `<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='-1'><key rid='1325'>${K1}</key><iv>${IV}</iv></header></encrypted>`,
    );
    expect(build(keyTransport).priority).toBe("low");
  });
});

describe("type: only what Siskin decodes", () => {
  it("writes a subscription request as unknown, which Siskin decodes", () => {
    const built = build("<presence xmlns='jabber:client' from='romeo@montague.example/phone' type='subscribe'/>");
    expect(built).toEqual({
      plaintext: { unread: 1, sender: "romeo@montague.example", type: "unknown" },
      priority: "high",
    });
    expect(siskinOf(built)).toEqual({
      outcome: "decoded",
      payload: { unread: 1, sender: "romeo@montague.example", type: "unknown" },
      shows: "New message!",
    });
  });

  it("would crash Siskin's extension with subscribe, as the seed writes it", () => {
    expect(siskinDecode('{"unread":1,"sender":"romeo@montague.example","type":"subscribe"}')).toEqual({
      outcome: "crash",
      type: "subscribe",
    });
  });

  it("decodes every vector's plaintext in Siskin, the key transport one without a message", () => {
    for (const vector of omemoPushVectors()) {
      const written = JSON.parse(vector.plaintext);
      expect(siskinDecode(vector.plaintext)).toEqual({
        outcome: "decoded",
        payload: {
          unread: vector.unread,
          sender: written.sender,
          type: written.type,
          ...(written.nickname === undefined ? {} : { nickname: written.nickname }),
          ...(vector.expectedPriority === "high" ? { message: "New secure message" } : {}),
        },
        shows: vector.expectedPriority === "high" ? "New secure message" : "New message!",
      });
    }
  });

  it("decodes a call with its sid and media", () => {
    const built = build(
      "<message xmlns='jabber:client' from='romeo@montague.example/phone' type='chat'><propose xmlns='urn:xmpp:jingle-message:0' id='c1'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></propose></message>",
    );
    expect(built.priority).toBe("high");
    expect(siskinOf(built)).toEqual({
      outcome: "decoded",
      payload: { unread: 1, sender: "romeo@montague.example/phone", type: "call", sid: "c1", media: ["audio"] },
      shows: "New message!",
    });
  });

  it("does not decode Tigase server 8.4's null unread (why the builder always writes numbers)", () => {
    expect(siskinDecode('{"unread":null,"sender":null,"type":"chat","message":"Hello"}')).toMatchObject({
      outcome: "not-decoded",
    });
  });
});

describe("reading kex: a missing kex is unknown, never false", () => {
  it.each([
    ["left out (a seed-only writer)", '{"keys":["k1","k2"],"sid":"27183","data":"d"}'],
    ["null", '{"keys":["k1","k2"],"kex":null,"sid":"27183","data":"d"}'],
  ])("keeps kex unknown when it is %s", (_name, omemo) => {
    const parsed = parsePushPlaintext(`{"unread":1,"sender":"a@b","type":"chat","message":"m","omemo":${omemo}}`);
    if (!parsed.ok) throw new Error(parsed.error.reason);
    expect(parsed.value.omemo).toStrictEqual({ keys: ["k1", "k2"], sid: "27183", iv: undefined, data: "d" });
    expect(parsed.value.omemo?.kex).toBeUndefined();
  });

  it("reads written flags as written, all false included", () => {
    const parsed = parsePushPlaintext(
      '{"unread":1,"sender":"a@b","type":"chat","omemo":{"keys":["k1","k2"],"kex":[false,false],"sid":"1","data":"d"}}',
    );
    expect(parsed.ok && parsed.value.omemo?.kex).toEqual([false, false]);
  });
});
