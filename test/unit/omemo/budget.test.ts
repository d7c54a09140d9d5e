import { describe, expect, it } from "vitest";
import {
  fitPushPlaintext,
  type PushPlaintext,
  sealedBase64Length,
  sealedLengthOf,
  sealPayload,
  sealPushNotification,
  serializePushPlaintext,
} from "../../../src/omemo";

const key = new Uint8Array(16).fill(7);
const omemo = { keys: ["a".repeat(200)], kex: [false], sid: "1", data: "b".repeat(100) };
const plaintext: PushPlaintext = {
  unread: 1,
  sender: "romeo@montague.example",
  type: "chat",
  message: "héllo 🌹 world",
  omemo,
};

function sizeWith(message: string | undefined, withOmemo = false): number {
  return sealedLengthOf({ ...plaintext, message, omemo: withOmemo ? omemo : undefined });
}

describe("sealedBase64Length", () => {
  it("is 4*ceil((bytes+16)/3), the length of base64 ciphertext||tag", async () => {
    expect(sealedBase64Length(0)).toBe(24);
    expect(sealedBase64Length(2)).toBe(24);
    expect(sealedBase64Length(3)).toBe(28);
    for (const text of ["", "a", "ab", "abc", "é🌹", "x".repeat(1000)]) {
      const sealed = await sealPayload(text, key);
      expect(sealed.encrypted.length).toBe(sealedBase64Length(new TextEncoder().encode(text).length));
    }
  });
});

describe("fitPushPlaintext", () => {
  it("keeps everything when it fits", () => {
    expect(fitPushPlaintext(plaintext, sizeWith(plaintext.message, true))).toEqual({ ok: true, value: plaintext });
  });

  it("drops omemo first", () => {
    const fitted = fitPushPlaintext(plaintext, sizeWith(plaintext.message, true) - 1);
    expect(fitted.ok && serializePushPlaintext(fitted.value)).toBe(
      serializePushPlaintext({ ...plaintext, omemo: undefined }),
    );
  });

  it("then trims the message to whole code points, never inside the rose's four UTF-8 bytes", () => {
    const fitted = fitPushPlaintext(plaintext, sizeWith("héllo 🌹") - 1);
    expect(fitted.ok && fitted.value.message).toBe("héllo ");
    expect(fitted.ok && fitted.value.omemo).toBeUndefined();
  });

  it("trims the message to empty when only that fits", () => {
    const fitted = fitPushPlaintext({ ...plaintext, message: "🌹🌹" }, sizeWith(""));
    expect(fitted.ok && fitted.value.message).toBe("");
  });

  it("refuses a max-size too small for any push with a typed error", () => {
    expect(fitPushPlaintext(plaintext, sizeWith("") - 1)).toEqual({
      ok: false,
      error: {
        kind: "max-size-too-small",
        reason: expect.stringContaining("max-size"),
        maxSize: sizeWith("") - 1,
        smallestSize: sizeWith(""),
      },
    });
    const call: PushPlaintext = { unread: 0, sender: "a@b/c", type: "call", sid: "s", media: ["audio"] };
    const refused = fitPushPlaintext(call, 10);
    expect(refused.ok || refused.error.smallestSize).toBe(sealedLengthOf(call));
  });

  it("is applied by sealPushNotification when max-size is given", async () => {
    const maxSize = sizeWith("héllo 🌹") - 1;
    const sealed = await sealPushNotification(plaintext, key, { maxSize });
    expect(sealed.ok && sealed.value.plaintext.message).toBe("héllo ");
    expect(sealed.ok && sealed.value.encrypted.length).toBeLessThanOrEqual(maxSize);
    const refused = await sealPushNotification(plaintext, key, { maxSize: 20 });
    expect(refused.ok || refused.error.kind).toBe("max-size-too-small");
  });
});
