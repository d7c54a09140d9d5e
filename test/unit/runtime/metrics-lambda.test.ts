import { describe, expect, it } from "vitest";
import { labelValues } from "../../../src/ports/metrics";
import { EMF_METRICS, EMF_NAMESPACE, EMF_SERVICE } from "../../../src/runtime/emf-metrics";
import { createLambdaHandler, type LambdaHttpEvent } from "../../../src/runtime/lambda";
import { MemoryRegistrationStore } from "../../../src/store/memory";
import { parseXml } from "../../../src/xmpp";
import { createApnsSigningKey } from "../../fakes/apns-key";
import { FakeTransport } from "../../fakes/transport";
import { formField, GATEWAY_TOKEN, PUSH_JID, publishIq, registerDeviceIq, SERVER_KEY } from "../../shared/harness";

const APNS = "https://apns.test";

/** A Function URL event (payload format 2.0), as in lambda.test.ts. */
function event(path: string, body?: string): LambdaHttpEvent {
  const method = body === undefined ? "GET" : "POST";
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: {
      host: "abc.lambda-url.eu-west-1.on.aws",
      ...(body === undefined ? {} : { authorization: `Bearer ${GATEWAY_TOKEN}`, "content-type": "application/xml" }),
    },
    requestContext: {
      accountId: "anonymous",
      apiId: "abc",
      domainName: "abc.lambda-url.eu-west-1.on.aws",
      domainPrefix: "abc",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "203.0.113.10", userAgent: "Prosody/0.12" },
      requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
      routeKey: "$default",
      stage: "$default",
      time: "03/Dec/2026:19:03:58 +0000",
      timeEpoch: 1_796_324_638_390,
    },
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: false,
  };
}

/** One EMF document, parsed. */
type Emf = Record<string, unknown> & {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
};

function setUp() {
  const key = createApnsSigningKey();
  const transport = new FakeTransport().on(`${APNS}/3/device/`, (request) => {
    const token = request.url.slice(request.url.lastIndexOf("/") + 1);
    if (token.startsWith("bb")) return { status: 410, body: { reason: "Unregistered", timestamp: Date.now() } };
    if (token.startsWith("cc")) return { status: 503, body: { reason: "ServiceUnavailable" } };
    return { status: 200 };
  });
  const lines: string[] = [];
  const handler = createLambdaHandler({
    env: {
      PUSH_JID,
      GATEWAY_TOKEN,
      SERVER_KEY,
      APNS_TEAM_ID: key.teamId,
      APNS_KEY_ID: key.keyId,
      APNS_PRIVATE_KEY: key.pem,
      APNS_TOPIC: "im.example.app",
      APNS_ENDPOINT: APNS,
      RATE_LIMIT_PER_MINUTE: "2",
    },
    log: { log() {} },
    store: () => new MemoryRegistrationStore(),
    transport: transport.fetch,
    writeMetrics: (line) => lines.push(line),
  });
  /** Invokes the handler and returns the EMF documents that invocation wrote before it returned. */
  const invoke = async (path: string, body?: string) => {
    lines.length = 0;
    const result = await handler(event(path, body));
    return { result, documents: lines.map((line) => JSON.parse(line) as Emf) };
  };
  return { invoke };
}

/** The values of metric `name` in the documents whose properties include `where`. */
function values(documents: readonly Emf[], name: string, where: Record<string, string> = {}): number[] {
  return documents
    .filter((document) => document._aws.CloudWatchMetrics.some((d) => d.Metrics.some((m) => m.Name === name)))
    .filter((document) => Object.entries(where).every(([label, value]) => document[label] === value))
    .flatMap((document) => [document[name]].flat().map(Number));
}

/** The sum of a count metric in the documents whose properties include `where`. */
function emitted(documents: readonly Emf[], name: string, where: Record<string, string> = {}): number {
  return values(documents, name, where).reduce((sum, value) => sum + value, 0);
}

describe("CloudWatch EMF lines of the Lambda handler (docs/operations.md section 5)", () => {
  it("writes an invocation's metrics before it returns: deliveries, dead tokens, transient failures, refusals", async () => {
    const { invoke } = setUp();
    const register = async (token: string) => {
      const { result, documents } = await invoke("/xmpp", registerDeviceIq({ token, id: token.slice(0, 4) }));
      expect(emitted(documents, "Registrations", { event: "created", style: "token", origin: "xmpp" })).toBe(1);
      const reply = parseXml(result.body ?? "");
      return (reply.ok && formField(reply.value, "node")?.values[0]) || "";
    };
    const delivered = await register("aa".repeat(32));
    const dead = await register("bb".repeat(32));
    const busy = await register("cc".repeat(32));

    const first = await invoke("/xmpp", publishIq({ node: delivered, id: "p1" }));
    expect(first.result.statusCode).toBe(200);
    expect(emitted(first.documents, "Publishes", { dialect: "summary", reply: "result" })).toBe(1);
    expect(
      emitted(first.documents, "ProviderOutcomes", { outcome: "delivered", provider: "apns", route: "direct" }),
    ).toBe(1);
    expect(values(first.documents, "ProviderLatency", { provider: "apns", route: "direct" })).toHaveLength(1);
    expect(values(first.documents, "PublishLatency", { reply: "result" })).toHaveLength(1);
    expect(emitted(first.documents, "ProviderTokenMints", { provider: "apns", result: "minted" })).toBe(1);

    const second = await invoke("/xmpp", publishIq({ node: dead, id: "p2" }));
    expect(emitted(second.documents, "ProviderOutcomes", { outcome: "token-dead", reason: "Unregistered" })).toBe(1);
    expect(emitted(second.documents, "RegistrationRemovals", { reason: "token-dead", style: "token" })).toBe(1);
    expect(emitted(second.documents, "Publishes", { reply: "item-not-found" })).toBe(1);
    expect(emitted(second.documents, "ProviderTokenMints")).toBe(0);

    const third = await invoke("/xmpp", publishIq({ node: busy, id: "p3" }));
    expect(emitted(third.documents, "ProviderOutcomes", { outcome: "retry-later", reason: "ServiceUnavailable" })).toBe(
      2,
    );
    expect(emitted(third.documents, "Publishes", { reply: "wait" })).toBe(1);

    const healths = [await invoke("/health"), await invoke("/health"), await invoke("/health")];
    expect(healths.map(({ result }) => result.statusCode)).toEqual([200, 200, 429]);
    expect(healths.map(({ documents }) => emitted(documents, "RateLimited", { route: "/health" }))).toEqual([0, 0, 1]);

    for (const { documents } of [first, second, third, ...healths])
      for (const document of documents) {
        const [directive] = document._aws.CloudWatchMetrics;
        expect(directive?.Namespace).toBe(EMF_NAMESPACE);
        expect(document.service).toBe(EMF_SERVICE);
        for (const set of directive?.Dimensions ?? []) expect(set[0]).toBe("service");
        const metric = Object.entries(EMF_METRICS).find(([, emf]) => emf.name === directive?.Metrics[0]?.Name)?.[0];
        expect(metric).toBeDefined();
        for (const set of directive?.Dimensions ?? [])
          for (const dimension of set.slice(1))
            expect(labelValues(metric as keyof typeof EMF_METRICS, dimension)).toContain(document[dimension]);
      }
  });
});
