/** AES-128 key length in bytes. */
export const AES_128_KEY_BYTES = 16;
/** The IV length encrypted push uses (the 96-bit IV GCM is built for). */
export const GCM_IV_BYTES = 12;
/** The GCM tag length in bytes, appended to the ciphertext. */
export const GCM_TAG_BYTES = 16;

type Bytes = Uint8Array<ArrayBuffer>;

function checkLengths(key: Uint8Array, iv: Uint8Array): void {
  if (key.length !== AES_128_KEY_BYTES) throw new RangeError("AES-128 key must be 16 bytes");
  if (iv.length !== GCM_IV_BYTES) throw new RangeError("GCM IV must be 12 bytes");
}

function importKey(
  key: Uint8Array,
  algorithm: "AES-GCM" | "AES-CTR",
  usage: "encrypt" | "decrypt",
): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", new Uint8Array(key), algorithm, false, [usage]);
}

/**
 * AES-128-GCM with a 12-byte IV, no additional data and a 16-byte tag; returns ciphertext||tag.
 * Throws only on a key or IV of the wrong length (a programming fault).
 * @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf
 */
export async function encryptAes128Gcm(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Promise<Bytes> {
  checkLengths(key, iv);
  const cryptoKey = await importKey(key, "AES-GCM", "encrypt");
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: new Uint8Array(iv), tagLength: GCM_TAG_BYTES * 8 },
    cryptoKey,
    new Uint8Array(plaintext),
  );
  return new Uint8Array(sealed);
}

/**
 * Opens ciphertext||tag made by {@link encryptAes128Gcm}; `undefined` when the tag does not verify.
 * @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf
 */
export async function decryptAes128Gcm(
  key: Uint8Array,
  iv: Uint8Array,
  sealed: Uint8Array,
): Promise<Bytes | undefined> {
  checkLengths(key, iv);
  const cryptoKey = await importKey(key, "AES-GCM", "decrypt");
  try {
    const opened = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: new Uint8Array(iv), tagLength: GCM_TAG_BYTES * 8 },
      cryptoKey,
      new Uint8Array(sealed),
    );
    return new Uint8Array(opened);
  } catch {
    return undefined;
  }
}

/**
 * Decrypts the ciphertext part of ciphertext||tag without looking at the tag, as GCM's own counter
 * mode does: AES-CTR whose first counter block is J0+1, J0 being IV || 0x00000001 for a 12-byte IV
 * (SP 800-38D section 7.1), with a 32-bit counter. Only for pushes whose writer could not compute a
 * tag (Prosody with luaossl writes 16 zero bytes); nothing here is authenticated.
 * @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf
 */
export async function decryptAes128GcmWithoutTag(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array): Promise<Bytes> {
  checkLengths(key, iv);
  const counter = new Uint8Array(16);
  counter.set(iv);
  counter[15] = 2;
  const cryptoKey = await importKey(key, "AES-CTR", "decrypt");
  const ciphertext = new Uint8Array(sealed.subarray(0, Math.max(0, sealed.length - GCM_TAG_BYTES)));
  const opened = await crypto.subtle.decrypt({ name: "AES-CTR", counter, length: 32 }, cryptoKey, ciphertext);
  return new Uint8Array(opened);
}
