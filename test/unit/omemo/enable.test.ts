import { describe, expect, it } from "vitest";
import { ENCRYPTED_PUSH_FEATURES, parseEnable } from "../../../src/omemo";
import { childElement } from "../../../src/xmpp/element";
import { formValue } from "../../../src/xmpp/forms";
import { parseStanza, readTestFile } from "./fixtures";

const KEY = "zpvor8+RawXu9uq/8qgbjw==";

function enableWith(inner: string, attributes = "jid='push.example.net' node='n1'"): string {
  return `<enable xmlns='urn:xmpp:push:0' ${attributes}>${inner}</enable>`;
}

function parse(text: string) {
  return parseEnable(parseStanza(text));
}

describe("parseEnable", () => {
  it("reads a plain XEP-0357 enable", () => {
    expect(parse(enableWith(""))).toEqual({ ok: true, value: { jid: "push.example.net", node: "n1" } });
  });

  it("reads the encrypt key, max-size and OMEMO device id", () => {
    const result = parse(
      enableWith(
        `<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm' max-size='3000'> ${KEY}\n</encrypt>` +
          "<omemo xmlns='tigase:push:encrypt:omemo:0' deviceId='1325'/>",
      ),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.encryption?.algorithm).toBe("aes-128-gcm");
    expect(result.value.encryption?.key).toHaveLength(16);
    expect(result.value.encryption?.maxSize).toBe(3000);
    expect(result.value.omemoDeviceId).toBe("1325");
  });

  it("reads alg='aes-gcm', the seed example's spelling, as aes-128-gcm", () => {
    const result = parse(enableWith(`<encrypt xmlns='tigase:push:encrypt:0' alg='aes-gcm'>${KEY}</encrypt>`));
    expect(result.ok && result.value.encryption?.algorithm).toBe("aes-128-gcm");
    expect(result.ok && result.value.encryption?.maxSize).toBeUndefined();
  });

  it.each([
    ["xep0357-enable.xml", undefined],
    ["xep0357-enable-with-secret.xml", "eruio234vzxc2kla-91"],
  ])("reads the XEP-0357 example %s, publish-options secret included", (file, secret) => {
    const iq = parseStanza(readTestFile(`fixtures/xep/${file}`));
    const enable = childElement(iq, "enable", "urn:xmpp:push:0");
    if (enable === undefined) throw new Error("no enable");
    const result = parseEnable(enable);
    if (!result.ok) throw new Error(result.error.reason);
    expect(result.value.jid).toBe("push-5.client.example");
    expect(result.value.node).toBe("yxs32uqsflafdk3iuqo");
    const options = result.value.publishOptions;
    expect(options && formValue(options, "secret")).toBe(secret);
  });

  it.each([
    ["an element that is not an enable", "<disable xmlns='urn:xmpp:push:0' jid='p' node='n'/>", "not-enable"],
    ["a missing jid", enableWith("", "node='n1'"), "bad-jid"],
    ["a jid that is not one", enableWith("", "jid='a@' node='n1'"), "bad-jid"],
    ["a missing node", enableWith("", "jid='push.example.net'"), "missing-node"],
    [
      "another algorithm",
      enableWith(`<encrypt xmlns='tigase:push:encrypt:0' alg='aes-256-gcm'>${KEY}</encrypt>`),
      "unsupported-algorithm",
    ],
    ["no algorithm", enableWith(`<encrypt xmlns='tigase:push:encrypt:0'>${KEY}</encrypt>`), "unsupported-algorithm"],
    [
      "a key that is not base64",
      enableWith("<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm'>not*base64*at*all=</encrypt>"),
      "bad-key",
    ],
    [
      "an unpadded key",
      enableWith("<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm'>zpvor8+RawXu9uq/8qgbjw</encrypt>"),
      "bad-key",
    ],
    [
      "a 32-byte key",
      enableWith(`<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm'>${"A".repeat(43)}=</encrypt>`),
      "bad-key",
    ],
    ["an empty key", enableWith("<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm'/>"), "bad-key"],
    [
      "a max-size of zero",
      enableWith(`<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm' max-size='0'>${KEY}</encrypt>`),
      "bad-max-size",
    ],
    [
      "a negative max-size",
      enableWith(`<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm' max-size='-5'>${KEY}</encrypt>`),
      "bad-max-size",
    ],
    [
      "a max-size that is not a number",
      enableWith(`<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm' max-size='3k'>${KEY}</encrypt>`),
      "bad-max-size",
    ],
    [
      "a device id that is not a number",
      enableWith(
        `<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm'>${KEY}</encrypt><omemo xmlns='tigase:push:encrypt:omemo:0' deviceId='x'/>`,
      ),
      "bad-device-id",
    ],
    [
      "a device id of zero",
      enableWith(
        `<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm'>${KEY}</encrypt><omemo xmlns='tigase:push:encrypt:omemo:0' deviceId='0'/>`,
      ),
      "bad-device-id",
    ],
    [
      "omemo without encrypt",
      enableWith("<omemo xmlns='tigase:push:encrypt:omemo:0' deviceId='1325'/>"),
      "omemo-without-encrypt",
    ],
    [
      "a form that repeats a field",
      enableWith("<x xmlns='jabber:x:data' type='submit'><field var='secret'/><field var='secret'/></x>"),
      "bad-publish-options",
    ],
  ])("refuses %s with a typed error meant for modify/bad-request", (_name, text, kind) => {
    const result = parse(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.kind).toBe(kind);
    expect(result.error.reason.length).toBeGreaterThan(0);
    expect(result.error.reason.length).toBeLessThan(60);
  });

  it("writes a device id in canonical decimal form", () => {
    const result = parse(
      enableWith(
        `<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm'>${KEY}</encrypt><omemo xmlns='tigase:push:encrypt:omemo:0' deviceId='01325'/>`,
      ),
    );
    expect(result.ok && result.value.omemoDeviceId).toBe("1325");
  });
});

describe("ENCRYPTED_PUSH_FEATURES", () => {
  it("lists what the user's server advertises on the bare JID", () => {
    expect(ENCRYPTED_PUSH_FEATURES).toEqual([
      "tigase:push:encrypt:0",
      "tigase:push:encrypt:aes-128-gcm",
      "tigase:push:encrypt:omemo:0",
    ]);
  });
});
