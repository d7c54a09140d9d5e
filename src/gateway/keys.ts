import { base64Url } from "./tokens";

/** Domain separation: the server key derives publish secrets here and, later, other values elsewhere. */
const PUBLISH_SECRET_LABEL = "xmpp-push-gateway publish-secret v1\u0000";
const ACCOUNT_KEY_LABEL = "xmpp-push-gateway account-key v1\u0000";
/** Marks a keyed hash in a registration's `account`: a bare JID never starts with it. */
export const ACCOUNT_KEY_PREFIX = "~";
/** 144 bits, as minted secrets had. */
const SECRET_BYTES = 18;

/** Secrets derived from the server key (`SERVER_KEY`), so that no store holds them (docs/protocol.md section 2). */
export interface Keyring {
  /** The publish secret of a secured registration: HMAC-SHA-256(server key, label ‖ node), 24 URL-safe characters. */
  publishSecret(node: string): Promise<string>;
  /**
   * The keyed hash a pseudonymous registration keeps instead of the bare JID: HMAC-SHA-256(server key,
   * label ‖ JID), so that the per-account cap and unregistration work while the store names nobody.
   */
  accountKey(bareJid: string): Promise<string>;
}

/**
 * A keyring over `serverKey`. Re-registration returns the same secret because the node is the same
 * (docs/protocol.md 3.2); whoever reads the store without the key learns no usable secret.
 * @see https://www.rfc-editor.org/rfc/rfc2104
 */
export function createKeyring(serverKey: string): Keyring {
  let key: Promise<CryptoKey> | undefined;
  const hmacKey = () => {
    key ??= crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(serverKey),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    return key;
  };
  const sign = async (label: string, text: string) =>
    new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(), new TextEncoder().encode(label + text)));
  return {
    async accountKey(bareJid) {
      return ACCOUNT_KEY_PREFIX + base64Url((await sign(ACCOUNT_KEY_LABEL, bareJid)).slice(0, 24));
    },
    async publishSecret(node) {
      return base64Url((await sign(PUBLISH_SECRET_LABEL, node)).slice(0, SECRET_BYTES));
    },
  };
}
