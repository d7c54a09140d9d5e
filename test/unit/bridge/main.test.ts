import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

function runBridge(env: Record<string, string>) {
  return spawnSync(process.execPath, ["--import", "tsx", "src/bridge/main.ts"], {
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
    timeout: 20_000,
  });
}

describe("npm run bridge: start-up configuration", () => {
  it("stops with one line naming the first missing variable", () => {
    const result = runBridge({});

    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe("configuration: XMPP_COMPONENT_SERVICE is missing");
    expect(result.stdout).toBe("");
  });

  it("stops with one line naming a bad variable, without echoing secrets", () => {
    const result = runBridge({
      XMPP_COMPONENT_SERVICE: "xmpp://127.0.0.1:5347",
      XMPP_COMPONENT_SECRET: "very-secret-value",
      GATEWAY_URL: "ftp://gateway.example",
      GATEWAY_TOKEN: "very-secret-token",
    });

    expect(result.status).toBe(1);
    expect(result.stderr.trim().split("\n")).toEqual(["configuration: GATEWAY_URL must be http(s)"]);
    expect(result.stderr).not.toContain("very-secret");
  });
});
