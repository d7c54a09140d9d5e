import { failure, type Result, success } from "../domain/result";
import { parseCommand } from "../xmpp/commands";
import { attribute, serialize } from "../xmpp/element";
import { NS } from "../xmpp/namespaces";
import { parsePublish, unsupportedPubsub } from "../xmpp/publish";
import { buildIqError, buildIqResult, classifyStanza, type RequestIq, type StanzaError } from "../xmpp/stanza";
import { parseXml, type XmlElement } from "../xmpp/xml";
import { runCommand } from "./commands";
import type { GatewayDeps } from "./deps";
import { discoInfo, discoItems } from "./disco";
import { publishNotification } from "./publish";

const SERVICE_UNAVAILABLE: StanzaError = { type: "cancel", condition: "service-unavailable" };

function wrongType(expected: "get" | "set"): Answer {
  return failure({ type: "modify", condition: "bad-request", text: `this request must be an IQ of type ${expected}` });
}

/** The payload of the result (none for an empty result), or the error to answer. */
type Answer = Result<XmlElement | undefined, StanzaError>;

async function route(deps: GatewayDeps, iq: RequestIq, serviceJid: string): Promise<Answer> {
  const { payload } = iq;
  const key = `${payload.ns} ${payload.name}`;
  switch (key) {
    case `${NS.discoInfo} query`:
      return iq.type === "get"
        ? discoInfo(attribute(payload, "node"), deps.providers.offered(), deps.providers.catalog())
        : wrongType("get");
    case `${NS.discoItems} query`:
      return iq.type === "get"
        ? discoItems(attribute(payload, "node"), serviceJid, deps.providers.catalog())
        : wrongType("get");
    case `${NS.ping} ping`:
      return iq.type === "get" ? success(undefined) : wrongType("get");
    case `${NS.commands} command`: {
      if (iq.type !== "set") return wrongType("set");
      const command = parseCommand(payload);
      if (!command.ok) return failure({ type: "modify", condition: "bad-request", text: command.error });
      return runCommand(deps, iq.from, serviceJid, command.value);
    }
    case `${NS.pubsub} pubsub`: {
      if (iq.type !== "set") return failure(unsupportedPubsub("retrieve-items"));
      const publish = parsePublish(payload);
      if (!publish.ok) return publish;
      const reply = await publishNotification(deps, iq.from, publish.value);
      return reply.kind === "result" ? success(undefined) : failure(reply.error);
    }
    default:
      return failure(SERVICE_UNAVAILABLE);
  }
}

/**
 * Answers one IQ get/set addressed to the push service (docs/protocol.md section 3).
 */
export async function answerIq(deps: GatewayDeps, iq: RequestIq): Promise<XmlElement> {
  const serviceJid = iq.to ?? deps.config.pushJid;
  let answer: Answer;
  try {
    answer = await route(deps, iq, serviceJid);
  } catch (error) {
    // A store or network failure below a use case: the server retries later, the registration stays.
    deps.log.log("error", "iq-failure", { payload: iq.payload.name, error: String(error).slice(0, 200) });
    answer = failure({ type: "wait", condition: "internal-server-error" });
  }
  return answer.ok ? buildIqResult(iq, serviceJid, answer.value) : buildIqError(iq, serviceJid, answer.error);
}

/** What `/xmpp` answers for one request body, independent of HTTP. */
export type StanzaResponse =
  | { readonly status: 200; readonly body: string }
  | { readonly status: 204 }
  | { readonly status: 400; readonly reason: string };

/**
 * Handles the text of one stanza relayed by the bridge: a reply for every IQ get/set, nothing for
 * results, errors, messages and presence (RFC 6120 8.2.3), a 400 for anything that is not one
 * well-formed stanza (docs/protocol.md section 2).
 */
export async function answerStanza(deps: GatewayDeps, text: string): Promise<StanzaResponse> {
  const parsed = parseXml(text);
  if (!parsed.ok) return { status: 400, reason: parsed.error.reason };
  const classified = classifyStanza(parsed.value);
  if (!classified.ok) return { status: 400, reason: classified.error };
  const stanza = classified.value;
  switch (stanza.kind) {
    case "no-reply":
      return { status: 204 };
    case "bad-request": {
      const serviceJid = stanza.iq.to ?? deps.config.pushJid;
      const error: StanzaError = { type: "modify", condition: "bad-request", text: stanza.reason };
      return { status: 200, body: serialize(buildIqError(stanza.iq, serviceJid, error)) };
    }
    case "request":
      return { status: 200, body: serialize(await answerIq(deps, stanza.iq)) };
  }
}
