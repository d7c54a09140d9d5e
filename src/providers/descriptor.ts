import { type CryptoKey, importPKCS8 } from "jose";
import { type AppConfig, ConfigError, DEFAULT_APP, type ProviderConfigReader } from "../config";
import type { CredentialCache } from "../ports/credentials";
import type { ProviderInfo, PushProvider } from "../ports/provider";
import type { HttpTransport } from "../ports/transport";
import type { ApnsSnsConfig, FcmSnsConfig } from "./sns/settings";

/**
 * The SNS delivery route, as an entry that offers it supplies it (src/providers/sns/route.ts): kept out of
 * the providers' own imports so that an entry without it (the default Worker) does not carry it.
 */
export interface SnsRouteFactory {
  apns(settings: ApnsSnsConfig): PushProvider;
  fcm(settings: FcmSnsConfig): PushProvider;
}

/** What the providers share: the transport, the credential cache, the clock, and the SNS route if any. */
export interface ProviderDependencies {
  readonly transport: HttpTransport;
  readonly credentials: CredentialCache;
  readonly now: () => number;
  readonly sns?: SnsRouteFactory;
}

/** Builds a provider of one app delivered directly, with its imported key. */
export type DirectFactory<C> = (settings: C, signingKey: CryptoKey, deps: ProviderDependencies) => PushProvider;

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
export interface DescriptorParts<C, S> {
  readonly info: ProviderInfo;
  readonly config: ProviderConfigReader;
  /** Its settings in an app delivered directly, if the app configures it so. */
  readonly settings: (app: AppConfig) => C | undefined;
  /** Its settings in an app delivered through SNS, if the app configures it so. */
  readonly snsSettings: (app: AppConfig) => S | undefined;
  /** The variable that names the route, for the error when an entry lacks it (`APNS_VIA`). */
  readonly routeVariable: string;
  readonly privateKey: (settings: C) => string;
  readonly keyAlgorithm: "ES256" | "RS256";
  /** The variable a key of the default app comes from (`APNS_PRIVATE_KEY`), and of an `APPS` entry. */
  readonly keyVariable: { readonly default: string; readonly apps: (appId: string) => string };
  readonly direct: DirectFactory<C>;
  /** Its provider over the SNS route the entry supplies. */
  readonly sns: (settings: S, route: SnsRouteFactory) => PushProvider;
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
export function describeProvider<C, S>(parts: DescriptorParts<C, S>): ProviderDescriptor {
  return {
    info: parts.info,
    config: parts.config,
    async create(app, deps) {
      const routed = parts.snsSettings(app);
      if (routed !== undefined) {
        if (deps.sns === undefined)
          throw new ConfigError(
            parts.routeVariable,
            "is sns, but this entry has no SNS route (on Workers, deploy the `sns` environment: wrangler deploy --env sns)",
          );
        return parts.sns(routed, deps.sns);
      }
      const settings = parts.settings(app);
      if (settings === undefined) return undefined;
      const variable = app.id === DEFAULT_APP ? parts.keyVariable.default : parts.keyVariable.apps(app.id);
      const signingKey = await importKey(parts.privateKey(settings), parts.keyAlgorithm, variable);
      return parts.direct(settings, signingKey, deps);
    },
  };
}
