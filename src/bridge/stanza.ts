/**
 * The attributes of a stanza's top element that the bridge reads: @xmpp's stream parser has
 * already split them out. The bridge never looks inside a stanza.
 */
export interface StanzaHead {
  /** `iq`, `message` or `presence`. */
  readonly name: string;
  readonly type?: string;
  readonly id?: string;
  readonly from?: string;
  readonly to?: string;
}

/** A stanza as received: its text, to relay, and its head, to answer it without the gateway. */
export interface IncomingStanza {
  readonly text: string;
  readonly head: StanzaHead;
}

/**
 * Whether the stanza is an IQ request, which must always get exactly one reply; results, errors,
 * messages and presence never get one.
 * @see https://www.rfc-editor.org/rfc/rfc6120#section-8.2.3
 */
export function isIqRequest(head: StanzaHead): boolean {
  return head.name === "iq" && (head.type === "get" || head.type === "set");
}

function escapeAttribute(value: string): string {
  return value
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/'/g, "&apos;")
    .replace(/"/g, "&quot;");
}

/**
 * The reply the bridge sends itself when the gateway cannot answer an IQ: `wait` /
 * `internal-server-error`, which every XMPP server treats as transient (docs/protocol.md sections 2 and 5).
 * Written without an `xmlns` on the top element: the component stream supplies it.
 */
export function buildWaitError(head: StanzaHead, ownJid: string): string {
  const attrs: [string, string | undefined][] = [
    ["type", "error"],
    ["id", head.id],
    ["from", head.to ?? ownJid],
    ["to", head.from],
  ];
  const written = attrs
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => ` ${name}='${escapeAttribute(value)}'`)
    .join("");
  return `<iq${written}><error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`;
}

/** The domain of a JID, for logs (never the local part or the resource). */
export function domainOf(jid: string | undefined): string | undefined {
  if (jid === undefined) return undefined;
  const slash = jid.indexOf("/");
  const bare = slash === -1 ? jid : jid.slice(0, slash);
  return bare.slice(bare.lastIndexOf("@") + 1);
}
