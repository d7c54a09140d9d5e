import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { type Client, client, type Element, xml } from "@xmpp/client";
import { assertPortFree, freePorts, spawnDetached, stopProcessGroup } from "./processes";

/** Where Debian's prosody-modules puts mod_cloud_notify (Prosody's default plugin directory). */
const MODULES_DIR = "/usr/lib/prosody/modules";

/** An XMPP account on the test server. */
export interface ProsodyUser {
  readonly username: string;
  readonly password: string;
}

export interface ProsodyOptions {
  /** The virtual host of the users (default `localhost`). */
  readonly host?: string;
  /** The push component's JID (default `push.localhost`). */
  readonly pushJid?: string;
  readonly componentSecret: string;
  readonly users: readonly ProsodyUser[];
  /** mod_cloud_notify's `push_max_errors` (default 1: the first non-`wait` error disables a registration). */
  readonly pushMaxErrors?: number;
  /** Ports to use instead of free ones picked here (to start a client before the server). */
  readonly c2sPort?: number;
  readonly componentPort?: number;
  /**
   * Extra plugin directories (`plugin_paths`, searched before Prosody's own), e.g. this project's
   * integrations/prosody for mod_push_encrypt_omemo. Default none: the configuration is then the one
   * docs/prosody.md explains.
   */
  readonly pluginPaths?: readonly string[];
  /** Modules to enable after the default ones (e.g. `push_encrypt_omemo`). */
  readonly extraModules?: readonly string[];
}

/** A Prosody 0.12 running in a temporary directory on free loopback ports. */
export interface ProsodyServer {
  readonly host: string;
  readonly pushJid: string;
  readonly c2sPort: number;
  readonly componentPort: number;
  /** `xmpp://127.0.0.1:{componentPort}`, for `XMPP_COMPONENT_SERVICE`. */
  readonly componentService: string;
  readonly dir: string;
  readonly configText: string;
  /**
   * The raw text of mod_cloud_notify's store of one user (Prosody's internal storage, a Lua table in
   * `{data_path}/{host}/cloud_notify/{user}.dat`), or undefined when the user has no registration.
   */
  pushStore(username: string): string | undefined;
  /** The last lines of Prosody's log, for failure messages. */
  logTail(lines?: number): string;
  /** Stops Prosody by process group (SIGTERM, then SIGKILL) and checks that its ports are free. */
  stop(): Promise<void>;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir !== "" && existsSync(join(dir, command)));
}

/**
 * Fails (never skips) when Prosody or mod_cloud_notify is missing, saying how to install them.
 */
export function requireProsody(): void {
  for (const command of ["prosody", "prosodyctl"])
    if (!onPath(command))
      throw new Error(
        `Prosody is not installed (${command} is not on PATH): run .ci/install-debian.sh (apt-get install prosody prosody-modules)`,
      );
  if (!existsSync(join(MODULES_DIR, "mod_cloud_notify", "mod_cloud_notify.lua")))
    throw new Error(
      `mod_cloud_notify is not in ${MODULES_DIR}: run .ci/install-debian.sh (apt-get install prosody-modules)`,
    );
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Resolves when something accepts connections on the port; rejects after `timeoutMs` or if `alive()` turns false. */
export async function waitForPort(port: number, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the process meant to listen on port ${port} exited`);
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** Polls `condition` every 20 ms until it holds; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** How Prosody's datamanager names a host or user on disk: every non-alphanumeric byte as `%xx`. */
function storeName(name: string): string {
  return [...new TextEncoder().encode(name)]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9]/.test(char) ? char : `%${byte.toString(16).padStart(2, "0")}`;
    })
    .join("");
}

/** The Lua string literal of a value (Prosody's config is Lua). */
function lua(value: string): string {
  return JSON.stringify(value);
}

/**
 * The Prosody configuration the end-to-end tests prove; docs/prosody.md explains it line by line.
 */
export function prosodyConfig(options: {
  readonly dir: string;
  readonly host: string;
  readonly pushJid: string;
  readonly componentSecret: string;
  readonly c2sPort: number;
  readonly componentPort: number;
  readonly pushMaxErrors: number;
  readonly pluginPaths?: readonly string[];
  readonly extraModules?: readonly string[];
}): string {
  const { dir } = options;
  const pluginPaths =
    options.pluginPaths && options.pluginPaths.length > 0
      ? `plugin_paths = { ${options.pluginPaths.map(lua).join(", ")} }\n`
      : "";
  const modules = [
    "roster",
    "saslauth",
    "disco",
    "ping",
    "carbons",
    "offline",
    "cloud_notify",
    ...(options.extraModules ?? []),
  ];
  return `-- Written by test/e2e/prosody-server.ts for one test run.
${pluginPaths}daemonize = false
run_as_root = true
pidfile = ${lua(join(dir, "prosody.pid"))}
data_path = ${lua(join(dir, "data"))}
certificates = ${lua(join(dir, "certs"))}
log = { { levels = { min = "debug" }, to = "file", filename = ${lua(join(dir, "prosody.log"))} } }

interfaces = { "127.0.0.1" }
c2s_ports = { ${options.c2sPort} }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
component_interfaces = { "127.0.0.1" }
component_ports = { ${options.componentPort} }
modules_disabled = { "s2s" }

authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true

modules_enabled = { ${modules.map(lua).join(", ")} }
push_max_errors = ${options.pushMaxErrors}
push_notification_important_body = "New Message!"

VirtualHost ${lua(options.host)}

Component ${lua(options.pushJid)}
    component_secret = ${lua(options.componentSecret)}
`;
}

/**
 * Starts Prosody 0.12 with mod_cloud_notify and a push component, in a temporary directory, on
 * free loopback ports, with the given users registered. A missing Prosody is an error, not a skip.
 */
export async function startProsody(options: ProsodyOptions): Promise<ProsodyServer> {
  requireProsody();
  const host = options.host ?? "localhost";
  const pushJid = options.pushJid ?? "push.localhost";
  const dir = mkdtempSync(join(tmpdir(), "prosody-e2e-"));
  mkdirSync(join(dir, "data"));
  mkdirSync(join(dir, "certs"));
  const [freeC2s, freeComponent] = await freePorts(2);
  const c2sPort = options.c2sPort ?? freeC2s;
  const componentPort = options.componentPort ?? freeComponent;
  if (c2sPort === undefined || componentPort === undefined) throw new Error("no free ports for Prosody");
  const configText = prosodyConfig({
    dir,
    host,
    pushJid,
    componentSecret: options.componentSecret,
    c2sPort,
    componentPort,
    pushMaxErrors: options.pushMaxErrors ?? 1,
    ...(options.pluginPaths === undefined ? {} : { pluginPaths: options.pluginPaths }),
    ...(options.extraModules === undefined ? {} : { extraModules: options.extraModules }),
  });
  const configFile = join(dir, "prosody.cfg.lua");
  writeFileSync(configFile, configText);

  for (const user of options.users) {
    const result = spawnSync("prosodyctl", ["--config", configFile, "register", user.username, host, user.password], {
      encoding: "utf8",
      timeout: 20_000,
    });
    if (result.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`prosodyctl register ${user.username} failed: ${result.stderr || result.stdout || result.error}`);
    }
  }

  const prosody = spawnDetached("prosody", ["--config", configFile, "-F"], { name: "prosody", cwd: dir });
  const alive = () => prosody.exitStatus() === undefined;
  const logTail = (lines = 40) => {
    const path = join(dir, "prosody.log");
    const log = existsSync(path) ? readFileSync(path, "utf8") : "";
    return `${prosody.output()}\n${log}`.trimEnd().split("\n").slice(-lines).join("\n");
  };

  const stop = async () => {
    await stopProcessGroup(prosody);
    await assertPortFree(c2sPort);
    await assertPortFree(componentPort);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForPort(c2sPort, 15_000, alive);
    await waitForPort(componentPort, 15_000, alive);
  } catch (error) {
    const tail = logTail();
    await stopProcessGroup(prosody);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`Prosody did not start: ${String(error)}\n${tail}`);
  }

  return {
    host,
    pushJid,
    c2sPort,
    componentPort,
    componentService: `xmpp://127.0.0.1:${componentPort}`,
    dir,
    configText,
    pushStore(username) {
      const path = join(dir, "data", storeName(host), "cloud_notify", `${storeName(username)}.dat`);
      return existsSync(path) ? readFileSync(path, "utf8") : undefined;
    },
    logTail,
    stop,
  };
}

/*
 * Playing the users: what XMPP clients send to their server for push (nothing here is specific to
 * Prosody; test/e2e/ejabberd.test.ts uses it too).
 */

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_COMMANDS = "http://jabber.org/protocol/commands";
const NS_DATA = "jabber:x:data";
const NS_PUSH = "urn:xmpp:push:0";

/** The single value of a field in a command reply's data form. */
export function formValue(reply: Element, name: string): string | undefined {
  return formValues(reply, name)[0];
}

/** Every value of a field in a command reply's data form. */
export function formValues(reply: Element, name: string): string[] {
  const x = reply.getChild("command", NS_COMMANDS)?.getChild("x", NS_DATA);
  const field = x?.getChildren("field").find((f) => f.attrs.var === name);
  return field?.getChildren("value").map((value) => value.text()) ?? [];
}

function submitForm(fields: Record<string, string>): Element {
  return xml(
    "x",
    { xmlns: NS_DATA, type: "submit" },
    ...Object.entries(fields).map(([name, value]) => xml("field", { var: name }, xml("value", {}, value))),
  );
}

/** An XEP-0050 command executed in one step with a submitted form, as the clients send it. */
export function commandIq(pushJid: string, node: string, fields: Record<string, string>): Element {
  return xml(
    "iq",
    { type: "set", to: pushJid },
    xml("command", { xmlns: NS_COMMANDS, node, action: "execute" }, submitForm(fields)),
  );
}

/** XEP-0357 enable, as p2 clients send it (with the secret in publish options) or Tigase clients (without). */
export function enableIq(pushJid: string, node: string, secret?: string): Element {
  const options =
    secret === undefined
      ? []
      : [submitForm({ FORM_TYPE: "http://jabber.org/protocol/pubsub#publish-options", secret })];
  return xml("iq", { type: "set" }, xml("enable", { xmlns: NS_PUSH, jid: pushJid, node }, ...options));
}

/** A disco#info request to the push service. */
export function discoInfoIq(pushJid: string): Element {
  return xml("iq", { type: "get", to: pushJid }, xml("query", { xmlns: NS_DISCO_INFO }));
}

/** A chat message with a body. */
export function chat(to: string, body: string): Element {
  return xml("message", { type: "chat", to }, xml("body", {}, body));
}

/** What a p2 registration gave back. */
export interface P2Registration {
  readonly node: string;
  readonly secret: string;
  readonly jid: string | undefined;
}

/**
 * Registers with p2's `register-push-fcm` (as Conversations does: `token` and `android-id`) and
 * enables push with the node and secret it got.
 */
export async function registerP2AndEnable(
  xmpp: Client,
  pushJid: string,
  device: { readonly token: string; readonly deviceId: string },
): Promise<P2Registration> {
  const reply = await xmpp.iqCaller.request(
    commandIq(pushJid, "register-push-fcm", { token: device.token, "android-id": device.deviceId }),
  );
  const node = formValue(reply, "node");
  const secret = formValue(reply, "secret");
  if (node === undefined || secret === undefined) throw new Error(`no node or secret in ${reply.toString()}`);
  await xmpp.iqCaller.request(enableIq(pushJid, node, secret));
  return { node, secret, jid: formValue(reply, "jid") };
}

/** What a Tigase registration gave back. */
export interface TigaseRegistration {
  readonly node: string;
  readonly features: string[];
  readonly maxPayloadSize: number;
}

/**
 * Registers with Tigase's `register-device` (as Siskin does) and enables push with the node, without
 * a secret.
 */
export async function registerDeviceAndEnable(
  xmpp: Client,
  pushJid: string,
  device: { readonly provider: string; readonly token: string },
): Promise<TigaseRegistration> {
  const reply = await xmpp.iqCaller.request(
    commandIq(pushJid, "register-device", { provider: device.provider, "device-token": device.token }),
  );
  const node = formValue(reply, "node");
  if (node === undefined) throw new Error(`no node in ${reply.toString()}`);
  await xmpp.iqCaller.request(enableIq(pushJid, node));
  return {
    node,
    features: formValues(reply, "features"),
    maxPayloadSize: Number(formValue(reply, "max-payload-size")),
  };
}

/** The XMPP users of a test, logged in with @xmpp/client over plain c2s on loopback. */
export class XmppUsers {
  private readonly clients = new Set<Client>();

  constructor(
    private readonly options: {
      readonly c2sPort: number;
      readonly domain: string;
      readonly password: string;
      readonly resource?: string;
    },
  ) {}

  /** Logs a user in (no reconnecting). */
  async connect(username: string): Promise<Client> {
    const xmpp = client({
      service: `xmpp://127.0.0.1:${this.options.c2sPort}`,
      domain: this.options.domain,
      username,
      password: this.options.password,
      resource: this.options.resource ?? "e2e",
    });
    xmpp.reconnect.stop();
    xmpp.on("error", () => undefined);
    this.clients.add(xmpp);
    await xmpp.start();
    return xmpp;
  }

  /** Logs a user out (closes the stream), so that the next message to them goes offline. */
  async disconnect(xmpp: Client): Promise<void> {
    await xmpp.stop();
    this.clients.delete(xmpp);
  }

  /** Logs out everyone still logged in. */
  async disconnectAll(): Promise<void> {
    for (const xmpp of this.clients) await xmpp.stop().catch(() => undefined);
    this.clients.clear();
  }
}
