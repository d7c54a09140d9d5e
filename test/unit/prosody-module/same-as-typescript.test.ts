import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  buildPush,
  fitPushPlaintext,
  type PushPlaintext,
  parseEnable,
  parseOmemoDeviceId,
  serializePushPlaintext,
} from "../../../src/omemo";
import { parseJid } from "../../../src/xmpp/jid";
import { parseStanza } from "../omemo/fixtures";
import { type LuaError, runHarness } from "./lua";

/*
 * Beyond the five vectors: the Lua of the Prosody module and the TypeScript library (src/omemo/) given
 * the same inputs, compared output for output. Where they differ, the TypeScript library and the
 * vectors are the reference (docs/protocol.md section 7).
 */

const JULIET = "juliet@capulet.example";
const ROMEO = "romeo@montague.example/orchard";
const OMEMO2 = "urn:xmpp:omemo:2";
const LEGACY = "eu.siacs.conversations.axolotl";

function message(inner: string, attrs = `from='${ROMEO}' to='${JULIET}' type='chat'`): string {
  return `<message xmlns='jabber:client' ${attrs}>${inner}</message>`;
}

function legacy(header: string, payload = "<payload>UEFZTE9BRA==</payload>"): string {
  return `<encrypted xmlns='${LEGACY}'><header sid='27183'>${header}<iv>SVY=</iv></header>${payload}</encrypted>`;
}

function omemo2(groups: string, payload = "<payload>UEFZTE9BRA==</payload>", sid = "27183"): string {
  return `<encrypted xmlns='${OMEMO2}'><header sid='${sid}'>${groups}</header>${payload}</encrypted>`;
}

interface BuildCase {
  readonly name: string;
  readonly stanza: string;
  readonly unread: number;
  readonly deviceId?: string;
  readonly recipient?: string;
  readonly placeholder?: string;
}

const device = { deviceId: "1325", recipient: JULIET };

const BUILD_CASES: BuildCase[] = [
  { name: "chat with body", stanza: message("<body>Hello Juliet</body>"), unread: 1 },
  {
    name: "body with quotes, backslash, tab, newline, non-ASCII, emoji, U+2028, DEL",
    stanza: message(`<body>"quoted" \\back\tslash\nline – ünïcode 🎉 \u2028 \u007f &amp; &lt;tag&gt;</body>`),
    unread: 3,
  },
  { name: "body with leading and trailing white space (kept)", stanza: message("<body>  spaced\n </body>"), unread: 1 },
  { name: "empty body", stanza: message("<body/>"), unread: 1 },
  { name: "body in CDATA sections", stanza: message("<body>x<![CDATA[ <y> & ]]>z</body>"), unread: 1 },
  { name: "body with CR LF (XML line ends become LF)", stanza: message("<body>a\r\nb\rc</body>"), unread: 1 },
  { name: "receipt (no body)", stanza: message("<received xmlns='urn:xmpp:receipts' id='m1'/>"), unread: 1 },
  {
    name: "chat state (no body)",
    stanza: message("<composing xmlns='http://jabber.org/protocol/chatstates'/>"),
    unread: 1,
  },
  {
    name: "body in another namespace is not the body",
    stanza: message("<body xmlns='urn:example:other'>not it</body>"),
    unread: 1,
  },
  {
    name: "group chat with nickname",
    stanza: message("<body>Hi all</body>", `from='verona@rooms.example/Romeo' to='${JULIET}' type='groupchat'`),
    unread: 2,
  },
  {
    name: "group chat from the room itself (no nickname)",
    stanza: message("<body>Room notice</body>", `from='verona@rooms.example' to='${JULIET}' type='groupchat'`),
    unread: 1,
  },
  { name: "headline", stanza: message("<body>News</body>", `from='news.example' type='headline'`), unread: 1 },
  { name: "normal message without type", stanza: message("<body>No type</body>", `from='${ROMEO}'`), unread: 1 },
  { name: "error message", stanza: message("<body>bounced</body>", `from='${ROMEO}' type='error'`), unread: 1 },
  { name: "no from", stanza: message("<body>who?</body>", "type='chat'"), unread: 1 },
  { name: "bad from", stanza: message("<body>who?</body>", "from='a b@example.org' type='chat'"), unread: 1 },
  {
    name: "uppercase from (lowercased), trailing dot",
    stanza: message("<body>x</body>", "from='Romeo@Montague.Example./Orchard' type='chat'"),
    unread: 1,
  },
  {
    name: "subscription request",
    stanza: `<presence xmlns='jabber:client' from='${ROMEO}' type='subscribe'/>`,
    unread: 1,
  },
  { name: "other presence", stanza: `<presence xmlns='jabber:client' from='${ROMEO}'/>`, unread: 1 },
  { name: "iq", stanza: `<iq xmlns='jabber:client' from='${ROMEO}' type='get' id='1'/>`, unread: 1 },
  {
    name: "call: Jingle propose with audio and video (duplicates dropped)",
    stanza: message(
      "<propose xmlns='urn:xmpp:jingle-message:0' id='ca3cf894-5325-482f-a412-a6e9f832298d'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'/><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/><description xmlns='urn:example:other' media='text'/></propose><store xmlns='urn:xmpp:hints'/>",
    ),
    unread: 1,
  },
  {
    name: "call without id or media",
    stanza: message("<propose xmlns='urn:xmpp:jingle-message:0'/>"),
    unread: 1,
  },
  {
    name: "propose in a group chat is a group-chat message",
    stanza: message(
      "<propose xmlns='urn:xmpp:jingle-message:0' id='x'/>",
      `from='verona@rooms.example/Romeo' type='groupchat'`,
    ),
    unread: 1,
  },
  {
    name: "legacy OMEMO, keys for the device, white space around texts",
    stanza: message(
      `<body>fallback</body>${legacy("<key rid='1325' prekey='1'>\n  S0VZMQ==\n</key><key rid='99'>T1RIRVI=</key><key rid='1325' prekey='0'>S0VZMg==</key>", "<payload>\n UEFZTE9BRA== \n</payload>")}`,
    ),
    unread: 1,
    ...device,
  },
  {
    name: "legacy OMEMO, not for the device",
    stanza: message(legacy("<key rid='99'>T1RIRVI=</key>")),
    unread: 1,
    ...device,
  },
  {
    name: "legacy OMEMO without an enabled device",
    stanza: message(legacy("<key rid='1325'>S0VZMQ==</key>")),
    unread: 1,
  },
  {
    name: "OMEMO 2, keys grouped by JID (the recipient's group only; JIDs compared as bare, lowercased)",
    stanza: message(
      omemo2(
        "<keys jid='romeo@montague.example'><key rid='1325'>Uk9NRU8=</key></keys><keys jid='Juliet@Capulet.Example/balcony'><key kex='true' rid='1325'>SlVMSUVU</key><key rid='1325' kex='false'>SlVMSUVUMg==</key><key rid='7'>U0VWRU4=</key></keys>",
      ),
    ),
    unread: 4,
    ...device,
  },
  {
    name: "OMEMO 1 (same shape as OMEMO 2)",
    stanza: message(
      `<encrypted xmlns='urn:xmpp:omemo:1'><header sid='5'><keys jid='${JULIET}'><key rid='1325' kex='1'>T05F</key></keys></header><payload>UEw=</payload></encrypted>`,
    ),
    unread: 1,
    ...device,
  },
  {
    name: "OMEMO 2 key transport with a fallback body: nothing to show, low",
    stanza: message(`<body>fallback</body>${omemo2(`<keys jid='${JULIET}'><key rid='1325'>S0VZ</key></keys>`, "")}`),
    unread: 1,
    ...device,
  },
  {
    name: "legacy OMEMO with an empty payload is key transport",
    stanza: message(legacy("<key rid='1325'>S0VZ</key>", "<payload>  </payload>")),
    unread: 1,
    ...device,
  },
  {
    name: "two OMEMO elements: the first without a key for the device, the second with",
    stanza: message(
      `${omemo2(`<keys jid='${JULIET}'><key rid='8'>RUlHSFQ=</key></keys>`)}${legacy("<key rid='1325' prekey='true'>S0VZ</key>")}`,
    ),
    unread: 1,
    ...device,
  },
  {
    name: "OMEMO in an unknown namespace is no OMEMO",
    stanza: message("<body>plain</body><encrypted xmlns='urn:xmpp:omemo:0'><payload>eA==</payload></encrypted>"),
    unread: 1,
    ...device,
  },
  {
    name: "custom placeholder",
    stanza: message(legacy("<key rid='1325'>S0VZ</key>")),
    unread: 1,
    placeholder: "🔒 Nachricht",
    ...device,
  },
  ...["", "-1", "+1", " 1", "1 ", "4294967296", "99999999999", "1e3", "0x10", "٣"].map(
    (sid): BuildCase => ({
      name: `OMEMO 2 header sid '${sid}' is refused`,
      stanza: message(omemo2(`<keys jid='${JULIET}'><key rid='1325'>S0VZ</key></keys>`, undefined, sid)),
      unread: 1,
      ...device,
    }),
  ),
  ...["0", "007", "4294967295"].map(
    (sid): BuildCase => ({
      name: `OMEMO 2 header sid '${sid}' is written canonically`,
      stanza: message(omemo2(`<keys jid='${JULIET}'><key rid='1325'>S0VZ</key></keys>`, undefined, sid)),
      unread: 1,
      ...device,
    }),
  ),
  {
    name: "legacy header without sid",
    stanza: message(
      `<encrypted xmlns='${LEGACY}'><header><key rid='1325'>S0VZ</key></header><payload>eA==</payload></encrypted>`,
    ),
    unread: 1,
    ...device,
  },
  {
    name: "sid is not checked when there is no key for the device",
    stanza: message(omemo2(`<keys jid='${JULIET}'><key rid='9'>S0VZ</key></keys>`, undefined, "-1")),
    unread: 1,
    ...device,
  },
];

/** XEP-0384's own examples (test/fixtures/xep/, verbatim but for their XML comments), read for the device the example addresses. */
function xepExample(file: string): string {
  return readFileSync(new URL(`../../fixtures/xep/${file}`, import.meta.url), "utf8").replace(/<!--[\s\S]*?-->/g, "");
}

BUILD_CASES.push(
  {
    name: "XEP-0384 v0.3 example 'Sending a message' (legacy), for rid 31415",
    stanza: xepExample("xep0384-v0.3-axolotl-message.xml"),
    unread: 1,
    deviceId: "31415",
    recipient: "juliet@capulet.lit",
  },
  {
    name: "XEP-0384 v0.3 example 'Sending a key' (key transport) in a message, for rid 12321",
    stanza: `<message xmlns='jabber:client' to='juliet@capulet.lit' from='romeo@montague.lit/orchard'>${xepExample("xep0384-v0.3-axolotl-keytransport.xml")}</message>`,
    unread: 1,
    deviceId: "12321",
    recipient: "juliet@capulet.lit",
  },
  {
    name: "XEP-0384 example 'Sending a message' (OMEMO 2), for rid 31415",
    stanza: xepExample("xep0384-omemo2-message.xml"),
    unread: 1,
    deviceId: "31415",
    recipient: "juliet@capulet.lit",
  },
  {
    name: "XEP-0384 example 'Sending a message' (OMEMO 2), for the sender's own rid 12321",
    stanza: xepExample("xep0384-omemo2-message.xml"),
    unread: 1,
    deviceId: "12321",
    recipient: "romeo@montague.lit",
  },
  {
    name: "XEP-0384 example of a group chat message (OMEMO 2), for Mercutio's rid 456",
    stanza: xepExample("xep0384-omemo2-groupchat.xml"),
    unread: 1,
    deviceId: "456",
    recipient: "mercutio@verona.lit",
  },
);

interface BuildResult {
  readonly json: string | null;
  readonly priority: string | null;
  readonly error: LuaError | null;
}

function typescriptBuild(testCase: BuildCase): { json: string | null; priority: string | null; error: unknown } {
  const built = buildPush(parseStanza(testCase.stanza), {
    unread: testCase.unread,
    ...(testCase.deviceId === undefined
      ? {}
      : { omemoDevice: { deviceId: testCase.deviceId, recipient: testCase.recipient ?? "" } }),
    ...(testCase.placeholder === undefined ? {} : { placeholder: testCase.placeholder }),
  });
  if (!built.ok) return { json: null, priority: null, error: { kind: built.error.kind, reason: built.error.reason } };
  return { json: serializePushPlaintext(built.value.plaintext), priority: built.value.priority, error: null };
}

function luaBuild(stream: boolean): BuildResult[] {
  return runHarness<{ results: BuildResult[] }>({ op: "build", stream, cases: BUILD_CASES }).results;
}

describe("the Prosody module's Lua builds what src/omemo builds", () => {
  let fromXml: BuildResult[] | undefined;
  let fromStream: BuildResult[] | undefined;

  it.each(BUILD_CASES.map((testCase, index) => ({ ...testCase, index })))("$name", ({ index, ...testCase }) => {
    fromXml ??= luaBuild(false);
    fromStream ??= luaBuild(true);
    const expected = typescriptBuild(testCase);
    for (const lua of [fromXml[index], fromStream[index]]) {
      expect(lua?.json).toBe(expected.json);
      expect(lua?.priority).toBe(expected.priority);
      expect(lua?.error === null ? null : { kind: lua?.error?.kind, reason: lua?.error?.reason }).toEqual(
        expected.error,
      );
    }
  });
});

describe("the Prosody module's Lua fits max-size as src/omemo does", () => {
  const omemo = { keys: ["S0VZMQ==", "S0VZMg=="], kex: [true, false], sid: "27183", iv: "SVY=", data: "UEFZTE9BRA==" };
  const plaintexts: PushPlaintext[] = [
    {
      unread: 1,
      sender: "romeo@montague.example",
      type: "chat",
      message: "Grüße aus Verona 🌹 — 東京 and a tail of ASCII to cut",
      omemo,
    },
    { unread: 1, sender: "romeo@montague.example", type: "chat", message: "New secure message", omemo },
    { unread: 2, sender: "verona@rooms.example", type: "groupchat", nickname: "Romeo" },
    { unread: 1, sender: "romeo@montague.example/phone", type: "call", sid: "s1", media: ["audio", "video"] },
    { unread: 1, sender: "romeo@montague.example", type: "chat", message: "" },
  ];
  const cases = plaintexts.flatMap((plaintext) => {
    const full = serializePushPlaintext(plaintext).length * 2 + 40;
    return Array.from({ length: full / 4 + 2 }, (_, step) => ({ plaintext, maxSize: step * 4 - 4 }));
  });

  it(`agrees for ${cases.length} (plaintext, max-size) pairs, from too small to roomy`, () => {
    const lua = runHarness<{ results: { json: string | null; error: LuaError | null }[] }>({
      op: "fit",
      cases,
    }).results;
    const mismatches = cases.flatMap(({ plaintext, maxSize }, index) => {
      const fitted = fitPushPlaintext(plaintext, maxSize);
      const expected = fitted.ok
        ? { json: serializePushPlaintext(fitted.value), error: null }
        : { json: null, error: { kind: fitted.error.kind, reason: fitted.error.reason } };
      const got = lua[index];
      const actual = {
        json: got?.json ?? null,
        error: got?.error ? { kind: got.error.kind, reason: got.error.reason } : null,
      };
      return JSON.stringify(actual) === JSON.stringify(expected) ? [] : [{ maxSize, expected, actual }];
    });
    expect(mismatches).toEqual([]);
    const dropped = lua.filter((result) => result.json !== null && !result.json.includes('"omemo"'));
    expect(dropped.length).toBeGreaterThan(0);
  });

  it("writes JSON exactly as JSON.stringify, control characters and all", () => {
    const every = Array.from({ length: 0x80 }, (_, code) => String.fromCharCode(code)).join("");
    const samples: PushPlaintext[] = [
      { unread: 0, sender: "a@b", type: "unknown" },
      { unread: 1_000_000, sender: "a@b", type: "chat", message: every },
      { unread: 7, sender: "a@b", type: "chat", message: "é 東 🎉 \u2028\u2029 \\u0041 \"'" },
      { unread: 1, sender: "a@b/r", type: "call", sid: "", media: [] },
    ];
    const lua = runHarness<{ results: string[] }>({ op: "serialize", cases: samples }).results;
    expect(lua).toEqual(samples.map((sample) => serializePushPlaintext(sample)));
  });
});

describe("the Prosody module's Lua reads <enable/> as src/omemo does", () => {
  const KEY = "AAECAwQFBgcICQoLDA0ODw==";
  const enable = (inner: string) =>
    `<enable xmlns='urn:xmpp:push:0' jid='push.example.net' node='NODE'>${inner}</enable>`;
  const encrypt = (text: string, attrs = "alg='aes-128-gcm'") =>
    `<encrypt xmlns='tigase:push:encrypt:0' ${attrs}>${text}</encrypt>`;
  const omemo = (deviceId: string) => `<omemo xmlns='tigase:push:encrypt:omemo:0' deviceId='${deviceId}'/>`;
  const cases = [
    enable(""),
    enable(encrypt(KEY)),
    enable(encrypt(KEY, "alg='aes-gcm'")),
    enable(encrypt(KEY, "")),
    enable(encrypt(KEY, "alg='aes-256-gcm'")),
    enable(encrypt(KEY, "alg='AES-128-GCM'")),
    enable(encrypt("AAECAwQFBgcICQoLDA0O")),
    enable(encrypt("AAECAwQFBgcICQoLDA0ODxA=")),
    enable(encrypt("AAECAwQFBgcICQoLDA0ODw")),
    enable(encrypt("!!!!")),
    enable(encrypt("")),
    enable(encrypt(`\n  AAECAwQF\n  BgcICQoL\tDA0ODw==\n`)),
    enable(encrypt(KEY, "alg='aes-128-gcm' max-size='3442'")),
    enable(encrypt(KEY, "alg='aes-128-gcm' max-size='0003'")),
    ...["0", "-1", "abc", "1e3", " 12", "1234567890123456", "123456789012345", ""].map((size) =>
      enable(encrypt(KEY, `alg='aes-128-gcm' max-size='${size}'`)),
    ),
    enable(`${encrypt(KEY)}${omemo("1325")}`),
    enable(`${omemo("1325")}${encrypt(KEY)}`),
    ...["0", "", "-5", "01325", "4294967295", "4294967296", "1.5", " 1"].map((id) =>
      enable(`${encrypt(KEY)}${omemo(id)}`),
    ),
    enable(`${encrypt(KEY)}<omemo xmlns='tigase:push:encrypt:omemo:0'/>`),
    enable(omemo("1325")),
    enable(`<encrypt xmlns='urn:example:other' alg='x'>y</encrypt>${omemo("1325")}`),
  ];

  it(`agrees on ${cases.length} enables (alias aes-gcm accepted; bad alg, key, max-size and device id refused)`, () => {
    const lua = runHarness<{
      results: {
        encryption: { algorithm: string; key: string; max_size: number | null } | null;
        omemo_device_id: string | null;
        error: LuaError | null;
      }[];
    }>({ op: "enable", cases }).results;
    const actual = lua.map((result) => ({
      encryption: result.encryption,
      omemoDeviceId: result.omemo_device_id,
      error: result.error ? { kind: result.error.kind, reason: result.error.reason } : null,
    }));
    const expected = cases.map((text) => {
      const parsed = parseEnable(parseStanza(text));
      if (!parsed.ok)
        return {
          encryption: null,
          omemoDeviceId: null,
          error: { kind: parsed.error.kind, reason: parsed.error.reason },
        };
      const { encryption, omemoDeviceId } = parsed.value;
      return {
        encryption: encryption
          ? {
              algorithm: encryption.algorithm,
              key: Buffer.from(encryption.key).toString("hex"),
              max_size: encryption.maxSize ?? null,
            }
          : null,
        omemoDeviceId: omemoDeviceId ?? null,
        error: null,
      };
    });
    expect(actual).toEqual(expected);
    expect(actual.filter((result) => result.error !== null).length).toBeGreaterThan(15);
  });
});

describe("the Prosody module's Lua reads device ids, JIDs and white space as src/ does", () => {
  it("agrees on device ids, JIDs and trimming", () => {
    const deviceIds = ["0", "1", "007", "4294967295", "4294967296", "", "-1", "+1", " 1", "1e3", "١٢", "12345678901"];
    const jids = [
      "romeo@montague.example/orchard",
      "Romeo@Montague.Example./Orchard/with/slashes",
      "montague.example",
      "montague.example/r",
      "@montague.example",
      "romeo@",
      "romeo@montague.example/",
      "a b@example",
      "a\u00a0b@example",
      "a\u3000b@example",
      'ro"meo@example',
      "x@exa\\mple",
      "x@y@z",
      "",
      `${"a".repeat(1024)}@example`,
      `${"a".repeat(1023)}@example`,
      `a@example/${"🎉".repeat(512)}`,
      `a@example/${"🎉".repeat(511)}`,
      "ünï@exämple/ß",
    ];
    const trims = [" a ", "\t\n\r\v\f a \u00a0", "\u2028\u3000\ufeff x y \u205f", "\u200b zero-width stays \u200b", ""];
    const lua = runHarness<{
      deviceIds: (string | null)[];
      jids: ({ localpart: string | null; domain: string; resource: string | null } | null)[];
      trims: string[];
    }>({ op: "text", deviceIds, jids, trims });
    expect(lua.deviceIds).toEqual(deviceIds.map((id) => parseOmemoDeviceId(id) ?? null));
    expect(lua.trims).toEqual(trims.map((text) => text.trim()));
    expect(lua.jids).toEqual(
      jids.map((text) => {
        const jid = parseJid(text);
        return jid ? { localpart: jid.local ?? null, domain: jid.domain, resource: jid.resource ?? null } : null;
      }),
    );
  });
});
