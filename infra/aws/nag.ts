import { Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";
import type { GatewayStack } from "./gateway-stack";
import { MANAGED_PLATFORMS } from "./platform-applications/platforms";

/**
 * One cdk-nag rule this app acknowledges (cdk-nag 3: CDK's `Validations.of(construct).acknowledge()`),
 * and why. Every rule here must have a row with the same id and reason in infra/README.md ("cdk-nag
 * suppressions"); test/unit/infra/aws-stack.test.ts checks it.
 */
export interface DocumentedSuppression {
  readonly id: string;
  readonly reason: string;
}

export const SUPPRESSIONS = {
  runtime: {
    id: "AwsSolutions-L1",
    reason:
      "The functions run on nodejs22.x, the runtime the gateway's bundle is built and tested for (Node 20 syntax); moving to a newer runtime is a tested change of its own.",
  },
  endpointWildcard: {
    id: "AwsSolutions-IAM5",
    reason:
      "SNS names each platform endpoint endpoint/PLATFORM/APP/UUID when the gateway registers a device token; the wildcard covers only the endpoints of this stack's own applications.",
  },
  secretRotation: {
    id: "AwsSolutions-SMG4",
    reason:
      "The secret holds keys that Apple and Google issue (the .p8 key, the service account) and the gateway's SERVER_KEY, from which publish secrets are derived; none can be rotated by a Lambda, so rotation is a documented manual step.",
  },
  stagingRecovery: {
    id: "AwsSolutions-DDB3",
    reason:
      "Staging holds only test registrations that a client re-creates by registering again; point-in-time recovery is on in production.",
  },
} as const satisfies Record<string, DocumentedSuppression>;

/** The CloudFormation resource of a construct (where cdk-nag reports its finding). */
function resourceOf(scope: IConstruct): IConstruct {
  return scope.node.defaultChild ?? scope;
}

/** Acknowledges the findings this stack is known to have, each on the one resource it concerns. */
export function suppressFindings(stack: GatewayStack, environment: string): void {
  const acknowledge = (scope: IConstruct, rule: DocumentedSuppression, finding?: string) =>
    Validations.of(resourceOf(scope)).acknowledge({
      id: finding === undefined ? rule.id : `${rule.id}[${finding}]`,
      reason: rule.reason,
    });
  acknowledge(stack.function, SUPPRESSIONS.runtime);
  acknowledge(stack.node.findChild("PlatformApplicationsFunction"), SUPPRESSIONS.runtime);
  const functionPolicy = stack.node.findChild("FunctionRole").node.findChild("DefaultPolicy");
  for (const platform of MANAGED_PLATFORMS)
    acknowledge(
      functionPolicy,
      SUPPRESSIONS.endpointWildcard,
      `Resource::arn:<AWS::Partition>:sns:<AWS::Region>:<AWS::AccountId>:endpoint/${platform}/${stack.applicationName}/*`,
    );
  acknowledge(stack.secret, SUPPRESSIONS.secretRotation);
  if (environment === "staging") acknowledge(stack.table, SUPPRESSIONS.stagingRecovery);
}
