import { type CryptoKey, SignJWT } from "jose";
import { CredentialUnavailable, type MintedCredential } from "../../ports/credentials";
import type { HttpTransport } from "../../ports/transport";
import { parseJsonObject } from "../json-body";
import { requestWithDeadline } from "../provider-request";
import type { ServiceAccount } from "./config";

/** The OAuth scope that lets a service account send FCM messages. */
export const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
/** The assertion a service account signs is valid for an hour, the most Google accepts. */
const ASSERTION_LIFETIME_SECONDS = 3600;
/** An access token is given up this long before Google says it expires. */
export const ACCESS_TOKEN_EXPIRY_MARGIN_MS = 5 * 60 * 1000;

/** What an access-token mint needs. */
export interface FcmTokenMint {
  readonly account: ServiceAccount;
  /** The account's `private_key`, imported for RS256. */
  readonly signingKey: CryptoKey;
  readonly transport: HttpTransport;
  readonly now: () => number;
  /** Time left for the request (the publish's budget); OAuth requests do not take from its count. */
  readonly remainingMs: number;
}

/** The credential-cache key of a service account's access token. */
export function fcmCredentialKey(account: ServiceAccount): string {
  return `fcm:${account.client_email}`;
}

/**
 * Signs the service-account assertion: RS256, claims `{iss: client_email, scope, aud: token_uri,
 * iat, exp: iat + 3600}`.
 * @see https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests
 */
export async function signServiceAccountAssertion(
  account: ServiceAccount,
  signingKey: CryptoKey,
  nowMs: number,
): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ scope: FCM_SCOPE })
    .setProtectedHeader({ alg: "RS256", typ: "JWT" })
    .setIssuer(account.client_email)
    .setAudience(account.token_uri)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ASSERTION_LIFETIME_SECONDS)
    .sign(signingKey);
}

function readGrant(body: string): { accessToken: string; expiresInSeconds: number } | undefined {
  const { access_token: accessToken, expires_in: expiresIn } = parseJsonObject(body);
  if (typeof accessToken !== "string" || accessToken === "") return undefined;
  const expiresInSeconds = typeof expiresIn === "number" && expiresIn > 0 ? expiresIn : ASSERTION_LIFETIME_SECONDS;
  return { accessToken, expiresInSeconds };
}

function oauthErrorOf(body: string): string {
  const { error } = parseJsonObject(body);
  return typeof error === "string" ? error : "no error code";
}

/**
 * Exchanges a signed assertion for an access token at the account's `token_uri` (form-encoded
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=...`), kept until
 * {@link ACCESS_TOKEN_EXPIRY_MARGIN_MS} before it expires (half its life when that is shorter). A 4xx
 * answer is the gateway's misconfiguration, a 5xx, a timeout or a network error transient: both
 * throw {@link CredentialUnavailable} carrying the outcome.
 * @see https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 */
export async function mintFcmAccessToken(mint: FcmTokenMint): Promise<MintedCredential> {
  const issuedAt = mint.now();
  const assertion = await signServiceAccountAssertion(mint.account, mint.signingKey, issuedAt);
  const form = new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion });
  const exchange = await requestWithDeadline(
    mint.transport,
    mint.account.token_uri,
    {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: form.toString(),
    },
    mint.remainingMs,
  );
  if (!exchange.ok)
    throw new CredentialUnavailable({ kind: "retry-later", reason: `FCM OAuth: ${exchange.outcome.reason}` });
  const { status, body } = exchange.response;
  if (status >= 500 || status === 429)
    throw new CredentialUnavailable({ kind: "retry-later", reason: `FCM OAuth ${status}` });
  if (status < 200 || status >= 300)
    throw new CredentialUnavailable({ kind: "misconfigured", reason: `FCM OAuth ${status} ${oauthErrorOf(body)}` });
  const grant = readGrant(body);
  if (!grant)
    throw new CredentialUnavailable({ kind: "misconfigured", reason: "FCM OAuth answer has no access_token" });
  const lifetimeMs = grant.expiresInSeconds * 1000;
  const margin = Math.min(ACCESS_TOKEN_EXPIRY_MARGIN_MS, lifetimeMs / 2);
  return { value: grant.accessToken, expiresAt: issuedAt + lifetimeMs - margin };
}
