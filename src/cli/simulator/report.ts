import type { ReceivedPushPlaintext } from "../../omemo";
import type {
  DeviceStep,
  EnableStep,
  GatewayStep,
  PublishStep,
  RegisterStep,
  SealStep,
  StepEvent,
  StepName,
} from "./run";

function prefix(token: string): string {
  return token.length <= 8 ? token : `${token.slice(0, 8)}…`;
}

function indent(text: string, by = "   "): string {
  return text
    .split("\n")
    .map((line) => `${by}${line}`)
    .join("\n");
}

function table(rows: readonly (readonly [string, string | undefined])[]): string {
  const kept = rows.filter((row): row is readonly [string, string] => row[1] !== undefined);
  const width = Math.max(...kept.map(([name]) => name.length));
  return kept.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join("\n");
}

function gateway(step: GatewayStep): string {
  const version = step.version === undefined ? "" : ` ${step.version}`;
  return `gateway${version} at ${step.url}: push service ${step.pushJid}, providers ${step.providers.join(", ")}\n`;
}

function register(step: RegisterStep): string {
  return [
    `1. client -> push service: register-device as ${step.account} (${step.provider}, device token ${prefix(step.deviceToken)})`,
    indent(`POST /xmpp  ${step.request}`),
    indent(`reply       ${step.reply}`),
    indent(
      table([
        ["node", step.node],
        ["max-payload-size", String(step.maxPayloadSize)],
        ["features", step.features.join(" ")],
      ]),
    ),
    "",
  ].join("\n");
}

const DEVICE_ID_SOURCES: Readonly<Record<EnableStep["deviceIdSource"], string>> = {
  flag: "from --device-id",
  message: "the message's first key for this account",
  random: "random: the message has no key for this account",
};

function enable(step: EnableStep): string {
  const { parsed } = step;
  return [
    "2. client -> its own server: <enable/> with a fresh AES-128 key and its OMEMO device id",
    indent(step.xml),
    indent(
      `parseEnable reads it back: ${parsed.algorithm}, 16-byte key, max-size ${parsed.maxSize}, OMEMO device ${parsed.omemoDeviceId} (${DEVICE_ID_SOURCES[step.deviceIdSource]})`,
    ),
    "",
  ].join("\n");
}

function seal(step: SealStep): string {
  const budget = step.budget === "fits" ? "fits max-size" : `over max-size: ${step.budget}`;
  return [
    `3. user's server: push plaintext of the message (${step.source === "built-in" ? "built-in OMEMO 2 example" : step.source}), ${budget}`,
    indent(step.json),
    indent(
      `sealed with AES-128-GCM: iv ${step.sealed.iv}, ${step.sealed.encrypted.length} base64 characters${step.voip ? ", type='voip'" : ""}`,
    ),
    indent(
      step.priority === "low"
        ? "priority low: nothing to show (no message), published as a background push"
        : "priority high: published as an alert",
    ),
    "",
  ].join("\n");
}

function publish(step: PublishStep): string {
  return [
    "4. user's server -> push service: publish",
    indent(`POST /xmpp  ${step.request}`),
    indent(`reply       ${step.reply}  (HTTP ${step.httpStatus})`),
    "",
  ].join("\n");
}

function list(values: readonly string[] | readonly boolean[]): string {
  return JSON.stringify(values);
}

/** The opened plaintext as the rows a reader checks: unread, sender, type, message, then the omemo fields. */
export function plaintextRows(plaintext: ReceivedPushPlaintext): [string, string | undefined][] {
  const { omemo } = plaintext;
  return [
    ["unread", String(plaintext.unread)],
    ["sender", String(plaintext.sender)],
    ["type", plaintext.type],
    ["message", plaintext.message],
    ["nickname", plaintext.nickname],
    ["sid", plaintext.sid],
    ["media", plaintext.media && list(plaintext.media)],
    ...(omemo === undefined
      ? ([["omemo", "(none)"]] as [string, string][])
      : ([
          ...omemo.keys.map((key, index): [string, string] => [`omemo.keys[${index}]`, key]),
          ["omemo.kex", omemo.kex === undefined ? "(unknown: the writer did not say)" : list(omemo.kex)],
          ["omemo.sid", omemo.sid],
          ["omemo.iv", omemo.iv ?? "(none: OMEMO 1 and 2 carry no iv)"],
          ["omemo.data", omemo.data],
        ] as [string, string | undefined][])),
  ];
}

function device(step: DeviceStep): string {
  const { push } = step;
  const where = `${String(push.provider)} ${String(push.environment)}`;
  const how = `${String(push.pushType)}, priority ${String(push.priority)}, HTTP/${String(push.httpVersion)} ${String(push.status)}`;
  return [
    `5. device: the push the fake ${where} received for token ${prefix(String(push.token))} (${how})`,
    indent(JSON.stringify(push.payload)),
    indent("opened with the device's key (openPushNotification, GCM tag verified):"),
    indent(table(plaintextRows(step.opened)), "     "),
    indent(`the live page ${step.page} shows it too (page: ${step.pageDecryption})`),
    "",
  ].join("\n");
}

/** The readable text of one finished step. */
export function describeStep(event: StepEvent): string {
  switch (event.name) {
    case "gateway":
      return gateway(event.step);
    case "register":
      return register(event.step);
    case "enable":
      return enable(event.step);
    case "seal":
      return seal(event.step);
    case "publish":
      return publish(event.step);
    case "device":
      return device(event.step);
  }
}

const STEP_TITLES: Readonly<Record<StepName, string>> = {
  gateway: "reaching the gateway",
  register: "register-device",
  key: "telling the live page the device's key",
  message: "reading the message",
  enable: "the <enable/>",
  seal: "building and sealing the push",
  publish: "the publish",
  device: "the device",
};

/** The line that says which step failed and why. */
export function describeFailure(step: StepName, message: string): string {
  return `simulate: failed at ${STEP_TITLES[step]}: ${message}`;
}
