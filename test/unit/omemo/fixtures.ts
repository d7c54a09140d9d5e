import { readFileSync } from "node:fs";
import { decodeBase64 } from "../../../src/omemo";
import type { XmlElement } from "../../../src/xmpp/xml";
import { parseXml } from "../../../src/xmpp/xml";

/** Reads a file under test/ (e.g. `vectors/omemo-push.json`). */
export function readTestFile(pathUnderTest: string): string {
  return readFileSync(new URL(`../../${pathUnderTest}`, import.meta.url), "utf8");
}

/** Parses a stanza that the test knows to be well-formed. */
export function parseStanza(text: string): XmlElement {
  const parsed = parseXml(text);
  if (!parsed.ok) throw new Error(`fixture does not parse: ${parsed.error.reason}`);
  return parsed.value;
}

/** Decodes base64 that the test knows to be valid. */
export function base64Bytes(text: string): Uint8Array<ArrayBuffer> {
  const bytes = decodeBase64(text);
  if (bytes === undefined) throw new Error("fixture is not base64");
  return bytes;
}

export function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

export interface OmemoPushVector {
  readonly name: string;
  readonly namespace: string;
  readonly deviceId: string;
  readonly recipient: string;
  readonly unread: number;
  readonly messageStanza: string;
  readonly expectedOmemo: {
    readonly keys: string[];
    readonly kex: boolean[];
    readonly sid: string;
    readonly iv?: string;
    readonly data: string;
  } | null;
  /** The `<priority xmlns='tigase:push:priority:0'/>` to publish with (vectors version 2). */
  readonly expectedPriority: "high" | "low";
  readonly pushKey: string;
  readonly iv: string;
  readonly plaintext: string;
  readonly encrypted: string;
}

export function omemoPushVectors(): OmemoPushVector[] {
  return (JSON.parse(readTestFile("vectors/omemo-push.json")) as { vectors: OmemoPushVector[] }).vectors;
}

export interface GcmSpecCase {
  readonly id: string;
  readonly key: string;
  readonly iv: string;
  readonly pt: string;
  readonly aad: string;
  readonly ct: string;
  readonly tag: string;
  readonly wire_key_b64: string;
  readonly wire_iv_b64: string;
  readonly wire_ct_with_tag_b64: string;
}

export function gcmSpecCases(): GcmSpecCase[] {
  return (JSON.parse(readTestFile("fixtures/crypto/aes128gcm-gcm-spec-vectors.json")) as { cases: GcmSpecCase[] })
    .cases;
}

export interface EncryptedPublishVector {
  readonly key: string;
  readonly chat: { readonly iv: string; readonly plaintext: string; readonly encrypted: string };
  readonly call: { readonly iv: string; readonly plaintext: string };
}

export function encryptedPublishVector(): EncryptedPublishVector {
  return JSON.parse(readTestFile("fixtures/push/encrypted-publish.vector.json")) as EncryptedPublishVector;
}
