import { describe, expect, it } from "vitest";
import { extractOmemoForDevice, readOmemoForDevice } from "../../../src/omemo";
import { element } from "../../../src/xmpp/element";
import { parseStanza, readTestFile } from "./fixtures";

function xepExample(file: string) {
  return parseStanza(readTestFile(`fixtures/xep/${file}`));
}

const OMEMO2_DATA = "base64/encoded/message/key/encrypted/envelope/element";

describe("extractOmemoForDevice on the XEP-0384 examples", () => {
  it("takes the recipient's keys group in urn:xmpp:omemo:2, without an iv", () => {
    const message = xepExample("xep0384-omemo2-message.xml");
    expect(extractOmemoForDevice(message, { deviceId: "31415", recipient: "juliet@capulet.lit" })).toStrictEqual({
      keys: ["b64/encoded/data"],
      kex: [false],
      sid: "27183",
      iv: undefined,
      data: OMEMO2_DATA,
    });
  });

  it("reads kex='true' in the group of another account when that account is the recipient", () => {
    const message = xepExample("xep0384-omemo2-message.xml");
    expect(extractOmemoForDevice(message, { deviceId: "12321", recipient: "romeo@montague.lit" })?.kex).toEqual([true]);
  });

  it("ignores a key with the device's rid in another account's group", () => {
    const message = xepExample("xep0384-omemo2-message.xml");
    expect(extractOmemoForDevice(message, { deviceId: "31415", recipient: "romeo@montague.lit" })).toBeUndefined();
  });

  it("finds a member's key in a group chat message", () => {
    const message = xepExample("xep0384-omemo2-groupchat.xml");
    expect(extractOmemoForDevice(message, { deviceId: "456", recipient: "mercutio@verona.lit" })).toEqual({
      keys: ["b64/encoded/data"],
      kex: [true],
      sid: "27183",
      data: OMEMO2_DATA,
    });
  });

  it("reads prekey='true' and the iv of the legacy namespace", () => {
    const message = xepExample("xep0384-v0.3-axolotl-message.xml");
    expect(extractOmemoForDevice(message, { deviceId: "12321", recipient: "juliet@capulet.lit" })).toEqual({
      keys: ["BASE64ENCODED..."],
      kex: [true],
      sid: "27183",
      iv: "BASE64ENCODED...",
      data: "BASE64ENCODED",
    });
  });

  it("gives nothing for a legacy key transport element, which has no payload", () => {
    const message = element("message", { xmlns: "jabber:client", from: "romeo@montague.lit/orchard" }, [
      xepExample("xep0384-v0.3-axolotl-keytransport.xml"),
    ]);
    expect(extractOmemoForDevice(message, { deviceId: "31415", recipient: "juliet@capulet.lit" })).toBeUndefined();
  });
});

function omemo2Message(inner: string, ns = "urn:xmpp:omemo:2"): string {
  return `<message xmlns='jabber:client' from='romeo@montague.example/orchard' to='juliet@capulet.example'><encrypted xmlns='${ns}'>${inner}</encrypted></message>`;
}

const device = { deviceId: "7", recipient: "juliet@capulet.example" };

describe("extractOmemoForDevice, order and shape", () => {
  it("reads urn:xmpp:omemo:1 like urn:xmpp:omemo:2", () => {
    const text = omemo2Message(
      "<payload>P</payload><header sid='1'><keys jid='juliet@capulet.example'><key rid='7' kex='true'>K</key></keys></header>",
      "urn:xmpp:omemo:1",
    );
    expect(extractOmemoForDevice(parseStanza(text), device)).toEqual({ keys: ["K"], kex: [true], sid: "1", data: "P" });
  });

  it("takes every key of the device in document order across the recipient's groups, trimmed", () => {
    const text = omemo2Message(
      "<header sid='9'>" +
        "<keys jid='juliet@capulet.example'><key rid='7'>\n  A\n</key><key rid='8'>X</key></keys>" +
        "<keys jid='romeo@montague.example'><key rid='7'>R</key></keys>" +
        "<keys jid='Juliet@Capulet.Example/balcony'><key kex='1' rid='7'> B </key></keys>" +
        "</header><payload>\n P \n</payload>",
    );
    expect(extractOmemoForDevice(parseStanza(text), device)).toEqual({
      keys: ["A", "B"],
      kex: [false, true],
      sid: "9",
      data: "P",
    });
  });

  it("takes the recipient from a full JID", () => {
    const text = omemo2Message(
      "<header sid='9'><keys jid='juliet@capulet.example'><key rid='7'>A</key></keys></header><payload>P</payload>",
    );
    expect(
      extractOmemoForDevice(parseStanza(text), { deviceId: "7", recipient: "juliet@capulet.example/phone" })?.keys,
    ).toEqual(["A"]);
  });

  it("ignores keys outside a group in OMEMO 2, groups in the legacy namespace, and keys in other namespaces", () => {
    const omemo2 = omemo2Message("<header sid='9'><key rid='7'>A</key></header><payload>P</payload>");
    expect(extractOmemoForDevice(parseStanza(omemo2), device)).toBeUndefined();
    const legacy = omemo2Message(
      "<header sid='9'><keys jid='juliet@capulet.example'><key rid='7'>A</key></keys><key xmlns='urn:other' rid='7'>B</key><iv>I</iv></header><payload>P</payload>",
      "eu.siacs.conversations.axolotl",
    );
    expect(extractOmemoForDevice(parseStanza(legacy), device)).toBeUndefined();
  });

  it("gives nothing for an empty payload", () => {
    const text = omemo2Message(
      "<header sid='9'><keys jid='juliet@capulet.example'><key rid='7'>A</key></keys></header><payload> </payload>",
    );
    expect(extractOmemoForDevice(parseStanza(text), device)).toBeUndefined();
  });

  it("leaves out iv when the legacy header has none", () => {
    const text = omemo2Message(
      "<header sid='27183'><key rid='7'>A</key></header><payload>P</payload>",
      "eu.siacs.conversations.axolotl",
    );
    expect(extractOmemoForDevice(parseStanza(text), device)).toStrictEqual({
      keys: ["A"],
      kex: [false],
      sid: "27183",
      iv: undefined,
      data: "P",
    });
  });

  it("gives nothing for a header without sid, and readOmemoForDevice says why", () => {
    const message = parseStanza(
      omemo2Message("<header><key rid='7'>A</key></header><payload>P</payload>", "eu.siacs.conversations.axolotl"),
    );
    expect(extractOmemoForDevice(message, device)).toBeUndefined();
    expect(readOmemoForDevice(message, device)).toEqual({
      ok: false,
      error: { kind: "bad-omemo-sid", reason: "OMEMO header without sid" },
    });
  });

  it("takes the first OMEMO element that has a key for the device, and ignores other encryption", () => {
    const text =
      "<message xmlns='jabber:client' from='romeo@montague.example/orchard'>" +
      "<encrypted xmlns='urn:xmpp:openpgp:0'><header sid='1'><key rid='7'>PGP</key></header><payload>X</payload></encrypted>" +
      "<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'><key rid='8'>L</key><iv>I</iv></header><payload>LP</payload></encrypted>" +
      "<encrypted xmlns='urn:xmpp:omemo:2'><header sid='2'><keys jid='juliet@capulet.example'><key rid='7'>N</key></keys></header><payload>NP</payload></encrypted>" +
      "</message>";
    expect(extractOmemoForDevice(parseStanza(text), device)).toEqual({
      keys: ["N"],
      kex: [false],
      sid: "2",
      data: "NP",
    });
  });

  it("gives nothing for a message without OMEMO", () => {
    const text = "<message xmlns='jabber:client' from='romeo@montague.example'><body>hi</body></message>";
    expect(extractOmemoForDevice(parseStanza(text), device)).toBeUndefined();
  });
});
