import { Agent, request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type RunningNodeGateway, startNodeGateway } from "../../../src/runtime/node";

/**
 * What a publish costs on the Node entry, counted rather than timed (issue 18's guard; bench/RESULTS.md):
 * `POST /xmpp` builds no web Request or Response, and the log lines of publishes answered together go
 * out in one write.
 */
const TOKEN = "publish-cost-token-0123456789abcdef";
const JID = "push.example.net";

let running: RunningNodeGateway;
beforeAll(async () => {
  // No `log` option: the entry's own buffered stdout logger is what is measured.
  running = await startNodeGateway({ env: { PUSH_JID: JID, GATEWAY_TOKEN: TOKEN }, port: 0 });
});
afterAll(() => running.close());

function post(agent: Agent, path: string, body: string, method = "POST"): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: running.port,
        path,
        method,
        agent,
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/xml" },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const publish = (id: number) =>
  `<iq type='set' from='montague.example' to='${JID}' id='p${id}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='unknown-node-${id}'><item><notification xmlns='urn:xmpp:push:0'/></item></publish></pubsub></iq>`;

describe("a publish on the Node entry", () => {
  it("builds no web Request or Response for POST /xmpp (the app's routes still do)", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const Original = globalThis.Response;
    let made = 0;
    globalThis.Response = new Proxy(Original, {
      construct(target, args, newTarget) {
        made += 1;
        return Reflect.construct(target, args, newTarget);
      },
    });
    try {
      const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => post(agent, "/xmpp", publish(i))));
      expect(statuses).toEqual(Array(20).fill(200));
      expect(made).toBe(0);
      // The counter does see the app's routes.
      expect(await post(agent, "/xmpp?via=app", publish(99))).toBe(200);
      expect(made).toBeGreaterThan(0);
    } finally {
      globalThis.Response = Original;
      agent.destroy();
    }
  });

  it("writes the log lines of publishes answered together in one write", async () => {
    // Twenty publishes pipelined in one TCP write: Node parses them in one read, so they are answered in
    // the same turn of the event loop, whatever the machine's load.
    const requests = Array.from({ length: 20 }, (_, i) => {
      const body = publish(i);
      return (
        `POST /xmpp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        `Content-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
      );
    }).join("");
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      const answers = await new Promise<string>((resolve, reject) => {
        const socket = connect(running.port, "127.0.0.1");
        let received = "";
        socket.setEncoding("utf8");
        socket.on("data", (chunk: string) => {
          received += chunk;
          if ((received.match(/HTTP\/1\.1 200/g) ?? []).length === 20) {
            socket.end();
            resolve(received);
          }
        });
        socket.on("error", reject);
        socket.write(requests);
      });
      expect(answers.match(/type='error'/g)).toHaveLength(20);
      await new Promise((resolve) => setImmediate(resolve));
      const lines = write.mock.calls.map(([text]) => String(text)).join("");
      expect(lines.split("\n").filter((line) => line.includes('"event":"publish"'))).toHaveLength(20);
      // One write per turn of the event loop: the twenty lines in one or two writes, not twenty.
      expect(write.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      write.mockRestore();
    }
  });
});
