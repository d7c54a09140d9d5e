import { describe, expect, it } from "vitest";
import { GATEWAY_TOKEN, makeHarness, PUSH_JID } from "./harness";

const PING = `<iq type='get' from='montague.example' to='${PUSH_JID}' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`;

describe("POST /xmpp (docs/protocol.md 2)", () => {
  it("requires the bearer token", async () => {
    const h = makeHarness();
    expect((await h.post(PING, { authorization: "" })).status).toBe(401);
    expect((await h.post(PING, { authorization: `Bearer ${GATEWAY_TOKEN}x` })).status).toBe(401);
    expect((await h.post(PING, { authorization: `Basic ${GATEWAY_TOKEN}` })).status).toBe(401);
    expect((await h.post(PING)).status).toBe(200);
  });

  it("works without a token when none is configured, and says so once in the log", async () => {
    const h = makeHarness({ env: { GATEWAY_TOKEN: "" } });
    expect((await h.post(PING, { authorization: "" })).status).toBe(200);
    expect(h.logs.filter((l) => l.event === "no-gateway-token")).toHaveLength(1);
  });

  it("replies with the request's id, swapped addresses, no xmlns and no XML declaration", async () => {
    const h = makeHarness();
    for (const ns of ["", " xmlns='jabber:component:accept'", " xmlns='jabber:client'"]) {
      const response = await h.post(PING.replace("<iq ", `<iq${ns} `));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("application/xml");
      expect(await response.text()).toBe(`<iq type='result' from='${PUSH_JID}' to='montague.example' id='p1'/>`);
    }
  });

  it("accepts text/xml and no content type, and refuses JSON", async () => {
    const h = makeHarness();
    expect((await h.post(PING, { "content-type": "text/xml; charset=utf-8" })).status).toBe(200);
    expect((await h.post(PING, { "content-type": "application/json" })).status).toBe(415);
  });

  it.each([
    ["an IQ result", `<iq type='result' from='montague.example' to='${PUSH_JID}' id='r1'/>`],
    [
      "an IQ error",
      `<iq type='error' from='montague.example' to='${PUSH_JID}' id='e1'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
    ],
    ["a message", `<message from='romeo@montague.example' to='${PUSH_JID}'><body>hi</body></message>`],
    ["a presence", `<presence from='romeo@montague.example/orchard' to='${PUSH_JID}'/>`],
  ])("answers 204 without a body to %s", async (_name, stanza) => {
    const h = makeHarness();
    const response = await h.post(stanza);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
  });

  it.each([
    ["empty body", ""],
    ["text", "hello"],
    ["two roots", `${PING}${PING}`],
    ["a root that is not a stanza", "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>"],
    ["an IQ in another namespace", `<iq xmlns='urn:example' type='get' id='x'><ping xmlns='urn:xmpp:ping'/></iq>`],
    ["a DOCTYPE", `<!DOCTYPE iq [<!ENTITY x "y">]>${PING}`],
    [
      "a billion laughs",
      `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><iq type='get' id='&lol2;'/>`,
    ],
    ["a processing instruction", `<?xml-stylesheet href='x'?>${PING}`],
    ["an undefined entity", `<iq type='get' id='&nbsp;'><ping xmlns='urn:xmpp:ping'/></iq>`],
    ["unclosed tags", "<iq type='get' id='x'><ping xmlns='urn:xmpp:ping'></iq>"],
    ["deep nesting", `<iq type='set' id='d'>${"<a>".repeat(200)}${"</a>".repeat(200)}</iq>`],
    ["a huge attribute", `<iq type='get' id='${"x".repeat(5000)}'><ping xmlns='urn:xmpp:ping'/></iq>`],
  ])("answers 400 to %s", async (_name, body) => {
    const h = makeHarness();
    const response = await h.post(body);
    expect(response.status).toBe(400);
    expect((await response.text()).length).toBeLessThan(200);
  });

  it("answers 400 to the XEP-0357 publish-options example, which is not well-formed", async () => {
    // XEP-0357 v0.4.1, example "Server publishes a push notification with publish options": a closing
    // </value> lacks its '/', as published.
    const h = makeHarness();
    const example = `<iq type='set' from='user@example.com' to='push-5.client.example' id='n12'>
  <pubsub xmlns='http://jabber.org/protocol/pubsub'>
    <publish node='yxs32uqsflafdk3iuqo'>
      <item>
        <notification xmlns='urn:xmpp:push:0'>
          <x xmlns='jabber:x:data'>
            <field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field>
            <field var='message-count'><value>1</value></field>
          </x>
        </notification>
      </item>
    </publish>
    <publish-options>
      <x xmlns='jabber:x:data' type='submit'>
        <field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>
        <field var='secret'><value>eruio234vzxc2kla-91<value></field>
      </x>
    </publish-options>
  </pubsub>
</iq>`;
    expect((await h.post(example)).status).toBe(400);
  });

  it("answers 400 to a stanza with invalid UTF-8 instead of repairing it with U+FFFD", async () => {
    const h = makeHarness();
    const head = new TextEncoder().encode(
      "<iq type='get' from='a@b.example/r' to='push.example.net' id='u1'><ping xmlns='urn:xmpp:ping'/><!-- ",
    );
    const body = new Uint8Array([...head, 0xc3, 0x28, ...new TextEncoder().encode(" --></iq>")]);
    const response = await h.app.request("/xmpp", {
      method: "POST",
      headers: { authorization: `Bearer ${GATEWAY_TOKEN}`, "content-type": "application/xml" },
      body,
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("UTF-8");
  });

  it("answers 413 to a body over the limit", async () => {
    const h = makeHarness();
    const big = `<iq type='get' id='b'><ping xmlns='urn:xmpp:ping'>${"x".repeat(70 * 1024)}</ping></iq>`;
    expect((await h.post(big)).status).toBe(413);
  });

  it("answers 413 to a declared length over the limit before the token is checked", async () => {
    const h = makeHarness();
    const response = await h.app.request("/xmpp", {
      method: "POST",
      headers: { "content-type": "application/xml", "content-length": String(64 * 1024 + 1) },
      body: PING,
    });
    expect(response.status).toBe(413);
  });

  it("reads a streamed body only up to the limit", async () => {
    const h = makeHarness();
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new TextEncoder().encode(`<x>${"y".repeat(4096)}</x>`));
      },
    });
    const response = await h.app.request("/xmpp", {
      method: "POST",
      headers: { authorization: `Bearer ${GATEWAY_TOKEN}`, "content-type": "application/xml" },
      body: endless,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    // 64 KiB in chunks of 4 KiB and a bit: the read stopped at the first chunk past the limit.
    expect(pulled).toBeLessThanOrEqual(18);
  });

  it("answers 413 to an over-long REST body, declared or streamed", async () => {
    const h = makeHarness({
      env: { REST_API_KEYS: JSON.stringify({ default: "rest-key-0123456789abcdef0123456789" }) },
    });
    const big = JSON.stringify({ provider: "apns", token: "a".repeat(70 * 1024) });
    const headers = { authorization: "Bearer rest-key-0123456789abcdef0123456789", "content-type": "application/json" };
    expect((await h.app.request("/v1/registrations", { method: "POST", headers, body: big })).status).toBe(413);
    const declared = { ...headers, "content-length": String(big.length) };
    expect((await h.app.request("/v1/registrations", { method: "POST", headers: declared, body: big })).status).toBe(
      413,
    );
  });

  it("answers bad-request to an IQ get/set without exactly one child, without id, or of an unknown type", async () => {
    const h = makeHarness();
    for (const stanza of [
      `<iq type='get' from='a.example' to='${PUSH_JID}' id='z'/>`,
      `<iq type='get' from='a.example' to='${PUSH_JID}' id='z'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>`,
      `<iq type='fetch' from='a.example' to='${PUSH_JID}' id='z'><ping xmlns='urn:xmpp:ping'/></iq>`,
      `<iq type='get' from='a.example' to='${PUSH_JID}'><ping xmlns='urn:xmpp:ping'/></iq>`,
    ]) {
      const response = await h.post(stanza);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toContain("<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>");
      expect(text.startsWith("<iq type='error'")).toBe(true);
    }
  });

  it("escapes what it echoes", async () => {
    const h = makeHarness();
    const response = await h.post(
      `<iq type='get' from='a.example' to='${PUSH_JID}' id='a&amp;&lt;b&apos;'><ping xmlns='urn:xmpp:ping'/></iq>`,
    );
    expect(await response.text()).toContain("id='a&amp;&lt;b&apos;'");
  });
});

describe("GET /health", () => {
  it("answers ok with the service JID and the offered providers", async () => {
    const h = makeHarness();
    const response = await h.app.request("/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok", jid: PUSH_JID, providers: ["apns", "fcm"] });
  });
});
