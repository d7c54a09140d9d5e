import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  buildPush,
  buildPushPlaintext,
  extractOmemoForDevice,
  openPayload,
  openPushNotification,
  sealPayload,
  sealPushNotification,
  serializePushPlaintext,
} from "../../../src/omemo";
import { base64Bytes, omemoPushVectors, parseStanza, readTestFile } from "./fixtures";

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

  it("is the file the README's version line names: a changed file needs a new version and changelog entry", () => {
    const readme = readTestFile("vectors/README.md");
    const line = /^\*\*Version (\d+) \((\d{4}-\d{2}-\d{2})\)\.\*\* `omemo-push\.json` SHA-256: `([0-9a-f]{64})`$/m.exec(
      readme,
    );
    if (line === null) throw new Error("test/vectors/README.md has no version line");
    const [, version, date, hash] = line;
    expect(createHash("sha256").update(readTestFile("vectors/omemo-push.json")).digest("hex")).toBe(hash);
    expect(readme).toContain(`### Version ${version} (${date})`);
  });

  it("says in every vector how to publish it, low exactly for the one without payload", () => {
    expect(vectors.map((vector) => [vector.name, vector.expectedPriority])).toEqual([
      ["legacy-two-keys-for-device", "high"],
      ["omemo2-keys-grouped-by-jid", "high"],
      ["legacy-no-key-for-device", "high"],
      ["legacy-groupchat-keytransport-no-payload", "low"],
      ["legacy-single-key-no-prekey", "high"],
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

    it("builds the plaintext byte for byte, and the priority", () => {
      const built = buildPush(message, { unread: vector.unread, omemoDevice: device });
      if (!built.ok) throw new Error(built.error.reason);
      expect(serializePushPlaintext(built.value.plaintext)).toBe(vector.plaintext);
      expect(built.value.priority).toBe(vector.expectedPriority);
      const plaintextOnly = buildPushPlaintext(message, { unread: vector.unread, omemoDevice: device });
      expect(plaintextOnly).toEqual({ ok: true, value: built.value.plaintext });
    });

    it("writes message exactly when the push is high priority", () => {
      const written = JSON.parse(vector.plaintext);
      expect("message" in written).toBe(vector.expectedPriority === "high");
    });

    it("seals the plaintext with the given IV to the known ciphertext", async () => {
      const sealed = await sealPayload(vector.plaintext, key, { iv });
      expect(sealed).toEqual({ encrypted: vector.encrypted, iv: vector.iv });
    });

    it("seals the built plaintext with an injected random source to the known ciphertext", async () => {
      const built = buildPush(message, { unread: vector.unread, omemoDevice: device });
      if (!built.ok) throw new Error(built.error.reason);
      const sealed = await sealPushNotification(built.value.plaintext, key, { random: (bytes) => bytes.set(iv) });
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
