import { type CryptoKey, SignJWT } from "jose";
import type { MintedCredential } from "../../ports/credentials";

/** How long one provider token is reused: Apple wants 20 to 60 minutes between mints. */
export const APNS_PROVIDER_TOKEN_LIFETIME_MS = 50 * 60 * 1000;

/** What signs an APNs provider token. */
export interface ApnsSigningIdentity {
  readonly teamId: string;
  readonly keyId: string;
  /** The .p8 key, imported for ES256. */
  readonly signingKey: CryptoKey;
}

/** The credential-cache key of a signing identity: one token per team and key, shared by all topics. */
export function apnsCredentialKey(identity: Pick<ApnsSigningIdentity, "teamId" | "keyId">): string {
  return `apns:${identity.teamId}:${identity.keyId}`;
}

/**
 * Mints an APNs provider token: an ES256 JWT with header `{alg, kid}` and claims `{iss, iat}`,
 * reused for {@link APNS_PROVIDER_TOKEN_LIFETIME_MS}.
 * @see https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns
 */
export async function mintApnsProviderToken(identity: ApnsSigningIdentity, nowMs: number): Promise<MintedCredential> {
  const value = await new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: identity.keyId })
    .setIssuer(identity.teamId)
    .setIssuedAt(Math.floor(nowMs / 1000))
    .sign(identity.signingKey);
  return { value, expiresAt: nowMs + APNS_PROVIDER_TOKEN_LIFETIME_MS };
}
