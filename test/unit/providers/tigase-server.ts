/**
 * What a Tigase XMPP server (tigase-server, `tigase.xmpp.impl.push`) sends to a push service, rebuilt
 * for tests from how its push extensions behave: the publish IQ with double-quoted attributes, the
 * `<jingle xmlns='tigase:push:jingle:0'>` hint of a Jingle Message Initiation event, the
 * `<priority xmlns='tigase:push:priority:0'>` its Priority extension writes for clients that enabled it
 * (Siskin does), and the plaintext its encrypted-push extension seals: the body trimmed to
 * `(max-size − 64) × 6 / 8` bytes of UTF-8 and a hand-written JSON around it.
 */
import type { PushNotification } from "../../../src/domain/notification";
import { utf8Length } from "../../../src/providers/payload-measure";
import { childElement, NS, parsePublish, parseXml } from "../../../src/xmpp";

export const TIGASE_DOMAIN = "capulet.example";
export const PUSH_SERVICE = "push.example.net";

/** XEP-0353 events Tigase names in `action` (since December 2025). */
export type JingleAction = "propose" | "proceed" | "accept" | "reject" | "retract";

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The `<jingle/>` hint: `action` (absent before December 2025), the message id as `sid`, one `<media/>` per RTP description. */
export function tigaseJingle(action: JingleAction | undefined, sid: string, media: readonly string[]): string {
  const actionAttribute = action === undefined ? "" : ` action="${action}"`;
  const children = media.map((name) => `<media>${name}</media>`).join("");
  const attributes = `xmlns="tigase:push:jingle:0"${actionAttribute} sid="${escapeXml(sid)}"`;
  return children === "" ? `<jingle ${attributes}/>` : `<jingle ${attributes}>${children}</jingle>`;
}

/** Tigase's Priority extension: `high` for a body or a Jingle `propose`, `low` otherwise. */
export function tigasePriority(level: "high" | "low"): string {
  return `<priority xmlns="tigase:push:priority:0">${level}</priority>`;
}

/** `<encrypted/>` as Tigase writes it: `type="voip"` for every Jingle Message Initiation event. */
export function tigaseEncrypted(sealed: { encrypted: string; iv: string }, voip: boolean): string {
  const type = voip ? ` type="voip"` : "";
  return `<encrypted${type} iv="${sealed.iv}" xmlns="tigase:push:encrypt:0">${sealed.encrypted}</encrypted>`;
}

/** The XEP-0357 summary form Tigase starts every notification with (removed again when it encrypts). */
export function tigaseSummary(fields: { count: number; sender?: string; body?: string }): string {
  const field = (name: string, value: string) => `<field var="${name}"><value>${escapeXml(value)}</value></field>`;
  return (
    `<x xmlns="jabber:x:data">${field("FORM_TYPE", "urn:xmpp:push:summary")}${field("message-count", String(fields.count))}` +
    `${fields.sender !== undefined ? field("last-message-sender", fields.sender) : ""}` +
    `${fields.body !== undefined ? field("last-message-body", fields.body) : ""}</x>`
  );
}

/** Tigase's `<groupchat/>` with the MUC nickname of the sender. */
export function tigaseGroupchat(nickname: string): string {
  return `<groupchat xmlns="http://tigase.org/protocol/muc#offline"><nickname>${escapeXml(nickname)}</nickname></groupchat>`;
}

/** The publish IQ Tigase sends from the user's domain, with the notification's children as given. */
export function tigasePublishXml(node: string, children: readonly string[], publishOptions = ""): string {
  return (
    `<iq xmlns="jabber:client" type="set" to="${PUSH_SERVICE}" from="${TIGASE_DOMAIN}" id="tigase-1">` +
    `<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="${node}"><item>` +
    `<notification xmlns="urn:xmpp:push:0">${children.join("")}</notification>` +
    `</item></publish>${publishOptions}</pubsub></iq>`
  );
}

/** A publish as the gateway reads it: the XML parsed with the project's parser and `parsePublish`. */
export function readPublish(xml: string): PushNotification {
  const parsed = parseXml(xml);
  if (!parsed.ok) throw new Error(`not XML: ${parsed.error.reason}`);
  const pubsub = childElement(parsed.value, "pubsub", NS.pubsub);
  if (!pubsub) throw new Error("no pubsub");
  const publish = parsePublish(pubsub);
  if (!publish.ok) throw new Error(`refused: ${publish.error.condition} ${publish.error.text ?? ""}`);
  return publish.value.notification;
}

/** Tigase's body budget: `(max-size − 64) × 6 / 8`, in integer arithmetic. */
export function tigaseBudget(maxSize: number): number {
  return Math.floor(((maxSize - 64) * 6) / 8);
}

/** Cuts a body to at most `budget` bytes of UTF-8 without splitting a character, as Tigase's encoder loop does. */
export function tigaseTrim(body: string, budget: number): string {
  let bytes = 0;
  let kept = "";
  for (const character of body) {
    const size = utf8Length(character);
    if (bytes + size > budget) break;
    bytes += size;
    kept += character;
  }
  return kept;
}

/** A JSON value as Tigase's hand-written writer knows them. */
export type TigaseValue = string | number | null | readonly string[];

/** Tigase's string escaping: `\b \f \n \r \t`, and a backslash before `"`, `\` and `/`; all else raw. */
function tigaseString(text: string): string {
  let out = '"';
  for (const character of text) {
    switch (character) {
      case "\b":
        out += "\\b";
        break;
      case "\f":
        out += "\\f";
        break;
      case "\n":
        out += "\\n";
        break;
      case "\r":
        out += "\\r";
        break;
      case "\t":
        out += "\\t";
        break;
      case '"':
      case "\\":
      case "/":
        out += `\\${character}`;
        break;
      default:
        out += character;
    }
  }
  return `${out}"`;
}

function tigaseValue(value: TigaseValue): string {
  if (value === null) return "null";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return tigaseString(value);
  return `[${value.map(tigaseString).join(", ")}]`;
}

/** Tigase's JSON: `{"key" : value, "key" : value}`. */
export function tigaseJson(entries: ReadonlyArray<readonly [string, TigaseValue]>): string {
  return `{${entries.map(([key, value]) => `"${key}" : ${tigaseValue(value)}`).join(", ")}}`;
}

/**
 * The plaintext Tigase 8.4 and later seal for a message: `unread` and `sender` come out `null` (its
 * writer knows neither a long nor a JID), `type`, the trimmed `message`, and `nickname` in a groupchat.
 */
export function tigaseMessagePlaintext(body: string, maxSize: number, nickname?: string): string {
  const entries: Array<readonly [string, TigaseValue]> = [
    ["unread", null],
    ["sender", null],
    ["type", nickname === undefined ? "chat" : "groupchat"],
    ["message", tigaseTrim(body, tigaseBudget(maxSize))],
  ];
  if (nickname !== undefined) entries.push(["nickname", nickname]);
  return tigaseJson(entries);
}

/** The plaintext Tigase seals for a Jingle Message Initiation event (`type` `call`, the caller's full JID as `sender`). */
export function tigaseCallPlaintext(sid: string, media: readonly string[] | null): string {
  return tigaseJson([
    ["unread", null],
    ["sender", null],
    ["type", "call"],
    ["sid", sid],
    ["media", media],
    ["features", null],
  ]);
}
