import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import cdkNag from "cdk-nag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGatewayApp, ENVIRONMENT_NAMES, type EnvironmentName, stackName } from "../../../infra/aws/app";
import { buildPlatformApplicationsCode, REPO_ROOT } from "../../../infra/aws/assets";
import {
  APPLICATION_ACTIONS,
  DURATION_ALARM_MS,
  ENDPOINT_ACTIONS,
  type GatewayStack,
  MANAGEMENT_ACTIONS,
  PROVIDER_LATENCY_ALARM_MS,
  STORE_ACTIONS,
} from "../../../infra/aws/gateway-stack";
import { SUPPRESSIONS } from "../../../infra/aws/nag";
import { ARN_ATTRIBUTES, ARN_VARIABLES, MANAGED_PLATFORMS } from "../../../infra/aws/platform-applications/platforms";
import { EXPIRES_AT_ATTRIBUTE } from "../../../src/store/dynamodb";

const { AwsSolutionsChecks } = cdkNag;

let dir: string;
let app: App;
let stacks: Record<EnvironmentName, GatewayStack>;
const templates = {} as Record<EnvironmentName, Template>;

/** The ARN of one of the stack's platform applications or endpoint patterns, as CloudFormation joins it. */
function snsArn(resource: string): unknown {
  return {
    "Fn::Join": [
      "",
      [
        "arn:",
        { Ref: "AWS::Partition" },
        ":sns:",
        { Ref: "AWS::Region" },
        ":",
        { Ref: "AWS::AccountId" },
        `:${resource}`,
      ],
    ],
  };
}

/** A `Ref` or `Fn::GetAtt` of the resource whose logical id is `prefix` and CDK's 8-digit hash. */
function ref(prefix: string): unknown {
  return { Ref: expect.stringMatching(new RegExp(`^${prefix}[0-9A-F]{8}$`)) };
}
function arnOf(prefix: string, attribute = "Arn"): unknown {
  return { "Fn::GetAtt": [expect.stringMatching(new RegExp(`^${prefix}[0-9A-F]{8}$`)), attribute] };
}

function only<T>(values: Record<string, T>): [string, T] {
  const entries = Object.entries(values);
  expect(entries).toHaveLength(1);
  return entries[0] as [string, T];
}

interface Statement {
  readonly Sid?: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
}

/** The statements of the inline policy attached to the role whose logical id starts with `rolePrefix`. */
function policyStatements(template: Template, rolePrefix: string): Statement[] {
  const policies = template.findResources("AWS::IAM::Policy");
  const matching = Object.values(policies).filter((policy) =>
    (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref.startsWith(rolePrefix)),
  );
  expect(matching).toHaveLength(1);
  return (matching[0]?.Properties.PolicyDocument.Statement ?? []) as Statement[];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aws-stack-"));
  // The gateway's own bundle is tested elsewhere (test/e2e/lambda-bundle.test.ts); the stack needs a folder.
  const gatewayCode = join(dir, "gateway");
  await mkdir(gatewayCode);
  await writeFile(join(gatewayCode, "index.mjs"), "export const handler = async () => ({ statusCode: 200 });\n");
  const platformApplicationsCode = await buildPlatformApplicationsCode(join(dir, "platform-applications"));
  ({ app, stacks } = createGatewayApp({ gatewayCode, platformApplicationsCode, outdir: join(dir, "cdk.out") }));
  for (const environment of ENVIRONMENT_NAMES) templates[environment] = Template.fromStack(stacks[environment]);
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the AWS CDK app (infra/aws)", () => {
  it("has one stack per environment, environment-agnostic, synthesized offline", () => {
    expect(ENVIRONMENT_NAMES).toEqual(["staging", "production"]);
    expect(app.node.children.filter((child) => Stack.isStack(child)).map((child) => child.node.id)).toEqual([
      "XmppPushGateway-staging",
      "XmppPushGateway-production",
    ]);
    for (const environment of ENVIRONMENT_NAMES) expect(stacks[environment].stackName).toBe(stackName(environment));
  });

  it.each(ENVIRONMENT_NAMES)("%s: runs the bundle on nodejs22.x, arm64, behind a Function URL", (environment) => {
    const template = templates[environment];
    template.hasResourceProperties("AWS::Lambda::Function", {
      FunctionName: `xmpp-push-gateway-${environment}`,
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      Handler: "index.handler",
      Timeout: 30,
      MemorySize: 512,
      Code: { S3Bucket: Match.anyValue(), S3Key: Match.stringLikeRegexp("^[0-9a-f]{64}\\.zip$") },
    });
    // The gateway checks the bridge's bearer token itself (docs/security.md): no IAM auth on the URL.
    template.hasResourceProperties("AWS::Lambda::Url", {
      AuthType: "NONE",
      TargetFunctionArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^Function[0-9A-F]{8}$"), "Arn"] },
    });
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunctionUrl",
      Principal: "*",
      FunctionUrlAuthType: "NONE",
    });
  });

  it.each(ENVIRONMENT_NAMES)(
    "%s: hands the gateway its variables (docs/protocol.md section 8)",
    async (environment) => {
      const [, fn] = only(
        templates[environment].findResources("AWS::Lambda::Function", {
          Properties: { FunctionName: `xmpp-push-gateway-${environment}` },
        }),
      );
      const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
      const arnVariables = Object.fromEntries(
        MANAGED_PLATFORMS.map((platform) => [
          ARN_VARIABLES[platform],
          { "Fn::GetAtt": ["PlatformApplications", ARN_ATTRIBUTES[platform]] },
        ]),
      );
      expect(variables).toEqual({
        PUSH_JID: environment === "staging" ? "push-staging.example.net" : "push.example.net",
        REGISTRATIONS_TABLE: ref("Registrations"),
        PROVIDER_SECRET_ID: ref("ProviderSecret"),
        PROVIDER_SECRET_REVISION: "none",
        APNS_VIA: { "Fn::GetAtt": ["PlatformApplications", "ApnsVia"] },
        FCM_VIA: { "Fn::GetAtt": ["PlatformApplications", "FcmVia"] },
        ...arnVariables,
      });
      const protocol = await readFile(join(REPO_ROOT, "docs/protocol.md"), "utf8");
      for (const name of Object.keys(variables))
        if (name !== "PROVIDER_SECRET_REVISION") expect(protocol, name).toContain(`\`${name}\``);
    },
  );

  it.each(ENVIRONMENT_NAMES)(
    "%s: keeps registrations in an on-demand table keyed by pk, TTL on expiresAt",
    (environment) => {
      templates[environment].hasResourceProperties("AWS::DynamoDB::Table", {
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
        TimeToLiveSpecification: { AttributeName: EXPIRES_AT_ATTRIBUTE, Enabled: true },
      });
      expect(EXPIRES_AT_ATTRIBUTE).toBe("expiresAt");
    },
  );

  it("turns point-in-time recovery on, and keeps the table, in production only", () => {
    const staging = only(templates.staging.findResources("AWS::DynamoDB::Table"))[1];
    const production = only(templates.production.findResources("AWS::DynamoDB::Table"))[1];
    expect(staging.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: false });
    expect(staging.DeletionPolicy).toBe("Delete");
    expect(staging.Properties.DeletionProtectionEnabled).toBe(false);
    expect(production.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(production.DeletionPolicy).toBe("Retain");
    expect(production.UpdateReplacePolicy).toBe("Retain");
    expect(production.Properties.DeletionProtectionEnabled).toBe(true);
  });

  it.each(ENVIRONMENT_NAMES)("%s: creates the provider secret without a value, and keeps it", (environment) => {
    const [, secret] = only(templates[environment].findResources("AWS::SecretsManager::Secret"));
    expect(secret.Properties.Name).toBe(`xmpp-push-gateway-${environment}/providers`);
    expect(secret.Properties).not.toHaveProperty("SecretString");
    expect(secret.Properties).not.toHaveProperty("GenerateSecretString");
    expect(secret.DeletionPolicy).toBe("Retain");
  });

  it.each(ENVIRONMENT_NAMES)(
    "%s: makes the platform applications with a custom resource reading the secret",
    (environment) => {
      const template = templates[environment];
      const [, resource] = only(template.findResources("Custom::SnsPlatformApplications"));
      expect(resource.Properties).toEqual({
        ServiceToken: arnOf("PlatformApplicationsFunction"),
        SecretId: ref("ProviderSecret"),
        ApplicationName: `xmpp-push-gateway-${environment}`,
        Voip: "false",
        Revision: "none",
      });
      expect(resource.DeletionPolicy).toBe(environment === "production" ? "Retain" : "Delete");
      template.hasResourceProperties("AWS::Lambda::Function", {
        FunctionName: `xmpp-push-gateway-${environment}-platform-applications`,
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        Timeout: 120,
      });
      const name = `xmpp-push-gateway-${environment}`;
      expect(policyStatements(template, "PlatformApplicationsRole")).toEqual([
        {
          Sid: "ProviderSecret",
          Effect: "Allow",
          Action: "secretsmanager:GetSecretValue",
          Resource: ref("ProviderSecret"),
        },
        {
          Sid: "PlatformApplications",
          Effect: "Allow",
          Action: MANAGEMENT_ACTIONS,
          Resource: MANAGED_PLATFORMS.map((platform) => snsArn(`app/${platform}/${name}`)),
        },
        {
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: arnOf("PlatformApplicationsLogs"),
        },
      ]);
    },
  );

  it.each(ENVIRONMENT_NAMES)(
    "%s: grants the function what the gateway does, on its own resources only",
    (environment) => {
      const template = templates[environment];
      const name = `xmpp-push-gateway-${environment}`;
      expect(policyStatements(template, "FunctionRole")).toEqual([
        { Sid: "RegistrationStore", Effect: "Allow", Action: STORE_ACTIONS, Resource: arnOf("Registrations") },
        {
          Sid: "ProviderSecret",
          Effect: "Allow",
          Action: "secretsmanager:GetSecretValue",
          Resource: ref("ProviderSecret"),
        },
        {
          Sid: "PlatformEndpoints",
          Effect: "Allow",
          Action: "sns:CreatePlatformEndpoint",
          Resource: MANAGED_PLATFORMS.map((platform) => snsArn(`app/${platform}/${name}`)),
        },
        {
          Sid: "PushToEndpoints",
          Effect: "Allow",
          Action: ENDPOINT_ACTIONS,
          Resource: MANAGED_PLATFORMS.map((platform) => snsArn(`endpoint/${platform}/${name}/*`)),
        },
        { Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: arnOf("FunctionLogs") },
      ]);
      expect(ENDPOINT_ACTIONS).toEqual(
        expect.arrayContaining(["sns:GetEndpointAttributes", "sns:SetEndpointAttributes"]),
      );
      // No managed policies, no other inline policy: the role has exactly these statements.
      const roles = template.findResources("AWS::IAM::Role");
      for (const role of Object.values(roles)) expect(role.Properties).not.toHaveProperty("ManagedPolicyArns");
      expect(Object.keys(template.findResources("AWS::IAM::Policy"))).toHaveLength(2);
    },
  );

  it("grants the DynamoDB and SNS actions that the store and the SNS client send, and no others", async () => {
    const store = await readFile(join(REPO_ROOT, "src/store/dynamodb.ts"), "utf8");
    const sent = new Set([...store.matchAll(/new (\w+)Command\(/g)].map((match) => `dynamodb:${match[1]}`));
    // createRegistrationsTable (tests, local set-ups) makes the table; on AWS the stack does.
    sent.delete("dynamodb:CreateTable");
    sent.delete("dynamodb:UpdateTimeToLive");
    expect([...sent].sort()).toEqual([...STORE_ACTIONS].sort());

    const client = await readFile(join(REPO_ROOT, "src/runtime/sns-sdk.ts"), "utf8");
    const snsCalls = [...client.matchAll(/new (\w+)Command\(/g)].map((match) => `sns:${match[1]}`);
    expect(snsCalls.length).toBeGreaterThan(0);
    for (const call of snsCalls) expect([...APPLICATION_ACTIONS, ...ENDPOINT_ACTIONS]).toContain(call);
  });

  it("keeps logs two weeks in staging and three months in production", () => {
    for (const [environment, days] of [
      ["staging", 14],
      ["production", 90],
    ] as const) {
      const groups = templates[environment].findResources("AWS::Logs::LogGroup");
      expect(Object.values(groups).map((group) => group.Properties)).toEqual([
        { LogGroupName: `/aws/lambda/xmpp-push-gateway-${environment}-platform-applications`, RetentionInDays: days },
        { LogGroupName: `/aws/lambda/xmpp-push-gateway-${environment}`, RetentionInDays: days },
      ]);
      templates[environment].hasResourceProperties("AWS::Lambda::Function", {
        FunctionName: `xmpp-push-gateway-${environment}`,
        LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp("^FunctionLogs") } },
      });
    }
  });

  it.each(ENVIRONMENT_NAMES)(
    "%s: alarms on errors, throttles, duration and the gateway's own metrics",
    (environment) => {
      const alarms = Object.values(templates[environment].findResources("AWS::CloudWatch::Alarm")).map(
        (alarm) => alarm.Properties,
      );
      const functionDimension = [{ Name: "FunctionName", Value: ref("Function") }];
      expect(alarms).toEqual([
        expect.objectContaining({
          AlarmName: `xmpp-push-gateway-${environment}-errors`,
          Namespace: "AWS/Lambda",
          MetricName: "Errors",
          Statistic: "Sum",
          Threshold: 1,
          EvaluationPeriods: 1,
          ComparisonOperator: "GreaterThanOrEqualToThreshold",
          Dimensions: functionDimension,
          TreatMissingData: "notBreaching",
        }),
        expect.objectContaining({
          AlarmName: `xmpp-push-gateway-${environment}-throttles`,
          Namespace: "AWS/Lambda",
          MetricName: "Throttles",
          Statistic: "Sum",
          Threshold: 1,
          ComparisonOperator: "GreaterThanOrEqualToThreshold",
          Dimensions: functionDimension,
          TreatMissingData: "notBreaching",
        }),
        expect.objectContaining({
          AlarmName: `xmpp-push-gateway-${environment}-duration`,
          Namespace: "AWS/Lambda",
          MetricName: "Duration",
          ExtendedStatistic: "p99",
          Threshold: DURATION_ALARM_MS,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 2,
          ComparisonOperator: "GreaterThanThreshold",
          Dimensions: functionDimension,
          TreatMissingData: "notBreaching",
        }),
        expect.objectContaining({
          AlarmName: `xmpp-push-gateway-${environment}-misconfigured`,
          Namespace: "XmppPushGateway",
          MetricName: "ProviderOutcomes",
          Statistic: "Sum",
          Threshold: 1,
          Dimensions: [
            { Name: "outcome", Value: "misconfigured" },
            { Name: "service", Value: "xmpp-push-gateway" },
          ],
        }),
        expect.objectContaining({
          AlarmName: `xmpp-push-gateway-${environment}-store-failures`,
          Namespace: "XmppPushGateway",
          MetricName: "StoreFailures",
          Statistic: "Sum",
          Dimensions: [{ Name: "service", Value: "xmpp-push-gateway" }],
        }),
        expect.objectContaining({
          AlarmName: `xmpp-push-gateway-${environment}-provider-latency`,
          Namespace: "XmppPushGateway",
          MetricName: "ProviderLatency",
          ExtendedStatistic: "p99",
          Threshold: PROVIDER_LATENCY_ALARM_MS,
          Dimensions: [{ Name: "service", Value: "xmpp-push-gateway" }],
        }),
      ]);
      for (const alarm of alarms) {
        expect(alarm.Period).toBe(300);
        expect(alarm).not.toHaveProperty("AlarmActions");
      }
    },
  );

  it.each(ENVIRONMENT_NAMES)(
    "%s: outputs the URL, the table, the secret and what the custom resource made",
    (environment) => {
      const outputs = templates[environment].findOutputs("*");
      expect(Object.keys(outputs).sort()).toEqual(
        [
          "FunctionName",
          "GatewayUrl",
          "PlatformApplicationsSummary",
          "ProviderSecretArn",
          "ProviderSecretName",
          "RegistrationsTable",
        ].sort(),
      );
      expect(outputs.GatewayUrl?.Value).toEqual(arnOf("FunctionFunctionUrl", "FunctionUrl"));
      templates[environment].hasOutput("RegistrationsTable", {
        Value: { Ref: Match.stringLikeRegexp("^Registrations") },
      });
      templates[environment].hasOutput("ProviderSecretArn", {
        Value: { Ref: Match.stringLikeRegexp("^ProviderSecret") },
      });
      templates[environment].hasOutput("ProviderSecretName", { Value: `xmpp-push-gateway-${environment}/providers` });
      templates[environment].hasOutput("PlatformApplicationsSummary", {
        Value: { "Fn::GetAtt": ["PlatformApplications", "Summary"] },
      });
    },
  );

  it("applies context: push JIDs, the secret's revision, VoIP applications and an alarm topic", async () => {
    const topic = "arn:aws:sns:eu-west-1:123456789012:ops-alarms";
    const configured = createGatewayApp({
      gatewayCode: join(dir, "gateway"),
      platformApplicationsCode: join(dir, "platform-applications"),
      outdir: join(dir, "cdk.out.context"),
      // Checked once above; here only the context matters.
      builtinCloudFormationValidation: false,
      context: {
        productionPushJid: "push.chat.example",
        productionSecretRevision: "f3a6c1d2-version",
        productionAlarmTopicArn: topic,
        apnsVoip: "true",
      },
    });
    const template = Template.fromStack(configured.stacks.production);
    template.hasResourceProperties("AWS::Lambda::Function", {
      FunctionName: "xmpp-push-gateway-production",
      Environment: {
        Variables: Match.objectLike({ PUSH_JID: "push.chat.example", PROVIDER_SECRET_REVISION: "f3a6c1d2-version" }),
      },
    });
    template.hasResourceProperties("Custom::SnsPlatformApplications", { Voip: "true", Revision: "f3a6c1d2-version" });
    for (const alarm of Object.values(template.findResources("AWS::CloudWatch::Alarm")))
      expect(alarm.Properties.AlarmActions).toEqual([topic]);
    // The other environment keeps its defaults.
    Template.fromStack(configured.stacks.staging).hasResourceProperties("Custom::SnsPlatformApplications", {
      Revision: "none",
    });
  });
});

describe("validation during synthesis: CloudFormation's rules and cdk-nag (AwsSolutions)", () => {
  it("reports nothing: CDK's built-in template validation and cdk-nag both passed", async () => {
    const report = JSON.parse(await readFile(join(dir, "cdk.out", "validation-report.json"), "utf8"));
    expect(report.pluginReports).toEqual([]);
  });

  it("finds nothing that is not acknowledged", () => {
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it("documents every acknowledgement, with its reason, in infra/README.md, and only those", async () => {
    const readme = await readFile(join(REPO_ROOT, "infra/README.md"), "utf8");
    const section = readme.split(/^## /m).find((part) => part.startsWith("cdk-nag suppressions"));
    expect(section, "infra/README.md has a section '## cdk-nag suppressions'").toBeDefined();
    const documented = new Map<string, Set<string>>();
    for (const line of (section ?? "").split("\n")) {
      const cells = line.split("|").map((cell) => cell.trim());
      const id = /^`(AwsSolutions-[A-Za-z0-9]+)`$/.exec(cells[1] ?? "")?.[1];
      if (id === undefined) continue;
      const reasons = documented.get(id) ?? new Set<string>();
      reasons.add(cells[3] ?? "");
      documented.set(id, reasons);
    }
    const used = new Map<string, Set<string>>();
    for (const environment of ENVIRONMENT_NAMES)
      for (const resource of Object.values(
        templates[environment].toJSON().Resources as Record<string, { Metadata?: Record<string, unknown> }>,
      )) {
        const rules = (
          resource.Metadata?.cdk_nag as { rules_to_suppress?: { id: string; reason: string }[] } | undefined
        )?.rules_to_suppress;
        for (const rule of rules ?? []) {
          const id = rule.id.replace(/\[.*\]$/, "");
          expect(documented.get(id), `${rule.id} is not in infra/README.md`).toBeDefined();
          expect([...(documented.get(id) ?? [])], `the reason of ${rule.id} differs from infra/README.md`).toContain(
            rule.reason,
          );
          used.set(id, (used.get(id) ?? new Set()).add(rule.reason));
        }
      }
    expect(used.size).toBeGreaterThan(0);
    for (const [id, reasons] of documented)
      for (const reason of reasons) expect(used.get(id)?.has(reason), `infra/README.md lists ${id} unused`).toBe(true);
    expect(new Set(Object.values(SUPPRESSIONS).map((rule) => rule.id))).toEqual(new Set(documented.keys()));
  });
});
