import { ConfigError, optionalString, parseUrl } from "../config";
import { createSnsRoute } from "../providers/sns/route";
import { configSource } from "./gateway";
import { createFetchSnsClient } from "./sns-fetch";
import { workerHandler } from "./worker";

export { RegistrationIndex } from "./registration-index";

/**
 * The Worker with the SNS delivery route (`wrangler deploy --env sns`): signed awsQuery requests over
 * `fetch` (src/runtime/sns-fetch.ts), because the AWS SDK's browser build needs `DOMParser`, which
 * workerd lacks. A second entry, so that the default Worker stays under 100 KiB gzipped (README, "AWS").
 * Its credentials are the secrets `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and
 * `AWS_SESSION_TOKEN`); `AWS_ENDPOINT_URL_SNS` points it elsewhere (tests).
 * @see https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
 */
export default workerHandler((env) => (store, log) => {
  const vars = configSource(env);
  const required = (name: string): string => {
    const value = optionalString(vars, name);
    if (value === undefined)
      throw new ConfigError(name, "is missing: the SNS route signs its requests with it (wrangler secret put)");
    return value;
  };
  const endpoint = optionalString(vars, "AWS_ENDPOINT_URL_SNS");
  const sessionToken = optionalString(vars, "AWS_SESSION_TOKEN");
  return createSnsRoute({
    client: (region) =>
      createFetchSnsClient({
        region,
        accessKeyId: required("AWS_ACCESS_KEY_ID"),
        secretAccessKey: required("AWS_SECRET_ACCESS_KEY"),
        ...(sessionToken !== undefined ? { sessionToken } : {}),
        ...(endpoint !== undefined ? { endpoint: parseUrl(endpoint, "AWS_ENDPOINT_URL_SNS") } : {}),
        fetch: (url, init) => fetch(url, init),
      }),
    ledger: store.endpoints,
    log,
  });
});
