import { Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/config";
import {
  connectionLimit,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_TIMEOUTS,
  type NodeGatewayOptions,
  type RunningNodeGateway,
  startNodeGateway,
} from "../../../src/runtime/node";

const quiet = { log() {} };
const TOKEN = "node-limits-gateway-token-0123456789";
const PING = "<iq type='get' id='1' from='a@b.example/r' to='push.localhost'><ping xmlns='urn:xmpp:ping'/></iq>";

function start(env: Record<string, string>, options: Omit<NodeGatewayOptions, "env" | "port"> = {}) {
  return startNodeGateway({
    env: { PUSH_JID: "push.localhost", GATEWAY_TOKEN: TOKEN, HOST: "127.0.0.1", ...env },
    port: 0,
    log: quiet,
    ...options,
  });
}

function httpServer(running: RunningNodeGateway): Server {
  if (!(running.server instanceof Server)) throw new Error("expected an HTTP/1.1 server");
  return running.server;
}

/** A raw TCP client: what it received, and promises of its connection and of its closing. */
interface RawClient {
  readonly socket: Socket;
  readonly connected: Promise<void>;
  /** Resolves when the socket closes, with the milliseconds since `markStart` was last called. */
  readonly closed: Promise<number>;
  received(): string;
  markStart(): void;
}

function rawClient(port: number): RawClient {
  const socket = connect({ host: "127.0.0.1", port });
  let data = "";
  let startedAt = Date.now();
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    data += chunk;
  });
  socket.on("error", () => {}); // a reset is one of the ways a refused connection ends
  return {
    socket,
    connected: new Promise((resolve) => socket.once("connect", () => resolve())),
    closed: new Promise((resolve) => socket.once("close", () => resolve(Date.now() - startedAt))),
    received: () => data,
    markStart() {
      startedAt = Date.now();
    },
  };
}

/** Resolves once `server` has accepted `count` more connections, with their server-side sockets. */
function accepted(server: Server, count: number): Promise<Socket[]> {
  return new Promise((resolve) => {
    const sockets: Socket[] = [];
    const onConnection = (socket: Socket) => {
      sockets.push(socket);
      if (sockets.length < count) return;
      server.off("connection", onConnection);
      resolve(sockets);
    };
    server.on("connection", onConnection);
  });
}

describe("MAX_CONNECTIONS", () => {
  it("defaults to 1024 and refuses a value that is not a positive integer, naming it", async () => {
    expect(connectionLimit({})).toBe(DEFAULT_MAX_CONNECTIONS);
    expect(DEFAULT_MAX_CONNECTIONS).toBe(1024);
    expect(connectionLimit({ MAX_CONNECTIONS: " 16 " })).toBe(16);
    for (const bad of ["0", "-1", "1.5", "many", "1e3", "2000000"]) {
      expect(() => connectionLimit({ MAX_CONNECTIONS: bad }), bad).toThrow(ConfigError);
    }
    await expect(start({ MAX_CONNECTIONS: "lots" })).rejects.toThrow(/^configuration: MAX_CONNECTIONS /);
  });

  it("keeps requestTimeout above the gateway's 25 s publish bound", () => {
    expect(DEFAULT_TIMEOUTS).toEqual({ headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 });
  });
});

describe("the Node gateway's per-client limit", () => {
  let running: RunningNodeGateway;
  beforeAll(async () => {
    running = await start({ RATE_LIMIT_PER_MINUTE: "5" });
  });
  afterAll(async () => {
    await running?.close();
  });

  it("answers 429 on /health past RATE_LIMIT_PER_MINUTE while /xmpp with the token keeps answering", async () => {
    for (let i = 0; i < 5; i += 1) expect((await fetch(`${running.url}/health`)).status).toBe(200);
    const refused = await fetch(`${running.url}/health`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
    for (let i = 0; i < 8; i += 1) {
      const answer = await fetch(`${running.url}/xmpp`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/xml" },
        body: PING,
      });
      expect(answer.status).toBe(200);
      expect(await answer.text()).toContain("type='result'");
    }
    expect((await fetch(`${running.url}/health`)).status).toBe(429);
  });
});

describe("X-Forwarded-For on the Node gateway", () => {
  const health = (url: string, forwardedFor?: string) =>
    fetch(`${url}/health`, forwardedFor === undefined ? {} : { headers: { "x-forwarded-for": forwardedFor } });

  it("is ignored without TRUSTED_PROXIES: a client cannot buy budgets with a header of its own", async () => {
    const running = await start({ RATE_LIMIT_PER_MINUTE: "2" });
    try {
      expect((await health(running.url, "198.51.100.1")).status).toBe(200);
      expect((await health(running.url, "198.51.100.2")).status).toBe(200);
      expect((await health(running.url, "198.51.100.3")).status).toBe(429);
    } finally {
      await running.close();
    }
  });

  it("is believed from TRUSTED_PROXIES=127.0.0.1, rightmost untrusted address first", async () => {
    const running = await start({ RATE_LIMIT_PER_MINUTE: "2", TRUSTED_PROXIES: "127.0.0.1" });
    try {
      expect((await health(running.url, "198.51.100.1")).status).toBe(200);
      expect((await health(running.url, "198.51.100.1")).status).toBe(200);
      expect((await health(running.url, "198.51.100.1")).status).toBe(429);
      // Another client behind the same proxy is unaffected...
      expect((await health(running.url, "198.51.100.2")).status).toBe(200);
      // ...and the limited one cannot escape by prepending an address: the proxy appended its real one.
      expect((await health(running.url, "192.0.2.66, 198.51.100.1")).status).toBe(429);
      // The proxy's own requests (no header) count as the proxy's.
      expect((await health(running.url)).status).toBe(200);
    } finally {
      await running.close();
    }
  });
});

describe("the Node gateway's connection cap", () => {
  it("refuses connections past MAX_CONNECTIONS and accepts again once one closes", async () => {
    const running = await start({ MAX_CONNECTIONS: "4" });
    const server = httpServer(running);
    const clients: RawClient[] = [];
    try {
      const first = accepted(server, 4);
      for (let i = 0; i < 4; i += 1) clients.push(rawClient(running.port));
      const serverSides = await first;

      const dropped = new Promise<void>((resolve) => server.once("drop", () => resolve()));
      const fifth = rawClient(running.port);
      clients.push(fifth);
      await dropped;
      await fifth.closed;
      expect(fifth.received()).toBe("");

      // The four held connections still serve requests.
      const held = clients[0];
      if (held === undefined) throw new Error("no client");
      const answered = new Promise<void>((resolve) =>
        held.socket.on("data", () => {
          if (held.received().includes("\r\n\r\n")) resolve();
        }),
      );
      held.socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      await answered;
      expect(held.received()).toMatch(/^HTTP\/1\.1 200 /);

      // Closing one makes room for one more.
      const serverSide = serverSides[1];
      if (serverSide === undefined) throw new Error("no server-side socket");
      const gone = new Promise<void>((resolve) => serverSide.once("close", () => resolve()));
      clients[1]?.socket.destroy();
      await gone;
      const next = accepted(server, 1);
      clients.push(rawClient(running.port));
      await next;
    } finally {
      for (const client of clients) client.socket.destroy();
      await running.close();
    }
  });
});

describe("the Node gateway's timeouts", () => {
  let running: RunningNodeGateway;
  const timeouts = { headersMs: 300, requestMs: 600, keepAliveMs: 200 };
  beforeAll(async () => {
    running = await start({}, { timeouts });
  });
  afterAll(async () => {
    await running?.close();
  });

  it("cuts off a client that sends headers with a Content-Length and then no body (408)", async () => {
    const client = rawClient(running.port);
    await client.connected;
    client.markStart();
    client.socket.write(
      // /xmpp with the token reads the body whatever else is configured, so the server waits for it.
      `POST /xmpp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/xml\r\nContent-Length: 100\r\n\r\n<iq`,
    );
    const elapsed = await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(elapsed).toBeGreaterThanOrEqual(timeouts.requestMs - 100);
    expect(elapsed).toBeLessThan(10_000);
  });

  it("cuts off a client whose headers never end (408)", async () => {
    const client = rawClient(running.port);
    await client.connected;
    client.markStart();
    client.socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const elapsed = await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(elapsed).toBeGreaterThanOrEqual(timeouts.headersMs - 100);
    expect(elapsed).toBeLessThan(10_000);
  });

  it("closes an idle keep-alive connection after its answer", async () => {
    const client = rawClient(running.port);
    await client.connected;
    client.socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(client.received()).toContain("Keep-Alive: timeout=");
  });
});
