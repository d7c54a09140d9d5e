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

function isStanzaError(value: XmlElement | StanzaError | undefined): value is StanzaError {
  return value !== undefined && "condition" in value;
}

const SERVICE_UNAVAILABLE: StanzaError = { type: "cancel", condition: "service-unavailable" };

function wrongType(expected: "get" | "set"): StanzaError {
  return { type: "modify", condition: "bad-request", text: `this request must be an IQ of type ${expected}` };
}

async function route(
  deps: GatewayDeps,
  iq: RequestIq,
  serviceJid: string,
): Promise<XmlElement | StanzaError | undefined> {
  const { payload } = iq;
  const key = `${payload.ns} ${payload.name}`;
  switch (key) {
    case `${NS.discoInfo} query`:
      return iq.type === "get" ? discoInfo(attribute(payload, "node"), deps.providers.offered()) : wrongType("get");
    case `${NS.discoItems} query`:
      return iq.type === "get" ? discoItems(attribute(payload, "node"), serviceJid) : wrongType("get");
    case `${NS.ping} ping`:
      return iq.type === "get" ? undefined : wrongType("get");
    case `${NS.commands} command`: {
      if (iq.type !== "set") return wrongType("set");
      const command = parseCommand(payload);
      if (!command.ok) return { type: "modify", condition: "bad-request", text: command.reason };
      return runCommand(deps, iq.from, serviceJid, command.command);
    }
    case `${NS.pubsub} pubsub`: {
      if (iq.type !== "set") return unsupportedPubsub("retrieve-items");
      const publish = parsePublish(payload);
      if (!publish.ok) return publish.error;
      const reply = await publishNotification(deps, iq.from, publish.publish);
      return reply.kind === "result" ? undefined : reply.error;
    }
    default:
      return SERVICE_UNAVAILABLE;
  }
}

/**
 * Answers one IQ get/set addressed to the push service (PROTOCOL.md section 3).
 */
export async function answerIq(deps: GatewayDeps, iq: RequestIq): Promise<XmlElement> {
  const serviceJid = iq.to ?? deps.config.pushJid;
  let answer: XmlElement | StanzaError | undefined;
  try {
    answer = await route(deps, iq, serviceJid);
  } catch (error) {
    // A store or network failure below a use case: the server retries later, the registration stays.
    deps.log.log("error", "iq-failure", { payload: iq.payload.name, error: String(error).slice(0, 200) });
    answer = { type: "wait", condition: "internal-server-error" };
  }
  return isStanzaError(answer) ? buildIqError(iq, serviceJid, answer) : buildIqResult(iq, serviceJid, answer);
}

/** What `/xmpp` answers for one request body, independent of HTTP. */
export type StanzaResponse =
  | { readonly status: 200; readonly body: string }
  | { readonly status: 204 }
  | { readonly status: 400; readonly reason: string };

/**
 * Handles the text of one stanza relayed by the bridge: a reply for every IQ get/set, nothing for
 * results, errors, messages and presence (RFC 6120 8.2.3), a 400 for anything that is not one
 * well-formed stanza (PROTOCOL.md section 2).
 */
export async function answerStanza(deps: GatewayDeps, text: string): Promise<StanzaResponse> {
  const parsed = parseXml(text);
  if (!parsed.ok) return { status: 400, reason: parsed.error.reason };
  const classified = classifyStanza(parsed.value);
  if (!classified.ok) return { status: 400, reason: classified.reason };
  const { stanza } = classified;
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
