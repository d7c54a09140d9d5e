import type { GatewayConfig } from "../config";
import type { ProviderId } from "../domain/registration";
import type { ProviderDirectory, ProviderInfo, PushProvider } from "../ports/provider";
import type { ProviderDependencies, ProviderDescriptor } from "./descriptor";
import { PROVIDERS } from "./registry";

export type { ProviderDependencies } from "./descriptor";

/** The directory's view of a set of descriptors: the catalog, and a provider by any name clients use. */
export function providerCatalog(descriptors: readonly ProviderDescriptor[] = PROVIDERS): {
  catalog: readonly ProviderInfo[];
  named: (name: string) => ProviderInfo | undefined;
} {
  const catalog = descriptors.map((descriptor) => descriptor.info);
  const byName = new Map<string, ProviderInfo>();
  for (const info of catalog) for (const name of [info.id, ...info.names]) byName.set(name, info);
  return { catalog, named: (name) => byName.get(name) };
}

/**
 * Builds every configured provider of every app from the registry's descriptors, importing every
 * private key once, so that a key that does not import stops start-up with a ConfigError naming its
 * variable (docs/protocol.md section 8). Apps that configure no provider still exist.
 * @see https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns
 * @see https://firebase.google.com/docs/cloud-messaging/auth-server
 */
export async function createProviderDirectory(
  config: GatewayConfig,
  deps: ProviderDependencies,
  descriptors: readonly ProviderDescriptor[] = PROVIDERS,
): Promise<ProviderDirectory> {
  const byApp = new Map<string, ReadonlyMap<ProviderId, PushProvider>>();
  for (const app of config.apps.values()) {
    const providers = new Map<ProviderId, PushProvider>();
    for (const descriptor of descriptors) {
      const provider = await descriptor.create(app, deps);
      if (provider !== undefined) providers.set(descriptor.info.id, provider);
    }
    byApp.set(app.id, providers);
  }
  const offered = [...new Set([...byApp.values()].flatMap((providers) => [...providers.keys()]))].sort();
  const { catalog, named } = providerCatalog(descriptors);
  return {
    get: (app, provider) => byApp.get(app)?.get(provider),
    offered: () => offered,
    hasApp: (app) => byApp.has(app),
    catalog: () => catalog,
    named,
  };
}
