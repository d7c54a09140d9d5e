import { describe, expect, it } from "vitest";
import { buildPush, buildPushPlaintext, parsePushPlaintext, serializePushPlaintext } from "../../../src/omemo";
import { parseStanza } from "./fixtures";

function build(text: string, unread = 2) {
  return buildPushPlaintext(parseStanza(text), { unread });
}

function builtJson(text: string, options: Parameters<typeof buildPushPlaintext>[1] = { unread: 2 }): string {
  const built = buildPushPlaintext(parseStanza(text), options);
  if (!built.ok) throw new Error(built.error.reason);
  return serializePushPlaintext(built.value);
}

describe("buildPushPlaintext", () => {
  it("writes a chat body with the sender's bare JID", () => {
    expect(
      builtJson(
        "<message xmlns='jabber:client' from='romeo@montague.example/orchard' type='chat'><body>Hi &amp; bye</body></message>",
      ),
    ).toBe('{"unread":2,"sender":"romeo@montague.example","type":"chat","message":"Hi & bye"}');
  });

  it("writes type chat for a normal message and no message when there is no body", () => {
    expect(builtJson("<message xmlns='jabber:client' from='romeo@montague.example/orchard'/>")).toBe(
      '{"unread":2,"sender":"romeo@montague.example","type":"chat"}',
    );
  });

  it("writes the group chat nickname as the resource of from", () => {
    expect(
      builtJson(
        "<message xmlns='jabber:client' from='verona@rooms.example/Mercutio' type='groupchat'><body>A plague</body></message>",
      ),
    ).toBe(
      '{"unread":2,"sender":"verona@rooms.example","type":"groupchat","message":"A plague","nickname":"Mercutio"}',
    );
  });

  it("writes the placeholder, never the fallback body, for an OMEMO message, and a chosen placeholder", () => {
    const text =
      "<message xmlns='jabber:client' from='romeo@montague.example/orchard' type='chat'><body>fallback</body>" +
      "<encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/><payload>P</payload></encrypted></message>";
    expect(builtJson(text)).toBe(
      '{"unread":2,"sender":"romeo@montague.example","type":"chat","message":"New secure message"}',
    );
    expect(builtJson(text, { unread: 1, placeholder: "Nouveau message chiffré" })).toContain(
      '"message":"Nouveau message chiffré"',
    );
  });

  it("writes a Jingle Message Initiation propose as a call from the full JID, with sid and de-duplicated media", () => {
    const text =
      "<message xmlns='jabber:client' from='juliet@capulet.example/balcony' type='chat'><body>ignored</body>" +
      "<propose xmlns='urn:xmpp:jingle-message:0' id='s1'>" +
      "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'/><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/>" +
      "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'/><description xmlns='urn:xmpp:jingle:apps:file-transfer:5'/>" +
      "</propose></message>";
    expect(builtJson(text, { unread: 0 })).toBe(
      '{"unread":0,"sender":"juliet@capulet.example/balcony","type":"call","sid":"s1","media":["video","audio"]}',
    );
  });

  it("writes a subscription request as type unknown (Siskin decodes no subscribe)", () => {
    expect(builtJson("<presence xmlns='jabber:client' from='romeo@montague.example' type='subscribe'/>")).toBe(
      '{"unread":2,"sender":"romeo@montague.example","type":"unknown"}',
    );
  });

  it("writes no message for an OMEMO message without payload, even with a fallback body", () => {
    const text =
      "<message xmlns='jabber:client' from='romeo@montague.example/orchard' type='chat'><body>fallback</body>" +
      "<encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/></encrypted></message>";
    expect(builtJson(text)).toBe('{"unread":2,"sender":"romeo@montague.example","type":"chat"}');
  });

  it.each([
    ["a stanza without from", "<message xmlns='jabber:client'><body>x</body></message>", "bad-from"],
    ["a from that is not a JID", "<message xmlns='jabber:client' from='@x'><body>x</body></message>", "bad-from"],
    ["an error message", "<message xmlns='jabber:client' from='a@b' type='error'/>", "not-notifiable"],
    ["available presence", "<presence xmlns='jabber:client' from='a@b'/>", "not-notifiable"],
    ["an iq", "<iq xmlns='jabber:client' from='a@b' type='get' id='1'/>", "not-notifiable"],
  ])("refuses %s", (_name, text, kind) => {
    const built = build(text);
    expect(built.ok || built.error.kind).toBe(kind);
  });
});

describe("buildPush: the priority to publish with", () => {
  it.each([
    [
      "a chat message with body",
      "<message xmlns='jabber:client' from='a@b/c' type='chat'><body>hi</body></message>",
      "high",
    ],
    [
      "a message without body",
      "<message xmlns='jabber:client' from='a@b/c' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
      "low",
    ],
    [
      "a group chat message without body",
      "<message xmlns='jabber:client' from='r@muc.b/n' type='groupchat'><subject>s</subject></message>",
      "low",
    ],
    [
      "an OMEMO message with payload",
      "<message xmlns='jabber:client' from='a@b/c'><encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/><payload>P</payload></encrypted></message>",
      "high",
    ],
    [
      "an OMEMO message without payload",
      "<message xmlns='jabber:client' from='a@b/c'><encrypted xmlns='urn:xmpp:omemo:1'><header sid='1'/></encrypted></message>",
      "low",
    ],
    [
      "a call",
      "<message xmlns='jabber:client' from='a@b/c'><propose xmlns='urn:xmpp:jingle-message:0' id='s'/></message>",
      "high",
    ],
    ["a subscription request", "<presence xmlns='jabber:client' from='a@b' type='subscribe'/>", "high"],
  ])("%s: %s", (_name, text, priority) => {
    const built = buildPush(parseStanza(text), { unread: 1 });
    expect(built.ok && built.value.priority).toBe(priority);
  });

  it("gives buildPushPlaintext the same plaintext without the priority", () => {
    const stanza = parseStanza("<message xmlns='jabber:client' from='a@b/c' type='chat'><body>hi</body></message>");
    const built = buildPush(stanza, { unread: 1 });
    expect(buildPushPlaintext(stanza, { unread: 1 })).toEqual({ ok: true, value: built.ok && built.value.plaintext });
  });
});

describe("parsePushPlaintext", () => {
  it("reads every field this project writes", () => {
    const json =
      '{"unread":3,"sender":"a@b","type":"groupchat","message":"m","nickname":"n","sid":"s","media":["audio"],' +
      '"omemo":{"keys":["k1","k2"],"kex":[true,false],"sid":"27183","iv":"i","data":"d"}}';
    expect(parsePushPlaintext(json)).toEqual({
      ok: true,
      value: {
        unread: 3,
        sender: "a@b",
        type: "groupchat",
        message: "m",
        nickname: "n",
        sid: "s",
        media: ["audio"],
        omemo: { keys: ["k1", "k2"], kex: [true, false], sid: "27183", iv: "i", data: "d" },
      },
    });
  });

  it("tolerates null unread and sender, a missing or unknown type, unknown fields and ill-typed optional fields", () => {
    const parsed = parsePushPlaintext(
      '{"unread":null,"sender":null,"type":"headline","message":7,"media":[1],"x":{"y":1}}',
    );
    expect(parsed).toEqual({ ok: true, value: { unread: null, sender: null } });
    expect(parsePushPlaintext("{}")).toEqual({ ok: true, value: { unread: null, sender: null } });
  });

  it("reads an omemo object without kex (a seed-only writer) with kex unknown, never false, and a numeric sid as text", () => {
    const parsed = parsePushPlaintext(
      '{"unread":1,"sender":"a@b","type":"chat","omemo":{"keys":["k"],"sid":27183,"data":"d"}}',
    );
    expect(parsed.ok && parsed.value.omemo).toStrictEqual({ keys: ["k"], sid: "27183", iv: undefined, data: "d" });
  });

  it("reads the types Siskin decodes, unknown included, and leaves out subscribe", () => {
    for (const type of ["chat", "groupchat", "call", "unknown"]) {
      const parsed = parsePushPlaintext(`{"unread":1,"sender":"a@b","type":"${type}"}`);
      expect(parsed.ok && parsed.value.type).toBe(type);
    }
    const parsed = parsePushPlaintext('{"unread":1,"sender":"a@b","type":"subscribe"}');
    expect(parsed).toEqual({ ok: true, value: { unread: 1, sender: "a@b" } });
  });

  it.each([
    ['{"keys":[],"kex":[],"data":"d"}'],
    ['{"keys":["k"],"kex":[true,false],"data":"d"}'],
    ['{"keys":["k"],"kex":["true"],"data":"d"}'],
    ['{"keys":["k"],"kex":[false]}'],
    ['{"keys":"k","kex":[false],"data":"d"}'],
    ["[]"],
  ])("drops a malformed omemo object %s", (omemo) => {
    const parsed = parsePushPlaintext(`{"unread":1,"sender":"a@b","type":"chat","omemo":${omemo}}`);
    expect(parsed.ok && parsed.value.omemo).toBeUndefined();
  });

  it.each([
    ["text that is not JSON", "{", "not-json"],
    ["a JSON array", "[1]", "not-an-object"],
    ["JSON null", "null", "not-an-object"],
  ])("refuses %s", (_name, json, kind) => {
    const parsed = parsePushPlaintext(json);
    expect(parsed.ok || parsed.error.kind).toBe(kind);
  });
});
