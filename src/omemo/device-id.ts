/** The largest OMEMO device id: ids are `xs:unsignedInt` in XEP-0384's schema (`sid`, `rid`, device list `id`). */
export const LARGEST_DEVICE_ID = 0xffffffff;

/** Decimal digits only: no sign, no white space, no exponent, no other script's digits. */
const DECIMAL = /^[0-9]{1,10}$/;

/**
 * Reads an OMEMO device id as XML writes it (a header's `sid`, a key's `rid`, the extension's
 * `deviceId`): an unsigned 32-bit integer in plain decimal, 0 to 4294967295. Returns it in canonical
 * form (leading zeros dropped), or `undefined` for anything else: a missing or empty value, a sign
 * (`-1`, `+1`), white space, a fraction or exponent, a value over 4294967295. Clients read ids as
 * unsigned 32-bit (Monal, Siskin's MartinOMEMO) or as a signed 32-bit `int` (Conversations, Dino),
 * so only the plain decimal form is understood by all of them.
 * @see https://xmpp.org/extensions/xep-0384.html#schema
 * @see docs/protocol.md section 7
 */
export function parseOmemoDeviceId(text: string | undefined): string | undefined {
  if (text === undefined || !DECIMAL.test(text)) return undefined;
  const id = Number(text);
  return id <= LARGEST_DEVICE_ID ? String(id) : undefined;
}
