/**
 * The lowercase hex SHA-1 of `name + "\u0000" + deviceId`: how p2 and Conversations name an account
 * (`name` the bare JID) or a channel (`name` the MUC's bare JID) without the JID (docs/protocol.md 6.2);
 * Conversations computes the same and matches it locally.
 * @see https://github.com/iNPUTmice/p2
 */
export async function conversationsHash(name: string, deviceId: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(`${name}\u0000${deviceId}`));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
