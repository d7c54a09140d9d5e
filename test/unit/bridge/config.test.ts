import { describe, expect, it } from "vitest";
import { parseBridgeConfig } from "../../../src/bridge";
import { ConfigError } from "../../../src/config";

const complete = {
  XMPP_COMPONENT_SERVICE: "xmpp://127.0.0.1:5347",
  XMPP_COMPONENT_SECRET: "component-secret",
  PUSH_JID: "push.example.net",
  GATEWAY_URL: "https://push.example.net/",
  GATEWAY_TOKEN: "gateway-token",
};

function problemWith(env: Record<string, string | undefined>): { variable: string; message: string } | undefined {
  try {
    parseBridgeConfig(env);
    return undefined;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { variable: error.variable, message: error.message };
  }
}

describe("parseBridgeConfig", () => {
  it("reads every variable and drops a trailing slash from GATEWAY_URL", () => {
    expect(parseBridgeConfig(complete)).toEqual({
      service: "xmpp://127.0.0.1:5347",
      secret: "component-secret",
      pushJid: "push.example.net",
      gatewayUrl: "https://push.example.net",
      gatewayToken: "gateway-token",
    });
  });

  it("defaults PUSH_JID to push.localhost", () => {
    expect(parseBridgeConfig({ ...complete, PUSH_JID: undefined }).pushJid).toBe("push.localhost");
    expect(parseBridgeConfig({ ...complete, PUSH_JID: "" }).pushJid).toBe("push.localhost");
  });

  it("keeps a gateway path prefix", () => {
    expect(parseBridgeConfig({ ...complete, GATEWAY_URL: "http://127.0.0.1:8787/push//" }).gatewayUrl).toBe(
      "http://127.0.0.1:8787/push",
    );
  });

  it("accepts a service without a port (the component library uses 5347)", () => {
    expect(parseBridgeConfig({ ...complete, XMPP_COMPONENT_SERVICE: "xmpp://xmpp.example.net" }).service).toBe(
      "xmpp://xmpp.example.net",
    );
  });

  it.each(["XMPP_COMPONENT_SERVICE", "XMPP_COMPONENT_SECRET", "GATEWAY_URL", "GATEWAY_TOKEN"])(
    "stops with a message naming %s when it is missing or blank",
    (name) => {
      expect(problemWith({ ...complete, [name]: undefined })).toEqual({
        variable: name,
        message: `configuration: ${name} is missing`,
      });
      expect(problemWith({ ...complete, [name]: "  " })?.variable).toBe(name);
    },
  );

  it.each([
    ["XMPP_COMPONENT_SERVICE", "127.0.0.1:5347"],
    ["XMPP_COMPONENT_SERVICE", "http://127.0.0.1:5347"],
    ["XMPP_COMPONENT_SERVICE", "xmpp://127.0.0.1:5347/path"],
    ["XMPP_COMPONENT_SERVICE", "not a url"],
    ["GATEWAY_URL", "ftp://push.example.net"],
    ["GATEWAY_URL", "push.example.net"],
    ["GATEWAY_URL", "https://push.example.net/?a=b"],
    ["PUSH_JID", "user@push.example.net"],
    ["PUSH_JID", "push.example.net/resource"],
  ])("stops with a message naming %s for %j", (name, value) => {
    const problem = problemWith({ ...complete, [name]: value });
    expect(problem?.variable).toBe(name);
    expect(problem?.message).toMatch(new RegExp(`^configuration: ${name} `));
  });

  it("never puts the secret or the token into an error message", () => {
    const problem = problemWith({ ...complete, GATEWAY_URL: "nope" });
    expect(problem?.message).not.toContain(complete.GATEWAY_TOKEN);
    expect(problem?.message).not.toContain(complete.XMPP_COMPONENT_SECRET);
  });
});
