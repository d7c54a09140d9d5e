import { describe, expect, it } from "vitest";
import {
  buildPushPlaintext,
  extractOmemoForDevice,
  openPayload,
  openPushNotification,
  sealPayload,
  sealPushNotification,
  serializePushPlaintext,
} from "../../../src/omemo";
import { base64Bytes, omemoPushVectors, parseStanza } from "./fixtures";

const vectors = omemoPushVectors();

describe("OMEMO push known-answer vectors (test/vectors/omemo-push.json)", () => {
  it("holds the five vectors of the shared set", () => {
    expect(vectors.map((vector) => vector.name)).toEqual([
      "legacy-two-keys-for-device",
      "omemo2-keys-grouped-by-jid",
      "legacy-no-key-for-device",
      "legacy-groupchat-keytransport-no-payload",
      "legacy-single-key-no-prekey",
    ]);
  });

  describe.each(vectors)("$name", (vector) => {
    const message = parseStanza(vector.messageStanza);
    const device = { deviceId: vector.deviceId, recipient: vector.recipient };
    const key = base64Bytes(vector.pushKey);
    const iv = base64Bytes(vector.iv);

    it("extracts expectedOmemo for the device, byte for byte", () => {
      const omemo = extractOmemoForDevice(message, device);
      expect(omemo ?? null).toEqual(vector.expectedOmemo);
      const written = omemo && JSON.parse(serializePushPlaintext({ unread: 0, sender: "", type: "chat", omemo })).omemo;
      expect(JSON.stringify(written ?? null)).toBe(JSON.stringify(vector.expectedOmemo));
    });

    it("builds the plaintext byte for byte", () => {
      const built = buildPushPlaintext(message, { unread: vector.unread, omemoDevice: device });
      expect(built.ok && serializePushPlaintext(built.value)).toBe(vector.plaintext);
    });

    it("seals the plaintext with the given IV to the known ciphertext", async () => {
      const sealed = await sealPayload(vector.plaintext, key, { iv });
      expect(sealed).toEqual({ encrypted: vector.encrypted, iv: vector.iv });
    });

    it("seals the built plaintext with an injected random source to the known ciphertext", async () => {
      const built = buildPushPlaintext(message, { unread: vector.unread, omemoDevice: device });
      if (!built.ok) throw new Error(built.error.reason);
      const sealed = await sealPushNotification(built.value, key, { random: (bytes) => bytes.set(iv) });
      expect(sealed.ok && { encrypted: sealed.value.encrypted, iv: sealed.value.iv }).toEqual({
        encrypted: vector.encrypted,
        iv: vector.iv,
      });
    });

    it("opens to the plaintext, and reads back the omemo object", async () => {
      const opened = await openPayload({ encrypted: vector.encrypted, iv: vector.iv }, key);
      expect(opened).toEqual({ ok: true, value: vector.plaintext });
      const read = await openPushNotification({ encrypted: vector.encrypted, iv: vector.iv }, key);
      expect(read.ok && (read.value.omemo ?? null)).toEqual(vector.expectedOmemo);
    });
  });
});
