/**
 * Issue 14 item 2 (payload): a p2 / Conversations registration (`register-push-fcm`, device style) tells
 * Google no more than p2 does (docs/protocol.md 6.2). p2's FcmPushService puts `account` and, for a MUC
 * registration, `channel` in the FCM data and nothing else; Conversations' PushMessageReceiver reads only
 * `account`, and Conversations never sends `<encrypt/>` in its `<enable/>`. So whatever the publish holds
 * (a Prosody or ejabberd summary with a real body and sender, a Tigase summary or encrypted blob, a call),
 * the data is `{account}` or `{account, channel}`: the lowercase hex SHA-1 of `jid + "\0" + device id`.
 */
import { createHash, randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { PushNotification } from "../../../src/domain/notification";
import { sealPayload } from "../../../src/omemo";
import { buildFcmPush, carriesAddressOnly } from "../../../src/providers/fcm/message";
import { type ArrangedProvider, arrangeProviders } from "./provider-arrange";
import { registrationOf } from "./provider-test-kit";
import {
  readPublish,
  TIGASE_DOMAIN,
  tigaseCallPlaintext,
  tigaseEncrypted,
  tigaseGroupchat,
  tigaseJingle,
  tigaseMessagePlaintext,
  tigasePriority,
  tigasePublishXml,
  tigaseSummary,
} from "./tigase-server";

const JULIET = `juliet@${TIGASE_DOMAIN}`;
const DEVICE = "android-id-42";
const ROOM = `orchard@conference.${TIGASE_DOMAIN}`;
const SENDER = "romeo@montague.example/orchard";
const BODY = "Wherefore art thou, Romeo?";
const NICKNAME = "Nurse";

const sha1 = (text: string) => createHash("sha1").update(text, "utf8").digest("hex");
const ACCOUNT_HASH = sha1(`${JULIET}\u0000${DEVICE}`);
const CHANNEL_HASH = sha1(`${ROOM}\u0000${DEVICE}`);

/** Conversations' `register-push-fcm`: device id, no MUC; and the same device registered for a MUC. */
const conversations = registrationOf({
  provider: "fcm",
  style: "device",
  account: JULIET,
  device: DEVICE,
  token: "fcm-token",
  secured: true,
});
const conversationsMuc = registrationOf({ ...conversations, muc: ROOM, node: "node-muc" });
/**
 * The same MUC registration as `register-push-fcm` now stores it (pseudonymous, as p2 keeps it): a keyed
 * hash as `account`, the Conversations hashes as `device` and `muc`, and the domain in clear.
 */
const pseudonymousMuc = registrationOf({
  ...conversations,
  account: "keyed-hash-of-the-bare-jid",
  device: ACCOUNT_HASH,
  muc: CHANNEL_HASH,
  domain: TIGASE_DOMAIN,
  node: "node-pseudonymous",
});

const secretOptions =
  "<publish-options><x xmlns='jabber:x:data' type='submit'>" +
  "<field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
  "<field var='secret'><value>s3cr3t</value></field></x></publish-options>";

/** A publish as Prosody's mod_cloud_notify sends it: a summary form of type `form`, `message-count` 1. */
function prosodyPublish(fields: { sender?: string; body?: string }): string {
  const field = (name: string, type: string, value: string) =>
    `<field type='${type}' var='${name}'><value>${value}</value></field>`;
  return (
    `<iq type='set' to='push.example.net' from='${TIGASE_DOMAIN}' id='lx1'>` +
    "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='node-1'><item>" +
    "<notification xmlns='urn:xmpp:push:0'><x xmlns='jabber:x:data' type='form'>" +
    field("FORM_TYPE", "hidden", "urn:xmpp:push:summary") +
    field("message-count", "text-single", "1") +
    (fields.sender !== undefined ? field("last-message-sender", "jid-single", fields.sender) : "") +
    (fields.body !== undefined ? field("last-message-body", "text-single", fields.body) : "") +
    `</x></notification></item></publish>${secretOptions}</pubsub></iq>`
  );
}

/** A publish as ejabberd's mod_push sends it: a submitted summary without `message-count`, or nothing. */
function ejabberdPublish(fields?: { sender?: string; body?: string }): string {
  const form =
    fields === undefined
      ? ""
      : "<x xmlns='jabber:x:data' type='submit'>" +
        "<field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field>" +
        (fields.sender !== undefined
          ? `<field var='last-message-sender'><value>${fields.sender}</value></field>`
          : "") +
        (fields.body !== undefined ? `<field var='last-message-body'><value>${fields.body}</value></field>` : "") +
        "</x>";
  return (
    `<iq type='set' to='push.example.net' from='${TIGASE_DOMAIN}' id='ej1'>` +
    "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='node-1'><item>" +
    `<notification xmlns='urn:xmpp:push:0'>${form}</notification>` +
    `</item></publish>${secretOptions}</pubsub></iq>`
  );
}

const key = new Uint8Array(randomBytes(16));

/** Every dialect of docs/protocol.md 4, as the servers write it, with what the gateway reads from it. */
async function dialects(): Promise<Array<readonly [string, PushNotification]>> {
  const message = await sealPayload(tigaseMessagePlaintext(BODY, 3000), key);
  const groupchat = await sealPayload(tigaseMessagePlaintext(BODY, 3000, NICKNAME), key);
  const call = await sealPayload(tigaseCallPlaintext("jmi-1", ["audio"]), key);
  const entries: Array<readonly [string, string]> = [
    ["Prosody with push_notification_with_body and _with_sender", prosodyPublish({ sender: SENDER, body: BODY })],
    ["Prosody with its placeholder body", prosodyPublish({ body: "New Message!" })],
    ["Prosody without a body", prosodyPublish({})],
    ["ejabberd with include_sender and include_body", ejabberdPublish({ sender: SENDER, body: BODY })],
    ["ejabberd's empty notification", ejabberdPublish()],
    [
      "a Tigase summary with sender, body and groupchat nickname",
      tigasePublishXml(
        "node-1",
        [tigaseSummary({ count: 2, sender: `${ROOM}/${NICKNAME}`, body: BODY }), tigaseGroupchat(NICKNAME)],
        secretOptions,
      ),
    ],
    [
      "a Tigase read-elsewhere count (message-count 0)",
      tigasePublishXml("node-1", [tigaseSummary({ count: 0 })], secretOptions),
    ],
    [
      "a Tigase encrypted message",
      tigasePublishXml("node-1", [tigasePriority("high"), tigaseEncrypted(message, false)], secretOptions),
    ],
    [
      "a Tigase encrypted groupchat message",
      tigasePublishXml(
        "node-1",
        [tigasePriority("high"), tigaseGroupchat(NICKNAME), tigaseEncrypted(groupchat, false)],
        secretOptions,
      ),
    ],
    [
      "a Tigase encrypted call (Jingle propose)",
      tigasePublishXml(
        "node-1",
        [tigasePriority("high"), tigaseJingle("propose", "jmi-1", ["audio"]), tigaseEncrypted(call, true)],
        secretOptions,
      ),
    ],
  ];
  return entries.map(([name, xml]) => [name, readPublish(xml)] as const);
}

let providers: ArrangedProvider;
let cases: Array<readonly [string, PushNotification]>;
beforeAll(async () => {
  providers = await arrangeProviders();
  cases = await dialects();
});

describe("what Conversations receives from FCM for a p2 registration", () => {
  it("reads every dialect into something to push (the fixtures parse)", () => {
    expect(cases.map(([name]) => name)).toHaveLength(10);
    const [, prosody] = cases[0] ?? [];
    expect(prosody).toMatchObject({ sender: SENDER, body: BODY, messageCount: 1 });
  });

  it("sends only the account hash, whatever the publish holds", async () => {
    for (const [name, notification] of cases) {
      const { request } = await providers.sendFcm(conversations, notification);
      const message = JSON.parse(request?.body ?? "{}").message;
      expect(message.data, name).toEqual({ account: ACCOUNT_HASH });
    }
  });

  it("sends only the account and channel hashes for a MUC registration", async () => {
    for (const [name, notification] of cases) {
      const { request } = await providers.sendFcm(conversationsMuc, notification);
      const message = JSON.parse(request?.body ?? "{}").message;
      expect(message.data, name).toEqual({ account: ACCOUNT_HASH, channel: CHANNEL_HASH });
    }
  });

  it("sends the stored hashes of a pseudonymous registration, and nothing else", async () => {
    for (const [name, notification] of cases) {
      const { request } = await providers.sendFcm(pseudonymousMuc, notification);
      const message = JSON.parse(request?.body ?? "{}").message;
      expect(message.data, name).toEqual({ account: ACCOUNT_HASH, channel: CHANNEL_HASH });
    }
  });

  it("puts nothing of the publish anywhere in the request: no JID, sender, body, nickname, blob or call type", async () => {
    for (const [name, notification] of cases) {
      const { request } = await providers.sendFcm(conversationsMuc, notification);
      const body = request?.body ?? "";
      for (const secret of [
        JULIET,
        ROOM,
        "montague",
        BODY,
        NICKNAME,
        '"sender"',
        '"body"',
        '"nickname"',
        '"unread-messages"',
        '"encrypted"',
        '"iv"',
        '"type"',
        "voip",
      ])
        expect(body, `${name}: ${secret}`).not.toContain(secret);
      if (notification.encrypted) expect(body, name).not.toContain(notification.encrypted.data.slice(0, 24));
    }
  });

  it("keeps the urgency only in android.priority: high for a body, a blob or a call, normal otherwise", async () => {
    const priorities: Record<string, string> = {};
    for (const [name, notification] of cases) {
      const { request } = await providers.sendFcm(conversations, notification);
      priorities[name] = JSON.parse(request?.body ?? "{}").message.android.priority;
    }
    expect(priorities).toEqual({
      "Prosody with push_notification_with_body and _with_sender": "high",
      "Prosody with its placeholder body": "high",
      "Prosody without a body": "normal",
      "ejabberd with include_sender and include_body": "high",
      "ejabberd's empty notification": "normal",
      "a Tigase summary with sender, body and groupchat nickname": "high",
      "a Tigase read-elsewhere count (message-count 0)": "normal",
      "a Tigase encrypted message": "high",
      "a Tigase encrypted groupchat message": "high",
      "a Tigase encrypted call (Jingle propose)": "high",
    });
  });

  it("never refuses a big blob for a p2 registration: it is not forwarded, so it cannot be too large", async () => {
    const blob = "A".repeat(10_000);
    const notification: PushNotification = {
      priority: "high",
      encrypted: { data: blob, iv: "A".repeat(16), voip: false },
    };
    const sent = await providers.sendFcm(conversations, notification);
    expect(sent.outcome).toBe("delivered");
    expect(JSON.parse(sent.request?.body ?? "{}").message.data).toEqual({ account: ACCOUNT_HASH });
    expect(providers.fcm.payloadCapacity(conversations)).toBe(0);
    expect(providers.fcm.maxPayloadSize(conversations)).toBe(0);
  });

  it("applies to every device-style registration (REST with a deviceId too), never to token-style ones", async () => {
    const restDevice = registrationOf({ ...conversations, origin: "rest" });
    expect(carriesAddressOnly(restDevice)).toBe(true);
    const [, prosody] = cases[0] ?? [];
    if (!prosody) throw new Error("no Prosody case");
    expect((await buildFcmPush(restDevice, prosody)).data).toEqual({ account: ACCOUNT_HASH });
    const tigaseClient = registrationOf({ provider: "fcm", account: JULIET, token: "fcm-token" });
    expect(carriesAddressOnly(tigaseClient)).toBe(false);
    expect((await buildFcmPush(tigaseClient, prosody)).data).toEqual({
      account: JULIET,
      sender: SENDER,
      body: BODY,
      "unread-messages": "1",
    });
  });
});
