import { failure, type Result, success } from "../domain/result";
import { GCM_TAG_BYTES } from "./aes-gcm";
import { type PushPlaintext, serializePushPlaintext } from "./plaintext";

/** Refusal to fit a push into a `max-size` that cannot hold even its smallest form. */
export interface BudgetError {
  readonly kind: "max-size-too-small";
  readonly reason: string;
  readonly maxSize: number;
  /** The length of the base64 `encrypted` text of the smallest push that could be made. */
  readonly smallestSize: number;
}

/**
 * The length of the base64 `encrypted` text for a plaintext of this many UTF-8 bytes: the GCM
 * ciphertext is as long as the plaintext, plus the 16-byte tag, and base64 writes 4 characters per 3 bytes
 * (padded).
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-4
 */
export function sealedBase64Length(plaintextBytes: number): number {
  return 4 * Math.ceil((plaintextBytes + GCM_TAG_BYTES) / 3);
}

const encoder = new TextEncoder();

/** The length of the base64 `encrypted` text this plaintext seals to. */
export function sealedLengthOf(plaintext: PushPlaintext): number {
  return sealedBase64Length(encoder.encode(serializePushPlaintext(plaintext)).length);
}

function withoutOmemo(plaintext: PushPlaintext): PushPlaintext {
  const { unread, sender, type, message, nickname, sid, media } = plaintext;
  return { unread, sender, type, message, nickname, sid, media };
}

/** The largest `count` in 0..`total` for which `fits` holds, given that it holds for 0 and is monotonic. */
function largestFitting(total: number, fits: (count: number) => boolean): number {
  let low = 0;
  let high = total;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(middle)) low = middle;
    else high = middle - 1;
  }
  return low;
}

/**
 * Makes a push fit a `max-size` (the largest length of the base64 `encrypted` text): unchanged when
 * it fits; else without `omemo`; else with `message` cut to its longest prefix of whole code points
 * (so never inside a UTF-8 sequence) that fits. A `max-size` that even an empty message overflows is
 * a typed error.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function fitPushPlaintext(plaintext: PushPlaintext, maxSize: number): Result<PushPlaintext, BudgetError> {
  const fits = (candidate: PushPlaintext): boolean => sealedLengthOf(candidate) <= maxSize;
  if (fits(plaintext)) return success(plaintext);
  const smaller = withoutOmemo(plaintext);
  if (fits(smaller)) return success(smaller);
  const codePoints = Array.from(smaller.message ?? "");
  const trimmed = (kept: number): PushPlaintext =>
    Object.assign({}, smaller, { message: codePoints.slice(0, kept).join("") });
  const smallest = smaller.message === undefined ? smaller : trimmed(0);
  if (!fits(smallest)) {
    const smallestSize = sealedLengthOf(smallest);
    return failure({
      kind: "max-size-too-small",
      reason: `max-size ${maxSize} cannot hold a push of ${smallestSize}`,
      maxSize,
      smallestSize,
    });
  }
  return success(trimmed(largestFitting(codePoints.length, (count) => fits(trimmed(count)))));
}
