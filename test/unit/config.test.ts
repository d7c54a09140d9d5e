import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config";
import { apnsSettings, apnsSnsSettings } from "../../src/providers/apns/config";
import { fcmSettings, fcmSnsSettings } from "../../src/providers/fcm/config";
import { parseGatewayConfig } from "../../src/providers/registry";

const ecPem = generateKeyPairSync("ec", { namedCurve: "P-256" })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString();
const rsaPem = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString();
const APNS = {
  APNS_TEAM_ID: "TEAM123456",
  APNS_KEY_ID: "KEY1234567",
  APNS_PRIVATE_KEY: ecPem,
  APNS_TOPIC: "im.example",
};
const SNS_APNS = {
  APNS_VIA: "sns",
  SNS_APNS_APPLICATION_ARN: "arn:aws:sns:eu-west-1:123456789012:app/APNS/im.example",
};
const ACCOUNT = {
  project_id: "p",
  client_email: "a@p.iam.gserviceaccount.com",
  private_key: rsaPem,
  token_uri: "https://oauth2.googleapis.com/token",
};

function errorOf(env: Record<string, unknown>): string | undefined {
  try {
    parseGatewayConfig(env);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.variable;
    throw error;
  }
}

describe("parseConfig (docs/protocol.md 8)", () => {
  it("has working defaults and offers no provider when none is set", () => {
    const config = parseGatewayConfig({});
    expect(config.pushJid).toBe("push.localhost");
    expect(config.maxBodyBytes).toBe(65536);
    expect(config.apps.get("default")).toEqual({ id: "default", settings: new Map() });
    expect(config.gatewayToken).toBeUndefined();
  });

  it("reads the single-app APNs and FCM variables into the default app", () => {
    const config = parseGatewayConfig({
      ...APNS,
      APNS_ENVIRONMENT: "sandbox",
      FCM_SERVICE_ACCOUNT: JSON.stringify(ACCOUNT),
    });
    const app = config.apps.get("default");
    expect(app && apnsSettings(app)).toMatchObject({
      teamId: "TEAM123456",
      topic: "im.example",
      environment: "sandbox",
      endpoint: "https://api.push.apple.com",
    });
    expect(app && fcmSettings(app)?.serviceAccount.project_id).toBe("p");
  });

  it("accepts the service account as an object (wrangler.toml vars) and a PEM with escaped newlines", () => {
    const config = parseGatewayConfig({
      FCM_SERVICE_ACCOUNT: { ...ACCOUNT, private_key: rsaPem.replace(/\n/g, "\\n") },
    });
    const app = config.apps.get("default");
    expect(app && fcmSettings(app)?.serviceAccount.private_key).toContain("\n");
  });

  it("reads APPS entries beside the default app", () => {
    const config = parseGatewayConfig({
      APPS: JSON.stringify([
        {
          id: "im.example",
          apns: { teamId: "T", keyId: "K", privateKey: ecPem, topic: "im.example" },
          fcm: { serviceAccount: ACCOUNT },
        },
      ]),
    });
    expect([...config.apps.keys()]).toEqual(["default", "im.example"]);
  });

  it.each([
    ["PUSH_JID", { PUSH_JID: "not a jid" }],
    ["APNS_TOPIC", { ...APNS, APNS_TOPIC: undefined }],
    ["APNS_PRIVATE_KEY", { ...APNS, APNS_PRIVATE_KEY: "garbage" }],
    ["APNS_ENVIRONMENT", { ...APNS, APNS_ENVIRONMENT: "staging" }],
    ["APNS_ENDPOINT", { APNS_ENDPOINT: "ftp://x" }],
    ["FCM_SERVICE_ACCOUNT", { FCM_SERVICE_ACCOUNT: "{not json" }],
    ["FCM_SERVICE_ACCOUNT", { FCM_SERVICE_ACCOUNT: JSON.stringify({ ...ACCOUNT, private_key: undefined }) }],
    ["FCM_SERVICE_ACCOUNT", { FCM_SERVICE_ACCOUNT: JSON.stringify({ ...ACCOUNT, token_uri: "nope" }) }],
    ["APPS", { APPS: "{}" }],
    ["APPS", { APPS: JSON.stringify([{ id: "a" }, { id: "a" }]) }],
    ["APPS", { APPS: JSON.stringify([{ id: "bad id" }]) }],
    ["SNS_APNS_APPLICATION_ARN", { APNS_VIA: "sns" }],
    [
      "SNS_APNS_APPLICATION_ARN",
      { APNS_VIA: "sns", SNS_APNS_APPLICATION_ARN: "arn:aws:sns:eu-west-1:123456789012:app/APNS_SANDBOX/im.example" },
    ],
    [
      "SNS_APNS_APPLICATION_ARN",
      { APNS_VIA: "sns", SNS_APNS_APPLICATION_ARN: "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/x/y" },
    ],
    ["SNS_APNS_SANDBOX_APPLICATION_ARN", { APNS_VIA: "sns", APNS_ENVIRONMENT: "sandbox" }],
    [
      "SNS_APNS_VOIP_APPLICATION_ARN",
      { ...SNS_APNS, SNS_APNS_VOIP_APPLICATION_ARN: "arn:aws:sns:eu-west-1:123456789012:app/APNS/im.example" },
    ],
    ["SNS_APNS_APPLICATION_ARN", { SNS_APNS_APPLICATION_ARN: SNS_APNS.SNS_APNS_APPLICATION_ARN }],
    ["SNS_FCM_APPLICATION_ARN", { FCM_VIA: "sns" }],
    [
      "SNS_FCM_APPLICATION_ARN",
      { FCM_VIA: "sns", SNS_FCM_APPLICATION_ARN: "arn:aws:sns:eu-west-1:123456789012:app/APNS/im.example" },
    ],
    ["SNS_FCM_APPLICATION_ARN", { SNS_FCM_APPLICATION_ARN: "arn:aws:sns:eu-west-1:123456789012:app/GCM/im.example" }],
    ["APPS (a.apns.snsApplicationArn)", { ...SNS_APNS, APPS: JSON.stringify([{ id: "a", apns: { topic: "im.a" } }]) }],
    ["APNS_VIA", { APNS_VIA: "carrier-pigeon" }],
    ["FCM_VIA", { FCM_VIA: "carrier-pigeon" }],
    ["NODE_MAC_KEY", { NODE_MAC_KEY: "short" }],
    ["MAX_BODY_BYTES", { MAX_BODY_BYTES: "lots" }],
    ["MAX_BODY_BYTES", { MAX_BODY_BYTES: "262145" }],
    ["SERVER_KEY", { SERVER_KEY: "too-short" }],
    ["REST_API_KEYS", { REST_API_KEYS: JSON.stringify({ default: "short" }) }],
    ["REST_API_KEYS", { REST_API_KEYS: JSON.stringify({ "no.such.app": "k".repeat(40) }) }],
    ["MAX_REGISTRATIONS_PER_ACCOUNT", { MAX_REGISTRATIONS_PER_ACCOUNT: "0" }],
    ["RATE_LIMIT_PER_MINUTE", { RATE_LIMIT_PER_MINUTE: "-1" }],
    ["TOMBSTONE_TTL_SECONDS", { TOMBSTONE_TTL_SECONDS: "179" }],
    ["TRUSTED_PROXIES", { TRUSTED_PROXIES: "proxy.example" }],
  ])("stops with an error naming %s", (variable, env) => {
    expect(errorOf(env)).toBe(variable);
  });

  it("reads the SNS route's platform applications, their region and platform (docs/protocol.md 6.3)", () => {
    const config = parseGatewayConfig({
      ...SNS_APNS,
      SNS_APNS_VOIP_APPLICATION_ARN: "arn:aws:sns:eu-west-1:123456789012:app/APNS_VOIP/im.example.voip",
      APNS_TOPIC: "im.example",
      FCM_VIA: "sns",
      SNS_FCM_APPLICATION_ARN: "arn:aws:sns:us-east-1:123456789012:app/GCM/im.example",
    });
    const app = config.apps.get("default");
    expect(app && apnsSettings(app)).toBeUndefined();
    expect(app && apnsSnsSettings(app)).toEqual({
      via: "sns",
      topic: "im.example",
      environment: "production",
      applications: {
        production: { arn: SNS_APNS.SNS_APNS_APPLICATION_ARN, region: "eu-west-1", platform: "APNS" },
        voip: {
          arn: "arn:aws:sns:eu-west-1:123456789012:app/APNS_VOIP/im.example.voip",
          region: "eu-west-1",
          platform: "APNS_VOIP",
        },
      },
    });
    expect(app && fcmSnsSettings(app)?.application.region).toBe("us-east-1");
  });
});
