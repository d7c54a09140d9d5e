import { App, type AppProps, aws_logs as logs, Validations } from "aws-cdk-lib";
import cdkNag from "cdk-nag";
import { type EnvironmentSettings, GatewayStack } from "./gateway-stack";
import { suppressFindings } from "./nag";

const { AwsSolutionsChecks } = cdkNag;

/** The two environments and what differs between them (infra/README.md, "AWS: the stacks"). */
export const ENVIRONMENTS = {
  staging: {
    name: "staging",
    pushJid: "push-staging.example.net",
    logRetention: logs.RetentionDays.TWO_WEEKS,
    pointInTimeRecovery: false,
    retainData: false,
  },
  production: {
    name: "production",
    pushJid: "push.example.net",
    logRetention: logs.RetentionDays.THREE_MONTHS,
    pointInTimeRecovery: true,
    retainData: true,
  },
} as const satisfies Record<string, EnvironmentSettings>;

export type EnvironmentName = keyof typeof ENVIRONMENTS;
export const ENVIRONMENT_NAMES = Object.keys(ENVIRONMENTS) as EnvironmentName[];

/** The stack of an environment: `XmppPushGateway-staging`, `XmppPushGateway-production`. */
export function stackName(environment: EnvironmentName): string {
  return `XmppPushGateway-${environment}`;
}

export interface GatewayAppOptions extends AppProps {
  /** The gateway's bundle folder (dist/lambda). */
  readonly gatewayCode: string;
  /** The platform-applications handler's bundle folder (dist/infra/platform-applications). */
  readonly platformApplicationsCode: string;
}

/**
 * The CDK app: one {@link GatewayStack} per environment, checked during synthesis by CDK's built-in
 * CloudFormation validation and cdk-nag's AwsSolutions pack (a finding not acknowledged in ./nag.ts fails
 * the synthesis). Settings come from context
 * (`-c NAME=VALUE`, infra/README.md): `{env}PushJid`, `{env}SecretRevision`, `{env}AlarmTopicArn` and
 * `apnsVoip`, with `{env}` being `staging` or `production`.
 */
export function createGatewayApp(options: GatewayAppOptions): {
  app: App;
  stacks: Record<EnvironmentName, GatewayStack>;
} {
  const { gatewayCode, platformApplicationsCode, ...appProps } = options;
  const app = new App(appProps);
  const context = (name: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(name);
    return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
  };
  const stacks = {} as Record<EnvironmentName, GatewayStack>;
  for (const environment of ENVIRONMENT_NAMES) {
    const base = ENVIRONMENTS[environment];
    const alarmTopicArn = context(`${environment}AlarmTopicArn`);
    const secretRevision = context(`${environment}SecretRevision`);
    const stack = new GatewayStack(app, stackName(environment), {
      description: `XMPP push gateway, ${environment} (infra/aws)`,
      settings: { ...base, pushJid: context(`${environment}PushJid`) ?? base.pushJid },
      gatewayCode,
      platformApplicationsCode,
      voip: context("apnsVoip") === "true",
      ...(alarmTopicArn === undefined ? {} : { alarmTopicArn }),
      ...(secretRevision === undefined ? {} : { secretRevision }),
      tags: { project: "xmpp-push-gateway", environment },
    });
    suppressFindings(stack, environment);
    stacks[environment] = stack;
  }
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
  );
  return { app, stacks };
}
