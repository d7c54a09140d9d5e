import { generateKeyPairSync, type KeyObject } from "node:crypto";

/** An APNs token-authentication key as Apple hands it out (a .p8 file), with the ids that go with it. */
export interface ApnsSigningKey {
  /** The 10-character team id (the JWT's `iss`). */
  readonly teamId: string;
  /** The 10-character key id (the JWT header's `kid`). */
  readonly keyId: string;
  /** The .p8 content: an EC P-256 private key, PKCS #8 PEM (`BEGIN PRIVATE KEY`). */
  readonly pem: string;
  /** What the fake APNs checks signatures with. */
  readonly publicKey: KeyObject;
}

/**
 * Makes a fresh APNs signing key, like the .p8 file of Apple's developer portal (never committed).
 * @see https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns
 */
export function createApnsSigningKey(ids: { teamId?: string; keyId?: string } = {}): ApnsSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    teamId: ids.teamId ?? "SANDBOXTM1",
    keyId: ids.keyId ?? "SANDBOXKY1",
    pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey,
  };
}
