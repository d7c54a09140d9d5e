/**
 * The real APNs and FCM providers over a fake transport that accepts every push, for tests that look at
 * the exact requests a publish turns into.
 */
import { generateKeyPairSync } from "node:crypto";
import { importPKCS8 } from "jose";
import type { PushNotification } from "../../../src/domain/notification";
import type { Registration } from "../../../src/domain/registration";
import { ApnsProvider } from "../../../src/providers/apns/provider";
import { FcmProvider } from "../../../src/providers/fcm/provider";
import { MemoryCredentialCache } from "../../../src/providers/memory-credentials";
import { FakeTransport, type RecordedRequest } from "../../fakes/transport";
import { APNS_PRODUCTION, apnsApp, budgetOf, FCM_ENDPOINT, fcmApp, ManualClock, TOKEN_URI } from "./provider-test-kit";

export const FCM_SEND_URL = `${FCM_ENDPOINT}/v1/projects/example-project/messages:send`;

function pkcs8(type: "ec" | "rsa"): string {
  const { privateKey } =
    type === "ec"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : generateKeyPairSync("rsa", { modulusLength: 2048 });
  return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

/** What one `send` put on the wire, and what the provider answered. */
export interface SentPush {
  readonly outcome: string;
  /** The provider request, when one was made. */
  readonly request: RecordedRequest | undefined;
}

export interface ArrangedProvider {
  readonly clock: ManualClock;
  readonly apns: ApnsProvider;
  readonly fcm: FcmProvider;
  /** Sends through APNs and returns the one request it made (none when it refused the payload itself). */
  sendApns(registration: Registration, notification: PushNotification): Promise<SentPush>;
  /** Sends through FCM and returns the `messages:send` request (none when it refused the payload itself). */
  sendFcm(registration: Registration, notification: PushNotification): Promise<SentPush>;
}

/** Both providers with fresh keys, an OAuth fake and a transport that answers every push `200`. */
export async function arrangeProviders(): Promise<ArrangedProvider> {
  const clock = new ManualClock();
  const transport = new FakeTransport();
  transport.on(TOKEN_URI, () => ({
    status: 200,
    body: { access_token: "ya29.token", expires_in: 3599, token_type: "Bearer" },
  }));
  transport.reply(APNS_PRODUCTION, { status: 200 });
  transport.reply(FCM_SEND_URL, { status: 200, body: { name: "projects/example-project/messages/1" } });
  const apnsPem = pkcs8("ec");
  const fcmPem = pkcs8("rsa");
  const apns = new ApnsProvider({
    app: apnsApp(apnsPem),
    signingKey: await importPKCS8(apnsPem, "ES256"),
    transport: transport.fetch,
    credentials: new MemoryCredentialCache(clock.now),
    now: clock.now,
  });
  const fcm = new FcmProvider({
    app: fcmApp(fcmPem),
    signingKey: await importPKCS8(fcmPem, "RS256"),
    transport: transport.fetch,
    credentials: new MemoryCredentialCache(clock.now),
    now: clock.now,
  });
  const newRequest = async (prefix: string, send: () => Promise<{ kind: string }>): Promise<SentPush> => {
    const before = transport.to(prefix).length;
    const outcome = await send();
    const made = transport.to(prefix);
    return { outcome: outcome.kind, request: made.length > before ? made[made.length - 1] : undefined };
  };
  return {
    clock,
    apns,
    fcm,
    sendApns: (registration, notification) =>
      newRequest(APNS_PRODUCTION, () => apns.send({ registration, notification, budget: budgetOf(clock) })),
    sendFcm: (registration, notification) =>
      newRequest(FCM_SEND_URL, () => fcm.send({ registration, notification, budget: budgetOf(clock) })),
  };
}
