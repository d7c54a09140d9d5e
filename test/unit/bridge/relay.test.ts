import { describe, expect, it, vi } from "vitest";
import {
  buildWaitError,
  domainOf,
  type GatewayAnswer,
  type IncomingStanza,
  type PostStanza,
  Relay,
  type RelayOptions,
  type StanzaHead,
} from "../../../src/bridge";
import type { LogFields, LogLevel } from "../../../src/log";

const JID = "push.example.net";
const WAIT = "<error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>";

interface Posted {
  readonly text: string;
  readonly signal: AbortSignal;
  resolve(answer: GatewayAnswer): void;
  reject(error: unknown): void;
}

/** A gateway seam whose answers the test gives by hand, in any order. */
function manualGateway() {
  const posted: Posted[] = [];
  const post: PostStanza = (text, signal) =>
    new Promise<GatewayAnswer>((resolve, reject) => {
      posted.push({ text, signal, resolve, reject });
      signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
    });
  return { posted, post };
}

function relayWith(post: PostStanza, options: Partial<RelayOptions> = {}) {
  const sent: string[] = [];
  const logs: { level: LogLevel; event: string; fields: LogFields }[] = [];
  const relay = new Relay({
    jid: JID,
    post,
    send: async (text) => {
      sent.push(text);
    },
    log: { log: (level, event, fields = {}) => logs.push({ level, event, fields }) },
    ...options,
  });
  return { relay, sent, logs };
}

function answering(answer: GatewayAnswer | Error): PostStanza {
  return async () => {
    if (answer instanceof Error) throw answer;
    return answer;
  };
}

const disco: IncomingStanza = {
  text: "<iq type='get' id='d1' from='romeo@montague.example/orchard' to='push.example.net'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
  head: { name: "iq", type: "get", id: "d1", from: "romeo@montague.example/orchard", to: JID },
};

const publish: IncomingStanza = {
  text: "<iq type='set' id='p1' from='montague.example' to='push.example.net'><pubsub xmlns='http://jabber.org/protocol/pubsub'/></iq>",
  head: { name: "iq", type: "set", id: "p1", from: "montague.example", to: JID },
};

function stanza(head: StanzaHead): IncomingStanza {
  return { text: `<${head.name} id='${head.id ?? ""}'/>`, head };
}

const waitFor = (head: StanzaHead) => `<iq type='error' id='${head.id}' from='${head.to}' to='${head.from}'>${WAIT}`;

describe("Relay: replies", () => {
  it("posts the stanza text unchanged and writes the gateway's reply back verbatim", async () => {
    const reply =
      "<iq type='result' id='d1' from='push.example.net' to='romeo@montague.example/orchard'>\n <query xmlns='http://jabber.org/protocol/disco#info'/></iq>";
    const texts: string[] = [];
    const { relay, sent } = relayWith(async (text) => {
      texts.push(text);
      return { status: 200, body: reply };
    });

    const outcome = await relay.relay(disco);

    expect(texts).toEqual([disco.text]);
    expect(sent).toEqual([reply]);
    expect(outcome).toEqual({ reply: "gateway", status: 200 });
  });

  it("answers wait when the gateway is unreachable", async () => {
    const { relay, sent } = relayWith(answering(new TypeError("fetch failed")));

    const outcome = await relay.relay(publish);

    expect(sent).toEqual([waitFor(publish.head)]);
    expect(outcome).toEqual({ reply: "wait", problem: "unreachable" });
  });

  it.each([500, 503, 401, 400, 413, 404, 302])("answers wait on HTTP %i", async (status) => {
    const { relay, sent } = relayWith(answering({ status, body: "<iq type='result'/>" }));

    const outcome = await relay.relay(publish);

    expect(sent).toEqual([waitFor(publish.head)]);
    expect(outcome).toEqual({ reply: "wait", problem: "http-status", status });
  });

  it("answers wait when the gateway takes longer than the timeout, and aborts the request", async () => {
    const gateway = manualGateway();
    const { relay, sent } = relayWith(gateway.post, { timeoutMs: 20 });

    const outcome = await relay.relay(publish);

    expect(outcome).toEqual({ reply: "wait", problem: "timeout" });
    expect(sent).toEqual([waitFor(publish.head)]);
    expect(gateway.posted[0]?.signal.aborted).toBe(true);
  });

  it("times out after 30 seconds by default", async () => {
    const gateway = manualGateway();
    const { relay } = relayWith(gateway.post);
    vi.useFakeTimers();
    try {
      const pending = relay.relay(publish);
      await vi.advanceTimersByTimeAsync(29_999);
      expect(relay.inFlight).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(await pending).toEqual({ reply: "wait", problem: "timeout" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("answers wait when the gateway has no reply for an IQ request (204)", async () => {
    const { relay, sent } = relayWith(answering({ status: 204, body: "" }));

    const outcome = await relay.relay(publish);

    expect(sent).toEqual([waitFor(publish.head)]);
    expect(outcome).toEqual({ reply: "wait", problem: "no-reply", status: 204 });
  });

  it.each(["", "ok", "<html>proxy</html>", "<iqx/>"])("answers wait when a 200 body is not an IQ: %j", async (body) => {
    const { relay, sent } = relayWith(answering({ status: 200, body }));

    const outcome = await relay.relay(disco);

    expect(sent).toEqual([waitFor(disco.head)]);
    expect(outcome.problem).toBe("bad-reply");
  });
});

describe("Relay: stanzas that are never answered", () => {
  const heads: StanzaHead[] = [
    { name: "iq", type: "result", id: "r1", from: "montague.example", to: JID },
    { name: "iq", type: "error", id: "e1", from: "montague.example", to: JID },
    { name: "message", type: "chat", id: "m1", from: "romeo@montague.example/orchard", to: JID },
    { name: "presence", id: "pr1", from: "romeo@montague.example/orchard", to: JID },
    { name: "presence", type: "subscribe", from: "romeo@montague.example", to: JID },
  ];
  const answers: [string, PostStanza][] = [
    ["204", answering({ status: 204, body: "" })],
    ["200 with a body", answering({ status: 200, body: "<iq type='result'/>" })],
    ["500", answering({ status: 500, body: "" })],
    ["unreachable", answering(new TypeError("fetch failed"))],
  ];

  for (const head of heads)
    it.each(answers)(`relays ${head.name}/${head.type ?? "-"} and writes nothing back on %s`, async (_, post) => {
      const posted: string[] = [];
      const { relay, sent } = relayWith(async (text, signal) => {
        posted.push(text);
        return post(text, signal);
      });

      const outcome = await relay.relay(stanza(head));

      expect(posted).toHaveLength(1);
      expect(sent).toEqual([]);
      expect(outcome.reply).toBe("none");
    });

  it("writes nothing back for a message that times out", async () => {
    const { relay, sent } = relayWith(manualGateway().post, { timeoutMs: 10 });

    const outcome = await relay.relay(stanza({ name: "message", id: "m2", to: JID }));

    expect(outcome).toEqual({ reply: "none", problem: "timeout" });
    expect(sent).toEqual([]);
  });
});

describe("Relay: bounded in-flight requests", () => {
  it("answers wait at once, without posting, beyond the bound; posts again once a slot frees", async () => {
    const gateway = manualGateway();
    const { relay, sent } = relayWith(gateway.post, { maxInFlight: 2 });
    const first = relay.relay({ ...publish, head: { ...publish.head, id: "a" } });
    const second = relay.relay({ ...publish, head: { ...publish.head, id: "b" } });

    const third = await relay.relay({ ...publish, head: { ...publish.head, id: "c" } });

    expect(third).toEqual({ reply: "wait", problem: "overloaded" });
    expect(gateway.posted).toHaveLength(2);
    expect(relay.inFlight).toBe(2);
    expect(sent).toEqual([waitFor({ ...publish.head, id: "c" })]);

    gateway.posted[0]?.resolve({ status: 200, body: "<iq type='result' id='a'/>" });
    await first;
    const fourth = relay.relay({ ...publish, head: { ...publish.head, id: "d" } });
    expect(gateway.posted).toHaveLength(3);
    gateway.posted[1]?.resolve({ status: 200, body: "<iq type='result' id='b'/>" });
    gateway.posted[2]?.resolve({ status: 200, body: "<iq type='result' id='d'/>" });
    await Promise.all([second, fourth]);
    expect(sent.slice(1)).toEqual([
      "<iq type='result' id='a'/>",
      "<iq type='result' id='b'/>",
      "<iq type='result' id='d'/>",
    ]);
    expect(relay.inFlight).toBe(0);
  });

  it("neither posts nor answers a message beyond the bound", async () => {
    const gateway = manualGateway();
    const { relay, sent } = relayWith(gateway.post, { maxInFlight: 1 });
    void relay.relay(publish);

    const outcome = await relay.relay(stanza({ name: "message", id: "m", to: JID }));

    expect(outcome).toEqual({ reply: "none", problem: "overloaded" });
    expect(gateway.posted).toHaveLength(1);
    expect(sent).toEqual([]);
  });
});

describe("Relay: shutdown", () => {
  it("lets a stanza in flight finish within the grace period", async () => {
    const gateway = manualGateway();
    const { relay, sent } = relayWith(gateway.post);
    const pending = relay.relay(publish);

    const closed = relay.close(5_000);
    gateway.posted[0]?.resolve({ status: 200, body: "<iq type='result' id='p1'/>" });
    await closed;

    expect(await pending).toEqual({ reply: "gateway", status: 200 });
    expect(sent).toEqual(["<iq type='result' id='p1'/>"]);
  });

  it("answers wait for IQ requests still in flight after the grace period, and ignores late replies", async () => {
    const gateway = manualGateway();
    const { relay, sent } = relayWith(gateway.post);
    const pending = relay.relay(publish);
    void relay.relay(stanza({ name: "message", id: "m", to: JID }));

    await relay.close(10);
    gateway.posted[0]?.resolve({ status: 200, body: "<iq type='result' id='p1'/>" });

    expect(await pending).toEqual({ reply: "wait", problem: "closing" });
    expect(sent).toEqual([waitFor(publish.head)]);
    expect(gateway.posted.every((p) => p.signal.aborted)).toBe(true);
  });

  it("answers IQ requests arriving while closing with wait, without posting", async () => {
    const gateway = manualGateway();
    const { relay, sent } = relayWith(gateway.post);
    await relay.close(10);

    const outcome = await relay.relay(disco);
    const message = await relay.relay(stanza({ name: "message", id: "m", to: JID }));

    expect(outcome).toEqual({ reply: "wait", problem: "closing" });
    expect(message).toEqual({ reply: "none", problem: "closing" });
    expect(gateway.posted).toEqual([]);
    expect(sent).toEqual([waitFor(disco.head)]);
  });
});

describe("Relay: logs", () => {
  it("logs kind, type, id, the sender's domain, status and latency, never the stanza or the local part", async () => {
    const { relay, logs } = relayWith(answering({ status: 200, body: "<iq type='result'/>" }));

    await relay.relay(disco);

    expect(logs).toHaveLength(1);
    const [entry] = logs;
    expect(entry?.event).toBe("stanza");
    expect(entry?.fields).toMatchObject({ kind: "iq", type: "get", id: "d1", from: "montague.example", status: 200 });
    expect(typeof entry?.fields.latencyMs).toBe("number");
    expect(JSON.stringify(logs)).not.toContain("romeo");
    expect(JSON.stringify(logs)).not.toContain("disco#info");
  });

  it("logs why the gateway was unreachable: fetch's message and its cause's code", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8787"), { code: "ECONNREFUSED" });
    const { relay, logs } = relayWith(answering(new TypeError("fetch failed", { cause: refused })));

    await relay.relay(publish);

    expect(logs[0]?.fields).toMatchObject({
      problem: "unreachable",
      reply: "wait",
      detail: "fetch failed: ECONNREFUSED",
    });
  });

  it("logs a reply that could not be written, and does not throw", async () => {
    const logs: string[] = [];
    const relay = new Relay({
      jid: JID,
      post: answering({ status: 500, body: "" }),
      send: async () => {
        throw new Error("stream is disconnect");
      },
      log: { log: (_level, event) => logs.push(event) },
    });

    await expect(relay.relay(publish)).resolves.toEqual({ reply: "wait", problem: "http-status", status: 500 });
    expect(logs).toContain("reply-not-sent");
  });
});

describe("buildWaitError", () => {
  it("swaps from and to, keeps the id, escapes attribute values", () => {
    expect(buildWaitError({ name: "iq", type: "set", id: "a'<&>\"", from: "x.example", to: JID }, JID)).toBe(
      `<iq type='error' id='a&apos;&lt;&amp;&gt;&quot;' from='${JID}' to='x.example'>${WAIT}`,
    );
  });

  it("answers from the service's own JID when the request had no 'to', and leaves out what is absent", () => {
    expect(buildWaitError({ name: "iq", type: "get" }, JID)).toBe(`<iq type='error' from='${JID}'>${WAIT}`);
  });
});

describe("domainOf", () => {
  it.each([
    ["romeo@montague.example/orchard", "montague.example"],
    ["montague.example", "montague.example"],
    ["montague.example/res@x", "montague.example"],
    ["a@b@c.example", "c.example"],
  ])("%s -> %s", (jid, domain) => {
    expect(domainOf(jid)).toBe(domain);
  });
});
