import { failure, type Result, success } from "../domain/result";
import { attribute, childElements, element } from "./element";
import { NS, STANZA_NAMESPACES } from "./namespaces";
import type { XmlElement } from "./xml";

/** An IQ that asks for an answer (RFC 6120 section 8.2.3). */
export interface RequestIq {
  readonly id: string | undefined;
  readonly type: "get" | "set";
  readonly from: string | undefined;
  readonly to: string | undefined;
  /** The one child element of a get or set. */
  readonly payload: XmlElement;
}

/** What a stanza is, as far as the push service cares. */
export type Stanza =
  | { readonly kind: "request"; readonly iq: RequestIq }
  /** An IQ that cannot be answered with its request, but still needs an error reply (bad type, no child). */
  | { readonly kind: "bad-request"; readonly iq: IqAddress; readonly reason: string }
  /** IQ result/error, message, presence: never answered (RFC 6120 8.2.3). */
  | { readonly kind: "no-reply" };

/** The addressing of an IQ, enough to answer it. */
export interface IqAddress {
  readonly id: string | undefined;
  readonly from: string | undefined;
  readonly to: string | undefined;
}

/** A stanza, or why the element is not one. */
export type StanzaResult = Result<Stanza, string>;

/**
 * Classifies a parsed top-level element as a stanza. Stanzas may carry `jabber:component:accept`,
 * `jabber:client` or no namespace; anything else is not a stanza.
 * @see https://www.rfc-editor.org/rfc/rfc6120#section-8.2.3
 */
export function classifyStanza(root: XmlElement): StanzaResult {
  if (!STANZA_NAMESPACES.has(root.ns)) return failure("stanza in an unexpected namespace");
  if (root.name === "message" || root.name === "presence") return success({ kind: "no-reply" });
  if (root.name !== "iq") return failure("root element is not iq, message or presence");
  const address: IqAddress = { id: attribute(root, "id"), from: attribute(root, "from"), to: attribute(root, "to") };
  const type = attribute(root, "type");
  if (type === "result" || type === "error") return success({ kind: "no-reply" });
  if (type !== "get" && type !== "set")
    return success({ kind: "bad-request", iq: address, reason: "IQ type must be get, set, result or error" });
  if (address.id === undefined) return success({ kind: "bad-request", iq: address, reason: "IQ without id" });
  const children = childElements(root);
  const [payload] = children;
  if (payload === undefined || children.length !== 1)
    return success({ kind: "bad-request", iq: address, reason: "IQ get/set must have exactly one child" });
  // Written out, not `{ ...address, type, payload }`: Node 20's V8 spends about a microsecond per key added
  // after a spread, and this runs for every IQ.
  return success({ kind: "request", iq: { id: address.id, from: address.from, to: address.to, type, payload } });
}

/** Error types of RFC 6120 section 8.3.2. */
export type ErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

/** The stanza error conditions the push service sends. */
export type ErrorCondition =
  | "bad-request"
  | "feature-not-implemented"
  | "forbidden"
  | "internal-server-error"
  | "item-not-found"
  | "not-allowed"
  | "service-unavailable";

/** A stanza error to send: type, condition, optional text and application-specific condition. */
export interface StanzaError {
  readonly type: ErrorType;
  readonly condition: ErrorCondition;
  readonly text?: string;
  readonly appCondition?: XmlElement;
}

function replyAddress(iq: IqAddress, serviceJid: string): Record<string, string | undefined> {
  return { from: iq.to ?? serviceJid, to: iq.from, id: iq.id };
}

/**
 * An IQ result. No `xmlns` on the top element: the bridge's stream supplies it (Prosody closes a
 * component stream for a stanza in a namespace it does not expect).
 */
export function buildIqResult(iq: IqAddress, serviceJid: string, payload?: XmlElement): XmlElement {
  return element("iq", { type: "result", ...replyAddress(iq, serviceJid) }, [payload]);
}

/**
 * An IQ error with its condition and text in `urn:ietf:params:xml:ns:xmpp-stanzas`.
 * @see https://www.rfc-editor.org/rfc/rfc6120#section-8.3
 */
export function buildIqError(iq: IqAddress, serviceJid: string, error: StanzaError): XmlElement {
  return element("iq", { type: "error", ...replyAddress(iq, serviceJid) }, [
    element("error", { type: error.type }, [
      element(error.condition, { xmlns: NS.stanzas }),
      error.text !== undefined && element("text", { xmlns: NS.stanzas }, [error.text]),
      error.appCondition,
    ]),
  ]);
}
