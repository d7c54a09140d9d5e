import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildPush,
  encodeBase64,
  extractOmemoForDevice,
  fitPushPlaintext,
  isEmptyOmemoMessage,
  type OmemoKeyMaterial,
  openPayload,
  openPushNotification,
  PUSH_TYPES,
  type PushPlaintext,
  parseOmemoDeviceId,
  parsePushPlaintext,
  sealedLengthOf,
  sealPayload,
  sealPushNotification,
  serializePushPlaintext,
} from "../../../src/omemo";
import type { XmlElement, XmlNode } from "../../../src/xmpp/xml";
import { parseXml } from "../../../src/xmpp/xml";
import { omemoPushVectors, parseStanza } from "./fixtures";
import { siskinDecode } from "./siskin";

const RUNS = { numRuns: 150 };
const vectors = omemoPushVectors();
const stanzas = vectors.map((vector) => parseStanza(vector.messageStanza));

const keyArb = fc.uint8Array({ minLength: 16, maxLength: 16 });
const ivArb = fc.uint8Array({ minLength: 12, maxLength: 12 });
const textArb = fc.string({ unit: "binary", maxLength: 300 });

const omemoArb: fc.Arbitrary<OmemoKeyMaterial> = fc
  .record(
    {
      entries: fc.array(fc.tuple(fc.base64String({ maxLength: 200 }), fc.boolean()), { minLength: 1, maxLength: 4 }),
      sid: fc.integer({ min: 0, max: 0xffffffff }).map(String),
      iv: fc.base64String({ minLength: 16, maxLength: 16 }),
      data: fc.base64String({ minLength: 4, maxLength: 400 }),
    },
    { requiredKeys: ["entries", "sid", "data"] },
  )
  .map(({ entries, sid, iv, data }) => ({
    keys: entries.map(([key]) => key),
    kex: entries.map(([, kex]) => kex),
    sid,
    ...(iv === undefined ? {} : { iv }),
    data,
  }));

const plaintextArb: fc.Arbitrary<PushPlaintext> = fc.record(
  {
    unread: fc.nat(10_000),
    sender: fc.emailAddress(),
    type: fc.constantFrom(...PUSH_TYPES),
    message: textArb,
    nickname: fc.string({ unit: "grapheme", maxLength: 30 }),
    sid: fc.string({ maxLength: 20 }),
    media: fc.array(fc.constantFrom("audio", "video"), { maxLength: 2 }),
    omemo: omemoArb,
  },
  { requiredKeys: ["unread", "sender", "type"] },
);

describe("seal and open (property)", () => {
  it("opens what it seals, for any JSON text, key and IV", async () => {
    await fc.assert(
      fc.asyncProperty(fc.json(), keyArb, ivArb, async (json, key, iv) => {
        const sealed = await sealPayload(json, key, { random: (bytes) => bytes.set(iv) });
        expect(sealed.iv).toBe(encodeBase64(iv));
        expect(await openPayload(sealed, key)).toEqual({ ok: true, value: json });
      }),
      RUNS,
    );
  });

  it("reads back every field of any push plaintext it seals", async () => {
    await fc.assert(
      fc.asyncProperty(plaintextArb, keyArb, async (plaintext, key) => {
        const sealed = await sealPushNotification(plaintext, key);
        if (!sealed.ok) throw new Error(sealed.error.reason);
        const opened = await openPushNotification(sealed.value, key);
        expect(opened).toEqual({ ok: true, value: plaintext });
      }),
      RUNS,
    );
  });

  it("reads a missing kex as unknown, never as all false, whatever else the omemo object holds", () => {
    fc.assert(
      fc.property(plaintextArb, omemoArb, fc.boolean(), (plaintext, omemo, asNull) => {
        const written = JSON.parse(serializePushPlaintext({ ...plaintext, omemo }));
        written.omemo.kex = asNull ? null : undefined;
        const read = parsePushPlaintext(JSON.stringify(written));
        if (!read.ok) throw new Error(read.error.reason);
        expect(read.value.omemo?.keys).toEqual(omemo.keys);
        expect(read.value.omemo?.kex).toBeUndefined();
      }),
      RUNS,
    );
  });

  it("refuses any single flipped bit of ciphertext or tag", async () => {
    await fc.assert(
      fc.asyncProperty(textArb, keyArb, fc.nat(), async (text, key, bit) => {
        const sealed = await sealPayload(text, key);
        const bytes = Uint8Array.from(atob(sealed.encrypted), (char) => char.charCodeAt(0));
        const at = bit % (bytes.length * 8);
        bytes[at >> 3] = (bytes[at >> 3] ?? 0) ^ (1 << (at & 7));
        const opened = await openPayload({ ...sealed, encrypted: encodeBase64(bytes) }, key, { acceptZeroTag: true });
        expect(opened.ok).toBe(false);
      }),
      RUNS,
    );
  });
});

type Operation =
  | "delete"
  | "duplicate"
  | "reverse"
  | "rotate"
  | "set-attribute"
  | "drop-attribute"
  | "insert-text"
  | "rename"
  | "renamespace";

interface Mutation {
  readonly path: readonly number[];
  readonly operation: Operation;
  readonly index: number;
  readonly attribute: string;
  readonly value: string;
}

const NAMES = ["encrypted", "header", "keys", "key", "iv", "payload", "body", "propose", "x", "presence"];
const NAMESPACES = [
  "eu.siacs.conversations.axolotl",
  "urn:xmpp:omemo:1",
  "urn:xmpp:omemo:2",
  "jabber:client",
  "urn:xmpp:jingle-message:0",
  "",
];
const VALUES = [
  "1325",
  "31415",
  "27183",
  "juliet@capulet.example",
  "Juliet@Capulet.Example/x",
  "true",
  "1",
  "false",
  "",
  "-1",
  "+27183",
  "4294967295",
  "4294967296",
  "groupchat",
  "subscribe",
];

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  path: fc.array(fc.nat(), { maxLength: 4 }),
  operation: fc.constantFrom<Operation>(
    "delete",
    "duplicate",
    "reverse",
    "rotate",
    "set-attribute",
    "drop-attribute",
    "insert-text",
    "rename",
    "renamespace",
  ),
  index: fc.nat(),
  attribute: fc.constantFrom("rid", "sid", "jid", "prekey", "kex", "from", "type", "to", "id", "xmlns"),
  value: fc.oneof(fc.constantFrom(...VALUES), fc.string({ unit: "binary", maxLength: 20 })),
});

function applyAt(target: XmlElement, mutation: Mutation): XmlElement {
  const children = [...target.children];
  const at = children.length === 0 ? 0 : mutation.index % children.length;
  const child = children[at];
  const attrs = { ...target.attrs };
  switch (mutation.operation) {
    case "delete":
      children.splice(at, 1);
      break;
    case "duplicate":
      if (child !== undefined) children.splice(at, 0, child);
      break;
    case "reverse":
      children.reverse();
      break;
    case "rotate":
      children.push(...children.splice(0, at));
      break;
    case "set-attribute":
      attrs[mutation.attribute] = mutation.value;
      break;
    case "drop-attribute":
      delete attrs[mutation.attribute];
      break;
    case "insert-text":
      children.splice(at, 0, mutation.value);
      break;
    case "rename":
      return { ...target, name: NAMES[mutation.index % NAMES.length] ?? "x" };
    case "renamespace":
      return { ...target, ns: NAMESPACES[mutation.index % NAMESPACES.length] ?? "" };
  }
  return { ...target, attrs, children };
}

function mutate(node: XmlElement, mutation: Mutation, depth = 0): XmlElement {
  const step = mutation.path[depth];
  const elementIndexes = node.children.flatMap((child, index) => (typeof child === "string" ? [] : [index]));
  if (step === undefined || elementIndexes.length === 0) return applyAt(node, mutation);
  const chosen = elementIndexes[step % elementIndexes.length] ?? 0;
  const children: XmlNode[] = node.children.map((child, index) =>
    index === chosen && typeof child !== "string" ? mutate(child, mutation, depth + 1) : child,
  );
  return { ...node, children };
}

const deviceArb = fc.record({
  deviceId: fc.oneof(fc.constantFrom(...vectors.map((vector) => vector.deviceId)), fc.string({ maxLength: 6 })),
  recipient: fc.oneof(
    fc.constantFrom("juliet@capulet.example", "romeo@montague.example"),
    fc.string({ maxLength: 30 }),
  ),
});

function checkExtraction(stanza: XmlElement, device: { deviceId: string; recipient: string }): void {
  const omemo = extractOmemoForDevice(stanza, device);
  if (omemo !== undefined) {
    expect(omemo.keys.length).toBeGreaterThan(0);
    expect(omemo.kex).toHaveLength(omemo.keys.length);
    expect(omemo.data).not.toBe("");
    expect(parseOmemoDeviceId(omemo.sid)).toBe(omemo.sid);
  }
  const built = buildPush(stanza, { unread: 1, omemoDevice: device });
  if (!built.ok) {
    expect(built.error.kind).toMatch(/^(bad-from|not-notifiable|bad-omemo-sid)$/);
    return;
  }
  const { plaintext, priority } = built.value;
  const json = serializePushPlaintext(plaintext);
  expect(JSON.parse(json)).toBeTypeOf("object");
  expect(PUSH_TYPES).toContain(plaintext.type);
  // What the builder writes, Siskin's notification extension decodes: never a crash, never a throw.
  expect(siskinDecode(json).outcome).toBe("decoded");
  // Nothing to show, low priority; and an omemo object only beside a message.
  if (plaintext.type === "chat" || plaintext.type === "groupchat")
    expect(priority).toBe(plaintext.message === undefined ? "low" : "high");
  else expect(priority).toBe("high");
  if (plaintext.omemo !== undefined) {
    expect(plaintext.message).toBeDefined();
    expect(parseOmemoDeviceId(plaintext.omemo.sid)).toBe(plaintext.omemo.sid);
  }
  // No payload, no message: an empty OMEMO message (key transport, heartbeat) is invisible.
  if (stanza.name === "message" && plaintext.type !== "call" && isEmptyOmemoMessage(stanza)) {
    expect(plaintext.message).toBeUndefined();
    expect(plaintext.omemo).toBeUndefined();
    expect(priority).toBe("low");
  }
}

describe("OMEMO extraction on mutated stanzas (property)", () => {
  it("never throws when children are deleted, duplicated, reordered, renamed, re-namespaced or attributes changed", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...stanzas),
        fc.array(mutationArb, { minLength: 1, maxLength: 8 }),
        deviceArb,
        (stanza, mutations, device) => {
          const mutated = mutations.reduce((node, mutation) => mutate(node, mutation), stanza);
          checkExtraction(mutated, device);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never throws on stanza texts with random text cut out or put in, when they still parse", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...vectors.map((vector) => vector.messageStanza)),
        fc.nat(),
        fc.nat(40),
        fc.string({ maxLength: 30 }),
        deviceArb,
        (text, at, cut, insert, device) => {
          const position = at % text.length;
          const parsed = parseXml(text.slice(0, position) + insert + text.slice(position + cut));
          if (parsed.ok) checkExtraction(parsed.value, device);
        },
      ),
      RUNS,
    );
  });

  it("keeps a vector's keys when unrelated children are shuffled", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: vectors.length - 1 }), fc.nat(), (which, seed) => {
        const vector = vectors[which];
        const stanza = stanzas[which];
        if (vector === undefined || stanza === undefined) return;
        const rotated = applyAt(stanza, { path: [], operation: "rotate", index: seed, attribute: "", value: "" });
        const device = { deviceId: vector.deviceId, recipient: vector.recipient };
        expect(extractOmemoForDevice(rotated, device) ?? null).toEqual(vector.expectedOmemo);
      }),
      RUNS,
    );
  });
});

function withoutOmemo(plaintext: PushPlaintext): PushPlaintext {
  return { ...plaintext, omemo: undefined };
}

function smallestOf(plaintext: PushPlaintext): PushPlaintext {
  return plaintext.message === undefined ? withoutOmemo(plaintext) : { ...withoutOmemo(plaintext), message: "" };
}

describe("the max-size budget (property)", () => {
  it("fits, and cuts as little as possible: omemo only when the whole did not fit, then whole code points", () => {
    fc.assert(
      fc.property(plaintextArb, fc.nat(), (plaintext, seed) => {
        const full = sealedLengthOf(plaintext);
        const maxSize = sealedLengthOf(smallestOf(plaintext)) + (seed % (full + 20));
        const fitted = fitPushPlaintext(plaintext, maxSize);
        if (!fitted.ok) throw new Error(fitted.error.reason);
        const value = fitted.value;
        expect(sealedLengthOf(value)).toBeLessThanOrEqual(maxSize);
        if (full <= maxSize) {
          expect(value).toBe(plaintext);
          return;
        }
        expect(value.omemo).toBeUndefined();
        const stripped = withoutOmemo(plaintext);
        if (sealedLengthOf(stripped) <= maxSize) {
          expect(serializePushPlaintext(value)).toBe(serializePushPlaintext(stripped));
          return;
        }
        const original = Array.from(plaintext.message ?? "");
        const kept = Array.from(value.message ?? "");
        expect(kept.length).toBeLessThan(original.length);
        expect(kept).toEqual(original.slice(0, kept.length));
        const encoder = new TextEncoder();
        const keptBytes = encoder.encode(value.message);
        expect(encoder.encode(plaintext.message).subarray(0, keptBytes.length)).toEqual(keptBytes);
        const oneMore = { ...stripped, message: original.slice(0, kept.length + 1).join("") };
        expect(sealedLengthOf(oneMore)).toBeGreaterThan(maxSize);
        expect(serializePushPlaintext(value)).toBe(serializePushPlaintext({ ...stripped, message: value.message }));
      }),
      { numRuns: 200 },
    );
  });

  it("seals within max-size for real", async () => {
    await fc.assert(
      fc.asyncProperty(plaintextArb, keyArb, fc.nat(), async (plaintext, key, seed) => {
        const maxSize = sealedLengthOf(smallestOf(plaintext)) + (seed % (sealedLengthOf(plaintext) + 20));
        const sealed = await sealPushNotification(plaintext, key, { maxSize });
        if (!sealed.ok) throw new Error(sealed.error.reason);
        expect(sealed.value.encrypted.length).toBeLessThanOrEqual(maxSize);
        const opened = await openPayload(sealed.value, key);
        expect(opened).toEqual({ ok: true, value: serializePushPlaintext(sealed.value.plaintext) });
      }),
      { numRuns: 100 },
    );
  });

  it("gives the explicit error, not a throw, for a max-size too small for any push", () => {
    fc.assert(
      fc.property(plaintextArb, fc.nat(), (plaintext, seed) => {
        const smallest = sealedLengthOf(smallestOf(plaintext));
        const maxSize = seed % smallest;
        expect(fitPushPlaintext(plaintext, maxSize)).toEqual({
          ok: false,
          error: { kind: "max-size-too-small", reason: expect.any(String), maxSize, smallestSize: smallest },
        });
      }),
      RUNS,
    );
  });
});
