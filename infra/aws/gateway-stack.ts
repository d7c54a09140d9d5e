import {
  CfnOutput,
  CustomResource,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cloudwatchActions,
  Duration,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  RemovalPolicy,
  Stack,
  type StackProps,
  aws_secretsmanager as secretsmanager,
  aws_sns as sns,
} from "aws-cdk-lib";
import type { Construct } from "constructs";
import { EMF_METRICS, EMF_NAMESPACE, EMF_SERVICE } from "../../src/runtime/emf-metrics";
import { ARN_ATTRIBUTES, ARN_VARIABLES, MANAGED_PLATFORMS } from "./platform-applications/platforms";

/** What differs between the two environments (infra/README.md, "AWS: the stacks"). */
export interface EnvironmentSettings {
  /** `staging` or `production`: names the stack's resources. */
  readonly name: string;
  /** The push service's JID (`PUSH_JID`). */
  readonly pushJid: string;
  /** Days CloudWatch keeps the functions' logs. */
  readonly logRetention: logs.RetentionDays;
  /** DynamoDB point-in-time recovery (35 days of restores) of the registrations table. */
  readonly pointInTimeRecovery: boolean;
  /**
   * Keep the table (with deletion protection) and the platform applications when the stack or the
   * resource goes; the secret is always kept.
   */
  readonly retainData: boolean;
}

export interface GatewayStackProps extends StackProps {
  readonly settings: EnvironmentSettings;
  /** A folder holding the gateway's Lambda bundle, `index.mjs` (`npm run build:lambda` makes dist/lambda). */
  readonly gatewayCode: string;
  /** A folder holding the platform-applications handler's bundle, `index.mjs` (`npm run synth` makes it). */
  readonly platformApplicationsCode: string;
  /**
   * Changes whenever the provider secret changes (the pipeline passes the secret's version id): the
   * custom resource then reads the secret again, and the function gets fresh containers that read it.
   */
  readonly secretRevision?: string;
  /** Also make the VoIP platform applications (`APNS_VOIP`, `APNS_VOIP_SANDBOX`). Default false. */
  readonly voip?: boolean;
  /** An SNS topic (an existing one, by ARN) that the alarms notify. Default: alarms without actions. */
  readonly alarmTopicArn?: string;
}

/** The Lambda runtime: the bundle is built for Node 20 syntax and runs on the newer runtime. */
export const GATEWAY_RUNTIME = lambda.Runtime.NODEJS_22_X;
/** Above the publish's 25 s bound (docs/protocol.md section 5), below the bridge's 30 s wait. */
export const GATEWAY_TIMEOUT = Duration.seconds(30);
/** Alarm when providers' 99th percentile passes this (milliseconds; a provider request may take 10 s at most). */
export const PROVIDER_LATENCY_ALARM_MS = 5_000;

/** Alarm when the 99th percentile of one 5-minute period passes this (80 % of the 25 s publish bound). */
export const DURATION_ALARM_MS = 20_000;

/**
 * The DynamoDB actions `DynamoDbRegistrationStore` (src/store/dynamodb.ts) performs at run time; table
 * creation (`createRegistrationsTable`) is this stack's job, not the function's.
 */
export const STORE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];
/** What the SNS route (src/providers/sns/route.ts) does with the platform applications. */
export const APPLICATION_ACTIONS = ["sns:CreatePlatformEndpoint"];
/** What it does with their endpoints (Get/SetEndpointAttributes: allowed for re-enabling, not used today). */
export const ENDPOINT_ACTIONS = [
  "sns:Publish",
  "sns:DeleteEndpoint",
  "sns:GetEndpointAttributes",
  "sns:SetEndpointAttributes",
];
/** What the custom resource does with the platform applications. */
export const MANAGEMENT_ACTIONS = [
  "sns:CreatePlatformApplication",
  "sns:GetPlatformApplicationAttributes",
  "sns:SetPlatformApplicationAttributes",
  "sns:DeletePlatformApplication",
];

/**
 * One environment of the gateway on AWS: the Lambda function (the tested bundle of
 * `npm run build:lambda`) behind a Function URL, the DynamoDB table of registrations, the Secrets Manager
 * secret of provider credentials (created empty), the SNS platform applications made from that secret by
 * a custom resource, least-privilege roles, log groups with retention, alarms and outputs.
 */
export class GatewayStack extends Stack {
  readonly function: lambda.Function;
  readonly table: dynamodb.Table;
  readonly secret: secretsmanager.Secret;
  readonly url: lambda.FunctionUrl;
  readonly platformApplications: CustomResource;
  readonly alarms: cloudwatch.Alarm[];
  /** The name of every platform application (`app/PLATFORM/NAME`). */
  readonly applicationName: string;

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const prefix = `xmpp-push-gateway-${settings.name}`;
    this.applicationName = prefix;
    const revision = props.secretRevision ?? "none";

    this.table = new dynamodb.Table(this, "Registrations", {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: "expiresAt",
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: settings.pointInTimeRecovery },
      deletionProtection: settings.retainData,
      removalPolicy: settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.secret = new secretsmanager.Secret(this, "ProviderSecret", {
      secretName: `${prefix}/providers`,
      description:
        "Provider credentials and gateway keys of the XMPP push gateway: a JSON object of configuration " +
        "variables (SERVER_KEY, GATEWAY_TOKEN, APNS_*, FCM_SERVICE_ACCOUNT, ...). Created empty; see infra/README.md.",
      // Kept when the stack goes: it holds what only the operator has (keys from Apple and Google).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Created without a value: no GenerateSecretString (the L2 construct's default) and no SecretString.
    (this.secret.node.defaultChild as secretsmanager.CfnSecret).addPropertyDeletionOverride("GenerateSecretString");

    const applicationArns = MANAGED_PLATFORMS.map((platform) =>
      this.formatArn({ service: "sns", resource: "app", resourceName: `${platform}/${prefix}` }),
    );
    const endpointArns = MANAGED_PLATFORMS.map((platform) =>
      this.formatArn({ service: "sns", resource: "endpoint", resourceName: `${platform}/${prefix}/*` }),
    );

    const platformApplicationsFunction = this.platformApplicationsFunction(props, applicationArns);
    this.platformApplications = new CustomResource(this, "PlatformApplications", {
      serviceToken: platformApplicationsFunction.functionArn,
      resourceType: "Custom::SnsPlatformApplications",
      properties: {
        SecretId: this.secret.secretArn,
        ApplicationName: prefix,
        Voip: props.voip === true ? "true" : "false",
        Revision: revision,
      },
      removalPolicy: settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    const environment: Record<string, string> = {
      PUSH_JID: settings.pushJid,
      REGISTRATIONS_TABLE: this.table.tableName,
      PROVIDER_SECRET_ID: this.secret.secretArn,
      // Not read by the gateway: a new value gives the function new containers, which read the secret again.
      PROVIDER_SECRET_REVISION: revision,
      APNS_VIA: this.platformApplications.getAttString("ApnsVia"),
      FCM_VIA: this.platformApplications.getAttString("FcmVia"),
    };
    for (const platform of MANAGED_PLATFORMS)
      environment[ARN_VARIABLES[platform]] = this.platformApplications.getAttString(ARN_ATTRIBUTES[platform]);

    const logGroup = new logs.LogGroup(this, "FunctionLogs", {
      logGroupName: `/aws/lambda/${prefix}`,
      retention: settings.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, "FunctionRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `The ${prefix} function: its table, its secret, its SNS platform applications, its log group`,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: "RegistrationStore", actions: STORE_ACTIONS, resources: [this.table.tableArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "ProviderSecret",
        actions: ["secretsmanager:GetSecretValue"],
        resources: [this.secret.secretArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: "PlatformEndpoints", actions: APPLICATION_ACTIONS, resources: applicationArns }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: "PushToEndpoints", actions: ENDPOINT_ACTIONS, resources: endpointArns }),
    );
    logGroup.grantWrite(role);

    this.function = new lambda.Function(this, "Function", {
      functionName: prefix,
      description: `XMPP push gateway (${settings.name}): src/runtime/lambda.ts, bundled by npm run build:lambda`,
      runtime: GATEWAY_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: "index.handler",
      code: lambda.Code.fromAsset(props.gatewayCode),
      memorySize: 512,
      timeout: GATEWAY_TIMEOUT,
      role,
      logGroup,
      environment,
    });
    this.function.node.addDependency(role);
    this.url = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });

    this.alarms = this.createAlarms(props);

    new CfnOutput(this, "GatewayUrl", {
      description: "The gateway's URL (GATEWAY_URL of the bridge; npm run smoke -- URL)",
      value: this.url.url,
    });
    new CfnOutput(this, "FunctionName", { value: this.function.functionName });
    new CfnOutput(this, "RegistrationsTable", { value: this.table.tableName });
    new CfnOutput(this, "ProviderSecretArn", {
      description: "Fill it with a JSON object of variables (infra/README.md), then deploy again",
      value: this.secret.secretArn,
    });
    new CfnOutput(this, "ProviderSecretName", { value: `${prefix}/providers` });
    new CfnOutput(this, "PlatformApplicationsSummary", {
      description: "What the custom resource made from the secret at this deploy",
      value: this.platformApplications.getAttString("Summary"),
    });
  }

  /** The custom resource's function: reads the secret, manages only this stack's applications. */
  private platformApplicationsFunction(props: GatewayStackProps, applicationArns: string[]): lambda.Function {
    const name = `xmpp-push-gateway-${props.settings.name}-platform-applications`;
    const logGroup = new logs.LogGroup(this, "PlatformApplicationsLogs", {
      logGroupName: `/aws/lambda/${name}`,
      retention: props.settings.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, "PlatformApplicationsRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "Makes the SNS platform applications of the provider secret at deploy time",
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "ProviderSecret",
        actions: ["secretsmanager:GetSecretValue"],
        resources: [this.secret.secretArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: "PlatformApplications", actions: MANAGEMENT_ACTIONS, resources: applicationArns }),
    );
    logGroup.grantWrite(role);
    const fn = new lambda.Function(this, "PlatformApplicationsFunction", {
      functionName: name,
      description:
        "Custom resource: SNS platform applications from the provider secret (infra/aws/platform-applications)",
      runtime: GATEWAY_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: "index.handler",
      code: lambda.Code.fromAsset(props.platformApplicationsCode),
      memorySize: 256,
      timeout: Duration.minutes(2),
      role,
      logGroup,
    });
    fn.node.addDependency(role);
    return fn;
  }

  /**
   * Alarms on the gateway's own metrics (CloudWatch embedded metric format, docs/operations.md sections 5
   * and 6): a misconfiguration (an expired key, a revoked service account, an SNS policy) is never the
   * user's fault and never shows as a Lambda error; neither do store failures or slow providers.
   */
  private gatewayAlarms(name: string, period: Duration): cloudwatch.Alarm[] {
    const metric = (metricName: string, statistic: string, dimensions: Record<string, string> = {}) =>
      new cloudwatch.Metric({
        namespace: EMF_NAMESPACE,
        metricName,
        dimensionsMap: { service: EMF_SERVICE, ...dimensions },
        period,
        statistic,
      });
    return [
      new cloudwatch.Alarm(this, "MisconfiguredAlarm", {
        alarmName: `${name}-misconfigured`,
        alarmDescription:
          "A provider said the gateway's own set-up is wrong (APNs key, FCM service account, SNS policy): see docs/operations.md",
        metric: metric(EMF_METRICS.providerOutcomes.name, cloudwatch.Stats.SUM, { outcome: "misconfigured" }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, "StoreFailuresAlarm", {
        alarmName: `${name}-store-failures`,
        alarmDescription: "DynamoDB calls failed: publishes were answered wait and registrations may have failed",
        metric: metric(EMF_METRICS.storeFailures.name, cloudwatch.Stats.SUM),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, "ProviderLatencyAlarm", {
        alarmName: `${name}-provider-latency`,
        alarmDescription: `p99 provider request time above ${PROVIDER_LATENCY_ALARM_MS} ms in 2 of 3 periods: APNs, FCM or SNS is slow`,
        metric: metric(EMF_METRICS.providerSeconds.name, cloudwatch.Stats.percentile(99)),
        threshold: PROVIDER_LATENCY_ALARM_MS,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
  }

  private createAlarms(props: GatewayStackProps): cloudwatch.Alarm[] {
    const period = Duration.minutes(5);
    const name = `xmpp-push-gateway-${props.settings.name}`;
    const alarms = [
      new cloudwatch.Alarm(this, "ErrorsAlarm", {
        alarmName: `${name}-errors`,
        alarmDescription: "The function failed an invocation (an exception escaped the handler, or it timed out)",
        metric: this.function.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, "ThrottlesAlarm", {
        alarmName: `${name}-throttles`,
        alarmDescription: "Lambda refused invocations for lack of concurrency: publishes were not answered",
        metric: this.function.metricThrottles({ period, statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, "DurationAlarm", {
        alarmName: `${name}-duration`,
        alarmDescription: `p99 duration above ${DURATION_ALARM_MS} ms in 2 of 3 periods: providers or the store are slow`,
        metric: this.function.metricDuration({ period, statistic: cloudwatch.Stats.percentile(99) }),
        threshold: DURATION_ALARM_MS,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      ...this.gatewayAlarms(name, period),
    ];
    if (props.alarmTopicArn !== undefined) {
      const topic = sns.Topic.fromTopicArn(this, "AlarmTopic", props.alarmTopicArn);
      for (const alarm of alarms) alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
    }
    return alarms;
  }
}
