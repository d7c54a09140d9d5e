import { describe, expect, it } from "vitest";
import {
  decryptAes128Gcm,
  decryptAes128GcmWithoutTag,
  encodeBase64,
  encryptAes128Gcm,
  openPayload,
} from "../../../src/omemo";
import { base64Bytes, gcmSpecCases, hexBytes } from "./fixtures";

const cases = gcmSpecCases();
const withoutAad = cases.filter((testCase) => testCase.aad === "");

describe("AES-128-GCM against the GCM specification's test cases", () => {
  it("covers test cases 1 to 3 without additional data", () => {
    expect(withoutAad.map((testCase) => testCase.id)).toEqual(["GCM-spec-TC1", "GCM-spec-TC2", "GCM-spec-TC3"]);
  });

  describe.each(withoutAad)("$id", (testCase) => {
    const key = hexBytes(testCase.key);
    const iv = hexBytes(testCase.iv);

    it("matches the hex constants and their base64 wire forms", () => {
      expect(encodeBase64(key)).toBe(testCase.wire_key_b64);
      expect(encodeBase64(iv)).toBe(testCase.wire_iv_b64);
      expect(encodeBase64(hexBytes(testCase.ct + testCase.tag))).toBe(testCase.wire_ct_with_tag_b64);
    });

    it("encrypts to ciphertext||tag", async () => {
      const sealed = await encryptAes128Gcm(key, iv, hexBytes(testCase.pt));
      expect(encodeBase64(sealed)).toBe(testCase.wire_ct_with_tag_b64);
    });

    it("decrypts ciphertext||tag, and refuses it with a flipped tag bit", async () => {
      const sealed = base64Bytes(testCase.wire_ct_with_tag_b64);
      expect(await decryptAes128Gcm(key, iv, sealed)).toEqual(hexBytes(testCase.pt));
      const forged = sealed.slice();
      forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 1;
      expect(await decryptAes128Gcm(key, iv, forged)).toBeUndefined();
    });

    it("decrypts the ciphertext as GCM's counter mode does (J0+1 onwards) when the tag is ignored", async () => {
      const sealed = base64Bytes(testCase.wire_ct_with_tag_b64);
      expect(await decryptAes128GcmWithoutTag(key, iv, sealed)).toEqual(hexBytes(testCase.pt));
    });
  });

  it("opens test case 1 (empty plaintext) as an empty push text", async () => {
    const [first] = withoutAad;
    if (first === undefined) throw new Error("no test case 1");
    const opened = await openPayload(
      { encrypted: first.wire_ct_with_tag_b64, iv: first.wire_iv_b64 },
      hexBytes(first.key),
    );
    expect(opened).toEqual({ ok: true, value: "" });
  });

  it("refuses test case 4, whose tag covers additional data the wire format cannot carry", async () => {
    const withAad = cases.find((testCase) => testCase.id === "GCM-spec-TC4");
    if (withAad === undefined) throw new Error("no test case 4");
    const key = hexBytes(withAad.key);
    const iv = hexBytes(withAad.iv);
    const sealed = base64Bytes(withAad.wire_ct_with_tag_b64);
    expect(await decryptAes128Gcm(key, iv, sealed)).toBeUndefined();
    expect(await decryptAes128GcmWithoutTag(key, iv, sealed)).toEqual(hexBytes(withAad.pt));
  });
});
