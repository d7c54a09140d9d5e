import { conversationsHash } from "../domain/conversations-hash";
import type { ApnsEnvironment, ProviderId } from "../domain/registration";
import { failure, type Result, success } from "../domain/result";
import { ENCRYPTED_PUSH_FEATURES } from "../omemo/namespaces";
import type { ProviderInfo } from "../ports/provider";
import { badPayload, buildCommandReply, type CommandRequest } from "../xmpp/commands";
import { element } from "../xmpp/element";
import { buildDataForm, type DataForm, type FieldSpec, firstFormValue, formValue } from "../xmpp/forms";
import { bareJid, parseJid } from "../xmpp/jid";
import { NS } from "../xmpp/namespaces";
import type { StanzaError } from "../xmpp/stanza";
import type { XmlElement } from "../xmpp/xml";
import type { GatewayDeps } from "./deps";
import { type RegisterRefusal, registerDevice, unregisterDevice } from "./register";
import { mintSessionId } from "./tokens";

/** What a command's execution produced: a result form, an empty completion, or an error. */
type Execution = Result<{ readonly form?: XmlElement }, StanzaError>;

interface CommandContext {
  readonly deps: GatewayDeps;
  readonly account: string;
  readonly serviceJid: string;
  readonly form: DataForm;
}

/** One ad-hoc command of the push service (docs/protocol.md 3.2). */
export interface CommandSpec {
  readonly node: string;
  readonly name: string;
  readonly fields: readonly FieldSpec[];
  execute(context: CommandContext): Promise<Execution>;
}

function missing(field: string): StanzaError {
  return { type: "modify", condition: "bad-request", text: `missing field ${field}`, appCondition: badPayload() };
}

function badRequest(text: string): StanzaError {
  return { type: "modify", condition: "bad-request", text };
}

/** A refused registration: bad input is `modify/bad-request`; an account at its cap `cancel/not-allowed`. */
function refused(refusal: RegisterRefusal): StanzaError {
  return refusal.kind === "over-cap"
    ? { type: "cancel", condition: "not-allowed", text: refusal.reason }
    : badRequest(refusal.reason);
}

const APP_FIELDS: readonly FieldSpec[] = [
  { var: "app", type: "text-single", label: "App id (optional)" },
  { var: "environment", type: "list-single", label: "APNs environment (optional)", options: ["production", "sandbox"] },
];

function readAppChoice(form: DataForm): Result<{ app?: string; environment?: ApnsEnvironment }, StanzaError> {
  const app = formValue(form, "app");
  const environment = formValue(form, "environment");
  if (environment !== undefined && environment !== "production" && environment !== "sandbox")
    return failure(badRequest("environment must be production or sandbox"));
  return success({ ...(app !== undefined ? { app } : {}), ...(environment !== undefined ? { environment } : {}) });
}

function tigaseDeviceFields(catalog: readonly ProviderInfo[]): readonly FieldSpec[] {
  return [
    {
      var: "provider",
      type: "list-single",
      label: "Push provider",
      required: true,
      options: catalog.map((provider) => provider.feature),
    },
    { var: "device-token", type: "text-single", label: "Device token", required: true },
  ];
}

function readTigaseDevice(
  form: DataForm,
  providers: GatewayDeps["providers"],
): Result<{ provider: ProviderId; token: string }, StanzaError> {
  const providerName = formValue(form, "provider");
  if (providerName === undefined) return failure(missing("provider"));
  const provider = providers.named(providerName)?.id;
  if (!provider) return failure(badRequest(`unknown provider ${providerName.slice(0, 64)}`));
  const token = formValue(form, "device-token");
  if (token === undefined) return failure(missing("device-token"));
  return success({ provider, token });
}

function registerTigase(catalog: readonly ProviderInfo[]): CommandSpec {
  return {
    node: "register-device",
    name: "Register device",
    fields: [
      ...tigaseDeviceFields(catalog),
      { var: "device-second-token", type: "text-single", label: "VoIP (PushKit) token" },
      ...APP_FIELDS,
    ],
    async execute(context) {
      const device = readTigaseDevice(context.form, context.deps.providers);
      if (!device.ok) return device;
      const { provider, token } = device.value;
      const voipToken = formValue(context.form, "device-second-token");
      const choice = readAppChoice(context.form);
      if (!choice.ok) return choice;
      const outcome = await registerDevice(context.deps, {
        origin: "xmpp",
        style: "token",
        provider,
        account: context.account,
        device: token,
        token,
        ...(voipToken !== undefined ? { voipToken } : {}),
        ...choice.value,
        withSecret: false,
      });
      if (!outcome.ok) return failure(refused(outcome.error));
      const { registration, maxPayloadSize } = outcome.value;
      return success({
        form: buildDataForm("result", [
          { var: "node", type: "text-single", values: [registration.node] },
          { var: "features", type: "list-multi", values: ENCRYPTED_PUSH_FEATURES },
          { var: "max-payload-size", type: "text-single", values: [String(maxPayloadSize)] },
        ]),
      });
    },
  };
}

function unregisterTigase(catalog: readonly ProviderInfo[]): CommandSpec {
  return {
    node: "unregister-device",
    name: "Unregister device",
    fields: tigaseDeviceFields(catalog),
    async execute(context) {
      const device = readTigaseDevice(context.form, context.deps.providers);
      if (!device.ok) return device;
      const { provider, token } = device.value;
      await unregisterDevice(context.deps, { style: "token", provider, account: context.account, device: token });
      return success({});
    },
  };
}

const DEVICE_ID_FIELDS = ["device-id", "android-id"] as const;

function p2Device(form: DataForm): Result<{ device: string; muc?: string }, StanzaError> {
  const device = firstFormValue(form, DEVICE_ID_FIELDS);
  if (device === undefined) return failure(missing("device-id"));
  const mucText = formValue(form, "muc");
  if (mucText === undefined) return success({ device });
  const muc = parseJid(mucText);
  if (!muc || muc.local === undefined || muc.resource !== undefined)
    return failure(badRequest("muc must be a bare JID"));
  return success({ device, muc: bareJid(muc) });
}

/**
 * The identity of a p2 registration. For a provider that hashes p2 accounts (FCM) it is what p2 keeps:
 * a keyed hash of the bare JID (for the cap and unregistration), the Conversations hashes of account and
 * channel, and the domain; never the JID, the device id or the MUC (docs/protocol.md 6.2).
 */
async function p2Identity(
  deps: GatewayDeps,
  info: ProviderInfo,
  account: string,
  { device, muc }: { device: string; muc?: string },
): Promise<{ account: string; device: string; muc?: string; domain?: string }> {
  if (!info.hashesP2Accounts) return { account, device, ...(muc !== undefined ? { muc } : {}) };
  return {
    account: await deps.keys.accountKey(account),
    device: await conversationsHash(account, device),
    ...(muc !== undefined ? { muc: await conversationsHash(muc, device) } : {}),
    domain: account.slice(account.indexOf("@") + 1),
  };
}

function registerP2(info: ProviderInfo): CommandSpec {
  const { id: provider, title } = info;
  return {
    node: `register-push-${provider}`,
    name: `Register for ${title} push`,
    fields: [
      { var: "token", type: "text-single", label: "Device token", required: true },
      { var: "device-id", type: "text-single", label: "Device id", required: true },
      { var: "muc", type: "jid-single", label: "Group chat (optional)" },
      ...APP_FIELDS,
    ],
    async execute(context) {
      const token = formValue(context.form, "token");
      if (token === undefined) return failure(missing("token"));
      const device = p2Device(context.form);
      if (!device.ok) return device;
      const choice = readAppChoice(context.form);
      if (!choice.ok) return choice;
      const outcome = await registerDevice(context.deps, {
        origin: "xmpp",
        style: "device",
        provider,
        ...(await p2Identity(context.deps, info, context.account, device.value)),
        token,
        ...choice.value,
        withSecret: true,
      });
      if (!outcome.ok) return failure(refused(outcome.error));
      const { registration, secret } = outcome.value;
      return success({
        form: buildDataForm("result", [
          { var: "jid", type: "jid-single", values: [context.serviceJid] },
          { var: "node", type: "text-single", values: [registration.node] },
          { var: "secret", type: "text-single", values: [secret ?? ""] },
        ]),
      });
    },
  };
}

function unregisterP2(info: ProviderInfo): CommandSpec {
  const { id: provider, title } = info;
  return {
    node: `unregister-push-${provider}`,
    name: `Unregister from ${title} push`,
    fields: [
      { var: "device-id", type: "text-single", label: "Device id", required: true },
      { var: "muc", type: "jid-single", label: "Group chat (optional)" },
    ],
    async execute(context) {
      const device = p2Device(context.form);
      if (!device.ok) return device;
      const { domain: _domain, ...identity } = await p2Identity(context.deps, info, context.account, device.value);
      const deleted = await unregisterDevice(context.deps, { style: "device", provider, ...identity });
      return deleted
        ? success({})
        : failure({ type: "cancel", condition: "item-not-found", text: "no such registration" });
    },
  };
}

const built = new WeakMap<readonly ProviderInfo[], readonly CommandSpec[]>();

/**
 * Every command the push service offers for the providers of `catalog`, in the order disco lists them:
 * Tigase's two, then p2's register and unregister per provider (docs/protocol.md section 3.2).
 */
export function commandsOf(catalog: readonly ProviderInfo[]): readonly CommandSpec[] {
  let commands = built.get(catalog);
  if (commands === undefined) {
    commands = [
      registerTigase(catalog),
      unregisterTigase(catalog),
      ...catalog.map(registerP2),
      ...catalog.map(unregisterP2),
    ];
    built.set(catalog, commands);
  }
  return commands;
}

/**
 * Runs an ad-hoc command (XEP-0050) for the account of `from`. Without a form the command answers
 * `executing` with a form describing its fields; a follow-up with the form is handled like a one-step
 * submit (the session holds no state); `cancel` answers `canceled`.
 * @see https://xmpp.org/extensions/xep-0050.html#execution
 */
export async function runCommand(
  deps: GatewayDeps,
  from: string | undefined,
  serviceJid: string,
  command: CommandRequest,
): Promise<Result<XmlElement, StanzaError>> {
  const spec = commandsOf(deps.providers.catalog()).find((candidate) => candidate.node === command.node);
  if (!spec) return failure({ type: "cancel", condition: "item-not-found", text: "unknown command" });
  const sessionId = command.sessionId ?? mintSessionId(deps.randomBytes);
  if (command.action === "cancel")
    return success(buildCommandReply({ node: spec.node, sessionId, status: "canceled" }));
  if (command.action === "prev")
    return failure({
      type: "modify",
      condition: "bad-request",
      appCondition: element("bad-action", { xmlns: NS.commands }),
    });
  if (!command.form) {
    if (command.action !== "execute")
      return failure(missing(spec.fields.find((field) => field.required)?.var ?? "form"));
    return success(
      buildCommandReply({
        node: spec.node,
        sessionId,
        status: "executing",
        form: buildDataForm("form", spec.fields, { title: spec.name }),
      }),
    );
  }
  if (command.form.type === "cancel")
    return success(buildCommandReply({ node: spec.node, sessionId, status: "canceled" }));
  const jid = parseJid(from);
  if (!jid || jid.local === undefined) return failure(badRequest("commands must come from a user account"));
  const execution = await spec.execute({ deps, account: bareJid(jid), serviceJid, form: command.form });
  if (!execution.ok) return execution;
  return success(buildCommandReply({ node: spec.node, sessionId, status: "completed", ...execution.value }));
}
