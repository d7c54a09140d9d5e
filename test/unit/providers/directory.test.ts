import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/config";
import { ApnsProvider } from "../../../src/providers/apns/provider";
import { createProviderDirectory } from "../../../src/providers/directory";
import { FcmProvider } from "../../../src/providers/fcm/provider";
import { MemoryCredentialCache } from "../../../src/providers/memory-credentials";
import { parseGatewayConfig } from "../../../src/providers/registry";
import { FakeTransport } from "../../fakes/transport";
import { generateApnsKey, generateServiceAccountKey, ManualClock, serviceAccount } from "./provider-test-kit";

let apnsPem: string;
let rsaPem: string;
beforeAll(() => {
  apnsPem = generateApnsKey().pem;
  rsaPem = generateServiceAccountKey().pem;
});

function deps() {
  const clock = new ManualClock();
  return { transport: new FakeTransport().fetch, credentials: new MemoryCredentialCache(clock.now), now: clock.now };
}

const apnsVars = (privateKey: string) => ({
  APNS_TEAM_ID: "TEAM123456",
  APNS_KEY_ID: "KEY7654321",
  APNS_PRIVATE_KEY: privateKey,
  APNS_TOPIC: "im.example.app",
});

/** A PKCS #8 PEM whose base64 decodes but holds no key. */
const NOT_A_KEY = "-----BEGIN PRIVATE KEY-----\nAAECAwQFBgcICQ==\n-----END PRIVATE KEY-----";

async function configErrorOf(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error;
}

describe("createProviderDirectory", () => {
  it("builds one provider per configured app and provider", async () => {
    const config = parseGatewayConfig({
      ...apnsVars(apnsPem),
      APPS: JSON.stringify([{ id: "im.other", fcm: { serviceAccount: serviceAccount(rsaPem) } }, { id: "im.empty" }]),
    });
    const directory = await createProviderDirectory(config, deps());
    expect(directory.get("default", "apns")).toBeInstanceOf(ApnsProvider);
    expect(directory.get("default", "fcm")).toBeUndefined();
    expect(directory.get("im.other", "fcm")).toBeInstanceOf(FcmProvider);
    expect(directory.get("im.other", "apns")).toBeUndefined();
    expect(directory.get("nope", "apns")).toBeUndefined();
    expect([...directory.offered()].sort()).toEqual(["apns", "fcm"]);
    expect(directory.hasApp("im.empty")).toBe(true);
    expect(directory.hasApp("nope")).toBe(false);
  });

  it("offers nothing when no provider is configured", async () => {
    const directory = await createProviderDirectory(parseGatewayConfig({}), deps());
    expect(directory.offered()).toEqual([]);
    expect(directory.hasApp("default")).toBe(true);
  });

  it.each([
    ["a key that is no key", NOT_A_KEY],
    ["an RSA key where APNs needs P-256", "rsa"],
  ])("stops start-up naming APNS_PRIVATE_KEY for %s", async (_name, pem) => {
    const config = parseGatewayConfig(apnsVars(pem === "rsa" ? rsaPem : pem));
    const error = await configErrorOf(createProviderDirectory(config, deps()));
    expect(error.variable).toBe("APNS_PRIVATE_KEY");
    expect(error.message).toContain("APNS_PRIVATE_KEY");
  });

  it("stops start-up naming FCM_SERVICE_ACCOUNT for a service-account key that does not import", async () => {
    const config = parseGatewayConfig({ FCM_SERVICE_ACCOUNT: JSON.stringify(serviceAccount(NOT_A_KEY)) });
    expect((await configErrorOf(createProviderDirectory(config, deps()))).variable).toBe("FCM_SERVICE_ACCOUNT");
  });

  it("names the APPS entry whose key does not import", async () => {
    const apns = { teamId: "T", keyId: "K", privateKey: NOT_A_KEY, topic: "im.x" };
    const config = parseGatewayConfig({ APPS: JSON.stringify([{ id: "im.x", apns }]) });
    expect((await configErrorOf(createProviderDirectory(config, deps()))).variable).toBe("APPS (im.x.apns)");
    const fcm = { serviceAccount: serviceAccount(NOT_A_KEY) };
    const fcmConfig = parseGatewayConfig({ APPS: JSON.stringify([{ id: "im.y", fcm }]) });
    expect((await configErrorOf(createProviderDirectory(fcmConfig, deps()))).variable).toBe(
      "APPS (im.y.fcm.serviceAccount)",
    );
  });
});
