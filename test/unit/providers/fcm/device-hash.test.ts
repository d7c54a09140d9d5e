import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fcmAddressing } from "../../../../src/providers/fcm/device-hash";
import { registrationOf } from "../provider-test-kit";

const sha1 = (text: string) => createHash("sha1").update(text, "utf8").digest("hex");

describe("fcmAddressing", () => {
  it("names a token-style registration by its bare JID", async () => {
    expect(await fcmAddressing(registrationOf({ provider: "fcm" }))).toEqual({ account: "user@example.com" });
  });

  it("names a p2 registration by the SHA-1 of account NUL device, never the JID", async () => {
    const registration = registrationOf({ provider: "fcm", style: "device", device: "android-id-42" });
    const addressing = await fcmAddressing(registration);
    expect(addressing).toEqual({ account: sha1("user@example.com\u0000android-id-42") });
    expect(addressing.account).toMatch(/^[0-9a-f]{40}$/);
  });

  it("adds the channel hash of a registration made for a MUC", async () => {
    const registration = registrationOf({
      provider: "fcm",
      style: "device",
      device: "d1",
      account: "jülia@example.com",
      muc: "room@conference.example.com",
    });
    expect(await fcmAddressing(registration)).toEqual({
      account: sha1("jülia@example.com\u0000d1"),
      channel: sha1("room@conference.example.com\u0000d1"),
    });
  });
});
