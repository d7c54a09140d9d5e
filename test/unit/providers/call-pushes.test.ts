/**
 * Issue 14 item 1: only a ringing call goes to PushKit (docs/protocol.md 4 and 6.1). Tigase's server marks
 * every Jingle Message Initiation event `type='voip'` and names it in `<jingle xmlns='tigase:push:jingle:0'
 * action='…'>`; Siskin must report every PushKit push to CallKit as a new call (its PushKit handler reads
 * `account`, `encrypted` and `iv`, and reports a call only when the opened payload lists `media`), so
 * `proceed`, `accept`, `reject` and `retract` must arrive as regular pushes. The publishes below are built
 * as tigase-server writes them, read with the gateway's parser, and sent through the real providers.
 */
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { isRingingCall, type PushNotification, pushKind } from "../../../src/domain/notification";
import { decodeBase64, decryptAes128Gcm, type SealedPush, sealPayload } from "../../../src/omemo";
import type { RecordedRequest } from "../../fakes/transport";
import { type ArrangedProvider, arrangeProviders } from "./provider-arrange";
import { registrationOf, START } from "./provider-test-kit";
import {
  type JingleAction,
  readPublish,
  tigaseCallPlaintext,
  tigaseEncrypted,
  tigaseJingle,
  tigasePriority,
  tigasePublishXml,
} from "./tigase-server";

const JULIET = "juliet@capulet.example";
const SID = "jmi-4b1e";
const MEDIA = ["audio", "video"] as const;
const TOPIC = "im.example.app";
/** Siskin registers its APNs token and its PushKit token (`device-second-token`). */
const siskin = registrationOf({ account: JULIET, token: "a1b2c3", voipToken: "f00d" });
const siskinWithoutPushKit = registrationOf({ account: JULIET, token: "a1b2c3" });
/** A Tigase client on Android, registered with `register-device` for FCM. */
const android = registrationOf({ provider: "fcm", account: JULIET, token: "fcm-token" });

const deviceKey = new Uint8Array(randomBytes(16));
let providers: ArrangedProvider;
beforeAll(async () => {
  providers = await arrangeProviders();
});

interface TigaseEvent {
  /** The XEP-0353 element of the message; `undefined` for a publish without a `<jingle/>` hint. */
  readonly action: JingleAction | undefined;
  /** Whether the `<jingle/>` element is written at all, and with `action` (Tigase since December 2025). */
  readonly hint: "with-action" | "without-action" | "none";
  /** `<priority/>`: Tigase writes it for clients that enabled it (Siskin does); `absent` otherwise. */
  readonly priority: "high" | "low" | "absent";
}

/** What Tigase sends for one event: a propose carries the media of its descriptions; the others none. */
async function tigaseCallPublish(event: TigaseEvent): Promise<{ notification: PushNotification; sealed: SealedPush }> {
  const media = event.action === "propose" || event.action === undefined ? MEDIA : [];
  const sealed = await sealPayload(tigaseCallPlaintext(SID, media.length > 0 ? media : null), deviceKey);
  const children: string[] = [];
  if (event.priority !== "absent") children.push(tigasePriority(event.priority));
  if (event.hint !== "none")
    children.push(tigaseJingle(event.hint === "with-action" ? event.action : undefined, SID, media));
  children.push(tigaseEncrypted(sealed, true));
  return { notification: readPublish(tigasePublishXml("node-1", children)), sealed };
}

/** The parts of an APNs request a device and Apple act on. */
function apnsView(request: RecordedRequest | undefined) {
  if (!request) throw new Error("no APNs request was made");
  const headers = request.headers;
  return {
    token: request.url.split("/3/device/")[1],
    topic: headers["apns-topic"],
    pushType: headers["apns-push-type"],
    priority: headers["apns-priority"],
    lifetimeSeconds: Number(headers["apns-expiration"]) - START / 1000,
    collapseId: headers["apns-collapse-id"],
    body: JSON.parse(request.body),
  };
}

function fcmView(request: RecordedRequest | undefined) {
  if (!request) throw new Error("no FCM request was made");
  const message = JSON.parse(request.body).message;
  return { token: message.token, android: message.android, data: message.data };
}

/** What Siskin's PushKit handler would find after opening the blob: `media` is what makes it report a call. */
async function openedCallPayload(body: { encrypted: string; iv: string }): Promise<string> {
  const iv = decodeBase64(body.iv);
  const sealed = decodeBase64(body.encrypted);
  if (!iv || !sealed) throw new Error("iv or encrypted is not base64");
  const opened = await decryptAes128Gcm(deviceKey, iv, sealed);
  if (!opened) throw new Error("the blob does not open with the device key");
  return new TextDecoder().decode(opened);
}

const NON_RINGING: JingleAction[] = ["proceed", "accept", "reject", "retract"];

describe("Tigase call events to Siskin on APNs (with a PushKit token)", () => {
  it("sends a propose to PushKit: the .voip topic, push type voip, priority 10, only account, encrypted and iv", async () => {
    const { notification, sealed } = await tigaseCallPublish({
      action: "propose",
      hint: "with-action",
      priority: "high",
    });
    const view = apnsView((await providers.sendApns(siskin, notification)).request);
    expect(view).toEqual({
      token: "f00d",
      topic: `${TOPIC}.voip`,
      pushType: "voip",
      priority: "10",
      lifetimeSeconds: 30,
      collapseId: undefined,
      body: { account: JULIET, encrypted: sealed.encrypted, iv: sealed.iv },
    });
    expect(await openedCallPayload(view.body)).toContain('"media" : ["audio", "video"]');
  });

  it.each(NON_RINGING)(
    "sends %s as the regular background push Tigase's low priority asks for, never to PushKit",
    async (action) => {
      const { notification, sealed } = await tigaseCallPublish({ action, hint: "with-action", priority: "low" });
      const view = apnsView((await providers.sendApns(siskin, notification)).request);
      expect(view).toEqual({
        token: "a1b2c3",
        topic: TOPIC,
        pushType: "background",
        priority: "5",
        lifetimeSeconds: 86_400,
        collapseId: undefined,
        body: { aps: { "content-available": 1 }, account: JULIET, encrypted: sealed.encrypted, iv: sealed.iv },
      });
      // Opened, the payload lists no media: Siskin's PushKit handler would end a call instead of reporting one.
      expect(await openedCallPayload(view.body)).toContain('"media" : null');
    },
  );

  it.each(NON_RINGING)(
    "sends %s as a regular alert at priority 10 when the server sent no <priority/> (encrypted means high)",
    async (action) => {
      const { notification, sealed } = await tigaseCallPublish({ action, hint: "with-action", priority: "absent" });
      const view = apnsView((await providers.sendApns(siskin, notification)).request);
      expect(view).toEqual({
        token: "a1b2c3",
        topic: TOPIC,
        pushType: "alert",
        priority: "10",
        lifetimeSeconds: 86_400,
        collapseId: SID,
        body: {
          aps: {
            alert: { title: "New message", body: "You have a new message" },
            "mutable-content": 1,
            sound: "default",
          },
          account: JULIET,
          encrypted: sealed.encrypted,
          iv: sealed.iv,
        },
      });
    },
  );

  it("keeps a type='voip' publish without a <jingle/> hint a call: to PushKit", async () => {
    const { notification, sealed } = await tigaseCallPublish({ action: undefined, hint: "none", priority: "high" });
    const view = apnsView((await providers.sendApns(siskin, notification)).request);
    expect(view).toMatchObject({ token: "f00d", topic: `${TOPIC}.voip`, pushType: "voip", priority: "10" });
    expect(view.body).toEqual({ account: JULIET, encrypted: sealed.encrypted, iv: sealed.iv });
  });

  it("reads a <jingle/> without action (Tigase before December 2025) by its media: a propose rings, the rest do not", async () => {
    const propose = await tigaseCallPublish({ action: "propose", hint: "without-action", priority: "high" });
    expect(apnsView((await providers.sendApns(siskin, propose.notification)).request)).toMatchObject({
      token: "f00d",
      pushType: "voip",
    });
    for (const action of NON_RINGING) {
      const other = await tigaseCallPublish({ action, hint: "without-action", priority: "low" });
      expect(apnsView((await providers.sendApns(siskin, other.notification)).request)).toMatchObject({
        token: "a1b2c3",
        topic: TOPIC,
        pushType: "background",
        priority: "5",
      });
    }
  });
});

describe("Tigase call events to Siskin on APNs without a PushKit token", () => {
  it("alerts a propose with the call texts at priority 10, collapsed by the sid", async () => {
    const { notification, sealed } = await tigaseCallPublish({
      action: "propose",
      hint: "with-action",
      priority: "high",
    });
    const view = apnsView((await providers.sendApns(siskinWithoutPushKit, notification)).request);
    expect(view).toEqual({
      token: "a1b2c3",
      topic: TOPIC,
      pushType: "alert",
      priority: "10",
      lifetimeSeconds: 30,
      collapseId: SID,
      body: {
        aps: {
          alert: { title: "Incoming call", body: "Someone is calling you" },
          "mutable-content": 1,
          sound: "default",
        },
        account: JULIET,
        encrypted: sealed.encrypted,
        iv: sealed.iv,
      },
    });
  });

  it.each(NON_RINGING)("sends %s as a background push, without the call texts", async (action) => {
    const { notification } = await tigaseCallPublish({ action, hint: "with-action", priority: "low" });
    const view = apnsView((await providers.sendApns(siskinWithoutPushKit, notification)).request);
    expect(view).toMatchObject({ token: "a1b2c3", topic: TOPIC, pushType: "background", priority: "5" });
    expect(view.body.aps).toEqual({ "content-available": 1 });
  });
});

describe("Tigase call events on FCM", () => {
  it("sends a propose at high priority with type voip and a 30-second ttl", async () => {
    const { notification, sealed } = await tigaseCallPublish({
      action: "propose",
      hint: "with-action",
      priority: "high",
    });
    expect(fcmView((await providers.sendFcm(android, notification)).request)).toEqual({
      token: "fcm-token",
      android: { priority: "high", ttl: "30s" },
      data: { account: JULIET, encrypted: sealed.encrypted, iv: sealed.iv, type: "voip" },
    });
  });

  it.each(NON_RINGING)("sends %s at normal priority without type voip", async (action) => {
    const { notification, sealed } = await tigaseCallPublish({ action, hint: "with-action", priority: "low" });
    expect(fcmView((await providers.sendFcm(android, notification)).request)).toEqual({
      token: "fcm-token",
      android: { priority: "normal", ttl: "86400s" },
      data: { account: JULIET, encrypted: sealed.encrypted, iv: sealed.iv },
    });
  });

  it.each(NON_RINGING)(
    "sends %s without <priority/> at high priority (encrypted means high) but without type voip",
    async (action) => {
      const { notification, sealed } = await tigaseCallPublish({ action, hint: "with-action", priority: "absent" });
      expect(fcmView((await providers.sendFcm(android, notification)).request)).toEqual({
        token: "fcm-token",
        android: { priority: "high", ttl: "86400s" },
        data: { account: JULIET, encrypted: sealed.encrypted, iv: sealed.iv },
      });
    },
  );

  it("keeps a type='voip' publish without a <jingle/> hint a call", async () => {
    const { notification } = await tigaseCallPublish({ action: undefined, hint: "none", priority: "high" });
    const view = fcmView((await providers.sendFcm(android, notification)).request);
    expect(view.android).toEqual({ priority: "high", ttl: "30s" });
    expect(view.data.type).toBe("voip");
  });
});

describe("pushKind and isRingingCall: the one decision both providers use", () => {
  const encrypted = { data: "QUJD", iv: "aXZpdml2aXZpdml2", voip: true };
  const call = (jingle: PushNotification["jingle"], priority: "high" | "low" = "high"): PushNotification => ({
    priority,
    encrypted,
    ...(jingle ? { jingle } : {}),
  });

  it.each([
    ["propose", "high", "voip"],
    ["proceed", "low", "background"],
    ["accept", "low", "background"],
    ["reject", "low", "background"],
    ["retract", "low", "background"],
    ["accept", "high", "alert"],
    ["an action this gateway does not know", "high", "alert"],
  ] as const)("decides %s at priority %s is %s", (action, priority, kind) => {
    const notification = call({ action, sid: SID, media: action === "propose" ? ["audio"] : [] }, priority);
    expect(pushKind(notification)).toBe(kind);
    expect(isRingingCall(notification)).toBe(action === "propose");
  });

  it("keeps a call without a hint a call, and never makes a call of a blob that is not type='voip'", () => {
    expect(pushKind(call(undefined))).toBe("voip");
    const message: PushNotification = {
      priority: "high",
      encrypted: { ...encrypted, voip: false },
      jingle: { action: "propose", sid: SID, media: ["audio"] },
    };
    expect(pushKind(message)).toBe("alert");
    expect(isRingingCall(message)).toBe(true);
  });

  it("does not let a read-elsewhere count dismiss a ringing call, but dismisses the other events", () => {
    expect(pushKind({ ...call({ action: "propose", sid: SID, media: ["audio"] }), messageCount: 0 })).toBe("voip");
    expect(pushKind({ ...call({ action: "accept", sid: SID, media: [] }), messageCount: 0 })).toBe("dismiss");
  });

  it("rings for a plain (unencrypted) propose hint only in the alert texts, never as a VoIP push", () => {
    const plain: PushNotification = { priority: "high", jingle: { action: "propose", sid: SID, media: ["audio"] } };
    expect(isRingingCall(plain)).toBe(true);
    expect(pushKind(plain)).toBe("alert");
  });
});
