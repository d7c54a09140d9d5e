/**
 * One sender under test, in a process of its own (a fresh one per run): `node --import tsx
 * bench/sender-client.ts '<json SenderRun>'`. Connects to the sink, sends `warmUp` notifications, then
 * `total` with `inFlight` outstanding at any time, all through the same driver, and prints one JSON line:
 * the client process's CPU (process.cpuUsage, user + system) and the wall time of the timed part.
 * Every client gets exactly one connection (HTTP/2 session) to the sink.
 */
import { createRequire } from "node:module";
import { PushBudget } from "../src/domain/budget";
import type { PushNotification } from "../src/domain/notification";
import type { Registration } from "../src/domain/registration";
import type { PushProvider } from "../src/ports/provider";
import { createProviderDirectory, MemoryCredentialCache, parseGatewayConfig } from "../src/providers";
import { Http2Transport } from "../src/runtime/http2-transport";
import { bareApnsSender } from "./floors/apns-bare";
import { bareFcmSender } from "./floors/fcm-bare";

export const APNS_VARIANTS = ["gateway-apns", "node-apn", "apns2", "bare-apns"] as const;
export const FCM_VARIANTS = ["gateway-fcm", "bare-fcm"] as const;
export type SenderVariant = (typeof APNS_VARIANTS)[number] | (typeof FCM_VARIANTS)[number];

export interface SenderRun {
  readonly variant: SenderVariant;
  /** `https://127.0.0.1:PORT` of the sink. */
  readonly origin: string;
  /** The sink's certificate (PEM), trusted as an extra CA. */
  readonly ca: string;
  readonly apns: { readonly teamId: string; readonly keyId: string; readonly pem: string; readonly topic: string };
  /** The service account JSON (its token_uri at the sink). */
  readonly serviceAccount: string;
  readonly warmUp: number;
  readonly total: number;
  readonly inFlight: number;
}

export interface SenderResult {
  readonly variant: SenderVariant;
  readonly cpuUs: number;
  readonly userUs: number;
  readonly systemUs: number;
  readonly wallMs: number;
  readonly total: number;
  readonly failures: number;
}

/** The notification every variant sends: a Tigase encrypted message push (alert, generic texts). */
export const DEVICE_TOKEN = "a1".repeat(32);
export const ACCOUNT = "juliet@capulet.example";
export const ENCRYPTED =
  "x0bbKnQRaD4zW18rdg7jtMucKht16ckyOocVTOZihjlpK/YSSWHeI4WUAe3v7n38AhpupX28pO7zPg0Q941C+gprKMc840+eXEZ3+qgYgiRRyjPBHOajZXixdxAmo7CWRRpQoukO2S86qlNEUlY2e7ETsw==";
export const IV = "tHHveInbtMGbDn7n";
const ALERT = { title: "New message", body: "New message" };

type Send = () => Promise<boolean>;

async function gatewaySender(
  run: SenderRun,
  provider: "apns" | "fcm",
): Promise<{ send: Send; close: () => Promise<void> }> {
  const env = {
    PUSH_JID: "push.bench.example",
    SERVER_KEY: "bench-server-key-0123456789abcdef0123456789",
    ...(provider === "apns"
      ? {
          APNS_TEAM_ID: run.apns.teamId,
          APNS_KEY_ID: run.apns.keyId,
          APNS_PRIVATE_KEY: run.apns.pem,
          APNS_TOPIC: run.apns.topic,
          APNS_ENDPOINT: run.origin,
          APNS_SANDBOX_ENDPOINT: run.origin,
        }
      : { FCM_SERVICE_ACCOUNT: run.serviceAccount, FCM_ENDPOINT: run.origin }),
  };
  const transport = new Http2Transport({ ca: run.ca });
  const config = parseGatewayConfig(env);
  const directory = await createProviderDirectory(config, {
    transport: transport.fetch,
    credentials: new MemoryCredentialCache(Date.now),
    now: Date.now,
  });
  const found: PushProvider | undefined = directory.get(config.defaultApp, provider);
  if (found === undefined) throw new Error(`no ${provider} provider`);
  const now = Date.now();
  const registration: Registration = {
    style: "token",
    provider,
    account: ACCOUNT,
    device: DEVICE_TOKEN,
    node: "bench-node",
    secured: false,
    token: DEVICE_TOKEN,
    app: config.defaultApp,
    createdAt: now,
    tokenUpdatedAt: now,
  };
  const notification: PushNotification = { priority: "high", encrypted: { data: ENCRYPTED, iv: IV, voip: false } };
  return {
    send: async () => {
      const budget = new PushBudget(Date.now, Date.now() + 25_000);
      const outcome = await found.send({ registration, notification, budget });
      return outcome.kind === "delivered";
    },
    close: () => transport.close(),
  };
}

async function nodeApnSender(run: SenderRun): Promise<{ send: Send; close: () => Promise<void> }> {
  const require = createRequire(import.meta.url);
  // biome-ignore lint/suspicious/noExplicitAny: node-apn ships no types
  const apn: any = require("@parse/node-apn");
  const provider = new apn.Provider({
    token: { key: run.apns.pem, keyId: run.apns.keyId, teamId: run.apns.teamId },
    address: new URL(run.origin).hostname,
    port: Number(new URL(run.origin).port),
    ca: run.ca,
    production: true,
  });
  return {
    send: async () => {
      const note = new apn.Notification();
      note.topic = run.apns.topic;
      note.pushType = "alert";
      note.priority = 10;
      note.expiry = Math.floor(Date.now() / 1000) + 86_400;
      note.alert = ALERT;
      note.mutableContent = 1;
      note.sound = "default";
      note.payload = { account: ACCOUNT, encrypted: ENCRYPTED, iv: IV };
      const result = await provider.send(note, DEVICE_TOKEN);
      return result.sent.length === 1;
    },
    close: async () => {
      await provider.shutdown();
    },
  };
}

async function apns2Sender(run: SenderRun): Promise<{ send: Send; close: () => Promise<void> }> {
  const { ApnsClient, Notification, Priority, PushType } = await import("apns2");
  // The Pool class apns2 itself was built with (it resolves `undici` from its own folder).
  const { Pool } = createRequire(createRequire(import.meta.url).resolve("apns2"))("undici") as typeof import("undici");
  const client = new ApnsClient({
    team: run.apns.teamId,
    keyId: run.apns.keyId,
    signingKey: run.apns.pem,
    defaultTopic: run.apns.topic,
    host: "127.0.0.1",
  });
  // apns2 12.2 hard-codes port 443 and 32 connections: one connection to the sink instead.
  await client.client.close();
  Object.defineProperty(client, "client", {
    value: new Pool(run.origin, { connections: 1, allowH2: true, maxConcurrentStreams: 100, connect: { ca: run.ca } }),
  });
  return {
    send: async () => {
      const notification = new Notification(DEVICE_TOKEN, {
        type: PushType.alert,
        priority: Priority.immediate,
        expiration: Math.floor(Date.now() / 1000) + 86_400,
        alert: ALERT,
        sound: "default",
        mutableContent: true,
        data: { account: ACCOUNT, encrypted: ENCRYPTED, iv: IV },
      });
      await client.send(notification);
      return true;
    },
    close: () => client.close(),
  };
}

async function senderOf(run: SenderRun): Promise<{ send: Send; close: () => Promise<void> }> {
  switch (run.variant) {
    case "gateway-apns":
      return gatewaySender(run, "apns");
    case "gateway-fcm":
      return gatewaySender(run, "fcm");
    case "node-apn":
      return nodeApnSender(run);
    case "apns2":
      return apns2Sender(run);
    case "bare-apns": {
      const bare = await bareApnsSender({
        origin: run.origin,
        ca: run.ca,
        teamId: run.apns.teamId,
        keyId: run.apns.keyId,
        privateKeyPem: run.apns.pem,
        topic: run.apns.topic,
      });
      const notification = { deviceToken: DEVICE_TOKEN, account: ACCOUNT, encrypted: ENCRYPTED, iv: IV };
      return { send: async () => (await bare.send(notification)).status === 200, close: () => bare.close() };
    }
    case "bare-fcm": {
      const bare = await bareFcmSender({
        origin: run.origin,
        ca: run.ca,
        projectId: (JSON.parse(run.serviceAccount) as { project_id: string }).project_id,
        accessToken: "bench-access-token",
      });
      const message = { token: DEVICE_TOKEN, account: ACCOUNT, encrypted: ENCRYPTED, iv: IV };
      return { send: async () => (await bare.send(message)).status === 200, close: () => bare.close() };
    }
  }
}

/** Sends `count` through `send`, `inFlight` at a time; returns how many failed. */
async function drive(send: Send, count: number, inFlight: number): Promise<number> {
  let next = 0;
  let failures = 0;
  const lane = async () => {
    while (next < count) {
      next += 1;
      if (!(await send())) failures += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
  return failures;
}

export async function runSender(run: SenderRun): Promise<SenderResult> {
  const sender = await senderOf(run);
  const warmFailures = await drive(sender.send, run.warmUp, run.inFlight);
  if (warmFailures > 0) throw new Error(`${run.variant}: ${warmFailures} warm-up sends failed`);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const failures = await drive(sender.send, run.total, run.inFlight);
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await sender.close();
  return {
    variant: run.variant,
    cpuUs: used.user + used.system,
    userUs: used.user,
    systemUs: used.system,
    wallMs,
    total: run.total,
    failures,
  };
}

if (process.argv[2] !== undefined && import.meta.url.endsWith("/sender-client.ts")) {
  const run = JSON.parse(process.argv[2]) as SenderRun;
  runSender(run).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
