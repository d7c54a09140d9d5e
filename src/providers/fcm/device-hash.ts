import type { Registration } from "../../domain/registration";

/** The length of a lowercase hex SHA-1. */
export const SHA1_HEX_LENGTH = 40;

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** What a push names its account (and channel) by. */
export interface FcmAddressing {
  readonly account: string;
  readonly channel?: string;
}

/**
 * How the push names the account: the bare JID for token-style registrations; for p2 /
 * Conversations registrations (`style === 'device'`) the lowercase hex SHA-1 of
 * `account + "\u0000" + device`, never the JID, plus `channel` = SHA-1 of `muc + "\u0000" + device` for
 * a registration made for a MUC (docs/protocol.md 6.2; Conversations matches these locally).
 * @see https://github.com/iNPUTmice/p2
 */
export async function fcmAddressing(registration: Registration): Promise<FcmAddressing> {
  if (registration.style !== "device") return { account: registration.account };
  const account = await sha1Hex(`${registration.account}\u0000${registration.device}`);
  if (!registration.muc) return { account };
  return { account, channel: await sha1Hex(`${registration.muc}\u0000${registration.device}`) };
}
