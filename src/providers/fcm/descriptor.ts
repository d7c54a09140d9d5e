import { describeProvider } from "../descriptor";
import type { FcmSnsConfig } from "../sns/settings";
import { FCM_CONFIG, type FcmAppConfig, fcmSettings, fcmSnsSettings } from "./config";
import { FcmProvider } from "./provider";

/**
 * FCM HTTP v1 (docs/protocol.md section 6.2) with a service account. No public Tigase feature for FCM
 * exists, so its feature is this project's own; `fcm-xmpp-api` and `fcm-http-v1` are accepted names.
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
 */
export const FCM = describeProvider<FcmAppConfig, FcmSnsConfig>({
  info: {
    id: "fcm",
    title: "FCM",
    feature: "tigase:messenger:fcm:1",
    names: ["fcm", "fcm-xmpp-api", "fcm-http-v1", "tigase:messenger:fcm:1"],
    hashesP2Accounts: true,
  },
  config: FCM_CONFIG,
  settings: fcmSettings,
  snsSettings: fcmSnsSettings,
  routeVariable: "FCM_VIA",
  privateKey: (settings) => settings.serviceAccount.private_key,
  keyAlgorithm: "RS256",
  keyVariable: { default: "FCM_SERVICE_ACCOUNT", apps: (appId) => `APPS (${appId}.fcm.serviceAccount)` },
  direct: (app, signingKey, deps) => new FcmProvider({ app, signingKey, ...deps }),
  sns: (settings, route) => route.fcm(settings),
});
