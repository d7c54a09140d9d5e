import { describe, expect, it } from "vitest";
import { commandsOf } from "../../../src/gateway/commands";
import type { ProviderInfo, PushProvider } from "../../../src/ports/provider";
import { APNS_CONFIG, apnsSettings } from "../../../src/providers/apns/config";
import { describeProvider } from "../../../src/providers/descriptor";
import { createProviderDirectory, providerCatalog } from "../../../src/providers/directory";
import { MemoryCredentialCache } from "../../../src/providers/memory-credentials";
import { PROVIDERS, parseGatewayConfig } from "../../../src/providers/registry";
import { FakeTransport } from "../../fakes/transport";
import { generateApnsKey, ManualClock } from "./provider-test-kit";

/** A third provider as a new folder would describe it; it reuses the APNs settings only to have some. */
function thirdProvider(info: ProviderInfo, built: PushProvider[]) {
  return describeProvider<{ readonly privateKey: string }, never>({
    info,
    config: APNS_CONFIG,
    settings: (app) => {
      const apns = apnsSettings(app);
      return apns ? { privateKey: apns.privateKey } : undefined;
    },
    snsSettings: () => undefined,
    sns: () => {
      throw new Error("the third provider has no SNS route");
    },
    routeVariable: "THIRD_VIA",
    privateKey: (settings) => settings.privateKey,
    keyAlgorithm: "ES256",
    keyVariable: { default: "THIRD_KEY", apps: (id) => `APPS (${id}.third)` },
    direct: () => {
      const provider: PushProvider = {
        id: "apns",
        send: async () => ({ kind: "delivered" }),
        maxPayloadSize: () => 100,
        payloadCapacity: () => 100,
      };
      built.push(provider);
      return provider;
    },
  });
}

describe("the provider registry", () => {
  it("lists FCM then APNs, with the names clients send for each", () => {
    const { catalog, named } = providerCatalog();
    expect(catalog.map((info) => info.id)).toEqual(["fcm", "apns"]);
    expect(named("tigase:messenger:apns:1")?.id).toBe("apns");
    expect(named("fcm-http-v1")?.id).toBe("fcm");
    expect(named("fcm-xmpp-api")?.id).toBe("fcm");
    expect(named("mpns")).toBeUndefined();
    expect(PROVIDERS).toHaveLength(2);
  });

  it("makes commands, titles and disco features of a new descriptor without naming it anywhere else", async () => {
    const info: ProviderInfo = {
      id: "apns",
      title: "Third",
      feature: "example:third:1",
      names: ["third"],
      hashesP2Accounts: false,
    };
    const built: PushProvider[] = [];
    const descriptors = [thirdProvider(info, built)];
    const clock = new ManualClock();
    const config = parseGatewayConfig({
      APNS_TEAM_ID: "TEAM123456",
      APNS_KEY_ID: "KEY7654321",
      APNS_PRIVATE_KEY: generateApnsKey().pem,
      APNS_TOPIC: "im.example.app",
    });
    const directory = await createProviderDirectory(
      config,
      { transport: new FakeTransport().fetch, credentials: new MemoryCredentialCache(clock.now), now: clock.now },
      descriptors,
    );
    expect(built).toHaveLength(1);
    expect(directory.catalog()).toEqual([info]);
    expect(directory.named("third")).toEqual(info);
    const names = commandsOf(directory.catalog()).map((command) => [command.node, command.name]);
    expect(names).toContainEqual(["register-push-apns", "Register for Third push"]);
    expect(names).toContainEqual(["unregister-push-apns", "Unregister from Third push"]);
  });
});
