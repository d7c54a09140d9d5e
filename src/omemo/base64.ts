const PADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const XML_WHITE_SPACE = /[\t\n\r ]/g;
const CHUNK = 0x8000;

/**
 * Decodes standard, padded base64 (RFC 4648 section 4). XML white space is ignored, since XML may
 * wrap base64 across lines; anything else outside the alphabet makes the text undecodable.
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-4
 */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  const compact = text.replace(XML_WHITE_SPACE, "");
  if (!PADDED_BASE64.test(compact)) return undefined;
  const binary = atob(compact);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/**
 * Encodes bytes as standard, padded base64 (RFC 4648 section 4), the form every encrypted-push
 * reader expects.
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-4
 */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let start = 0; start < bytes.length; start += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(start, start + CHUNK));
  }
  return btoa(binary);
}
