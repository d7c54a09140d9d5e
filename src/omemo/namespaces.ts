import { NS } from "../xmpp/namespaces";

/**
 * The features a user's server advertises on the user's bare JID when it can encrypt pushes with
 * AES-128-GCM and put the OMEMO key material for the device into them (docs/protocol.md section 7).
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/#41-discovering-support
 */
export const ENCRYPTED_PUSH_FEATURES = [NS.tigaseEncrypt, NS.tigaseEncryptAesGcm, NS.tigaseEncryptOmemo] as const;

/** XEP-0353 Jingle Message Initiation. @see https://xmpp.org/extensions/xep-0353.html */
export const JINGLE_MESSAGE_NS = "urn:xmpp:jingle-message:0";

/** XEP-0167 Jingle RTP sessions (the `<description media=.../>` of a call). @see https://xmpp.org/extensions/xep-0167.html */
export const JINGLE_RTP_NS = "urn:xmpp:jingle:apps:rtp:1";

/** XEP-0384 v0.3 (Conversations' legacy OMEMO). @see https://xmpp.org/extensions/attic/xep-0384-0.3.0.html */
export const OMEMO_LEGACY_NS = "eu.siacs.conversations.axolotl";

/** XEP-0384 versions 0.4 to 0.7. */
export const OMEMO_1_NS = "urn:xmpp:omemo:1";

/** XEP-0384 current. @see https://xmpp.org/extensions/xep-0384.html */
export const OMEMO_2_NS = "urn:xmpp:omemo:2";

/** Every OMEMO namespace whose `<encrypted/>` element the extension reads. */
export const OMEMO_NAMESPACES = [OMEMO_LEGACY_NS, OMEMO_1_NS, OMEMO_2_NS] as const;

export type OmemoNamespace = (typeof OMEMO_NAMESPACES)[number];

/** Whether `ns` is one of the OMEMO namespaces. */
export function isOmemoNamespace(ns: string): ns is OmemoNamespace {
  return (OMEMO_NAMESPACES as readonly string[]).includes(ns);
}
