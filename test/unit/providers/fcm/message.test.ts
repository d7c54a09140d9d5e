import { describe, expect, it } from "vitest";
import type { PushNotification } from "../../../../src/domain/notification";
import {
  buildFcmData,
  buildFcmMessage,
  FCM_DATA_LIMIT,
  fcmDataSize,
  fcmMaxPayloadSize,
  fcmPayloadCapacity,
} from "../../../../src/providers/fcm/message";
import { advertisedMaxPayloadSize } from "../../../../src/providers/payload-measure";
import { registrationOf } from "../provider-test-kit";

const addressing = { account: "user@example.com" };
const encrypted = (voip = false, data = "QUJD"): PushNotification => ({
  priority: "high",
  encrypted: { data, iv: "aXZpdml2aXZpdml2", voip },
});

describe("buildFcmMessage", () => {
  it("sends an encrypted push as data only, at high priority", () => {
    const message = buildFcmMessage("tok", addressing, encrypted());
    expect(message.body).toBe(
      '{"message":{"token":"tok","android":{"priority":"high","ttl":"86400s"},' +
        '"data":{"account":"user@example.com","encrypted":"QUJD","iv":"aXZpdml2aXZpdml2"}}}',
    );
  });

  it("marks a call with type voip and a short ttl", () => {
    const message = JSON.parse(buildFcmMessage("tok", addressing, encrypted(true)).body).message;
    expect(message.android).toEqual({ priority: "high", ttl: "30s" });
    expect(message.data.type).toBe("voip");
  });

  it("sends a plain summary as strings", () => {
    const notification: PushNotification = {
      priority: "high",
      sender: "juliet@example.com",
      body: "hi",
      nickname: "Jules",
      messageCount: 2,
    };
    expect(buildFcmData(addressing, notification)).toEqual({
      account: "user@example.com",
      sender: "juliet@example.com",
      body: "hi",
      nickname: "Jules",
      "unread-messages": "2",
    });
  });

  it("dismisses at normal priority with unread-messages 0", () => {
    const message = JSON.parse(buildFcmMessage("tok", addressing, { priority: "low", messageCount: 0 }).body).message;
    expect(message.android.priority).toBe("normal");
    expect(message.data).toEqual({ account: "user@example.com", "unread-messages": "0" });
  });

  it("sends low priority at normal priority", () => {
    const message = JSON.parse(buildFcmMessage("tok", addressing, { ...encrypted(), priority: "low" }).body).message;
    expect(message.android.priority).toBe("normal");
    expect(message.data.encrypted).toBe("QUJD");
  });

  it("carries the channel of a p2 MUC registration", () => {
    const data = buildFcmData({ account: "a".repeat(40), channel: "c".repeat(40) }, { priority: "high" });
    expect(data).toEqual({ account: "a".repeat(40), channel: "c".repeat(40) });
  });

  it("leaves encrypted, iv and the summary out of the fallback push", () => {
    expect(buildFcmData(addressing, encrypted(true), { withoutEncrypted: true })).toEqual({
      account: "user@example.com",
      type: "voip",
    });
    expect(
      buildFcmData(addressing, { priority: "high", body: "x", messageCount: 4 }, { withoutEncrypted: true }),
    ).toEqual({
      account: "user@example.com",
      "unread-messages": "4",
    });
  });

  it("makes every data value a string", () => {
    const notifications: PushNotification[] = [
      encrypted(),
      encrypted(true),
      { priority: "high", messageCount: 7, sender: "a@b", body: "c", nickname: "d" },
      { priority: "low", messageCount: 0 },
    ];
    for (const notification of notifications)
      for (const value of Object.values(buildFcmData(addressing, notification))) expect(typeof value).toBe("string");
  });
});

describe("fcmPayloadCapacity", () => {
  it("lets a blob of exactly the capacity fit the 4096-byte data limit, and not one byte more", () => {
    const registration = registrationOf({ provider: "fcm" });
    const max = fcmPayloadCapacity(registration);
    const call = (blob: string): PushNotification => ({
      priority: "high",
      encrypted: { data: blob, iv: "A".repeat(16), voip: true },
    });
    expect(fcmDataSize(buildFcmData(addressing, call("A".repeat(max))))).toBe(FCM_DATA_LIMIT);
    expect(fcmDataSize(buildFcmData(addressing, call("A".repeat(max + 1))))).toBe(FCM_DATA_LIMIT + 1);
  });

  it("shrinks with the account", () => {
    const short = fcmPayloadCapacity(registrationOf({ provider: "fcm", account: "a@x.org" }));
    const long = fcmPayloadCapacity(registrationOf({ provider: "fcm", account: "abc@x.org" }));
    expect(short - long).toBe(2);
  });

  it("is 0 for p2 registrations, whose pushes never carry the blob (docs/protocol.md 6.2)", () => {
    const p2 = registrationOf({ provider: "fcm", style: "device", device: "d" });
    const p2Muc = registrationOf({ provider: "fcm", style: "device", device: "d", muc: "r@muc.example" });
    expect(fcmPayloadCapacity(p2)).toBe(0);
    expect(fcmPayloadCapacity(p2Muc)).toBe(0);
    expect(fcmMaxPayloadSize(p2)).toBe(0);
  });
});

describe("fcmMaxPayloadSize", () => {
  it("advertises the capacity less room for Tigase's trimming: 3530 of 4007 for juliet@capulet.example", () => {
    const juliet = registrationOf({ provider: "fcm", account: "juliet@capulet.example" });
    expect(fcmPayloadCapacity(juliet)).toBe(4007);
    expect(fcmMaxPayloadSize(juliet)).toBe(3530);
    expect(fcmMaxPayloadSize(juliet)).toBe(advertisedMaxPayloadSize(fcmPayloadCapacity(juliet)));
  });
});
