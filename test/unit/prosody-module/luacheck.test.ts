import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HARNESS, MODULE_DIR, REPO_ROOT, requireCommand } from "./lua";

/*
 * luacheck (Debian's lua-check) over the Prosody module and this folder's harness, with
 * integrations/prosody/.luacheckrc (std lua54, `module` as the one extra global of the module file).
 * Not installed is a failure: .ci/install-debian.sh installs it.
 */

const CONFIG = join(REPO_ROOT, "integrations", "prosody", ".luacheckrc");

function luacheck(args: readonly string[], input?: string) {
  const command = requireCommand("luacheck", "lua-check");
  return spawnSync(command, ["--config", CONFIG, "--no-color", "--codes", ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 30_000,
    ...(input === undefined ? {} : { input }),
  });
}

describe("luacheck", () => {
  it("finds nothing in integrations/prosody and the test harness", () => {
    const run = luacheck([join(REPO_ROOT, "integrations", "prosody"), HARNESS]);
    expect(run.error).toBeUndefined();
    expect(run.stdout).toMatch(/Total: 0 warnings \/ 0 errors in 3 files/);
    expect(run.status).toBe(0);
  });

  it("does find what it should (the check is live): an unknown global, an unused variable", () => {
    const run = luacheck(
      ["--filename", join(MODULE_DIR, "mod_push_encrypt_omemo.lua"), "-"],
      "local unused = 1;\nmodule:log('info', tostring(undefined_global));\n",
    );
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("(W211) unused variable 'unused'");
    expect(run.stdout).toContain("(W113) accessing undefined variable 'undefined_global'");
    expect(run.stdout).not.toContain("'module'");
  });
});
