import { parseArgs } from "node:util";
import { bareJid, fullJid, type Jid, parseJid } from "../../xmpp/jid";

export type SimulatedProvider = "apns" | "fcm";

/** What one simulator run does, from its command line. */
export interface SimulatorOptions {
  /** The gateway's base URL, without a trailing slash. */
  readonly gateway: string;
  /** `GATEWAY_TOKEN` of the gateway, sent as the bearer token of `/xmpp`. */
  readonly gatewayToken?: string;
  /** The push service's JID; default: what the gateway's `/health` says. */
  readonly pushJid?: string;
  /** The client's full JID (a bare one gets the resource `simulator`). */
  readonly account: Jid;
  readonly provider: SimulatedProvider;
  /** The device token; default a fresh random one of the provider's shape. */
  readonly deviceToken?: string;
  /** The APNs environment to register (`environment` form field); default the gateway's. */
  readonly environment?: "production" | "sandbox";
  /** The OMEMO device id for `<omemo deviceId/>`; default the first key for the account in the message. */
  readonly deviceId?: string;
  /** A message stanza file; default the built-in OMEMO 2 example. */
  readonly messagePath?: string;
  readonly unread: number;
  readonly placeholder?: string;
  /** The live device page's base URL. */
  readonly page: string;
  /** Skip the device step (a deployment with real providers has no device page). */
  readonly device: boolean;
  /** How long to wait for the push to show up on the device page. */
  readonly timeoutMs: number;
  readonly json: boolean;
}

export const USAGE = `npm run simulate -- [options]

Plays the client, the user's XMPP server and the device against a running gateway (npm start):
registers a device with register-device, prints the <enable/> with an AES key and an OMEMO device id,
seals a message stanza into an encrypted publish, posts it to /xmpp, and shows what the sandbox
device received and decrypted (from the live device page).

  --gateway URL         the gateway (default http://127.0.0.1:8787)
  --token TOKEN         GATEWAY_TOKEN of the gateway (default: $GATEWAY_TOKEN)
  --push-jid JID        the push service's JID (default: the jid of the gateway's /health)
  --account JID         the client's JID (default juliet@capulet.example; resource /simulator if bare)
  --provider apns|fcm   the device's push service (default apns)
  --device-token T      the device token (default: a fresh random one)
  --environment E       APNs environment to register: production | sandbox (default: the gateway's)
  --device-id N         the OMEMO device id (default: the first key for the account in the message)
  --message FILE        a <message/> stanza (OMEMO legacy, 1 or 2, or a plain <body/>);
                        default: a built-in OMEMO 2 message from romeo@montague.example
  --unread N            the unread count the server writes (default 1)
  --placeholder TEXT    the message text of an OMEMO push (default "New secure message")
  --page URL            the sandbox's live device page (default http://127.0.0.1:8790)
  --no-device           stop after the publish (a gateway with real providers has no device page)
  --timeout MS          how long to wait for the push on the device page (default 10000)
  --json                one JSON object on stdout instead of the readable report
  --help                this text
`;

/** A command-line mistake: the message says what to fix. */
export class UsageError extends Error {}

function url(value: string, name: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http");
  } catch {
    throw new UsageError(`--${name} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/+$/, "");
}

function integer(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]{1,10}$/.test(value) || Number(value) < min || Number(value) > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return Number(value);
}

function account(value: string): Jid {
  const jid = parseJid(value);
  if (jid === undefined || jid.local === undefined)
    throw new UsageError(`--account must be a user's JID (user@domain[/resource]), got ${JSON.stringify(value)}`);
  return jid.resource === undefined ? { ...jid, resource: "simulator" } : jid;
}

function provider(value: string | undefined): SimulatedProvider {
  if (value === undefined || value === "apns" || value === "fcm") return value ?? "apns";
  throw new UsageError(`--provider must be apns or fcm, got ${JSON.stringify(value)}`);
}

function environment(value: string | undefined): "production" | "sandbox" | undefined {
  if (value === undefined || value === "production" || value === "sandbox") return value;
  throw new UsageError(`--environment must be production or sandbox, got ${JSON.stringify(value)}`);
}

function deviceId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return String(integer(value, "device-id", 0, 1, 0xffffffff));
}

/** The simulator's options from `argv` (without node and the script), or `"help"`. */
export function parseSimulatorOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): SimulatorOptions | "help" {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) return "help";
  const pushJid = values["push-jid"];
  if (pushJid !== undefined && parseJid(pushJid) === undefined)
    throw new UsageError(`--push-jid must be a JID, got ${JSON.stringify(pushJid)}`);
  const gatewayToken = values.token ?? env.GATEWAY_TOKEN;
  const deviceToken = values["device-token"];
  if (deviceToken !== undefined && !/^[\x21-\x7e]{1,4096}$/.test(deviceToken))
    throw new UsageError("--device-token must be printable ASCII without spaces");
  return {
    gateway: url(values.gateway ?? "http://127.0.0.1:8787", "gateway"),
    ...(gatewayToken !== undefined && gatewayToken !== "" ? { gatewayToken } : {}),
    ...(pushJid !== undefined ? { pushJid } : {}),
    account: account(values.account ?? "juliet@capulet.example"),
    provider: provider(values.provider),
    ...(deviceToken !== undefined ? { deviceToken } : {}),
    ...(values.environment !== undefined ? { environment: environment(values.environment) } : {}),
    ...(values["device-id"] !== undefined ? { deviceId: deviceId(values["device-id"]) } : {}),
    ...(values.message !== undefined ? { messagePath: values.message } : {}),
    unread: integer(values.unread, "unread", 1, 0, 1_000_000),
    ...(values.placeholder !== undefined ? { placeholder: values.placeholder } : {}),
    page: url(values.page ?? "http://127.0.0.1:8790", "page"),
    device: values["no-device"] !== true,
    timeoutMs: integer(values.timeout, "timeout", 10_000, 100, 600_000),
    json: values.json === true,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      gateway: { type: "string" },
      token: { type: "string" },
      "push-jid": { type: "string" },
      account: { type: "string" },
      provider: { type: "string" },
      "device-token": { type: "string" },
      environment: { type: "string" },
      "device-id": { type: "string" },
      message: { type: "string" },
      unread: { type: "string" },
      placeholder: { type: "string" },
      page: { type: "string" },
      "no-device": { type: "boolean" },
      timeout: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
}

/** The account's bare JID (the recipient whose OMEMO keys count) and full JID (the IQ's `from`). */
export function accountNames(options: Pick<SimulatorOptions, "account">): { bare: string; full: string } {
  return { bare: bareJid(options.account), full: fullJid(options.account) };
}
