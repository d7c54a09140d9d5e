import type { GatewayDeps } from "../gateway/deps";
import { answerStanza } from "../gateway/iq";

/** What `POST /xmpp` answers for one stanza's text, without HTTP. */
export interface XmppAnswer {
  readonly status: 200 | 204 | 400 | 413;
  /** The reply stanza (200), nothing (204), or a short reason (400, 413). */
  readonly body: string;
}

/** Whether `text` is longer than `limit` bytes in UTF-8, encoding it only when its length leaves doubt. */
function overLimit(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return new TextEncoder().encode(text).byteLength > limit;
}

/**
 * The one handler behind `POST /xmpp` and `npm run serve`'s in-process bridge (docs/protocol.md
 * section 2): the body limit, then a reply for every IQ get/set, nothing for results, errors, messages
 * and presence, and a 400 for anything that is not one well-formed stanza.
 */
export async function answerXmppText(deps: GatewayDeps, text: string): Promise<XmppAnswer> {
  if (overLimit(text, deps.config.maxBodyBytes)) return { status: 413, body: "body too large" };
  const answer = await answerStanza(deps, text);
  if (answer.status === 200) return { status: 200, body: answer.body };
  if (answer.status === 204) return { status: 204, body: "" };
  return { status: 400, body: answer.reason };
}
