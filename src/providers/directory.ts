import { type CryptoKey, importPKCS8 } from "jose";
import { type AppConfig, ConfigError, DEFAULT_APP, type GatewayConfig } from "../config";
import type { ProviderId } from "../domain/registration";
import type { CredentialCache } from "../ports/credentials";
import type { ProviderDirectory, PushProvider } from "../ports/provider";
import type { HttpTransport } from "../ports/transport";
import { ApnsProvider } from "./apns/provider";
import { FcmProvider } from "./fcm/provider";

/** What the providers share: the transport, the credential cache and the clock. */
export interface ProviderDependencies {
  readonly transport: HttpTransport;
  readonly credentials: CredentialCache;
  readonly now: () => number;
}

/** The variable a key came from, as docs/protocol.md section 8 names it, for the error that stops start-up. */
function keyVariable(appId: string, provider: ProviderId): string {
  if (appId === DEFAULT_APP) return provider === "apns" ? "APNS_PRIVATE_KEY" : "FCM_SERVICE_ACCOUNT";
  return provider === "apns" ? `APPS (${appId}.apns)` : `APPS (${appId}.fcm.serviceAccount)`;
}

async function importKey(pem: string, algorithm: "ES256" | "RS256", variable: string): Promise<CryptoKey> {
  try {
    return await importPKCS8(pem, algorithm);
  } catch {
    const expected = algorithm === "ES256" ? "an EC P-256 key (.p8)" : "an RSA key";
    throw new ConfigError(variable, `has a private key that does not import as ${expected}`);
  }
}

async function buildAppProviders(
  app: AppConfig,
  deps: ProviderDependencies,
): Promise<ReadonlyMap<ProviderId, PushProvider>> {
  const providers = new Map<ProviderId, PushProvider>();
  if (app.apns) {
    const variable = keyVariable(app.id, "apns");
    if (app.apns.via !== "direct") throw new ConfigError("APNS_VIA", "names a route that is not built yet");
    const signingKey = await importKey(app.apns.privateKey, "ES256", variable);
    providers.set("apns", new ApnsProvider({ app: app.apns, signingKey, ...deps }));
  }
  if (app.fcm) {
    const variable = keyVariable(app.id, "fcm");
    if (app.fcm.via !== "direct") throw new ConfigError("FCM_VIA", "names a route that is not built yet");
    const signingKey = await importKey(app.fcm.serviceAccount.private_key, "RS256", variable);
    providers.set("fcm", new FcmProvider({ app: app.fcm, signingKey, ...deps }));
  }
  return providers;
}

/**
 * Builds one APNs and one FCM provider per configured app, importing every private key once, so
 * that a key that does not import stops start-up with a {@link ConfigError} naming its variable
 * (docs/protocol.md section 8). Apps that configure neither provider still exist.
 * @see https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns
 * @see https://firebase.google.com/docs/cloud-messaging/auth-server
 */
export async function createProviderDirectory(
  config: GatewayConfig,
  deps: ProviderDependencies,
): Promise<ProviderDirectory> {
  const byApp = new Map<string, ReadonlyMap<ProviderId, PushProvider>>();
  for (const app of config.apps.values()) byApp.set(app.id, await buildAppProviders(app, deps));
  const offered = [...new Set([...byApp.values()].flatMap((providers) => [...providers.keys()]))];
  return {
    get: (app, provider) => byApp.get(app)?.get(provider),
    offered: () => offered,
    hasApp: (app) => byApp.has(app),
  };
}
