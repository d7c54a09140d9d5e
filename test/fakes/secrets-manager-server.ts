import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local stand-in for Secrets Manager's `GetSecretValue` (awsJson1.1: `POST /` with
 * `X-Amz-Target: secretsmanager.GetSecretValue`, answers `{"ARN","Name","SecretString"}`).
 * @see https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
 */
export class FakeSecretsManager {
  readonly secrets = new Map<string, string>();
  readonly requests: { target: string; secretId: unknown; authorization: string }[] = [];
  private readonly server = createServer((req, res) => this.handle(req, res));
  url = "";

  async start(): Promise<void> {
    this.url = await listen(this.server);
  }

  stop(): Promise<void> {
    return close(this.server);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      const input: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      const secretId = typeof input === "object" && input !== null && "SecretId" in input ? input.SecretId : undefined;
      this.requests.push({ target, secretId, authorization: String(req.headers.authorization ?? "") });
      const answer = (status: number, body: unknown) =>
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(body));
      if (req.method !== "POST" || target !== "secretsmanager.GetSecretValue")
        return answer(400, { __type: "UnknownOperationException", message: target });
      const value = typeof secretId === "string" ? this.secrets.get(secretId) : undefined;
      if (value === undefined)
        return answer(400, {
          __type: "ResourceNotFoundException",
          message: "Secrets Manager can't find the specified secret.",
        });
      return answer(200, {
        ARN: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${secretId}-AbCdEf`,
        Name: secretId,
        SecretString: value,
        VersionId: "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1",
        VersionStages: ["AWSCURRENT"],
        CreatedDate: 1_523_477_145.713,
      });
    });
  }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
