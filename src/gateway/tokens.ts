/** How long a MAC-proven node counts as "just minted": KV needs about 60 s to reach every location. */
export const RECENT_MINT_MS = 120_000;
const MINT_SKEW_MS = 5_000;
const RANDOM_BYTES = 16;
const TIME_BYTES = 6;
const MAC_BYTES = 10;
const MAC_PREFIX = "m";

/** Base64url without padding (RFC 4648 section 5), as nodes and secrets are written. */
export function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

async function mac(key: string, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, data)).slice(0, MAC_BYTES);
}

function timeBytes(ms: number): Uint8Array {
  const bytes = new Uint8Array(TIME_BYTES);
  let rest = Math.max(0, Math.floor(ms));
  for (let i = TIME_BYTES - 1; i >= 0; i--) {
    bytes[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return bytes;
}

function readTime(bytes: Uint8Array): number {
  let ms = 0;
  for (const byte of bytes) ms = ms * 256 + byte;
  return ms;
}

/**
 * Mints a pubsub node: 128 random bits, URL-safe. With `macKey` the node also carries its mint time
 * under an HMAC, so an edge that cannot see it in KV yet can prove it is new (docs/protocol.md section 5).
 */
export async function mintNode(randomBytes: (n: number) => Uint8Array, now: number, macKey?: string): Promise<string> {
  const random = randomBytes(RANDOM_BYTES);
  if (macKey === undefined) return base64Url(random);
  const body = new Uint8Array(RANDOM_BYTES + TIME_BYTES);
  body.set(random, 0);
  body.set(timeBytes(now), RANDOM_BYTES);
  const tag = await mac(macKey, body);
  const all = new Uint8Array(body.length + MAC_BYTES);
  all.set(body, 0);
  all.set(tag, body.length);
  return MAC_PREFIX + base64Url(all);
}

/** Whether `node` was minted by this gateway (same `macKey`) within the last two minutes. */
export async function provesRecentMint(node: string, macKey: string, now: number): Promise<boolean> {
  if (!node.startsWith(MAC_PREFIX)) return false;
  const bytes = fromBase64Url(node.slice(MAC_PREFIX.length));
  if (!bytes || bytes.length !== RANDOM_BYTES + TIME_BYTES + MAC_BYTES) return false;
  const body = bytes.slice(0, RANDOM_BYTES + TIME_BYTES);
  const expected = await mac(macKey, body);
  if (!constantTimeEqual(bytes.slice(body.length), expected)) return false;
  const age = now - readTime(body.slice(RANDOM_BYTES));
  return age >= -MINT_SKEW_MS && age <= RECENT_MINT_MS;
}

/** Mints a registration secret: 144 random bits, URL-safe. */
export function mintSecret(randomBytes: (n: number) => Uint8Array): string {
  return base64Url(randomBytes(18));
}

/** An opaque XEP-0050 session id. */
export function mintSessionId(randomBytes: (n: number) => Uint8Array): string {
  return base64Url(randomBytes(9));
}

const UTF8 = new TextEncoder();

/**
 * Compares two secrets in time that depends only on their lengths, on Workers and Node alike
 * (no `crypto.timingSafeEqual` on Workers without nodejs_compat).
 */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  // Two strings are compared by UTF-16 code unit, without encoding them (this runs on every /xmpp request).
  if (typeof a === "string" && typeof b === "string") {
    let difference = a.length ^ b.length;
    const length = Math.max(a.length, b.length);
    for (let i = 0; i < length; i++)
      difference |= (i < a.length ? a.charCodeAt(i) : 0) ^ (i < b.length ? b.charCodeAt(i) : 0);
    return difference === 0;
  }
  const left = typeof a === "string" ? UTF8.encode(a) : a;
  const right = typeof b === "string" ? UTF8.encode(b) : b;
  let difference = left.length ^ right.length;
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i++) difference |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return difference === 0;
}
