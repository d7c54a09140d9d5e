import { describe, expect, it } from "vitest";
import { buildPush, openPayload, serializePushPlaintext } from "../../../src/omemo";
import { childElement, childElements, textOf } from "../../../src/xmpp/element";
import type { XmlElement } from "../../../src/xmpp/xml";
import { base64Bytes, omemoPushVectors, parseStanza } from "../omemo/fixtures";
import { runHarness } from "./lua";

/*
 * mod_push_encrypt_omemo.lua itself, loaded as Prosody 0.12 loads a module (its own environment,
 * module:require for the library, module:hook, module:depends) into a stand-in of Prosody's module API
 * (harness.lua, op "module"), and driven through the events Debian's mod_cloud_notify fires:
 * account-disco-info, cloud_notify/registration, cloud_notify/push. The stand-in's util.random is the
 * test-only IV hook: it hands the module the vector's IV instead of random bytes. The same module in a
 * real Prosody: test/e2e/prosody-omemo.test.ts.
 */

const NS_PUSH = "urn:xmpp:push:0";
const NS_ENCRYPT = "tigase:push:encrypt:0";
const NS_PRIORITY = "tigase:push:priority:0";
const NS_DATA = "jabber:x:data";
const KEY = "AAECAwQFBgcICQoLDA0ODw==";
const FIXED_IV_HEX = "000102030405060708090a0b";

type Step =
  | { readonly disco: true }
  | { readonly name: string; readonly enable: string }
  | { readonly registration: string; readonly push: string; readonly summaryBody?: string };

interface ModuleAnswer {
  readonly answers: (
    | { readonly features: string[] }
    | {
        readonly result: boolean | null;
        readonly sent: number;
        readonly error: { readonly type: string; readonly condition: string; readonly text: string | null } | null;
        readonly settings: {
          readonly algorithm: string;
          readonly key: string;
          readonly max_size: number | null;
          readonly omemo_device_id: string | null;
        } | null;
      }
    | { readonly blocked: boolean | null; readonly notification: string; readonly important: boolean }
  )[];
  readonly logs: string[];
  readonly depends: string[];
  readonly hooks: string[];
}

function runModule(request: {
  steps: Step[];
  iv?: string;
  host?: string;
  options?: Record<string, string | boolean>;
  modulesEnabled?: string[];
}): ModuleAnswer {
  return runHarness<ModuleAnswer>({ op: "module", modulesEnabled: ["roster", "cloud_notify"], ...request });
}

function enableIq(inner: string): string {
  return `<iq xmlns='jabber:client' type='set' id='enable-1' from='juliet@localhost/balcony'><enable xmlns='${NS_PUSH}' jid='push.localhost' node='NODE'>${inner}</enable></iq>`;
}

function encrypt(key = KEY, attrs = "alg='aes-128-gcm'"): string {
  return `<encrypt xmlns='${NS_ENCRYPT}' ${attrs}>${key}</encrypt>`;
}

function omemo(deviceId: string): string {
  return `<omemo xmlns='tigase:push:encrypt:omemo:0' deviceId='${deviceId}'/>`;
}

function enableAnswer(answer: ModuleAnswer["answers"][number] | undefined) {
  if (answer === undefined || !("sent" in answer)) throw new Error("not an enable answer");
  return answer;
}

interface Notification {
  readonly element: XmlElement;
  readonly encrypted: XmlElement | undefined;
  readonly priority: string | undefined;
  readonly form: XmlElement | undefined;
  readonly formBody: string | undefined;
}

function pushAnswer(answer: ModuleAnswer["answers"][number] | undefined): Notification & { blocked: unknown } {
  if (answer === undefined || !("notification" in answer)) throw new Error("not a push answer");
  const element = parseStanza(answer.notification);
  const priority = childElement(element, "priority", NS_PRIORITY);
  const form = childElement(element, "x", NS_DATA);
  const bodyField = form && childElements(form, "field").find((field) => field.attrs.var === "last-message-body");
  const bodyValue = bodyField && childElement(bodyField, "value", NS_DATA);
  return {
    element,
    blocked: answer.blocked,
    encrypted: childElement(element, "encrypted", NS_ENCRYPT),
    priority: priority && textOf(priority),
    form,
    formBody: bodyValue && textOf(bodyValue),
  };
}

async function open(notification: Notification, key = KEY): Promise<string> {
  const { encrypted } = notification;
  if (encrypted === undefined) throw new Error("no <encrypted/>");
  const opened = await openPayload({ encrypted: textOf(encrypted), iv: encrypted.attrs.iv ?? "" }, base64Bytes(key));
  if (!opened.ok) throw new Error(`the device could not open it: ${opened.error.reason}`);
  return opened.value;
}

const CHAT = `<message xmlns='jabber:client' from='romeo@montague.example/orchard' to='juliet@localhost' type='chat'><body>Hello Juliet</body></message>`;
const CALL = `<message xmlns='jabber:client' from='romeo@montague.example/orchard' to='juliet@localhost' type='chat'><propose xmlns='urn:xmpp:jingle-message:0' id='call-1'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></propose></message>`;
const OMEMO2_FOR_1325 = `<message xmlns='jabber:client' from='romeo@montague.example/orchard' to='juliet@localhost' type='chat'><encrypted xmlns='urn:xmpp:omemo:2'><header sid='27183'><keys jid='juliet@localhost'><key rid='1325' kex='true'>${"S0VZ".repeat(20)}</key></keys></header><payload>${"UEFZTE9BRA==".repeat(4)}</payload></encrypted></message>`;
const LEGACY_KEY_TRANSPORT = `<message xmlns='jabber:client' from='romeo@montague.example/orchard' to='juliet@localhost' type='chat'><encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='27183'><key rid='1325'>S0VZ</key><iv>SVY=</iv></header></encrypted><store xmlns='urn:xmpp:hints'/></message>`;

function typescriptJson(stanza: string, deviceId?: string): string {
  const built = buildPush(parseStanza(stanza), {
    unread: 1,
    ...(deviceId === undefined ? {} : { omemoDevice: { deviceId, recipient: "juliet@localhost" } }),
  });
  if (!built.ok) throw new Error(built.error.reason);
  return serializePushPlaintext(built.value.plaintext);
}

describe("mod_push_encrypt_omemo in a stand-in of Prosody's module API", () => {
  it("loads as Prosody loads it: depends on cloud_notify, hooks its two events and account disco#info", () => {
    const { depends, hooks, logs } = runModule({ steps: [] });
    expect(depends).toEqual(["cloud_notify"]);
    expect(hooks).toEqual(["account-disco-info@0", "cloud_notify/push@-1", "cloud_notify/registration@0"]);
    expect(logs).toEqual([]);
  });

  it("advertises the three features on the user's bare JID", () => {
    const { answers } = runModule({ steps: [{ disco: true }] });
    expect(answers[0]).toEqual({
      features: ["tigase:push:encrypt:0", "tigase:push:encrypt:aes-128-gcm", "tigase:push:encrypt:omemo:0"],
    });
  });

  it("says loudly when a module that writes the same elements is enabled too", () => {
    const { logs } = runModule({ steps: [], modulesEnabled: ["cloud_notify", "cloud_notify_extensions"] });
    expect(logs).toEqual([expect.stringMatching(/^error mod_cloud_notify_extensions is enabled too/)]);
  });

  it("stores the key, max-size and device id of an accepted enable (alias aes-gcm too); a plain enable stores nothing", () => {
    const { answers } = runModule({
      steps: [
        { name: "omemo", enable: enableIq(`${encrypt(KEY, "alg='aes-128-gcm' max-size='3442'")}${omemo("01325")}`) },
        { name: "alias", enable: enableIq(encrypt(`\n ${KEY}\n`, "alg='aes-gcm'")) },
        { name: "plain", enable: enableIq("") },
      ],
    });
    expect(answers.map(enableAnswer)).toEqual([
      {
        result: null,
        sent: 0,
        error: null,
        settings: { algorithm: "aes-128-gcm", key: KEY, max_size: 3442, omemo_device_id: "1325" },
      },
      {
        result: null,
        sent: 0,
        error: null,
        settings: { algorithm: "aes-128-gcm", key: KEY, max_size: null, omemo_device_id: null },
      },
      { result: null, sent: 0, error: null, settings: null },
    ]);
  });

  it.each([
    ["an unknown algorithm", encrypt(KEY, "alg='aes-256-gcm'"), "Unsupported encryption algorithm"],
    ["no algorithm", encrypt(KEY, ""), "Unsupported encryption algorithm"],
    ["a 15-byte key", encrypt("AAECAwQFBgcICQoLDA0O"), "Encryption key must be 16 bytes"],
    ["a 32-byte key", encrypt(`${KEY.slice(0, -2)}${KEY}`), "Encryption key is not base64"],
    ["a key that is not base64", encrypt("not a key"), "Encryption key is not base64"],
    ["max-size 0", encrypt(KEY, "alg='aes-128-gcm' max-size='0'"), "max-size must be a positive integer"],
    ["device id 0", `${encrypt()}${omemo("0")}`, "deviceId must be an OMEMO device id"],
    ["device id -1", `${encrypt()}${omemo("-1")}`, "deviceId must be an OMEMO device id"],
    ["device id 2^32", `${encrypt()}${omemo("4294967296")}`, "deviceId must be an OMEMO device id"],
    ["omemo without encrypt", omemo("1325"), "omemo requires encrypt"],
  ])("refuses %s with modify/bad-request and keeps mod_cloud_notify from registering", (_, inner, text) => {
    const { answers } = runModule({ steps: [{ name: "bad", enable: enableIq(inner) }] });
    expect(enableAnswer(answers[0])).toEqual({
      result: false,
      sent: 1,
      error: { type: "modify", condition: "bad-request", text },
      settings: null,
    });
  });

  describe.each(omemoPushVectors())("the vector $name through the module (IV fixed by the harness)", (vector) => {
    it("replaces the summary form with the vector's <encrypted/> and its priority", async () => {
      const key = vector.pushKey;
      const { answers } = runModule({
        host: vector.recipient.split("@")[1],
        iv: Buffer.from(base64Bytes(vector.iv)).toString("hex"),
        steps: [
          { name: "device", enable: enableIq(`${encrypt(key)}${omemo(vector.deviceId)}`) },
          { registration: "device", push: vector.messageStanza, summaryBody: "New Message!" },
        ],
      });
      const push = pushAnswer(answers[1]);
      expect(push.blocked).toBeNull();
      expect(push.form).toBeUndefined();
      expect(push.encrypted?.attrs).toEqual({ xmlns: NS_ENCRYPT, iv: vector.iv });
      expect(textOf(push.encrypted ?? push.element)).toBe(vector.encrypted);
      expect(push.priority).toBe(vector.expectedPriority);
      expect(push.element.children.map((child) => (typeof child === "string" ? child : child.name))).toEqual([
        "encrypted",
        "priority",
      ]);
      expect(await open(push, key)).toBe(vector.plaintext);
    });
  });

  it("draws a fresh IV for every push (util.random, 12 bytes)", async () => {
    const { answers } = runModule({
      steps: [
        { name: "device", enable: enableIq(`${encrypt()}${omemo("1325")}`) },
        { registration: "device", push: CHAT },
        { registration: "device", push: CHAT },
      ],
    });
    const [first, second] = [pushAnswer(answers[1]), pushAnswer(answers[2])];
    expect(first.encrypted?.attrs.iv).not.toBe(second.encrypted?.attrs.iv);
    expect(base64Bytes(first.encrypted?.attrs.iv ?? "")).toHaveLength(12);
    expect(await open(first)).toBe(typescriptJson(CHAT, "1325"));
    expect(await open(second)).toBe(typescriptJson(CHAT, "1325"));
  });

  it("marks a Jingle propose type='voip' at high priority, and an OMEMO 2 message carries the device's keys", async () => {
    const { answers } = runModule({
      iv: FIXED_IV_HEX,
      steps: [
        { name: "device", enable: enableIq(`${encrypt()}${omemo("1325")}`) },
        { registration: "device", push: CALL },
        { registration: "device", push: OMEMO2_FOR_1325 },
      ],
    });
    const call = pushAnswer(answers[1]);
    expect(call.encrypted?.attrs.type).toBe("voip");
    expect(call.priority).toBe("high");
    expect(await open(call)).toBe(typescriptJson(CALL, "1325"));
    const message = pushAnswer(answers[2]);
    expect(message.encrypted?.attrs.type).toBeUndefined();
    expect(message.priority).toBe("high");
    const plaintext = await open(message);
    expect(plaintext).toBe(typescriptJson(OMEMO2_FOR_1325, "1325"));
    expect(JSON.parse(plaintext).omemo).toMatchObject({ kex: [true], sid: "27183" });
  });

  it("fits max-size: first without the omemo object; a max-size too small for anything gives a push without content", async () => {
    const omemoSize = typescriptJson(OMEMO2_FOR_1325, "1325").length;
    const { answers, logs } = runModule({
      steps: [
        {
          name: "fits",
          enable: enableIq(`${encrypt(KEY, `alg='aes-128-gcm' max-size='${omemoSize}'`)}${omemo("1325")}`),
        },
        { name: "tiny", enable: enableIq(`${encrypt(KEY, "alg='aes-128-gcm' max-size='8'")}${omemo("1325")}`) },
        { registration: "fits", push: OMEMO2_FOR_1325 },
        { registration: "tiny", push: OMEMO2_FOR_1325, summaryBody: "New Message!" },
      ],
    });
    const fitted = pushAnswer(answers[2]);
    expect(textOf(fitted.encrypted ?? fitted.element).length).toBeLessThanOrEqual(omemoSize);
    expect(JSON.parse(await open(fitted))).toEqual({
      unread: 1,
      sender: "romeo@montague.example",
      type: "chat",
      message: "New secure message",
    });
    const tiny = pushAnswer(answers[3]);
    expect(tiny.encrypted).toBeUndefined();
    expect(tiny.formBody).toBeUndefined();
    expect(tiny.priority).toBe("high");
    expect(logs.some((line) => line.includes("max-size 8 cannot hold"))).toBe(true);
  });

  it("never falls back to clear text: a stanza it cannot seal, or none at all, goes out as a bare count at low priority", () => {
    const { answers } = runModule({
      steps: [
        { name: "device", enable: enableIq(encrypt()) },
        {
          registration: "device",
          push: `<presence xmlns='jabber:client' from='romeo@montague.example/orchard' type='unavailable'/>`,
          summaryBody: "New Message!",
        },
        { registration: "device", push: "" },
      ],
    });
    for (const answer of [answers[1], answers[2]]) {
      const push = pushAnswer(answer);
      expect(push.encrypted).toBeUndefined();
      expect(push.formBody).toBeUndefined();
      expect(push.priority).toBe("low");
      expect(push.form).toBeDefined();
    }
  });

  it("builds the push without the omemo object when the device's header has a bad sid", async () => {
    const badSid = OMEMO2_FOR_1325.replace("sid='27183'", "sid='-27183'");
    const { answers } = runModule({
      steps: [
        { name: "device", enable: enableIq(`${encrypt()}${omemo("1325")}`) },
        { registration: "device", push: badSid },
      ],
    });
    expect(JSON.parse(await open(pushAnswer(answers[1])))).toEqual({
      unread: 1,
      sender: "romeo@montague.example",
      type: "chat",
      message: "New secure message",
    });
  });

  it("without <encrypt/>: OMEMO 2 with a payload becomes important, key transport unimportant, the rest stays mod_cloud_notify's", () => {
    const plain = (options: Record<string, boolean>) =>
      runModule({
        options,
        steps: [
          { name: "plain", enable: enableIq("") },
          { registration: "plain", push: OMEMO2_FOR_1325 },
          { registration: "plain", push: LEGACY_KEY_TRANSPORT, summaryBody: "New Message!" },
          { registration: "plain", push: CHAT, summaryBody: "New Message!" },
          {
            registration: "plain",
            push: `<message xmlns='jabber:client' from='romeo@montague.example/orchard' type='chat'><received xmlns='urn:xmpp:receipts' id='m1'/></message>`,
          },
        ],
      }).answers.slice(1);
    const byDefault = plain({}).map(pushAnswer);
    expect(byDefault.map((push) => push.formBody)).toEqual(["New Message!", undefined, "New Message!", undefined]);
    expect(byDefault.map((push) => push.priority)).toEqual([undefined, undefined, undefined, undefined]);
    expect(byDefault.map((push) => push.encrypted)).toEqual([undefined, undefined, undefined, undefined]);
    const withBody = plain({ push_notification_with_body: true }).map(pushAnswer);
    expect(withBody.map((push) => push.formBody)).toEqual([undefined, "New Message!", "New Message!", undefined]);
  });
});
