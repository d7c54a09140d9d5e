import { Agent, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../../../src/log";
import { type RunningNodeGateway, startNodeGateway } from "../../../src/runtime/node";

/**
 * `POST /xmpp` on the Node entry is answered by src/runtime/node-xmpp.ts without the app; `/xmpp?…` still
 * goes through the app's route. Both must answer every request alike (docs/protocol.md section 2).
 */
const TOKEN = "node-xmpp-test-token-0123456789abcdef";
const JID = "push.example.net";
const MAX = 2048;

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly contentType: string | undefined;
  readonly challenge: string | undefined;
  readonly connection: string | undefined;
}

interface Sent {
  readonly body?: string | Buffer | readonly (string | Buffer)[];
  readonly headers?: Record<string, string>;
  /** Send no Content-Length: the body goes chunked, one chunk per element. */
  readonly chunked?: boolean;
  /** Declare this Content-Length and send no body (the answer must come before it). */
  readonly declareOnly?: number;
  /** Default none: a connection per request. */
  readonly agent?: Agent;
}

let running: RunningNodeGateway;
const lines: string[] = [];
const log: Logger = { log: (level, event, fields) => lines.push(JSON.stringify({ level, event, ...fields })) };

beforeAll(async () => {
  running = await startNodeGateway({
    env: { PUSH_JID: JID, GATEWAY_TOKEN: TOKEN, MAX_BODY_BYTES: String(MAX) },
    port: 0,
    log,
  });
});
afterAll(() => running.close());

function post(path: string, sent: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const parts = sent.body === undefined ? [] : Array.isArray(sent.body) ? sent.body : [sent.body];
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${TOKEN}`,
      "content-type": "application/xml",
      ...sent.headers,
    };
    if (sent.declareOnly !== undefined) headers["content-length"] = sent.declareOnly;
    else if (!sent.chunked) headers["content-length"] = parts.reduce((n, part) => n + Buffer.byteLength(part), 0);
    const req = request(
      { host: "127.0.0.1", port: running.port, path, method: "POST", headers, agent: sent.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            contentType: res.headers["content-type"],
            challenge: res.headers["www-authenticate"],
            connection: res.headers.connection,
          }),
        );
      },
    );
    req.on("error", reject);
    if (sent.declareOnly !== undefined) {
      req.flushHeaders();
      return;
    }
    for (const part of parts) req.write(part);
    req.end();
  });
}

/** The same request on the Node route and on the app's, which must agree. */
async function both(sent: Sent): Promise<Answer> {
  const direct = await post("/xmpp", sent);
  const viaApp = await post("/xmpp?via=app", sent);
  const comparable = (a: Answer) => ({ ...a, connection: undefined, contentType: a.contentType?.toLowerCase() });
  expect(comparable(direct)).toEqual(comparable(viaApp));
  return direct;
}

const disco = `<iq type='get' from='montague.example' to='${JID}' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`;

describe("POST /xmpp on the Node entry", () => {
  it("answers an IQ get with its result, as the app does", async () => {
    const answer = await both({ body: disco });
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^application\/xml/);
    expect(answer.body).toContain("type='result'");
    expect(answer.body).toContain("id='d1'");
  });

  it("answers an IQ result with 204 and nothing", async () => {
    const answer = await both({ body: `<iq type='result' from='montague.example' to='${JID}' id='r1'/>` });
    expect(answer).toMatchObject({ status: 204, body: "" });
  });

  it("refuses what is not one well-formed stanza, bad UTF-8 and an empty body with 400", async () => {
    expect((await both({ body: "<iq type='get'" })).status).toBe(400);
    expect(await both({ body: Buffer.from([0x3c, 0x69, 0x71, 0xff, 0x2f, 0x3e]) })).toMatchObject({
      status: 400,
      body: "body is not valid UTF-8",
    });
    expect((await both({ body: "" })).status).toBe(400);
  });

  it("asks for the bridge's token (401) and refuses a content type that is not XML (415)", async () => {
    const noToken = await both({ body: disco, headers: { authorization: "Bearer wrong" } });
    expect(noToken).toMatchObject({ status: 401, challenge: "Bearer" });
    expect((await both({ body: disco, headers: { "content-type": "text/plain" } })).status).toBe(415);
    expect((await both({ body: disco, headers: { "content-type": "text/xml; charset=utf-8" } })).status).toBe(200);
  });

  it("answers 413 to a declared length over MAX_BODY_BYTES before the body comes, and closes", async () => {
    const answer = await both({ declareOnly: MAX + 1 });
    expect(answer).toMatchObject({ status: 413, body: "body too large" });
    expect((await post("/xmpp", { declareOnly: 10 ** 12 })).connection).toBe("close");
    // Before the token too: a large upload costs nothing to refuse.
    expect((await both({ declareOnly: MAX + 1, headers: { authorization: "" } })).status).toBe(413);
  });

  it("reads a chunked body under the cap and refuses one past it with 413", async () => {
    const half = disco.length >> 1;
    const split = await both({ chunked: true, body: [disco.slice(0, half), disco.slice(half)] });
    expect(split.status).toBe(200);
    const endless = Array.from({ length: 8 }, () => `<x>${"a".repeat(500)}</x>`);
    const over = await both({ chunked: true, body: [`<iq type='get' id='x'>`, ...endless] });
    expect(over).toMatchObject({ status: 413, body: "body too large" });
    expect((await post("/xmpp", { chunked: true, body: [`<iq>`, ...endless] })).connection).toBe("close");
  });

  it("keeps the connection for the next request after an ordinary answer", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await post("/xmpp", { body: disco, agent })).connection).toBe("keep-alive");
      expect((await post("/xmpp", { body: "<iq", agent })).connection).toBe("keep-alive");
    } finally {
      agent.destroy();
    }
  });
});

describe("a fault behind POST /xmpp on the Node entry", () => {
  it("answers 500 and logs it as unhandled, as the app's onError does", async () => {
    const { createServer } = await import("node:http");
    const { nodeXmppHandler } = await import("../../../src/runtime/node-xmpp");
    const faulty = new Proxy(
      {},
      {
        get() {
          throw new Error("metrics exploded");
        },
      },
    );
    const logged: string[] = [];
    const handler = nodeXmppHandler({
      ...running.gateway.deps,
      metrics: faulty as never,
      // A failing metric is caught by the IQ handler, which logs it; a log sink failing then is not.
      log: {
        log: (_level, event, fields) => {
          if (event === "iq-failure") throw new Error("log sink exploded");
          logged.push(`${event} ${fields?.error}`);
        },
      },
    });
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const answer = await fetch(`http://127.0.0.1:${port}/xmpp`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/xml" },
        body: `<iq type='set' from='montague.example' to='${JID}' id='p1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n1'><item><notification xmlns='urn:xmpp:push:0'/></item></publish></pubsub></iq>`,
      });
      expect(answer.status).toBe(500);
      expect(await answer.text()).toBe("internal error");
      expect(logged).toEqual(["unhandled Error: log sink exploded"]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
