import { createCipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openPushNotification, type SealedPush } from "../../../src/omemo";

/*
 * Blobs shaped like what real servers emit, made here with node:crypto rather than with the code
 * under test: Prosody's mod_cloud_notify_encrypted (field order of a Lua table, bodies cut at 255
 * bytes then stripped of a trailing partial UTF-8 sequence, a zero tag where luaossl cannot give
 * one) and Tigase server 8.4 (`null` unread and sender).
 */

const key = randomBytes(16);

function sealWithNodeCrypto(json: string, tag: "real" | "zero"): SealedPush {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-128-gcm", key, iv);
  const ciphertext = Buffer.concat([cipher.update(json, "utf8"), cipher.final()]);
  const authTag = tag === "real" ? cipher.getAuthTag() : Buffer.alloc(16);
  return { encrypted: Buffer.concat([ciphertext, authTag]).toString("base64"), iv: iv.toString("base64") };
}

/** Prosody: `body:sub(1, 255)`, then `gsub("[\194-\244][\128-\191]*$", "")` when that is not valid UTF-8. */
function prosodyBody(body: string): string {
  const bytes = Buffer.from(body, "utf8");
  if (bytes.length <= 255) return body;
  let cut = bytes.subarray(0, 255);
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(cut);
  } catch {
    let end = cut.length;
    while (end > 0 && ((cut[end - 1] ?? 0) & 0xc0) === 0x80) end--;
    if (end > 0 && (cut[end - 1] ?? 0) >= 0xc2) end--;
    cut = cut.subarray(0, end);
  }
  return cut.toString("utf8");
}

const longBody = `${"x".repeat(253)}🌹 and more`;

describe("opening what Prosody's encrypted-push module emits", () => {
  const chat = JSON.stringify({
    message: prosodyBody(longBody),
    type: "chat",
    sender: "romeo@montague.example",
    unread: 1,
  });

  it("cuts the example body inside the rose, so the opener sees 253 bytes", () => {
    expect(prosodyBody(longBody)).toBe("x".repeat(253));
  });

  it("opens a chat push with a real tag (Prosody 13, util.crypto), whatever the field order", async () => {
    expect(await openPushNotification(sealWithNodeCrypto(chat, "real"), key)).toEqual({
      ok: true,
      value: { unread: 1, sender: "romeo@montague.example", type: "chat", message: "x".repeat(253) },
    });
  });

  it("refuses the zero-tag variant (Prosody 0.12 with luaossl) by default", async () => {
    const opened = await openPushNotification(sealWithNodeCrypto(chat, "zero"), key);
    expect(opened.ok || opened.error.kind).toBe("zero-tag");
  });

  it("opens the zero-tag variant in lenient mode", async () => {
    const opened = await openPushNotification(sealWithNodeCrypto(chat, "zero"), key, { acceptZeroTag: true });
    expect(opened.ok && opened.value.message).toBe("x".repeat(253));
  });

  it("opens its encrypted-message placeholder, call and subscription pushes, which carry no omemo object", async () => {
    const pushes = [
      { sender: "romeo@montague.example", message: "You have received an encrypted message", unread: 1, type: "chat" },
      { media: ["audio"], sid: "jmi-1", type: "call", unread: 1, sender: "juliet@capulet.example/balcony" },
      { type: "subscribe", unread: 1, sender: "romeo@montague.example" },
      { unread: 1, sender: "romeo@montague.example" },
    ];
    for (const push of pushes) {
      const opened = await openPushNotification(sealWithNodeCrypto(JSON.stringify(push), "zero"), key, {
        acceptZeroTag: true,
      });
      // `subscribe` is no type a client decodes (Siskin knows chat, groupchat, call, unknown): the
      // reader leaves it out, as it does any type it does not know.
      const { type, ...rest } = push;
      expect(opened).toEqual({ ok: true, value: type === "subscribe" ? rest : push });
    }
  });
});

describe("opening pushes from writers this project does not know", () => {
  it("ignores unknown extra fields", async () => {
    const json = '{"unread":2,"sender":"a@b","type":"chat","message":"Hello","stanzaId":"abc","extra":{"a":[1]}}';
    const opened = await openPushNotification(sealWithNodeCrypto(json, "real"), key);
    expect(opened.ok && opened.value).toEqual({ unread: 2, sender: "a@b", type: "chat", message: "Hello" });
  });
});

describe("opening what Tigase server 8.4 emits", () => {
  it("reads null unread and sender", async () => {
    const json = '{"unread":null,"sender":null,"type":"chat","message":"Hello"}';
    expect(await openPushNotification(sealWithNodeCrypto(json, "real"), key)).toEqual({
      ok: true,
      value: { unread: null, sender: null, type: "chat", message: "Hello" },
    });
  });

  it("reads a group chat push without omemo object", async () => {
    const json = '{"unread":null,"sender":null,"type":"groupchat","message":"Hi all","nickname":"Mercutio"}';
    const opened = await openPushNotification(sealWithNodeCrypto(json, "real"), key);
    expect(opened.ok && opened.value).toEqual({
      unread: null,
      sender: null,
      type: "groupchat",
      message: "Hi all",
      nickname: "Mercutio",
    });
  });
});
