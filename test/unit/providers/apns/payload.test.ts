import { describe, expect, it } from "vitest";
import type { PushNotification } from "../../../../src/domain/notification";
import {
  APNS_BODY_LIMIT,
  APNS_VOIP_BODY_LIMIT,
  apnsBodyLimit,
  apnsHeaders,
  apnsMaxPayloadSize,
  apnsPayloadCapacity,
  buildApnsPush,
} from "../../../../src/providers/apns/payload";
import { advertisedMaxPayloadSize, utf8Length } from "../../../../src/providers/payload-measure";
import { registrationOf, START } from "../provider-test-kit";

const encrypted = (voip = false, data = "QUJD", iv = "aXZpdml2aXZpdml2"): PushNotification => ({
  priority: "high",
  encrypted: { data, iv, voip },
});

describe("buildApnsPush", () => {
  it("builds the encrypted alert Siskin's extension decrypts", () => {
    const push = buildApnsPush(registrationOf(), encrypted());
    expect(push).toMatchObject({ pushType: "alert", priority: 10, toVoipToken: false, deviceToken: "a1b2c3" });
    expect(push.body).toBe(
      '{"aps":{"alert":{"title":"New message","body":"You have a new message"},"mutable-content":1,"sound":"default"},' +
        '"account":"user@example.com","encrypted":"QUJD","iv":"aXZpdml2aXZpdml2"}',
    );
  });

  it("puts the plain summary in the alert and in custom keys, unread-messages as an integer", () => {
    const push = buildApnsPush(registrationOf(), {
      priority: "high",
      sender: "room@muc.example.com",
      body: "hello",
      nickname: "juliet",
      messageCount: 3,
    });
    expect(JSON.parse(push.body)).toEqual({
      aps: { alert: { title: "room@muc.example.com", body: "juliet: hello" }, "mutable-content": 1, sound: "default" },
      account: "user@example.com",
      sender: "room@muc.example.com",
      body: "hello",
      nickname: "juliet",
      "unread-messages": 3,
    });
  });

  it("uses generic texts for an empty ejabberd notification at high priority", () => {
    const push = buildApnsPush(registrationOf(), { priority: "high" });
    expect(JSON.parse(push.body)).toEqual({
      aps: { alert: { title: "New message", body: "You have a new message" }, "mutable-content": 1, sound: "default" },
      account: "user@example.com",
    });
  });

  it("cuts a long plain body to a preview", () => {
    const push = buildApnsPush(registrationOf(), { priority: "high", body: "x".repeat(5000) });
    expect(utf8Length(push.body)).toBeLessThan(APNS_BODY_LIMIT);
    expect(JSON.parse(push.body).body).toHaveLength(512);
  });

  it("sends a read-elsewhere count as a background dismissal", () => {
    const push = buildApnsPush(registrationOf(), { priority: "low", messageCount: 0 });
    expect(push).toMatchObject({ pushType: "background", priority: 5 });
    expect(push.body).toBe('{"aps":{"content-available":1},"account":"user@example.com","unread-messages":0}');
  });

  it("sends low priority as a background push with the same custom keys, the blob included", () => {
    const push = buildApnsPush(registrationOf(), { ...encrypted(), priority: "low" });
    expect(push).toMatchObject({ pushType: "background", priority: 5 });
    expect(push.body).toBe(
      '{"aps":{"content-available":1},"account":"user@example.com","encrypted":"QUJD","iv":"aXZpdml2aXZpdml2"}',
    );
  });

  it("sends a call to the PushKit token with only account, encrypted and iv", () => {
    const push = buildApnsPush(registrationOf({ voipToken: "f00d" }), encrypted(true));
    expect(push).toMatchObject({ pushType: "voip", priority: 10, toVoipToken: true, deviceToken: "f00d" });
    expect(push.body).toBe('{"account":"user@example.com","encrypted":"QUJD","iv":"aXZpdml2aXZpdml2"}');
  });

  it("sends a call as an alert at priority 10 when there is no PushKit token", () => {
    const push = buildApnsPush(registrationOf(), encrypted(true));
    expect(push).toMatchObject({ pushType: "alert", priority: 10, toVoipToken: false, deviceToken: "a1b2c3" });
    expect(JSON.parse(push.body).aps.alert).toEqual({ title: "Incoming call", body: "Someone is calling you" });
    expect(JSON.parse(push.body).encrypted).toBe("QUJD");
  });

  it("leaves encrypted and iv out of the fallback push, with a generic alert text", () => {
    const push = buildApnsPush(registrationOf(), encrypted(), { withoutEncrypted: true });
    expect(push.body).toBe(
      '{"aps":{"alert":{"title":"New message","body":"You have a new message"},"mutable-content":1,"sound":"default"},' +
        '"account":"user@example.com"}',
    );
  });

  it("sends the fallback of a call as an alert to the regular token", () => {
    const push = buildApnsPush(registrationOf({ voipToken: "f00d" }), encrypted(true), { withoutEncrypted: true });
    expect(push).toMatchObject({ pushType: "alert", toVoipToken: false, deviceToken: "a1b2c3" });
    expect(push.body).not.toContain("encrypted");
  });

  it("collapses the alerts of one call by its Jingle sid", () => {
    const push = buildApnsPush(registrationOf(), {
      priority: "high",
      jingle: { action: "propose", sid: "call-1", media: ["audio"] },
    });
    expect(push.collapseId).toBe("call-1");
    expect(JSON.parse(push.body).aps.alert.title).toBe("Incoming call");
  });
});

describe("apnsHeaders", () => {
  it("names topic, push type, priority and expiration", () => {
    const push = buildApnsPush(registrationOf(), encrypted());
    expect(apnsHeaders(push, "im.example.app", START)).toEqual({
      "apns-topic": "im.example.app",
      "apns-push-type": "alert",
      "apns-priority": "10",
      "apns-expiration": String(START / 1000 + 86_400),
    });
  });

  it("uses the .voip topic and a short expiration for a call", () => {
    const push = buildApnsPush(registrationOf({ voipToken: "f00d" }), encrypted(true));
    expect(apnsHeaders(push, "im.example.app", START)).toMatchObject({
      "apns-topic": "im.example.app.voip",
      "apns-push-type": "voip",
      "apns-priority": "10",
      "apns-expiration": String(START / 1000 + 30),
    });
  });

  it("sends background pushes at priority 5 and adds apns-collapse-id when there is one", () => {
    const background = buildApnsPush(registrationOf(), { priority: "low", messageCount: 0 });
    expect(apnsHeaders(background, "t", START)).toMatchObject({ "apns-push-type": "background", "apns-priority": "5" });
    const call = buildApnsPush(registrationOf(), {
      priority: "high",
      jingle: { action: "propose", sid: "s", media: [] },
    });
    expect(apnsHeaders(call, "t", START)["apns-collapse-id"]).toBe("s");
  });
});

describe("apnsPayloadCapacity", () => {
  const encryptedKinds = (blob: string): PushNotification[] => [
    encrypted(false, blob, "A".repeat(16)),
    encrypted(true, blob, "A".repeat(16)),
    { ...encrypted(false, blob, "A".repeat(16)), priority: "low" },
  ];

  it.each([
    ["without a PushKit token", registrationOf()],
    ["with a PushKit token", registrationOf({ voipToken: "f00d" })],
    ["with a long account", registrationOf({ account: `${"u".repeat(300)}@example.com` })],
  ])(
    "lets a blob of exactly the capacity fit every encrypted push, and not one byte more (%s)",
    (_name, registration) => {
      const max = apnsPayloadCapacity(registration);
      const fits = encryptedKinds("A".repeat(max)).map((n) => buildApnsPush(registration, n));
      for (const push of fits) expect(utf8Length(push.body)).toBeLessThanOrEqual(apnsBodyLimit(push));
      expect(fits.some((push) => utf8Length(push.body) === apnsBodyLimit(push))).toBe(true);
      const over = encryptedKinds("A".repeat(max + 1)).map((n) => buildApnsPush(registration, n));
      expect(over.some((push) => utf8Length(push.body) > apnsBodyLimit(push))).toBe(true);
    },
  );

  it("shrinks by every byte the account adds", () => {
    const short = apnsPayloadCapacity(registrationOf({ account: "a@example.com" }));
    const long = apnsPayloadCapacity(registrationOf({ account: "abcdef@example.com" }));
    expect(short - long).toBe(5);
  });

  it("is bounded by the alert limit, not the VoIP one", () => {
    const max = apnsPayloadCapacity(registrationOf({ voipToken: "f00d" }));
    expect(max).toBeLessThan(APNS_BODY_LIMIT);
    expect(max).toBeLessThan(APNS_VOIP_BODY_LIMIT - 100);
  });
});

describe("apnsMaxPayloadSize", () => {
  it("advertises the capacity less room for Tigase's trimming (docs/protocol.md 6.4)", () => {
    for (const registration of [registrationOf(), registrationOf({ voipToken: "f00d" })])
      expect(apnsMaxPayloadSize(registration)).toBe(advertisedMaxPayloadSize(apnsPayloadCapacity(registration)));
  });

  it("gives juliet@capulet.example 3442 of a 3909-character capacity, with or without a PushKit token", () => {
    const juliet = registrationOf({ account: "juliet@capulet.example" });
    expect(apnsPayloadCapacity(juliet)).toBe(3909);
    expect(apnsMaxPayloadSize(juliet)).toBe(3442);
    const withPushKit = registrationOf({ account: "juliet@capulet.example", voipToken: "f00d" });
    expect(apnsPayloadCapacity(withPushKit)).toBe(3911);
    expect(apnsMaxPayloadSize(withPushKit)).toBe(3442);
  });
});
