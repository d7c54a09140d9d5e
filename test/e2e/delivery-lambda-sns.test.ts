import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../../src/log";
import { createLambdaHandler, type LambdaHttpEvent, type LambdaHttpHandler } from "../../src/runtime/lambda";
import { createRegistrationsTable } from "../../src/store/dynamodb";
import { GATEWAY_TOKEN } from "../app/harness";
import { FakeUserServer } from "../fakes/user-server";
import { assertPortFree } from "./processes";
import { SNS_CREDENTIALS, type SnsWorld, snsDeliveryScenarios, startSnsWorld } from "./sns-scenarios";

/*
 * The SNS delivery scenarios against the Lambda handler (createLambdaHandler, as `index.handler` of the
 * bundle runs it) over a real DynamoDB-compatible store: dynalite, as in test/unit/store-dynamodb.test.ts,
 * holding the registrations and the endpoint ledger (`ep#` items) in one table made by
 * createRegistrationsTable. The handler is put behind a small local HTTP server that turns each request
 * into the API Gateway HTTP API payload 2.0 event AWS would deliver (and the structured result back into
 * a response), so that FakeUserServer talks to it as to any other gateway.
 */

/** dynalite ships no types: the one call the tests make. */
const dynalite = createRequire(import.meta.url)("dynalite") as (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;

const REGION = "eu-west-1";
const TABLE = "registrations";
const API_ID = "r3pmxmplak";
const quiet: Logger = { log() {} };

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Bodies API Gateway passes as text; any other content type arrives base64-encoded. */
function isText(contentType: string): boolean {
  return /^(text\/|application\/(json|xml|x-www-form-urlencoded)|[^;]*\+(xml|json))/i.test(contentType);
}

/**
 * The payload 2.0 event of an HTTP API `$default` route for one request: header names lowercased and
 * repeated headers joined with commas, the query string raw, the client's address in
 * `requestContext.http.sourceIp`.
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
 */
function toEvent(req: IncomingMessage, body: Buffer): LambdaHttpEvent {
  const url = new URL(req.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? "").toLowerCase();
    const value = req.rawHeaders[i + 1] ?? "";
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const domainName = `${API_ID}.execute-api.${REGION}.amazonaws.com`;
  headers.host = domainName;
  const sourceIp = req.socket.remoteAddress ?? "127.0.0.1";
  const method = req.method ?? "GET";
  const base64 = body.length > 0 && !isText(headers["content-type"] ?? "");
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: "123456789012",
      apiId: API_ID,
      domainName,
      domainPrefix: API_ID,
      http: { method, path: url.pathname, protocol: "HTTP/1.1", sourceIp, userAgent: headers["user-agent"] ?? "" },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: body.toString(base64 ? "base64" : "utf8") } : {}),
    isBase64Encoded: base64,
  };
}

/** A local HTTP front for a Lambda handler, as API Gateway would be. */
function httpApi(handler: LambdaHttpHandler): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      try {
        const result = await handler(toEvent(req, Buffer.concat(chunks)));
        const body = Buffer.from(result.body ?? "", result.isBase64Encoded ? "base64" : "utf8");
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
        if (result.cookies !== undefined) headers["set-cookie"] = result.cookies;
        res.writeHead(result.statusCode ?? 200, headers).end(body);
      } catch (error) {
        // API Gateway answers 500 when the integration fails.
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ message: String(error) }));
      }
    });
  });
}

let world: SnsWorld;
let database: Server;
let api: Server;
let apiPort: number | undefined;
let server: FakeUserServer;

beforeAll(async () => {
  world = await startSnsWorld();
  database = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const endpoint = `http://127.0.0.1:${await listen(database)}`;
  const admin = new DynamoDBClient({
    region: REGION,
    endpoint,
    credentials: { accessKeyId: SNS_CREDENTIALS.accessKeyId, secretAccessKey: SNS_CREDENTIALS.secretAccessKey },
  });
  await createRegistrationsTable(admin, TABLE);
  admin.destroy();
  const handler = createLambdaHandler({
    env: {
      ...world.env,
      AWS_REGION: REGION,
      REGISTRATIONS_TABLE: TABLE,
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    },
    log: quiet,
  });
  api = httpApi(handler);
  apiPort = await listen(api);
  server = new FakeUserServer(`http://127.0.0.1:${apiPort}`, GATEWAY_TOKEN);
});

afterAll(async () => {
  if (api) await close(api);
  if (database) await close(database);
  await world?.close();
  if (apiPort !== undefined) await assertPortFree(apiPort);
});

describe("delivery over SNS from the Lambda handler (HTTP API payload 2.0, DynamoDB on dynalite) to the fake SNS", () => {
  it("answers /health through the HTTP API front", async () => {
    const response = await fetch(`http://127.0.0.1:${apiPort}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok" });
  });

  snsDeliveryScenarios(() => ({ world, server }));
});
