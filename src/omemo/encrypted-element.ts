import { element } from "../xmpp/element";
import { NS } from "../xmpp/namespaces";
import type { XmlElement } from "../xmpp/xml";
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
