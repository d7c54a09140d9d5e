import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/config";
import { Http2Transport } from "../../../src/runtime/http2-transport";
import { DEFAULT_HOST, DEFAULT_PORT, listenAddress, startNodeGateway } from "../../../src/runtime/node";

const quiet = { log() {} };

describe("listenAddress", () => {
  it("defaults to 127.0.0.1:8788", () => {
    expect(listenAddress({})).toEqual({ port: DEFAULT_PORT, hostname: DEFAULT_HOST });
    expect(DEFAULT_PORT).toBe(8788);
  });

  it("reads PORT and HOST", () => {
    expect(listenAddress({ PORT: "9000", HOST: "0.0.0.0" })).toEqual({ port: 9000, hostname: "0.0.0.0" });
  });

  it("refuses a PORT that is not a port number, naming it", () => {
    expect(() => listenAddress({ PORT: "http" })).toThrow(ConfigError);
    expect(() => listenAddress({ PORT: "70000" })).toThrow(/PORT/);
  });
});

describe("startNodeGateway", () => {
  it("serves the app on a free port and closes", async () => {
    const running = await startNodeGateway({ env: { PUSH_JID: "push.example.net" }, port: 0, log: quiet });
    try {
      const response = await fetch(`${running.url}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: "ok", jid: "push.example.net" });
    } finally {
      await running.close();
    }
    await expect(fetch(`${running.url}/health`)).rejects.toThrow();
  });

  it("throws the ConfigError of a bad variable and closes its transport", async () => {
    const transport = new Http2Transport();
    const started = startNodeGateway({
      env: { APNS_TEAM_ID: "T", APNS_KEY_ID: "K", APNS_TOPIC: "im.example", APNS_PRIVATE_KEY: "garbage" },
      port: 0,
      transport,
      log: quiet,
    });
    await expect(started).rejects.toThrow(/^configuration: APNS_PRIVATE_KEY /);
    await expect(transport.fetch("https://127.0.0.1:1/", { method: "GET", headers: {}, body: "" })).rejects.toThrow(
      /closed/,
    );
  });
});
