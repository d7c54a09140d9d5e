import { conversationsHash } from "../../domain/conversations-hash";
import type { Registration } from "../../domain/registration";

/** The length of a lowercase hex SHA-1. */
export const SHA1_HEX_LENGTH = 40;

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
  // A pseudonymous registration keeps the hashes themselves (docs/storage.md): nothing to compute.
  if (registration.domain !== undefined)
    return { account: registration.device, ...(registration.muc !== undefined ? { channel: registration.muc } : {}) };
  const account = await conversationsHash(registration.account, registration.device);
  if (!registration.muc) return { account };
  return { account, channel: await conversationsHash(registration.muc, registration.device) };
}
