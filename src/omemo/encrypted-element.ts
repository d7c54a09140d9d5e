import { element } from "../xmpp/element";
import { NS } from "../xmpp/namespaces";
import type { XmlElement } from "../xmpp/xml";
import type { PushPriority } from "./plaintext";
import type { SealedPush } from "./seal";

export interface EncryptedElementOptions {
  /** A call (Jingle `<propose/>`): marks the push `type='voip'`. */
  readonly voip?: boolean;
}

/**
 * Builds `<encrypted xmlns='tigase:push:encrypt:0' [type='voip'] iv='B64'>B64</encrypted>`, the
 * element the user's server puts into `<notification/>` instead of the summary form.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function buildEncryptedElement(sealed: SealedPush, options: EncryptedElementOptions = {}): XmlElement {
  return element(
    "encrypted",
    { xmlns: NS.tigaseEncrypt, type: options.voip === true ? "voip" : undefined, iv: sealed.iv },
    [sealed.encrypted],
  );
}

/**
 * Builds `<priority xmlns='tigase:push:priority:0'>high|low</priority>`, the element beside
 * `<encrypted/>` in `<notification/>` that tells the push service whether to alert (`high`) or to send
 * a background push (`low`), as the builder's `BuiltPush.priority` says (docs/protocol.md sections 4
 * and 7).
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export function buildPriorityElement(priority: PushPriority): XmlElement {
  return element("priority", { xmlns: NS.tigasePriority }, [priority]);
}
