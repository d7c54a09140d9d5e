import {
  type AppConfig,
  ConfigError,
  type ConfigSource,
  checkPkcs8,
  optionalString,
  type ProviderConfigReader,
  type ProviderRoute,
  parseEnvironment,
  parseRoute,
  parseUrl,
  requireField,
} from "../../config";
import type { ApnsEnvironment } from "../../domain/registration";
import { type ApnsSnsConfig, apnsSnsFromAppsEntry, apnsSnsFromEnvironment, appsPart } from "../sns/settings";

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
  readonly via: "direct";
}

interface Shared {
  readonly endpoint: string;
  readonly sandboxEndpoint: string;
  readonly via: "direct";
}

/** What every app shares: Apple's base URLs (tests point them at a fake). */
function shared(env: ConfigSource): Shared {
  return {
    endpoint: parseUrl(optionalString(env, "APNS_ENDPOINT") ?? "https://api.push.apple.com", "APNS_ENDPOINT"),
    sandboxEndpoint: parseUrl(
      optionalString(env, "APNS_SANDBOX_ENDPOINT") ?? "https://api.sandbox.push.apple.com",
      "APNS_SANDBOX_ENDPOINT",
    ),
    via: "direct",
  };
}

/** The variables of the default app that configure APNs over SNS. */
const SNS_APNS_VARIABLES = [
  "SNS_APNS_APPLICATION_ARN",
  "SNS_APNS_SANDBOX_APPLICATION_ARN",
  "SNS_APNS_VOIP_APPLICATION_ARN",
  "SNS_APNS_VOIP_SANDBOX_APPLICATION_ARN",
] as const;

/**
 * Reads APNs settings (docs/protocol.md section 8): `APNS_TEAM_ID`, `APNS_KEY_ID`, `APNS_PRIVATE_KEY` and
 * `APNS_TOPIC` together (one set without the others names the missing one), `APNS_ENVIRONMENT`, or an
 * `APPS` entry's `apns` object.
 */
export const APNS_CONFIG: ProviderConfigReader = {
  id: "apns",
  fromEnvironment(env): ApnsAppConfig | ApnsSnsConfig | undefined {
    const route: ProviderRoute = parseRoute(env, "APNS_VIA");
    if (route === "sns") return apnsSnsFromEnvironment(env, parseEnvironment(env.APNS_ENVIRONMENT, "APNS_ENVIRONMENT"));
    for (const name of SNS_APNS_VARIABLES)
      if (optionalString(env, name) !== undefined) throw new ConfigError(name, "is set, but APNS_VIA is not sns");
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
  fromAppsEntry(entry, appId, env): ApnsAppConfig | ApnsSnsConfig | undefined {
    const apns = appsPart(entry, "apns", appId);
    if (apns === undefined) return undefined;
    const variable = `APPS (${appId}.apns)`;
    const environment = parseEnvironment(apns.environment, variable);
    if (parseRoute(env, "APNS_VIA") === "sns") return apnsSnsFromAppsEntry(apns, appId, environment);
    return {
      teamId: requireField(apns, "teamId", variable),
      keyId: requireField(apns, "keyId", variable),
      privateKey: checkPkcs8(requireField(apns, "privateKey", variable), variable),
      topic: requireField(apns, "topic", variable),
      environment,
      ...shared(env),
    };
  },
};

function storedApns(app: AppConfig): ApnsAppConfig | ApnsSnsConfig | undefined {
  // Stored by APNS_CONFIG under its id: the one reader of this entry.
  return app.settings.get("apns") as ApnsAppConfig | ApnsSnsConfig | undefined;
}

/** The APNs settings of an app delivered directly, as {@link APNS_CONFIG} read them. */
export function apnsSettings(app: AppConfig): ApnsAppConfig | undefined {
  const settings = storedApns(app);
  return settings?.via === "direct" ? settings : undefined;
}

/** The APNs settings of an app delivered through SNS (`APNS_VIA=sns`). */
export function apnsSnsSettings(app: AppConfig): ApnsSnsConfig | undefined {
  const settings = storedApns(app);
  return settings?.via === "sns" ? settings : undefined;
}
