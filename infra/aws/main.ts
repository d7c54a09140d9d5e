/**
 * The CDK app's entry (infra/aws/cdk.json): `npm run synth` builds the bundles first and then runs the
 * CDK CLI, which runs this file.
 */

import { createGatewayApp } from "./app";
import { GATEWAY_CODE, PLATFORM_APPLICATIONS_CODE, requireBundle } from "./assets";

const { app } = createGatewayApp({
  gatewayCode: requireBundle(GATEWAY_CODE, "run npm run synth (or npm run build:lambda)"),
  platformApplicationsCode: requireBundle(PLATFORM_APPLICATIONS_CODE, "run npm run synth"),
});
app.synth();
