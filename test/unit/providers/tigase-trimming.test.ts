/**
 * Issue 14 item 4: a `max-payload-size` Tigase's trimming can hit (docs/protocol.md 6.4). Tigase's server
 * trims the message body to `(max-size − 64) × 6 / 8` bytes of UTF-8, writes its JSON around it, seals it
 * with AES-128-GCM and base64; against the exact capacity its longest bodies came out longer than the
 * capacity and went out as the content-less fallback push. These tests apply Tigase's rule to bodies
 * around the advertised figure (plain text, JSON escapes, control characters written as `\uXXXX`, emoji,
 * CJK), seal for real, parse the publish with the gateway's parser, and build the real APNs and FCM pushes.
 */
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { PushNotification } from "../../../src/domain/notification";
import type { Registration } from "../../../src/domain/registration";
import { type SealedPush, sealPayload } from "../../../src/omemo";
import {
  APNS_BODY_LIMIT,
  APNS_VOIP_BODY_LIMIT,
  apnsBodyLimit,
  apnsMaxPayloadSize,
  apnsPayloadCapacity,
  buildApnsPush,
} from "../../../src/providers/apns/payload";
import {
  buildFcmPush,
  FCM_DATA_LIMIT,
  fcmDataSize,
  fcmMaxPayloadSize,
  fcmPayloadCapacity,
} from "../../../src/providers/fcm/message";
import {
  advertisedMaxPayloadSize,
  TIGASE_ENVELOPE_ALLOWANCE,
  tigaseBodyBudget,
  utf8Length,
} from "../../../src/providers/payload-measure";
import { type ArrangedProvider, arrangeProviders } from "./provider-arrange";
import { registrationOf } from "./provider-test-kit";
import {
  readPublish,
  tigaseBudget,
  tigaseCallPlaintext,
  tigaseEncrypted,
  tigaseJingle,
  tigaseMessagePlaintext,
  tigasePriority,
  tigasePublishXml,
  tigaseTrim,
} from "./tigase-server";

const key = new Uint8Array(randomBytes(16));

const LONG_ACCOUNT = "friar.laurence.of.the.franciscan.order@cell.verona.example";
const registrations: ReadonlyArray<readonly [string, Registration]> = [
  ["APNs", registrationOf({ account: "juliet@capulet.example" })],
  ["APNs with a PushKit token", registrationOf({ account: "juliet@capulet.example", voipToken: "f00d" })],
  ["APNs, long account", registrationOf({ account: LONG_ACCOUNT })],
  ["FCM", registrationOf({ provider: "fcm", account: "juliet@capulet.example", token: "fcm-token" })],
  ["FCM, long account", registrationOf({ provider: "fcm", account: LONG_ACCOUNT, token: "fcm-token" })],
];

function advertised(registration: Registration): number {
  return registration.provider === "apns" ? apnsMaxPayloadSize(registration) : fcmMaxPayloadSize(registration);
}

function capacity(registration: Registration): number {
  return registration.provider === "apns" ? apnsPayloadCapacity(registration) : fcmPayloadCapacity(registration);
}

/** A text of at least `bytes` bytes made of `unit` repeated. */
function repeated(unit: string, bytes = 8000): string {
  return unit.repeat(Math.ceil(bytes / utf8Length(unit)));
}

/** Bytes JSON escapes add to a body under Tigase's writer (one per `" \ /`, tab, line break, `\b`, `\f`). */
function tigaseEscapeBytes(body: string): number {
  return (body.match(/["\\/\n\r\t\b\f]/g) ?? []).length;
}

/** Bytes JSON.stringify's escapes add: one per two-character escape, five per `\u00XX`. */
function stringifyEscapeBytes(body: string): number {
  return utf8Length(JSON.stringify(body)) - 2 - utf8Length(body);
}

/**
 * Ordinary texts, each far longer than any budget: prose, dialogue with links and a path (quotes,
 * slashes, a backslash, tabs and line breaks), text with control characters, emoji, CJK and a mix.
 */
const BODIES: ReadonlyArray<readonly [string, string]> = [
  [
    "plain prose",
    repeated("But soft, what light through yonder window breaks? It is the east, and Juliet is the sun. "),
  ],
  [
    "dialogue, links and a path",
    repeated(
      'Juliet said: "Meet me by the orchard wall at nine." The map is at https://verona.example/maps/orchard, ' +
        "the letter in C:\\Verona\\letters.\tThen she left, and the nurse followed her down the stairs.\n",
    ),
  ],
  [
    "control characters",
    repeated(
      "The bell\u0007 rang in the tower above the square, and the friar counted the hours until dawn came over " +
        "Verona. Romeo wanted only escape\u001b from the city and its quarrels. ",
    ),
  ],
  ["emoji", repeated("💌🌹 love letters 😘 ")],
  ["CJK", repeated("羅密歐與茱麗葉，在維羅納的花園裡相遇。")],
  ["mixed scripts with quotes", repeated('Ромео и Джульетта — "ロミオとジュリエット" 💔 ')],
];

/** The plaintext as a server writes it whose JSON writer is JSON.stringify: real `unread` and `sender`. */
function stringifyPlaintext(body: string, maxSize: number): string {
  return JSON.stringify({
    unread: 1,
    sender: "romeo@montague.example",
    type: "chat",
    message: tigaseTrim(body, tigaseBudget(maxSize)),
  });
}

/** A Tigase message publish around a sealed plaintext, read back as the gateway reads it. */
function messagePublish(sealed: SealedPush): PushNotification {
  return readPublish(tigasePublishXml("node-1", [tigasePriority("high"), tigaseEncrypted(sealed, false)]));
}

/** Whether every push this notification may become for the registration fits the provider's limit. */
async function fitsProvider(registration: Registration, notification: PushNotification): Promise<boolean> {
  if (registration.provider === "fcm")
    return fcmDataSize((await buildFcmPush(registration, notification)).data) <= FCM_DATA_LIMIT;
  const variants: PushNotification[] = [notification, { ...notification, priority: "low" }];
  return variants.every((variant) => {
    const push = buildApnsPush(registration, variant);
    return utf8Length(push.body) <= apnsBodyLimit(push);
  });
}

let providers: ArrangedProvider;
beforeAll(async () => {
  providers = await arrangeProviders();
});

describe("the advertised max-payload-size", () => {
  it("is 3442 for an APNs registration of juliet@capulet.example (capacity 3909) and 3530 for FCM (capacity 4007)", () => {
    const [apns, withPushKit, , fcm] = registrations.map(([, registration]) => registration);
    if (!apns || !withPushKit || !fcm) throw new Error("registrations missing");
    expect([capacity(apns), advertised(apns)]).toEqual([3909, 3442]);
    expect([capacity(withPushKit), advertised(withPushKit)]).toEqual([3911, 3442]);
    expect([capacity(fcm), advertised(fcm)]).toEqual([4007, 3530]);
  });

  it("leaves Tigase a body budget that seals, with its allowances, within the capacity", () => {
    for (let capacityChars = 500; capacityChars <= 5120; capacityChars += 1) {
      const maxSize = advertisedMaxPayloadSize(capacityChars);
      expect(maxSize).toBeLessThanOrEqual(capacityChars);
      const budget = tigaseBodyBudget(maxSize);
      expect(budget).toBe(tigaseBudget(maxSize));
      const plaintext = TIGASE_ENVELOPE_ALLOWANCE + Math.ceil((budget * 11) / 10);
      expect(4 * Math.ceil((plaintext + 16) / 3)).toBeLessThanOrEqual(capacityChars);
      // …and it is the largest such figure: one more and the budget grows past what fits.
      const next = tigaseBodyBudget(maxSize + 1);
      if (next > budget) {
        const grown = TIGASE_ENVELOPE_ALLOWANCE + Math.ceil((next * 11) / 10);
        expect(4 * Math.ceil((grown + 16) / 3), `capacity ${capacityChars}`).toBeGreaterThan(capacityChars);
      }
    }
  });

  it("keeps every test body ordinary: its escapes add at most one byte in ten", () => {
    for (const [name, body] of BODIES) {
      const sample = tigaseTrim(body, 3000);
      expect(tigaseEscapeBytes(sample) * 10, name).toBeLessThanOrEqual(utf8Length(sample));
      expect(stringifyEscapeBytes(sample) * 10, name).toBeLessThanOrEqual(utf8Length(sample));
    }
  });
});

describe("Tigase's trimming against the advertised figure", () => {
  it.each(registrations)(
    "fits every body around the budget, as Tigase 8.4 writes it (%s)",
    async (_name, registration) => {
      const maxSize = advertised(registration);
      const budget = tigaseBudget(maxSize);
      for (const [name, body] of BODIES)
        for (let delta = -4; delta <= 4; delta += 1) {
          const sent = tigaseTrim(body, budget + delta);
          const sealed = await sealPayload(tigaseMessagePlaintext(sent, maxSize), key);
          expect(sealed.encrypted.length, `${name} ${delta}`).toBeLessThanOrEqual(capacity(registration));
          expect(await fitsProvider(registration, messagePublish(sealed)), `${name} ${delta}`).toBe(true);
        }
    },
  );

  it.each(registrations)("fits a groupchat body with a 39-byte nickname (%s)", async (_name, registration) => {
    const maxSize = advertised(registration);
    const nickname = "Nurse to the house of Capulet, Angelica";
    expect(utf8Length(nickname)).toBe(39);
    for (const [name, body] of BODIES) {
      const sealed = await sealPayload(tigaseMessagePlaintext(body, maxSize, nickname), key);
      expect(await fitsProvider(registration, messagePublish(sealed)), name).toBe(true);
    }
  });

  it.each(registrations)(
    "fits a writer that escapes control characters as \\uXXXX and writes real values (%s)",
    async (_name, registration) => {
      const maxSize = advertised(registration);
      for (const [name, body] of BODIES) {
        const plaintext = stringifyPlaintext(body, maxSize);
        if (name === "control characters") expect(plaintext).toContain("\\u0007");
        const sealed = await sealPayload(plaintext, key);
        expect(await fitsProvider(registration, messagePublish(sealed)), name).toBe(true);
      }
    },
  );

  it("delivers the longest bodies through the real providers with their content, not the fallback", async () => {
    for (const [, registration] of registrations) {
      const maxSize = advertised(registration);
      for (const [name, body] of BODIES) {
        const sealed = await sealPayload(tigaseMessagePlaintext(body, maxSize), key);
        const notification = messagePublish(sealed);
        const sent =
          registration.provider === "apns"
            ? await providers.sendApns(registration, notification)
            : await providers.sendFcm(registration, notification);
        expect(sent.outcome, name).toBe("delivered");
        expect(sent.request?.body, name).toContain(sealed.encrypted);
      }
    }
  });

  it("needs the capacity, not the advertised figure, to judge a blob: Tigase's longest blobs are longer than max-size", async () => {
    const [, registration] = registrations[0] ?? [];
    if (!registration) throw new Error("no registration");
    const maxSize = advertised(registration);
    const [, prose] = BODIES[0] ?? [];
    const sealed = await sealPayload(tigaseMessagePlaintext(prose ?? "", maxSize), key);
    expect(sealed.encrypted.length).toBeGreaterThan(maxSize);
    expect(sealed.encrypted.length).toBeLessThanOrEqual(capacity(registration));
  });

  it("fits a call (Tigase's call JSON has no body) to PushKit and to the regular token", async () => {
    const sealed = await sealPayload(tigaseCallPlaintext("jmi-1", ["audio", "video"]), key);
    const notification = readPublish(
      tigasePublishXml("node-1", [
        tigasePriority("high"),
        tigaseJingle("propose", "jmi-1", ["audio", "video"]),
        tigaseEncrypted(sealed, true),
      ]),
    );
    for (const [, registration] of registrations) expect(await fitsProvider(registration, notification)).toBe(true);
    const voip = buildApnsPush(registrationOf({ voipToken: "f00d" }), notification);
    expect(apnsBodyLimit(voip)).toBe(APNS_VOIP_BODY_LIMIT);
  });
});

describe("what the margin does not cover", () => {
  it("overshot with the old exact figure: Tigase's longest plain body no longer fit", async () => {
    const [, registration] = registrations[0] ?? [];
    if (!registration) throw new Error("no registration");
    const exact = capacity(registration);
    const [, prose] = BODIES[0] ?? [];
    const sealed = await sealPayload(tigaseMessagePlaintext(prose ?? "", exact), key);
    expect(sealed.encrypted.length).toBeGreaterThan(exact);
    const push = buildApnsPush(registration, messagePublish(sealed));
    expect(utf8Length(push.body)).toBeGreaterThan(APNS_BODY_LIMIT);
  });

  it("refuses a body made of escapes itself, without a request, so that the fallback push goes out", async () => {
    const [, registration] = registrations[0] ?? [];
    if (!registration) throw new Error("no registration");
    const quotes = '"'.repeat(5000);
    const sealed = await sealPayload(tigaseMessagePlaintext(quotes, advertised(registration)), key);
    const notification = messagePublish(sealed);
    const refused = await providers.sendApns(registration, notification);
    expect(refused).toEqual({ outcome: "payload-rejected", request: undefined });
    const fcm = registrationOf({ provider: "fcm", account: registration.account, token: "fcm-token" });
    const sealedForFcm = await sealPayload(tigaseMessagePlaintext(quotes, advertised(fcm)), key);
    expect(await providers.sendFcm(fcm, messagePublish(sealedForFcm))).toEqual({
      outcome: "payload-rejected",
      request: undefined,
    });
  });
});
