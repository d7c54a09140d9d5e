import { type CryptoKey, importPKCS8 } from "jose";
import { type AppConfig, ConfigError, DEFAULT_APP, type ProviderConfigReader, type ProviderRoute } from "../config";
import type { CredentialCache } from "../ports/credentials";
import type { ProviderInfo, PushProvider } from "../ports/provider";
import type { HttpTransport } from "../ports/transport";

/** What the providers share: the transport, the credential cache and the clock. */
export interface ProviderDependencies {
  readonly transport: HttpTransport;
  readonly credentials: CredentialCache;
  readonly now: () => number;
}

/** Builds a provider of one app over one delivery route (`direct`; `sns` with the AWS route). */
export type RouteFactory<C> = (settings: C, signingKey: CryptoKey, deps: ProviderDependencies) => PushProvider;

/**
 * One push provider as the gateway plugs it in (docs/architecture.md section 4.1): what clients call it,
 * where its settings are in an app's configuration, which variable names its key, how its key imports,
 * and its delivery routes. The registry (src/providers/registry.ts) lists one per provider.
 */
export interface ProviderDescriptor {
  readonly info: ProviderInfo;
  /** How it reads its settings from the default app's variables and from `APPS` entries. */
  readonly config: ProviderConfigReader;
  /** Builds the provider of `app`, or undefined when the app does not configure it. */
  create(app: AppConfig, deps: ProviderDependencies): Promise<PushProvider | undefined>;
}

/** How a descriptor reads its settings and key from an app, and the routes it can deliver over. */
export interface DescriptorParts<C> {
  readonly info: ProviderInfo;
  readonly config: ProviderConfigReader;
  /** Its settings in an app, if the app configures it. */
  readonly settings: (app: AppConfig) => C | undefined;
  readonly route: (settings: C) => ProviderRoute;
  /** The variable that names the route, for the error when a route is not built (`APNS_VIA`). */
  readonly routeVariable: string;
  readonly privateKey: (settings: C) => string;
  readonly keyAlgorithm: "ES256" | "RS256";
  /** The variable a key of the default app comes from (`APNS_PRIVATE_KEY`), and of an `APPS` entry. */
  readonly keyVariable: { readonly default: string; readonly apps: (appId: string) => string };
  readonly routes: Partial<Record<ProviderRoute, RouteFactory<C>>>;
}

async function importKey(pem: string, algorithm: "ES256" | "RS256", variable: string): Promise<CryptoKey> {
  try {
    return await importPKCS8(pem, algorithm);
  } catch {
    const expected = algorithm === "ES256" ? "an EC P-256 key (.p8)" : "an RSA key";
    throw new ConfigError(variable, `has a private key that does not import as ${expected}`);
  }
}

/**
 * A descriptor from its parts: the key is imported once per app at start-up, so that a key that does
 * not import stops start-up with a ConfigError naming its variable (docs/protocol.md section 8).
 */
export function describeProvider<C>(parts: DescriptorParts<C>): ProviderDescriptor {
  return {
    info: parts.info,
    config: parts.config,
    async create(app, deps) {
      const settings = parts.settings(app);
      if (settings === undefined) return undefined;
      const factory = parts.routes[parts.route(settings)];
      if (factory === undefined) throw new ConfigError(parts.routeVariable, "names a route that is not built yet");
      const variable = app.id === DEFAULT_APP ? parts.keyVariable.default : parts.keyVariable.apps(app.id);
      const signingKey = await importKey(parts.privateKey(settings), parts.keyAlgorithm, variable);
      return factory(settings, signingKey, deps);
    },
  };
}
