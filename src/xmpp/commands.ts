import { failure, type Result, success } from "../domain/result";
import { attribute, childElements, element } from "./element";
import { type DataForm, parseDataForm } from "./forms";
import { NS } from "./namespaces";
import type { XmlElement } from "./xml";

/** XEP-0050 actions. */
export type CommandAction = "execute" | "cancel" | "complete" | "next" | "prev";

/** An ad-hoc command request. */
export interface CommandRequest {
  readonly node: string;
  readonly action: CommandAction;
  readonly sessionId: string | undefined;
  /** The submitted form, when there is one. */
  readonly form: DataForm | undefined;
}

/** A command request, or why the element is not one. */
export type CommandResult = Result<CommandRequest, string>;

const ACTIONS: ReadonlySet<string> = new Set(["execute", "cancel", "complete", "next", "prev"]);

/**
 * Reads `<command xmlns='http://jabber.org/protocol/commands'>`. A missing action means execute.
 * @see https://xmpp.org/extensions/xep-0050.html#protocol-syntax
 */
export function parseCommand(command: XmlElement): CommandResult {
  const node = attribute(command, "node");
  if (node === undefined || node === "") return failure("command without a node");
  const action = attribute(command, "action") ?? "execute";
  if (!ACTIONS.has(action)) return failure("unknown command action");
  const forms = childElements(command, "x", NS.dataForms);
  if (forms.length > 1) return failure("more than one form");
  const [x] = forms;
  let form: DataForm | undefined;
  if (x) {
    const parsed = parseDataForm(x);
    if (!parsed.ok) return parsed;
    form = parsed.value;
  }
  return success({ node, action: action as CommandAction, sessionId: attribute(command, "sessionid"), form });
}

/** A command reply: XEP-0050 `status`, session and optional form. */
export interface CommandReply {
  readonly node: string;
  readonly sessionId: string;
  readonly status: "executing" | "completed" | "canceled";
  readonly form?: XmlElement;
}

/**
 * Builds `<command status sessionid>`; an executing reply offers `complete` as its only action.
 * @see https://xmpp.org/extensions/xep-0050.html#execution
 */
export function buildCommandReply(reply: CommandReply): XmlElement {
  return element(
    "command",
    { xmlns: NS.commands, node: reply.node, sessionid: reply.sessionId, status: reply.status },
    [reply.status === "executing" && element("actions", { execute: "complete" }, [element("complete")]), reply.form],
  );
}

/** The `<bad-payload/>` application condition of XEP-0050 for a missing or bad field. */
export function badPayload(): XmlElement {
  return element("bad-payload", { xmlns: NS.commands });
}
