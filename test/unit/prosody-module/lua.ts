import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

/*
 * Runs integrations/prosody/mod_push_encrypt_omemo with Debian's Lua 5.4, luaossl and Prosody's own
 * libraries (util.stanza, util.xml, util.json, util.encodings) through harness.lua. A missing tool
 * is an error naming the package to install, never a skipped test.
 */

export const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));
export const MODULE_DIR = join(REPO_ROOT, "integrations", "prosody", "mod_push_encrypt_omemo");
export const HARNESS = fileURLToPath(new URL("harness.lua", import.meta.url));

/** Where Debian's prosody package keeps util.* (the harness reads stanzas with Prosody's own parser). */
const PROSODY_LIBS = "/usr/lib/prosody/util/stanza.lua";

/** The path of a command on PATH, or undefined. */
export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "" || !existsSync(join(dir, command))) continue;
    return join(dir, command);
  }
  return undefined;
}

/** Fails (never skips) when a command is not installed, naming the Debian package and the script that installs it. */
export function requireCommand(command: string, debianPackage: string): string {
  const path = onPath(command);
  if (path === undefined)
    throw new Error(`${command} is not installed: run .ci/install-debian.sh (apt-get install ${debianPackage})`);
  return path;
}

/** lua5.4, luaossl for it and Prosody's libraries, or an error saying what to install. */
export function requireLua(): string {
  const lua = requireCommand("lua5.4", "lua5.4");
  if (!existsSync(PROSODY_LIBS))
    throw new Error(
      `Prosody's libraries are missing (${PROSODY_LIBS}): run .ci/install-debian.sh (apt-get install prosody)`,
    );
  const probe = spawnSync(lua, ["-e", 'local c = require("openssl.cipher").new("aes-128-gcm"); assert(c.getTag)'], {
    encoding: "utf8",
  });
  if (probe.status !== 0)
    throw new Error(
      `luaossl for Lua 5.4 is missing: run .ci/install-debian.sh (apt-get install lua-luaossl)\n${probe.stderr}`,
    );
  return lua;
}

/**
 * Sends one request to harness.lua (`lua5.4 harness.lua MODULE_DIR`, JSON on stdin) and returns its
 * JSON answer; throws with Lua's error output when the harness fails.
 */
export function runHarness<T>(request: { readonly op: string } & Record<string, unknown>): T {
  const lua = requireLua();
  const run = spawnSync(lua, [HARNESS, MODULE_DIR], {
    input: JSON.stringify(request),
    encoding: "utf8",
    timeout: 20_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`lua5.4 harness.lua ${request.op} failed (${run.status}):\n${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

/** A harness error as JSON: `null` or what the Lua side refused with. */
export interface LuaError {
  readonly kind: string;
  readonly reason: string;
  readonly sid: string | null;
  readonly max_size: number | null;
  readonly smallest_size: number | null;
}
