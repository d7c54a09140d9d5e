import { type KeyObject, verify } from "node:crypto";

/** A compact JWS split into its decoded header and claims (not verified). */
export interface DecodedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly signingInput: string;
  readonly signature: Buffer;
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Splits and decodes a compact JWS; `undefined` when it is not one. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts;
  if (!header || !payload || !signature) return undefined;
  if (!/^[A-Za-z0-9_-]+$/.test(`${header}${payload}${signature}`)) return undefined;
  const decodedHeader = decodeJson(header);
  const decodedPayload = decodeJson(payload);
  if (!decodedHeader || !decodedPayload) return undefined;
  return {
    header: decodedHeader,
    payload: decodedPayload,
    signingInput: `${header}.${payload}`,
    signature: Buffer.from(signature, "base64url"),
  };
}

/**
 * Checks a JWS signature with node:crypto alone (independently of the gateway's jose): ES256 in the
 * JOSE form (IEEE P1363 r||s, RFC 7518 3.4) or RS256 (PKCS #1 v1.5 with SHA-256).
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.4
 */
export function verifyJwtSignature(jwt: DecodedJwt, publicKey: KeyObject, alg: "ES256" | "RS256"): boolean {
  if (jwt.header.alg !== alg) return false;
  if (alg === "ES256" && jwt.signature.length !== 64) return false;
  try {
    const key = alg === "ES256" ? { key: publicKey, dsaEncoding: "ieee-p1363" as const } : publicKey;
    return verify("sha256", Buffer.from(jwt.signingInput), key, jwt.signature);
  } catch {
    return false;
  }
}
