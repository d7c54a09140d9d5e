import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  assertPortFree,
  type DetachedProcess,
  freePorts,
  isPortFree,
  spawnDetached,
  stopProcessGroup,
} from "./processes";

/** Debian's control script; as root it runs everything as the package's `ejabberd` user (through `su`). */
export const EJABBERDCTL = "/usr/sbin/ejabberdctl";
/** The system user Debian's package creates and ejabberdctl switches to (`INSTALLUSER` in the script). */
const INSTALL_USER = "ejabberd";
/** Where Erlang's port mapper daemon listens; the harness never starts it (see `ERL_DIST_PORT`). */
export const EPMD_PORT = 4369;

/** A virtual host and its mod_push options (ejabberd's `host_config`). */
export interface EjabberdHost {
  readonly host: string;
  /** mod_push `include_body`: `false`, `true` (the real body) or a fixed text (ejabberd's default: "New message"). */
  readonly includeBody?: boolean | string;
  /** mod_push `include_sender` (ejabberd's default: false). */
  readonly includeSender?: boolean;
}

/** An XMPP account on the test server. */
export interface EjabberdUser {
  readonly username: string;
  /** Default: the first host. */
  readonly host?: string;
  readonly password: string;
}

export interface EjabberdOptions {
  /** The virtual hosts; default one, `localhost`, with mod_push's defaults. */
  readonly hosts?: readonly EjabberdHost[];
  /** The push component's JID (default `push.localhost`). */
  readonly pushJid?: string;
  readonly componentSecret: string;
  readonly users: readonly EjabberdUser[];
  /** How long start-up may take (ms), default 30 s. */
  readonly startTimeoutMs?: number;
}

/** An ejabberd 23.01 running in a temporary directory on free loopback ports. */
export interface EjabberdServer {
  readonly hosts: readonly string[];
  readonly pushJid: string;
  readonly c2sPort: number;
  readonly componentPort: number;
  /** The Erlang distribution port (`ERL_DIST_PORT`) that ejabberdctl talks to. */
  readonly distPort: number;
  /** `xmpp://127.0.0.1:{componentPort}`, for `XMPP_COMPONENT_SERVICE`. */
  readonly componentService: string;
  readonly nodeName: string;
  readonly dir: string;
  readonly configText: string;
  /** Runs `ejabberdctl COMMAND ARGS...` against this node; throws with its output when it fails. */
  ctl(...args: readonly string[]): string;
  /** The full JIDs of the sessions ejabberd has right now (`ejabberdctl connected_users`). */
  connectedUsers(): string[];
  /** ejabberd's own log (`ejabberd.log`). */
  log(): string;
  /** The last lines of ejabberd's log and console, for failure messages. */
  logTail(lines?: number): string;
  /**
   * Stops ejabberd (`ejabberdctl stop`, then the process group and the beam process), checks that no
   * process of this node is left and that its ports are free, and removes the directory.
   */
  stop(): Promise<void>;
}

/**
 * Fails (never skips) when ejabberd is missing or cannot be run from here, saying what to do.
 */
export function requireEjabberd(): void {
  if (!existsSync(EJABBERDCTL))
    throw new Error(
      `ejabberd is not installed (${EJABBERDCTL} is missing): run .ci/install-debian.sh (apt-get install ejabberd)`,
    );
  const uid = process.getuid?.();
  const installUid = spawnSync("id", ["-u", INSTALL_USER], { encoding: "utf8" }).stdout.trim();
  if (installUid === "")
    throw new Error(`the system user '${INSTALL_USER}' that Debian's ejabberd package creates does not exist`);
  if (uid !== 0 && String(uid) !== installUid)
    throw new Error(`ejabberdctl only runs as root or as '${INSTALL_USER}'; this test runs as uid ${String(uid)}`);
}

/** A YAML scalar (JSON strings are YAML flow scalars). */
function yaml(value: string | boolean): string {
  return JSON.stringify(value);
}

/** A value in the shell file that ejabberdctl sources. */
function shell(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The mod_push options of one host, as a YAML flow mapping (empty: ejabberd's defaults). */
function modPushOptions(host: EjabberdHost): string {
  const options: string[] = [];
  if (host.includeBody !== undefined) options.push(`include_body: ${yaml(host.includeBody)}`);
  if (host.includeSender !== undefined) options.push(`include_sender: ${yaml(host.includeSender)}`);
  return `{${options.join(", ")}}`;
}

/** The `modules` section of one host, indented by `indent` spaces. */
function modules(host: EjabberdHost, indent: number): string {
  const pad = " ".repeat(indent);
  return [
    "modules:",
    "  mod_adhoc: {}",
    "  mod_disco: {}",
    "  mod_ping: {}",
    "  mod_roster: {}",
    "  mod_offline: {}",
    "  mod_stream_mgmt: {}",
    "  mod_client_state: {}",
    `  mod_push: ${modPushOptions(host)}`,
    "  mod_push_keepalive: {}",
  ]
    .map((line) => `${pad}${line}\n`)
    .join("");
}

/**
 * The ejabberd.yml the end-to-end test proves; docs/ejabberd.md explains it. The first host's modules
 * are the global `modules`; each further host gets its own complete list under `host_config` (a
 * host's `modules` there replaces the global list for that host, it is not merged with it).
 */
export function ejabberdConfig(options: {
  readonly hosts: readonly EjabberdHost[];
  readonly pushJid: string;
  readonly componentSecret: string;
  readonly c2sPort: number;
  readonly componentPort: number;
}): string {
  const [first, ...others] = options.hosts;
  if (first === undefined) throw new Error("ejabberd needs at least one host");
  const hostConfig = others.map((host) => `  ${yaml(host.host)}:\n${modules(host, 4)}`).join("");
  return `# Written by test/e2e/ejabberd-server.ts for one test run.
hosts:
${options.hosts.map((host) => `  - ${yaml(host.host)}\n`).join("")}loglevel: info
log_rotate_count: 0
auth_method: internal

listen:
  -
    port: ${options.c2sPort}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: false
  -
    port: ${options.componentPort}
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      ${yaml(options.pushJid)}:
        password: ${yaml(options.componentSecret)}

# No s2s listener, and no outgoing s2s either: every JID in the test is served by this node.
s2s_access: none

acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"

${modules(first, 0)}${hostConfig === "" ? "" : `host_config:\n${hostConfig}`}`;
}

/** The pids of the processes whose command line mentions `text` (Linux /proc). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text)) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

/** Whether an `epmd` process is running on this machine (Linux /proc). */
export function epmdRunning(): boolean {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "epmd") return true;
    } catch {
      // the process ended meanwhile
    }
  }
  return false;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts Debian's ejabberd 23.01 with `ejabberdctl foreground` and the given configuration, in a
 * temporary directory, on free loopback ports, with the given users registered. Erlang distribution
 * (which ejabberdctl needs) listens on a free loopback port of its own with a random cookie, and no
 * epmd is started (`ERL_DIST_PORT`). A missing ejabberd is an error, not a skip.
 */
export async function startEjabberd(options: EjabberdOptions): Promise<EjabberdServer> {
  requireEjabberd();
  const hosts = options.hosts ?? [{ host: "localhost" }];
  const hostNames = hosts.map((host) => host.host);
  const pushJid = options.pushJid ?? "push.localhost";
  const [c2sPort, componentPort, distPort] = await freePorts(3);
  if (c2sPort === undefined || componentPort === undefined || distPort === undefined) throw new Error("no ports");

  const dir = mkdtempSync(join(tmpdir(), "ejabberd-e2e-"));
  const spool = join(dir, "spool");
  const logs = join(dir, "logs");
  mkdirSync(spool);
  mkdirSync(logs);
  const configText = ejabberdConfig({
    hosts,
    pushJid,
    componentSecret: options.componentSecret,
    c2sPort,
    componentPort,
  });
  const configFile = join(dir, "ejabberd.yml");
  writeFileSync(configFile, configText);
  const nodeName = `ejabberd-e2e-${randomBytes(4).toString("hex")}@localhost`;
  const ctlConfig = join(dir, "ejabberdctl.cfg");
  writeFileSync(
    ctlConfig,
    [
      "# Sourced by ejabberdctl instead of /etc/default/ejabberd; written by test/e2e/ejabberd-server.ts.",
      `ERLANG_NODE=${shell(nodeName)}`,
      // Distribution on this fixed port: ejabberdctl then passes -start_epmd false (no epmd on 4369).
      `ERL_DIST_PORT=${distPort}`,
      `ERL_OPTIONS=${shell(`-setcookie ${randomBytes(16).toString("hex")} -kernel inet_dist_use_interface {127,0,0,1}`)}`,
      `EJABBERD_CONFIG_PATH=${shell(configFile)}`,
      `EJABBERD_PID_PATH=${shell(join(dir, "ejabberd.pid"))}`,
      "",
    ].join("\n"),
  );
  // ejabberdctl run as root switches to the ejabberd user, which must own the directory.
  if (process.getuid?.() === 0) {
    const chown = spawnSync("chown", ["-R", `${INSTALL_USER}:${INSTALL_USER}`, dir], { encoding: "utf8" });
    if (chown.status !== 0) throw new Error(`chown ${dir} failed: ${chown.stderr}`);
  }
  const baseArgs = ["--ctl-config", ctlConfig, "--spool", spool, "--logs", logs];

  const ctl = (...args: readonly string[]): string => {
    const result = spawnSync(EJABBERDCTL, [...baseArgs, ...args], { cwd: dir, encoding: "utf8", timeout: 20_000 });
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
    if (result.status !== 0)
      throw new Error(
        `ejabberdctl ${args.join(" ")} failed (${String(result.status ?? result.error)}): ${output.trim()}`,
      );
    return output;
  };
  const log = () => {
    const path = join(logs, "ejabberd.log");
    return existsSync(path) ? readFileSync(path, "utf8") : "";
  };

  const server: DetachedProcess = spawnDetached(EJABBERDCTL, [...baseArgs, "foreground"], {
    name: "ejabberd",
    cwd: dir,
  });
  const logTail = (lines = 40) =>
    `${server.output().trimEnd().split("\n").slice(-lines).join("\n")}\n--- ejabberd.log ---\n${log()
      .trimEnd()
      .split("\n")
      .slice(-lines)
      .join("\n")}`;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const problems: string[] = [];
    if (server.exitStatus() === undefined) {
      try {
        ctl("stop");
      } catch (error) {
        problems.push(String(error));
      }
      await Promise.race([server.exited, sleep(15_000)]);
    }
    // Whatever is left: the su wrapper's group, then the node's processes (su put them in a session of
    // their own, out of reach of the group signal), found by the node name on their command line.
    await stopProcessGroup(server, { graceMs: 2_000 });
    const leftovers = () => processesMentioning(nodeName);
    for (const pid of leftovers()) {
      problems.push(`process ${pid} of ${nodeName} was still running after ejabberdctl stop`);
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    const deadline = Date.now() + 5_000;
    while (leftovers().length > 0 && Date.now() < deadline) await sleep(50);
    if (leftovers().length > 0) problems.push(`processes of ${nodeName} survived SIGKILL: ${leftovers().join(", ")}`);
    for (const port of [c2sPort, componentPort, distPort]) {
      try {
        await assertPortFree(port);
      } catch (error) {
        problems.push(String(error));
      }
    }
    rmSync(dir, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`stopping ejabberd: ${problems.join("; ")}`);
  };

  try {
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    const listening = async () => !(await isPortFree(c2sPort)) && !(await isPortFree(componentPort));
    while (!(await listening())) {
      const status = server.exitStatus();
      if (status !== undefined)
        throw new Error(`ejabberdctl foreground exited (code ${status.code}, signal ${status.signal})`);
      if (Date.now() > deadline) throw new Error("ejabberd did not open its ports in time");
      await sleep(100);
    }
    for (const user of options.users) ctl("register", user.username, user.host ?? hostNames[0] ?? "", user.password);
  } catch (error) {
    const tail = logTail();
    await stop().catch(() => undefined);
    throw new Error(`ejabberd did not start: ${String(error)}\n${tail}`);
  }

  return {
    hosts: hostNames,
    pushJid,
    c2sPort,
    componentPort,
    distPort,
    componentService: `xmpp://127.0.0.1:${componentPort}`,
    nodeName,
    dir,
    configText,
    ctl,
    connectedUsers: () =>
      ctl("connected_users")
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== ""),
    log,
    logTail,
    stop,
  };
}
