/** The base64 length of the 12-byte IV every encrypted push seen in the wild carries (docs/protocol.md 6.4). */
export const TYPICAL_IV_BASE64_LENGTH = 16;

/** Longest summary body forwarded in a plain push, in code points: a preview, not the message. */
export const PREVIEW_MAX_CODE_POINTS = 512;

/** Cuts a preview text to {@link PREVIEW_MAX_CODE_POINTS} code points, marking the cut with an ellipsis. */
export function clampPreview(text: string): string {
  const codePoints = Array.from(text);
  if (codePoints.length <= PREVIEW_MAX_CODE_POINTS) return text;
  return `${codePoints.slice(0, PREVIEW_MAX_CODE_POINTS - 1).join("")}…`;
}

/**
 * The UTF-8 length of a text: what APNs and FCM count against their limits. Counted from the UTF-16 code
 * units, as `TextEncoder` would encode them (a lone surrogate becomes U+FFFD, 3 bytes), without encoding.
 */
export function utf8Length(text: string): number {
  const length = text.length;
  let bytes = length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        // A surrogate pair: 2 code units, 4 bytes.
        bytes += 2;
        i += 1;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * Whether a text is at most `limit` bytes of UTF-8, counting only when it has to: a UTF-16 code unit
 * is 1 to 3 bytes, so a text of at most `limit / 3` code units always fits and one of more than `limit`
 * never does.
 */
export function fitsUtf8(text: string, limit: number): boolean {
  if (text.length * 3 <= limit) return true;
  if (text.length > limit) return false;
  return utf8Length(text) <= limit;
}

/** The GCM tag that follows the ciphertext inside the base64 `encrypted` text (16 bytes). */
const SEALED_TAG_BYTES = 16;

/** What Tigase's server takes off `max-size` (its "header size") before it budgets the body. */
export const TIGASE_MAX_SIZE_HEADER = 64;

/**
 * Plaintext bytes the advertised `max-payload-size` leaves for the JSON Tigase's server writes around
 * the trimmed body: 67 bytes for a one-to-one chat as Tigase 8.4 and later write it,
 * `{"unread" : null, "sender" : null, "type" : "chat", "message" : "…"}`, 89 plus the nickname for a
 * groupchat. 128 bytes also hold a real sender JID of about 60 bytes once a server writes one, or a
 * groupchat nickname of up to 39 bytes.
 */
export const TIGASE_ENVELOPE_ALLOWANCE = 128;

/**
 * Room left for the bytes JSON escapes add inside the body, as a share of its bytes: one per ten.
 * Tigase's writer adds one byte for each quote, backslash, slash, tab or line break (a writer that
 * spells a control character `\uXXXX` adds five); prose, dialogue and the odd link stay under that.
 */
export const TIGASE_ESCAPE_SHARE = { escapes: 1, perBytes: 10 } as const;

/** The length of the padded standard base64 of `bytes` bytes. */
export function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

/**
 * The body budget Tigase's server derives from `max-size`: `(max-size − 64) × 6 / 8` bytes of UTF-8,
 * integer arithmetic as in its `EncryptedPushNotificationExtension`, never below zero.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function tigaseBodyBudget(maxSize: number): number {
  return Math.max(0, Math.floor(((maxSize - TIGASE_MAX_SIZE_HEADER) * 6) / 8));
}

/**
 * The `max-payload-size` to advertise for a registration whose pushes hold a base64 `encrypted` text of
 * at most `capacity` characters (docs/protocol.md 6.4). Tigase's server does not fit its ciphertext to
 * `max-size`: it trims the message body to {@link tigaseBodyBudget} bytes and writes its JSON around
 * it, so against the exact capacity its longest bodies come out some 45 characters too long, more
 * with escapes. The figure is the largest `max-size` whose body budget B still seals, with
 * {@link TIGASE_ENVELOPE_ALLOWANCE} bytes of JSON around it, one more byte per ten body bytes for escapes
 * ({@link TIGASE_ESCAPE_SHARE}) and the 16-byte GCM tag, to at most `capacity` base64 characters:
 * plaintext P = 3 × ⌊capacity / 4⌋ − 16, B = ⌊10 × (P − 128) / 11⌋, max-size = 64 + ⌊(8 × B + 7) / 6⌋.
 * Never above `capacity`, so that a builder that fits its blob to `max-size` exactly (this project's
 * OMEMO extension, docs/protocol.md 7) fits as well.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function advertisedMaxPayloadSize(capacity: number): number {
  if (capacity <= 0) return 0;
  const plaintext = Math.floor(capacity / 4) * 3 - SEALED_TAG_BYTES;
  const { escapes, perBytes } = TIGASE_ESCAPE_SHARE;
  const body = Math.floor(((plaintext - TIGASE_ENVELOPE_ALLOWANCE) * perBytes) / (perBytes + escapes));
  if (body < 0) return Math.min(capacity, TIGASE_MAX_SIZE_HEADER);
  // The largest M with floor((M − 64) × 6 / 8) ≤ body.
  return Math.min(capacity, TIGASE_MAX_SIZE_HEADER + Math.floor((8 * body + 7) / 6));
}
