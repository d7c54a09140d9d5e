import {
  CreatePlatformEndpointCommand,
  DeleteEndpointCommand,
  type MessageAttributeValue,
  PublishCommand,
  SNSClient,
} from "@aws-sdk/client-sns";
import type { SnsAnswer, SnsClient, SnsFailure } from "../ports/sns";
import { type AwsEnv, awsClientConfig } from "./aws-config";

/**
 * The SNS client of the Node and Lambda runtimes: region and credentials passed explicitly from the
 * environment (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so the SDK
 * runs no credential-provider chain; `AWS_ENDPOINT_URL_SNS` points it elsewhere (tests, a local fake).
 * One attempt per call (`maxAttempts: 1`): the SNS route decides what to retry, as it does over the
 * Workers client, which never retries either.
 * @see https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
 * @see https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
 */
export function snsClientFromEnv(env: AwsEnv): SnsClient {
  return createSdkSnsClient(new SNSClient({ ...awsClientConfig(env, "AWS_ENDPOINT_URL_SNS"), maxAttempts: 1 }));
}

/**
 * The SNS client of a region, for the SNS route, which keeps one per region (a platform application's
 * ARN names its region, and SNS answers for it only there); the same variables as {@link snsClientFromEnv}.
 */
export function snsClientsFromEnv(env: AwsEnv): (region: string) => SnsClient {
  return (region) => snsClientFromEnv({ ...env, AWS_REGION: region });
}

/**
 * The {@link SnsClient} port over `@aws-sdk/client-sns` (awsQuery: form-encoded POST, XML answers).
 * Every call is abandoned after its `timeoutMs` (through the SDK's `abortSignal`, and by not waiting past
 * it whatever the handler does). SNS's errors come back as `service` failures with SNS's own `Code`
 * (`EndpointDisabled`, `Throttling`, …: not the SDK's class names, so both runtimes' clients agree);
 * everything that has no HTTP status is a `network` failure.
 * @see https://docs.aws.amazon.com/sns/latest/api/API_CreatePlatformEndpoint.html
 * @see https://docs.aws.amazon.com/sns/latest/api/API_DeleteEndpoint.html
 * @see https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
 */
export function createSdkSnsClient(client: SNSClient): SnsClient {
  return {
    createPlatformEndpoint: ({ platformApplicationArn, token, timeoutMs }) =>
      withDeadline(timeoutMs, async (abortSignal) => {
        const output = await client.send(
          new CreatePlatformEndpointCommand({ PlatformApplicationArn: platformApplicationArn, Token: token }),
          { abortSignal },
        );
        const endpointArn = output.EndpointArn;
        return endpointArn === undefined || endpointArn === ""
          ? malformed(output.$metadata.httpStatusCode, "EndpointArn")
          : { ok: true, value: { endpointArn } };
      }),
    deleteEndpoint: ({ endpointArn, timeoutMs }) =>
      withDeadline(timeoutMs, async (abortSignal) => {
        await client.send(new DeleteEndpointCommand({ EndpointArn: endpointArn }), { abortSignal });
        return { ok: true, value: undefined };
      }),
    publish: ({ targetArn, message, attributes, timeoutMs }) =>
      withDeadline(timeoutMs, async (abortSignal) => {
        const messageAttributes: Record<string, MessageAttributeValue> = {};
        for (const [name, value] of Object.entries(attributes))
          messageAttributes[name] = { DataType: "String", StringValue: value };
        const output = await client.send(
          new PublishCommand({
            TargetArn: targetArn,
            Message: message,
            MessageStructure: "json",
            ...(Object.keys(messageAttributes).length === 0 ? {} : { MessageAttributes: messageAttributes }),
          }),
          { abortSignal },
        );
        const messageId = output.MessageId;
        return messageId === undefined || messageId === ""
          ? malformed(output.$metadata.httpStatusCode, "MessageId")
          : { ok: true, value: { messageId } };
      }),
  };
}

const TIMEOUT: SnsFailure = { kind: "timeout" };

/** Runs `call` with a signal aborted after `timeoutMs`; answers `timeout` then, even if `call` does not stop. */
async function withDeadline<T>(
  timeoutMs: number,
  call: (signal: AbortSignal) => Promise<SnsAnswer<T>>,
): Promise<SnsAnswer<T>> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<SnsAnswer<T>>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({ ok: false, error: TIMEOUT });
    }, timeoutMs);
  });
  try {
    return await Promise.race([call(controller.signal), deadline]);
  } catch (error) {
    return { ok: false, error: controller.signal.aborted ? TIMEOUT : sdkFailure(error) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function malformed<T>(status: number | undefined, element: string): SnsAnswer<T> {
  return {
    ok: false,
    error: {
      kind: "service",
      code: "MalformedResponse",
      status: status ?? 200,
      message: `no ${element} in the answer`,
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * What an SDK exception means. SNS's answers carry `$metadata.httpStatusCode`; the awsQuery protocol puts
 * the wire `Code` on the exception (`Code`, and `Error.Code`) while `name` is the SDK's class name
 * (`EndpointDisabledException`) or, for codes SNS's model lacks (`Throttling`), the code itself.
 * `AbortError` and `TimeoutError` (the handler's own connection and request timeouts) are timeouts;
 * anything else (ECONNREFUSED, ECONNRESET, DNS) never reached SNS.
 */
export function sdkFailure(error: unknown): SnsFailure {
  if (!(error instanceof Error)) return { kind: "network", reason: String(error) };
  if (error.name === "AbortError" || error.name === "TimeoutError") return TIMEOUT;
  const fields: Record<string, unknown> = { ...error };
  const metadata = fields.$metadata;
  const status = isObject(metadata) ? metadata.httpStatusCode : undefined;
  if (typeof status === "number") {
    const nested = isObject(fields.Error) ? fields.Error : {};
    const code = stringOf(fields.Code) ?? stringOf(nested.Code) ?? error.name;
    return { kind: "service", code, status, message: error.message };
  }
  const errno = stringOf(fields.code);
  return { kind: "network", reason: errno === undefined ? error.message : `${errno}: ${error.message}` };
}
