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
import { appsPart, type FcmSnsConfig, fcmSnsConfig } from "../sns/settings";

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
  readonly via: "direct";
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

function shared(env: ConfigSource): { endpoint: string; via: "direct" } {
  return {
    endpoint: parseUrl(optionalString(env, "FCM_ENDPOINT") ?? "https://fcm.googleapis.com", "FCM_ENDPOINT"),
    via: "direct",
  };
}

/**
 * Reads FCM settings (docs/protocol.md section 8): `FCM_SERVICE_ACCOUNT` (the JSON, or an object from
 * wrangler.toml), or an `APPS` entry's `fcm.serviceAccount` (an object or its JSON text).
 */
export const FCM_CONFIG: ProviderConfigReader = {
  id: "fcm",
  fromEnvironment(env): FcmAppConfig | FcmSnsConfig | undefined {
    const route: ProviderRoute = parseRoute(env, "FCM_VIA");
    if (route === "sns") return fcmSnsConfig(env.SNS_FCM_APPLICATION_ARN, "SNS_FCM_APPLICATION_ARN");
    if (optionalString(env, "SNS_FCM_APPLICATION_ARN") !== undefined)
      throw new ConfigError("SNS_FCM_APPLICATION_ARN", "is set, but FCM_VIA is not sns");
    const common = shared(env);
    const account = jsonValue(env, "FCM_SERVICE_ACCOUNT");
    if (account === undefined) return undefined;
    return { serviceAccount: parseServiceAccount(account, "FCM_SERVICE_ACCOUNT"), ...common };
  },
  fromAppsEntry(entry, appId, env): FcmAppConfig | FcmSnsConfig | undefined {
    const fcm = appsPart(entry, "fcm", appId);
    if (fcm === undefined) return undefined;
    if (parseRoute(env, "FCM_VIA") === "sns")
      return fcmSnsConfig(fcm.snsApplicationArn, `APPS (${appId}.fcm.snsApplicationArn)`);
    let account = fcm.serviceAccount;
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

function storedFcm(app: AppConfig): FcmAppConfig | FcmSnsConfig | undefined {
  // Stored by FCM_CONFIG under its id: the one reader of this entry.
  return app.settings.get("fcm") as FcmAppConfig | FcmSnsConfig | undefined;
}

/** The FCM settings of an app delivered directly, as {@link FCM_CONFIG} read them. */
export function fcmSettings(app: AppConfig): FcmAppConfig | undefined {
  const settings = storedFcm(app);
  return settings?.via === "direct" ? settings : undefined;
}

/** The FCM settings of an app delivered through SNS (`FCM_VIA=sns`). */
export function fcmSnsSettings(app: AppConfig): FcmSnsConfig | undefined {
  const settings = storedFcm(app);
  return settings?.via === "sns" ? settings : undefined;
}
