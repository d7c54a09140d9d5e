import { encryptAes128Gcm, GCM_IV_BYTES } from "./aes-gcm";
import { encodeBase64 } from "./base64";

/** The two texts of a Tigase encrypted push: base64 ciphertext||tag, and the base64 IV. */
export interface SealedPush {
  readonly encrypted: string;
  readonly iv: string;
}

/** Fills `bytes` with random values, as `crypto.getRandomValues` does. */
export type RandomFill = (bytes: Uint8Array<ArrayBuffer>) => unknown;

export interface SealOptions {
  /** A fixed 12-byte IV, for known-answer tests only: an IV must never be used twice with a key. */
  readonly iv?: Uint8Array;
  /** Where a fresh IV comes from (default `crypto.getRandomValues`). */
  readonly random?: RandomFill;
}

const defaultRandom: RandomFill = (bytes) => crypto.getRandomValues(bytes);

function freshIv(random: RandomFill): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(GCM_IV_BYTES);
  random(iv);
  return iv;
}

/**
 * Encrypts a push plaintext with AES-128-GCM under the device's key and a fresh random 12-byte IV
 * (or the injected one), giving base64 ciphertext||tag and base64 IV. Throws only on a key that is
 * not 16 bytes or an injected IV that is not 12 (programming faults).
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export async function sealPayload(plaintext: string, key: Uint8Array, options: SealOptions = {}): Promise<SealedPush> {
  const iv = options.iv ?? freshIv(options.random ?? defaultRandom);
  const sealed = await encryptAes128Gcm(key, iv, new TextEncoder().encode(plaintext));
  return { encrypted: encodeBase64(sealed), iv: encodeBase64(iv) };
}
