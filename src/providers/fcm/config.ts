import {
  type AppConfig,
  ConfigError,
  type ConfigSource,
  checkPkcs8,
  isRecord,
  jsonValue,
  optionalString,
  type ProviderConfigReader,
  type ProviderRoute,
  parseRoute,
  parseUrl,
  requireField,
} from "../../config";

/** The fields of a Google service-account JSON the gateway uses (docs/protocol.md 6.2). */
export interface ServiceAccount {
  readonly project_id: string;
  readonly client_email: string;
  readonly private_key: string;
  readonly token_uri: string;
}

export interface FcmAppConfig {
  readonly serviceAccount: ServiceAccount;
  readonly endpoint: string;
  readonly via: ProviderRoute;
}

/** Parses a service-account JSON, checking the fields the gateway uses. */
export function parseServiceAccount(value: unknown, variable: string): ServiceAccount {
  if (!isRecord(value)) throw new ConfigError(variable, "must be a service-account JSON object");
  const tokenUri = requireField(value, "token_uri", variable);
  return {
    project_id: requireField(value, "project_id", variable),
    client_email: requireField(value, "client_email", variable),
    private_key: checkPkcs8(requireField(value, "private_key", variable), variable),
    token_uri: parseUrl(tokenUri, variable),
  };
}

function shared(env: ConfigSource): { endpoint: string; via: ProviderRoute } {
  return {
    endpoint: parseUrl(optionalString(env, "FCM_ENDPOINT") ?? "https://fcm.googleapis.com", "FCM_ENDPOINT"),
    via: parseRoute(env, "FCM_VIA"),
  };
}

/**
 * Reads FCM settings (docs/protocol.md section 8): `FCM_SERVICE_ACCOUNT` (the JSON, or an object from
 * wrangler.toml), or an `APPS` entry's `fcm.serviceAccount` (an object or its JSON text).
 */
export const FCM_CONFIG: ProviderConfigReader = {
  id: "fcm",
  fromEnvironment(env): FcmAppConfig | undefined {
    const common = shared(env);
    const account = jsonValue(env, "FCM_SERVICE_ACCOUNT");
    if (account === undefined) return undefined;
    return { serviceAccount: parseServiceAccount(account, "FCM_SERVICE_ACCOUNT"), ...common };
  },
  fromAppsEntry(entry, appId, env): FcmAppConfig | undefined {
    if (entry.fcm === undefined) return undefined;
    if (!isRecord(entry.fcm)) throw new ConfigError("APPS", `${appId}.fcm is not an object`);
    let account = entry.fcm.serviceAccount;
    if (typeof account === "string") {
      try {
        account = JSON.parse(account);
      } catch {
        throw new ConfigError("APPS", `${appId}.fcm.serviceAccount is not valid JSON`);
      }
    }
    return { serviceAccount: parseServiceAccount(account, `APPS (${appId}.fcm.serviceAccount)`), ...shared(env) };
  },
};

/** The FCM settings of an app, as {@link FCM_CONFIG} read them. */
export function fcmSettings(app: AppConfig): FcmAppConfig | undefined {
  // Stored by FCM_CONFIG under its id: the one reader of this entry.
  return app.settings.get("fcm") as FcmAppConfig | undefined;
}
