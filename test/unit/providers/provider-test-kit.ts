import { generateKeyPairSync, type KeyObject, verify } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { PushBudget } from "../../../src/domain/budget";
import type { Registration } from "../../../src/domain/registration";
import type { ApnsAppConfig } from "../../../src/providers/apns/config";
import type { FcmAppConfig, ServiceAccount } from "../../../src/providers/fcm/config";

export const START = Date.parse("2026-05-01T12:00:00Z");

/** A clock tests move by hand. */
export class ManualClock {
  constructor(public ms = START) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function budgetOf(clock: ManualClock, requests = 2, remainingMs = 25_000): PushBudget {
  return new PushBudget(clock.now, clock.now() + remainingMs, requests);
}

/** An EC P-256 key pair made at test time, like an APNs .p8 (never committed). */
export function generateApnsKey(): { pem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicKey };
}

/** An RSA key pair made at test time, like a service account's (never committed). */
export function generateServiceAccountKey(): { pem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicKey };
}

export const APNS_PRODUCTION = "https://apns.test";
export const APNS_SANDBOX = "https://sandbox.apns.test";
export const FCM_ENDPOINT = "https://fcm.test";
export const TOKEN_URI = "https://oauth.test/token";

export function apnsApp(pem: string, overrides: Partial<ApnsAppConfig> = {}): ApnsAppConfig {
  return {
    teamId: "TEAM123456",
    keyId: "KEY7654321",
    privateKey: pem,
    topic: "im.example.app",
    environment: "production",
    endpoint: APNS_PRODUCTION,
    sandboxEndpoint: APNS_SANDBOX,
    via: "direct",
    ...overrides,
  };
}

export function serviceAccount(pem: string): ServiceAccount {
  return {
    project_id: "example-project",
    client_email: "push@example-project.iam.gserviceaccount.com",
    private_key: pem,
    token_uri: TOKEN_URI,
  };
}

export function fcmApp(pem: string): FcmAppConfig {
  return { serviceAccount: serviceAccount(pem), endpoint: FCM_ENDPOINT, via: "direct" };
}

export function registrationOf(overrides: Partial<Registration> = {}): Registration {
  return {
    style: "token",
    provider: "apns",
    account: "user@example.com",
    device: "a1b2c3",
    node: "node-1",
    secured: false,
    token: "a1b2c3",
    app: "default",
    createdAt: START - 86_400_000,
    tokenUpdatedAt: START - 86_400_000,
    ...overrides,
  };
}

/** A JWT split into its parts, after its signature was checked with node:crypto. */
export interface VerifiedJwt {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
}

/** Checks a compact JWS signature (ES256 in IEEE P1363 form, or RS256) and returns its header and claims. */
export function verifyJwt(token: string, publicKey: KeyObject, alg: "ES256" | "RS256"): VerifiedJwt {
  const [header, payload, signature] = token.split(".");
  if (header === undefined || payload === undefined || signature === undefined) throw new Error("not a JWS");
  const key = alg === "ES256" ? { key: publicKey, dsaEncoding: "ieee-p1363" as const } : publicKey;
  const valid = verify("sha256", Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, "base64url"));
  if (!valid) throw new Error("JWT signature does not verify");
  return {
    header: JSON.parse(Buffer.from(header, "base64url").toString()),
    payload: JSON.parse(Buffer.from(payload, "base64url").toString()),
  };
}

const FIXTURES = new URL("../../fixtures/", import.meta.url);

export function readFixture(path: string): string {
  return readFileSync(new URL(path, FIXTURES), "utf8");
}

export function fixtureNames(folder: string): string[] {
  return readdirSync(new URL(`${folder}/`, FIXTURES)).sort();
}
