import { describeProvider } from "../descriptor";
import type { ApnsSnsConfig } from "../sns/settings";
import { APNS_CONFIG, type ApnsAppConfig, apnsSettings, apnsSnsSettings } from "./config";
import { ApnsProvider } from "./provider";

/**
 * APNs (docs/protocol.md section 6.1): token authentication with the app's .p8 key, delivered
 * directly over HTTP/2. Siskin looks for the feature `tigase:messenger:apns:1`.
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 */
export const APNS = describeProvider<ApnsAppConfig, ApnsSnsConfig>({
  info: {
    id: "apns",
    title: "APNs",
    feature: "tigase:messenger:apns:1",
    names: ["apns", "tigase:messenger:apns:1"],
    // The APNs body carries the account (Siskin picks the key that opens the push by it): kept in clear.
    hashesP2Accounts: false,
  },
  config: APNS_CONFIG,
  settings: apnsSettings,
  snsSettings: apnsSnsSettings,
  routeVariable: "APNS_VIA",
  privateKey: (settings) => settings.privateKey,
  keyAlgorithm: "ES256",
  keyVariable: { default: "APNS_PRIVATE_KEY", apps: (appId) => `APPS (${appId}.apns)` },
  direct: (app, signingKey, deps) => new ApnsProvider({ app, signingKey, ...deps }),
  sns: (settings, route) => route.apns(settings),
});
