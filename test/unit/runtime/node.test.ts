import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/config";
import { parseGatewayConfig } from "../../../src/providers/registry";
import { Http2Transport } from "../../../src/runtime/http2-transport";
import {
  createRegistrationStore,
  DEFAULT_HOST,
  DEFAULT_PORT,
  fallbackServerKey,
  listenAddress,
  startNodeGateway,
} from "../../../src/runtime/node";
import { SqliteRegistrationStore } from "../../../src/runtime/sqlite-store";

const dir = mkdtempSync(join(tmpdir(), "node-entry-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the Node entry's files", () => {
  it("creates the SQLite file readable by its user only", () => {
    const path = join(dir, "store", "registrations.sqlite");
    const store = createRegistrationStore({ STORE_PATH: path }, parseGatewayConfig({}));
    expect(store).toBeInstanceOf(SqliteRegistrationStore);
    (store as SqliteRegistrationStore).close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("keeps a generated server key beside the SQLite file, 0600, and reuses it", () => {
    const env = { STORE_PATH: join(dir, "keyed", "registrations.sqlite") };
    const key = fallbackServerKey(env);
    expect(key.length).toBeGreaterThanOrEqual(32);
    expect(statSync(`${env.STORE_PATH}.key`).mode & 0o777).toBe(0o600);
    expect(fallbackServerKey(env)).toBe(key);
    expect(fallbackServerKey({})).not.toBe(fallbackServerKey({}));
  });
});

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
