import { failure, type Result, success } from "../domain/result";
import {
  AES_128_KEY_BYTES,
  decryptAes128Gcm,
  decryptAes128GcmWithoutTag,
  GCM_IV_BYTES,
  GCM_TAG_BYTES,
} from "./aes-gcm";
import { decodeBase64 } from "./base64";
import { type PlaintextParseError, parsePushPlaintext, type ReceivedPushPlaintext } from "./read-plaintext";
import type { SealedPush } from "./seal";

export interface OpenOptions {
  /**
   * Accept a push whose tag is 16 zero bytes without checking it (Prosody with luaossl writes those
   * instead of a tag). Such a push is not authenticated. Any other tag is still verified. Default `false`.
   */
  readonly acceptZeroTag?: boolean;
}

export type OpenErrorKind =
  | "bad-key"
  | "bad-base64"
  | "bad-iv"
  | "too-short"
  | "zero-tag"
  | "tag-mismatch"
  | "not-utf8"
  | PlaintextParseError["kind"];

/** Why a device could not open a push. */
export interface OpenError {
  readonly kind: OpenErrorKind;
  readonly reason: string;
}

function refused(kind: OpenErrorKind, reason: string): Result<never, OpenError> {
  return failure({ kind, reason });
}

function isZeroTag(sealed: Uint8Array): boolean {
  return sealed.subarray(sealed.length - GCM_TAG_BYTES).every((byte) => byte === 0);
}

async function decrypt(
  key: Uint8Array,
  iv: Uint8Array,
  sealed: Uint8Array,
  options: OpenOptions,
): Promise<Result<Uint8Array, OpenError>> {
  if (isZeroTag(sealed)) {
    if (options.acceptZeroTag !== true) return refused("zero-tag", "Zero tag (writer without GCM tags); not accepted");
    return success(await decryptAes128GcmWithoutTag(key, iv, sealed));
  }
  const opened = await decryptAes128Gcm(key, iv, sealed);
  return opened === undefined ? refused("tag-mismatch", "GCM tag does not verify") : success(opened);
}

/**
 * Opens an encrypted push on the device: decodes the base64 texts (white space ignored), verifies
 * the GCM tag (a zero tag only with {@link OpenOptions.acceptZeroTag}) and decodes the UTF-8
 * plaintext. Every failure is a typed error.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export async function openPayload(
  sealedPush: SealedPush,
  key: Uint8Array,
  options: OpenOptions = {},
): Promise<Result<string, OpenError>> {
  if (key.length !== AES_128_KEY_BYTES) return refused("bad-key", "Key must be 16 bytes");
  const iv = decodeBase64(sealedPush.iv);
  const sealed = decodeBase64(sealedPush.encrypted);
  if (iv === undefined || sealed === undefined) return refused("bad-base64", "Not base64");
  if (iv.length !== GCM_IV_BYTES) return refused("bad-iv", "IV must be 12 bytes");
  if (sealed.length < GCM_TAG_BYTES) return refused("too-short", "Shorter than a GCM tag");
  const opened = await decrypt(key, iv, sealed, options);
  if (!opened.ok) return opened;
  try {
    return success(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(opened.value));
  } catch {
    return refused("not-utf8", "Plaintext is not UTF-8");
  }
}

/**
 * Opens an encrypted push (see {@link openPayload}) and reads its JSON as real servers write it
 * (see {@link parsePushPlaintext}).
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export async function openPushNotification(
  sealedPush: SealedPush,
  key: Uint8Array,
  options: OpenOptions = {},
): Promise<Result<ReceivedPushPlaintext, OpenError>> {
  const opened = await openPayload(sealedPush, key, options);
  return opened.ok ? parsePushPlaintext(opened.value) : opened;
}
