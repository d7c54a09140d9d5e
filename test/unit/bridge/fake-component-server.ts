import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";

/** How the fake answers a connecting component. */
export type FakeBehaviour = "accept" | "refuse-handshake" | "silent";

/** One component connection as the fake server saw it. */
export interface FakeConnection {
  readonly socket: Socket;
  /** Everything the component wrote after its handshake was accepted. */
  received: string;
  authenticated: boolean;
  closedByClient: boolean;
}

/**
 * A minimal XEP-0114 server for the bridge's connection tests: answers the stream header, checks the
 * handshake (SHA-1 of stream id + secret), then lets the test write stanzas and read what came back.
 * @see https://xmpp.org/extensions/xep-0114.html
 */
export class FakeComponentServer {
  readonly connections: FakeConnection[] = [];
  behaviour: FakeBehaviour = "accept";
  private server: Server | undefined;
  private counter = 0;
  port = 0;

  constructor(
    private readonly domain: string,
    private readonly secret: string,
  ) {}

  async start(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const address = server.address();
    this.port = typeof address === "object" && address !== null ? address.port : 0;
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get service(): string {
    return `xmpp://127.0.0.1:${this.port}`;
  }

  /** The latest authenticated connection. */
  get current(): FakeConnection | undefined {
    return this.connections.filter((connection) => connection.authenticated).at(-1);
  }

  private accept(socket: Socket): void {
    const connection: FakeConnection = { socket, received: "", authenticated: false, closedByClient: false };
    this.connections.push(connection);
    const id = `stream-${++this.counter}`;
    let buffer = "";
    let headerSent = false;
    socket.setEncoding("utf8");
    socket.on("error", () => undefined);
    socket.on("data", (chunk: string) => {
      if (this.behaviour === "silent") return;
      if (connection.authenticated) {
        connection.received += chunk;
        if (connection.received.includes("</stream:stream>")) {
          connection.closedByClient = true;
          socket.end("</stream:stream>");
        }
        return;
      }
      buffer += chunk;
      if (!headerSent && buffer.includes("<stream:stream")) {
        headerSent = true;
        socket.write(
          `<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:component:accept' id='${id}' from='${this.domain}'>`,
        );
      }
      const handshake = /<handshake>([0-9a-f]+)<\/handshake>/.exec(buffer);
      if (!handshake) return;
      const expected = createHash("sha1").update(`${id}${this.secret}`).digest("hex");
      if (this.behaviour === "accept" && handshake[1] === expected) {
        connection.authenticated = true;
        socket.write("<handshake/>");
      } else {
        socket.end(
          "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
        );
      }
    });
  }
}
