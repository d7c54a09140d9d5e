import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SNSClient } from "@aws-sdk/client-sns";
import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  ARN_ATTRIBUTES,
  ARN_VARIABLES,
  createPlatformApplicationsHandler,
  MANAGED_PLATFORMS,
} from "../../../infra/aws/platform-applications/handler";
import { parseApplicationArn } from "../../../src/providers/sns/settings";
import { FakeSecretsManager } from "../../fakes/secrets-manager-server";
import { FakeSnsServer } from "../../fakes/sns-server";

const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const CREDENTIALS = { accessKeyId: "AKIDCUSTOMRESOURCE", secretAccessKey: "custom-resource-test-secret-key" };
const SECRET_ID = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:xmpp-push-gateway-staging/providers-AbCdEf`;
const NAME = "xmpp-push-gateway-staging";
const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/XmppPushGateway-staging/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0`;

/** An APNs .p8 key as an operator pastes it into the JSON secret: one line, `\n` escapes. */
const P8_ESCAPED =
  "-----BEGIN PRIVATE KEY-----\\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQgc2Fu\\ndGVzdA==\\n-----END PRIVATE KEY-----";
const SERVICE_ACCOUNT = {
  type: "service_account",
  project_id: "push-project",
  client_email: "push@push-project.iam.gserviceaccount.com",
  private_key: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
  token_uri: "https://oauth2.googleapis.com/token",
};
const FULL_SECRET = {
  SERVER_KEY: "a-server-key-of-more-than-thirty-two-characters",
  GATEWAY_TOKEN: "bridge-token",
  APNS_TEAM_ID: "TEAM123456",
  APNS_KEY_ID: "KEY1234567",
  APNS_PRIVATE_KEY: P8_ESCAPED,
  APNS_TOPIC: "im.example.app",
  FCM_SERVICE_ACCOUNT: JSON.stringify(SERVICE_ACCOUNT),
};

let sns: FakeSnsServer;
let secrets: FakeSecretsManager;
let cloudFormation: Server;
let responseUrl: string;
const responses: CloudFormationCustomResourceResponse[] = [];
const logs: string[] = [];
let handle: (event: CloudFormationCustomResourceEvent) => Promise<CloudFormationCustomResourceResponse>;

beforeAll(async () => {
  secrets = new FakeSecretsManager();
  await secrets.start();
  // CloudFormation's pre-signed S3 URL: takes the PUT of the response.
  cloudFormation = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.method === "PUT") responses.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      res.writeHead(req.method === "PUT" ? 200 : 405).end();
    });
  });
  await new Promise<void>((resolve) => cloudFormation.listen(0, "127.0.0.1", resolve));
  responseUrl = `http://127.0.0.1:${(cloudFormation.address() as AddressInfo).port}/cfn-response?X-Amz-Signature=abc`;
});

beforeEach(async () => {
  sns = new FakeSnsServer({ region: REGION, accountId: ACCOUNT, credentials: CREDENTIALS });
  await sns.start();
  secrets.secrets.clear();
  responses.length = 0;
  logs.length = 0;
  handle = createPlatformApplicationsHandler({
    sns: new SNSClient({ region: REGION, endpoint: sns.url, credentials: CREDENTIALS, maxAttempts: 1 }),
    secrets: new SecretsManagerClient({ region: REGION, endpoint: secrets.url, credentials: CREDENTIALS }),
    log: (line) => logs.push(line),
  });
});

afterEach(async () => {
  await sns.close();
});

afterAll(async () => {
  await secrets?.stop();
  await new Promise<void>((resolve) => cloudFormation?.close(() => resolve()));
});

function event(
  requestType: "Create" | "Update" | "Delete",
  properties: Partial<Record<"Voip" | "Revision" | "ApplicationName", string>> = {},
  physicalResourceId = NAME,
): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${NAME}-platform-applications`,
    ResponseURL: responseUrl,
    StackId: STACK_ID,
    RequestId: `request-${requestType}-${Math.random().toString(16).slice(2)}`,
    LogicalResourceId: "PlatformApplications",
    ResourceType: "Custom::SnsPlatformApplications",
    ResourceProperties: {
      ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${NAME}-platform-applications`,
      SecretId: SECRET_ID,
      ApplicationName: NAME,
      Voip: "false",
      Revision: "v1",
      ...properties,
    },
  };
  if (requestType === "Create") return { ...common, RequestType: "Create" };
  if (requestType === "Update")
    return {
      ...common,
      RequestType: "Update",
      PhysicalResourceId: physicalResourceId,
      OldResourceProperties: { ServiceToken: common.ServiceToken },
    };
  return { ...common, RequestType: "Delete", PhysicalResourceId: physicalResourceId };
}

function arn(platform: string): string {
  return `arn:aws:sns:${REGION}:${ACCOUNT}:app/${platform}/${NAME}`;
}

function putSecret(value: Record<string, string>): void {
  secrets.secrets.set(SECRET_ID, JSON.stringify(value));
}

describe("the platform-applications custom resource", () => {
  it("makes nothing and says so when the secret has no value yet", async () => {
    const answer = await handle(event("Create"));

    expect(answer.Status).toBe("SUCCESS");
    expect(responses).toEqual([answer]);
    expect(answer.PhysicalResourceId).toBe(NAME);
    expect(answer.Data?.Summary).toMatch(/^no platform applications: the secret holds no APNs or FCM credentials/);
    expect(answer.Data).toMatchObject({ ApnsVia: "", FcmVia: "" });
    for (const platform of MANAGED_PLATFORMS) expect(answer.Data?.[ARN_ATTRIBUTES[platform]]).toBe("");
    expect(sns.platformApplications()).toEqual([]);
    expect(logs.join("\n")).toContain("no platform applications");
  });

  it("makes nothing from a secret without provider credentials", async () => {
    putSecret({ SERVER_KEY: FULL_SECRET.SERVER_KEY, GATEWAY_TOKEN: "bridge-token" });

    const answer = await handle(event("Create"));

    expect(answer.Status).toBe("SUCCESS");
    expect(answer.Data?.Summary).toMatch(/^no platform applications/);
    expect(sns.requests.map((request) => request.action)).toEqual([]);
  });

  it("makes APNS, APNS_SANDBOX and GCM applications with token credentials from the secret", async () => {
    putSecret(FULL_SECRET);

    const answer = await handle(event("Create"));

    expect(answer.Status).toBe("SUCCESS");
    expect(answer.Data).toMatchObject({
      ApnsVia: "sns",
      FcmVia: "sns",
      ApnsApplicationArn: arn("APNS"),
      ApnsSandboxApplicationArn: arn("APNS_SANDBOX"),
      ApnsVoipApplicationArn: "",
      ApnsVoipSandboxApplicationArn: "",
      FcmApplicationArn: arn("GCM"),
    });
    const applications = new Map(sns.platformApplications().map((application) => [application.platform, application]));
    expect([...applications.keys()]).toEqual(["APNS", "APNS_SANDBOX", "GCM"]);
    for (const platform of ["APNS", "APNS_SANDBOX"] as const)
      expect(applications.get(platform)?.attributes).toEqual({
        PlatformCredential: P8_ESCAPED.replace(/\\n/g, "\n"),
        PlatformPrincipal: "KEY1234567",
        ApplePlatformTeamID: "TEAM123456",
        ApplePlatformBundleID: "im.example.app",
      });
    expect(JSON.parse(applications.get("GCM")?.attributes.PlatformCredential ?? "")).toEqual(SERVICE_ACCOUNT);
    expect(answer.Data?.Summary).toBe(
      `platform applications ${NAME}: APNS (created), APNS_SANDBOX (created), GCM (created)`,
    );
  });

  it("hands out ARNs the gateway's configuration accepts, each for its own variable", async () => {
    putSecret(FULL_SECRET);

    const answer = await handle(event("Create", { Voip: "true" }));

    for (const platform of MANAGED_PLATFORMS) {
      const value = answer.Data?.[ARN_ATTRIBUTES[platform]];
      expect(parseApplicationArn(value, ARN_VARIABLES[platform], platform)).toEqual({
        arn: value,
        region: REGION,
        platform,
      });
    }
  });

  it("makes the VoIP applications only when asked", async () => {
    putSecret(FULL_SECRET);

    await handle(event("Create", { Voip: "true" }));

    expect(sns.platformApplications().map((application) => application.platform)).toEqual([
      "APNS",
      "APNS_SANDBOX",
      "APNS_VOIP",
      "APNS_VOIP_SANDBOX",
      "GCM",
    ]);
  });

  it("gives existing applications a rotated key at an update, keeping their ARNs and endpoints", async () => {
    putSecret(FULL_SECRET);
    await handle(event("Create"));
    const endpoint = (await createEndpoint(arn("APNS"), "ab".repeat(32))) ?? "";
    putSecret({
      ...FULL_SECRET,
      APNS_KEY_ID: "KEY7654321",
      APNS_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\nNEW\n-----END PRIVATE KEY-----",
    });

    const answer = await handle(event("Update", { Revision: "v2" }));

    expect(answer.Status).toBe("SUCCESS");
    expect(answer.Data?.ApnsApplicationArn).toBe(arn("APNS"));
    expect(answer.Data?.Summary).toBe(
      `platform applications ${NAME}: APNS (updated), APNS_SANDBOX (updated), GCM (updated)`,
    );
    const apns = sns.platformApplications().find((application) => application.platform === "APNS");
    expect(apns?.attributes).toMatchObject({
      PlatformPrincipal: "KEY7654321",
      PlatformCredential: "-----BEGIN PRIVATE KEY-----\nNEW\n-----END PRIVATE KEY-----",
    });
    expect(sns.endpoints().map((known) => known.arn)).toEqual([endpoint]);
    expect(sns.requests.filter((request) => request.action === "CreatePlatformApplication")).toHaveLength(3);
    expect(sns.requests.filter((request) => request.action === "SetPlatformApplicationAttributes")).toHaveLength(3);
  });

  it("keeps an application the secret no longer names, but no longer hands its ARN to the gateway", async () => {
    putSecret(FULL_SECRET);
    await handle(event("Create"));
    const { FCM_SERVICE_ACCOUNT: _removed, ...withoutFcm } = FULL_SECRET;
    putSecret(withoutFcm);

    const answer = await handle(event("Update", { Revision: "v2" }));

    expect(answer.Data).toMatchObject({ FcmVia: "", FcmApplicationArn: "", ApnsVia: "sns" });
    expect(sns.platformApplications().map((application) => application.platform)).toContain("GCM");
    expect(sns.requests.some((request) => request.action === "DeletePlatformApplication")).toBe(false);
  });

  it("deletes every application of its name, with their endpoints, at a delete; a second delete succeeds", async () => {
    putSecret(FULL_SECRET);
    await handle(event("Create", { Voip: "true" }));
    await createEndpoint(arn("GCM"), "fcm-token-1");
    sns.createPlatformApplication("GCM", "another-stack");

    const first = await handle(event("Delete"));
    const second = await handle(event("Delete"));

    expect([first.Status, second.Status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(first.PhysicalResourceId).toBe(NAME);
    expect(sns.platformApplications().map((application) => application.name)).toEqual(["another-stack"]);
    expect(sns.endpoints()).toEqual([]);
  });

  it("fails the deploy naming the missing APNS_ variable, without a secret value in the reason", async () => {
    const { APNS_TOPIC: _topic, ...incomplete } = FULL_SECRET;
    putSecret(incomplete);

    const answer = await handle(event("Create"));

    expect(answer.Status).toBe("FAILED");
    expect(answer.Reason).toBe("SecretContentError: the secret has some APNS_ variables but not APNS_TOPIC");
    for (const value of Object.values(incomplete)) expect(answer.Reason).not.toContain(value);
    expect(sns.platformApplications()).toEqual([]);
  });

  it("fails the deploy when the secret is not a JSON object of strings", async () => {
    for (const text of ["not json", "[1,2]", JSON.stringify({ APNS_TEAM_ID: 7 })]) {
      secrets.secrets.set(SECRET_ID, text);
      const answer = await handle(event("Create"));
      expect(answer.Status).toBe("FAILED");
      expect(answer.Reason).toMatch(/^SecretContentError: the secret/);
    }
  });

  it("answers a failed create with a physical id whose rollback delete touches nothing", async () => {
    putSecret({ ...FULL_SECRET, FCM_SERVICE_ACCOUNT: "{not json" });
    sns.createPlatformApplication("APNS", NAME);

    const created = await handle(event("Create"));
    const rolledBack = await handle(event("Delete", {}, created.PhysicalResourceId));

    expect(created.Status).toBe("FAILED");
    expect(created.PhysicalResourceId).toMatch(/^failed-request-Create-/);
    expect(rolledBack.Status).toBe("SUCCESS");
    expect(sns.platformApplications().map((application) => application.arn)).toContain(arn("APNS"));
  });

  it("fails, and says why, when SNS refuses the credentials", async () => {
    putSecret(FULL_SECRET);
    sns.failNext(
      "CreatePlatformApplication",
      "InvalidParameter",
      400,
      "Invalid parameter: Attributes Reason: Platform credentials are invalid",
    );

    const answer = await handle(event("Create"));

    expect(answer.Status).toBe("FAILED");
    expect(answer.Reason).toContain("Platform credentials are invalid");
    expect(responses).toEqual([answer]);
  });
});

/** A platform endpoint made the way the gateway's SNS route makes one (the SDK against the fake). */
async function createEndpoint(applicationArn: string, token: string): Promise<string | undefined> {
  const { CreatePlatformEndpointCommand } = await import("@aws-sdk/client-sns");
  const client = new SNSClient({ region: REGION, endpoint: sns.url, credentials: CREDENTIALS, maxAttempts: 1 });
  const output = await client.send(
    new CreatePlatformEndpointCommand({ PlatformApplicationArn: applicationArn, Token: token }),
  );
  return output.EndpointArn;
}
