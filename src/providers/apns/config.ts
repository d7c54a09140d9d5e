import {
  type AppConfig,
  ConfigError,
  type ConfigSource,
  checkPkcs8,
  isRecord,
  optionalString,
  type ProviderConfigReader,
  type ProviderRoute,
  parseEnvironment,
  parseRoute,
  parseUrl,
  requireField,
} from "../../config";
import type { ApnsEnvironment } from "../../domain/registration";

/** APNs token authentication of one app (docs/protocol.md 6.1). */
export interface ApnsAppConfig {
  readonly teamId: string;
  readonly keyId: string;
  /** The .p8 key, PKCS #8 PEM. */
  readonly privateKey: string;
  /** The app's bundle id; VoIP pushes go to `{topic}.voip`. */
  readonly topic: string;
  readonly environment: ApnsEnvironment;
  readonly endpoint: string;
  readonly sandboxEndpoint: string;
  readonly via: ProviderRoute;
}

interface Shared {
  readonly endpoint: string;
  readonly sandboxEndpoint: string;
  readonly via: ProviderRoute;
}

/** What every app shares: Apple's base URLs (tests point them at a fake) and the delivery route. */
function shared(env: ConfigSource): Shared {
  return {
    endpoint: parseUrl(optionalString(env, "APNS_ENDPOINT") ?? "https://api.push.apple.com", "APNS_ENDPOINT"),
    sandboxEndpoint: parseUrl(
      optionalString(env, "APNS_SANDBOX_ENDPOINT") ?? "https://api.sandbox.push.apple.com",
      "APNS_SANDBOX_ENDPOINT",
    ),
    via: parseRoute(env, "APNS_VIA"),
  };
}

/**
 * Reads APNs settings (docs/protocol.md section 8): `APNS_TEAM_ID`, `APNS_KEY_ID`, `APNS_PRIVATE_KEY` and
 * `APNS_TOPIC` together (one set without the others names the missing one), `APNS_ENVIRONMENT`, or an
 * `APPS` entry's `apns` object.
 */
export const APNS_CONFIG: ProviderConfigReader = {
  id: "apns",
  fromEnvironment(env): ApnsAppConfig | undefined {
    const common = shared(env);
    const names = {
      APNS_TEAM_ID: optionalString(env, "APNS_TEAM_ID"),
      APNS_KEY_ID: optionalString(env, "APNS_KEY_ID"),
      APNS_PRIVATE_KEY: optionalString(env, "APNS_PRIVATE_KEY"),
      APNS_TOPIC: optionalString(env, "APNS_TOPIC"),
    };
    if (Object.values(names).every((value) => value === undefined)) return undefined;
    for (const [name, value] of Object.entries(names))
      if (value === undefined) throw new ConfigError(name, "is missing (the other APNS_ variables are set)");
    return {
      teamId: names.APNS_TEAM_ID ?? "",
      keyId: names.APNS_KEY_ID ?? "",
      privateKey: checkPkcs8(names.APNS_PRIVATE_KEY ?? "", "APNS_PRIVATE_KEY"),
      topic: names.APNS_TOPIC ?? "",
      environment: parseEnvironment(env.APNS_ENVIRONMENT, "APNS_ENVIRONMENT"),
      ...common,
    };
  },
  fromAppsEntry(entry, appId, env): ApnsAppConfig | undefined {
    if (entry.apns === undefined) return undefined;
    if (!isRecord(entry.apns)) throw new ConfigError("APPS", `${appId}.apns is not an object`);
    const variable = `APPS (${appId}.apns)`;
    return {
      teamId: requireField(entry.apns, "teamId", variable),
      keyId: requireField(entry.apns, "keyId", variable),
      privateKey: checkPkcs8(requireField(entry.apns, "privateKey", variable), variable),
      topic: requireField(entry.apns, "topic", variable),
      environment: parseEnvironment(entry.apns.environment, variable),
      ...shared(env),
    };
  },
};

/** The APNs settings of an app, as {@link APNS_CONFIG} read them. */
export function apnsSettings(app: AppConfig): ApnsAppConfig | undefined {
  // Stored by APNS_CONFIG under its id: the one reader of this entry.
  return app.settings.get("apns") as ApnsAppConfig | undefined;
}
