import { describe, expect, it } from "vitest";
import {
  encodeBase64,
  encryptAes128Gcm,
  openPayload,
  openPushNotification,
  type SealedPush,
  sealPayload,
} from "../../../src/omemo";
import { base64Bytes } from "./fixtures";

const key = new Uint8Array(16).fill(1);
const iv = new Uint8Array(12).fill(2);

async function sealed(text = '{"unread":1,"sender":"a@b","type":"chat"}'): Promise<SealedPush> {
  return sealPayload(text, key, { iv });
}

function withTag(push: SealedPush, tag: (bytes: Uint8Array) => void): SealedPush {
  const bytes = base64Bytes(push.encrypted);
  tag(bytes.subarray(bytes.length - 16));
  return { ...push, encrypted: encodeBase64(bytes) };
}

describe("openPayload", () => {
  it("accepts base64 wrapped in XML white space", async () => {
    const push = await sealed();
    const wrapped = {
      encrypted: `\n  ${push.encrypted.slice(0, 20)}\n  ${push.encrypted.slice(20)}\n`,
      iv: ` ${push.iv} `,
    };
    expect(await openPayload(wrapped, key)).toEqual({ ok: true, value: '{"unread":1,"sender":"a@b","type":"chat"}' });
  });

  it("refuses a forged ciphertext and a wrong key", async () => {
    const push = await sealed();
    const forged = base64Bytes(push.encrypted);
    forged[0] = (forged[0] ?? 0) ^ 0x80;
    expect((await openPayload({ ...push, encrypted: encodeBase64(forged) }, key)).ok || "refused").toBe("refused");
    const other = await openPayload(push, new Uint8Array(16));
    expect(other.ok || other.error.kind).toBe("tag-mismatch");
  });

  it("refuses a zero tag unless asked to accept it, with its own error", async () => {
    const push = withTag(await sealed(), (tag) => tag.fill(0));
    const strict = await openPayload(push, key);
    expect(strict.ok || strict.error.kind).toBe("zero-tag");
    expect(await openPayload(push, key, { acceptZeroTag: true })).toEqual({
      ok: true,
      value: '{"unread":1,"sender":"a@b","type":"chat"}',
    });
  });

  it("still verifies a tag that is not all zeros in lenient mode", async () => {
    const push = withTag(await sealed(), (tag) => {
      tag[3] = (tag[3] ?? 0) ^ 1;
    });
    const lenient = await openPayload(push, key, { acceptZeroTag: true });
    expect(lenient.ok || lenient.error.kind).toBe("tag-mismatch");
  });

  it.each([
    [
      "a key that is not 16 bytes",
      { encrypted: "AAAAAAAAAAAAAAAAAAAAAA==", iv: "AAAAAAAAAAAAAAAA" },
      new Uint8Array(15),
      "bad-key",
    ],
    ["ciphertext that is not base64", { encrypted: "*", iv: "AAAAAAAAAAAAAAAA" }, key, "bad-base64"],
    ["an IV that is not base64", { encrypted: "AAAAAAAAAAAAAAAAAAAAAA==", iv: "AAAA AAA" }, key, "bad-base64"],
    [
      "an IV that is not 12 bytes",
      { encrypted: "AAAAAAAAAAAAAAAAAAAAAA==", iv: "AAAAAAAAAAAAAAAAAAAAAA==" },
      key,
      "bad-iv",
    ],
    ["a blob shorter than a tag", { encrypted: "AAAA", iv: "AAAAAAAAAAAAAAAA" }, key, "too-short"],
  ])("refuses %s", async (_name, push, openKey, kind) => {
    const opened = await openPayload(push, openKey);
    expect(opened.ok || opened.error.kind).toBe(kind);
  });

  it("refuses a plaintext that is not UTF-8", async () => {
    const bytes = await encryptAes128Gcm(key, iv, new Uint8Array([0x7b, 0xff, 0x7d]));
    const opened = await openPayload({ encrypted: encodeBase64(bytes), iv: encodeBase64(iv) }, key);
    expect(opened.ok || opened.error.kind).toBe("not-utf8");
  });
});

describe("openPushNotification", () => {
  it("refuses a plaintext that is not JSON", async () => {
    const opened = await openPushNotification(await sealed("hello"), key);
    expect(opened.ok || opened.error.kind).toBe("not-json");
  });

  it("reads the JSON of an opened push", async () => {
    expect(await openPushNotification(await sealed(), key)).toEqual({
      ok: true,
      value: { unread: 1, sender: "a@b", type: "chat" },
    });
  });
});
