/**
 * The probe Worker of bench/sns-sdk-workerd.ts: `GET /probe?target=ARN` does one `Publish`
 * (`MessageStructure=json`) with `@aws-sdk/client-sns` to that endpoint, at the SNS endpoint and with the
 * credentials of its variables, and answers JSON: `{ ok: true, messageId }` when the SDK returned, or
 * `{ ok: false, name, message, stack }` with what it threw. Anything else answers 200 "ok" (readiness).
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";

interface ProbeEnv {
  readonly AWS_REGION: string;
  readonly AWS_ACCESS_KEY_ID: string;
  readonly AWS_SECRET_ACCESS_KEY: string;
  readonly AWS_ENDPOINT_URL_SNS: string;
}

export default {
  async fetch(request: Request, env: ProbeEnv): Promise<Response> {
    const url = new URL(request.url);
    const target = url.searchParams.get("target");
    if (url.pathname !== "/probe" || target === null) return new Response("ok");
    const client = new SNSClient({
      region: env.AWS_REGION,
      endpoint: env.AWS_ENDPOINT_URL_SNS,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
      maxAttempts: 1,
    });
    try {
      const output = await client.send(
        new PublishCommand({
          TargetArn: target,
          MessageStructure: "json",
          Message: JSON.stringify({ default: "New message", APNS: JSON.stringify({ aps: { alert: "probe" } }) }),
        }),
      );
      return Response.json({ ok: true, messageId: output.MessageId });
    } catch (error) {
      const { name, message, stack } = error instanceof Error ? error : new Error(String(error));
      return Response.json({ ok: false, name, message, stack: stack?.split("\n").slice(0, 6) });
    }
  },
};
