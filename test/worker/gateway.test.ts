import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { DurableObjectOwnerIndex } from "../../src/runtime/registration-index";
import { KvRegistrationStore } from "../../src/store";
import { withBulkReads } from "../../src/store/kv";
import {
  errorOf,
  formField,
  makeHarness,
  publishIq,
  REST_KEY,
  registerDeviceIq,
  registerP2Iq,
} from "../shared/harness";

/** The gateway over KV and the Durable Object index, as the Worker builds it (fresh prefix per harness). */
function kvHarness(env_: Record<string, unknown> = {}) {
  const prefix = `${crypto.randomUUID()}/`;
  const store = new KvRegistrationStore(withBulkReads(env.REGISTRATIONS), {
    index: new DurableObjectOwnerIndex(env.REGISTRATION_INDEX, prefix),
    keyPrefix: prefix,
  });
  return makeHarness({ store, env: env_ });
}

describe("the gateway over Workers KV, inside workerd", () => {
  it("registers, and registering again returns the same node", async () => {
    const h = kvHarness();
    const first = formField(await h.iq(registerDeviceIq({ token: "kv-token-1" })), "node")?.values[0];
    const second = formField(await h.iq(registerDeviceIq({ token: "kv-token-1", id: "again" })), "node")?.values[0];
    expect(first).toBeTruthy();
    expect(second).toBe(first);
  });

  it("gives two accounts on one token two nodes", async () => {
    const h = kvHarness();
    const romeo = formField(await h.iq(registerDeviceIq({ token: "shared-token" })), "node")?.values[0];
    const juliet = formField(
      await h.iq(registerDeviceIq({ token: "shared-token", from: "juliet@capulet.example/balcony" })),
      "node",
    )?.values[0];
    expect(juliet).not.toBe(romeo);
  });

  it("publishes to a registration kept in KV, with the p2 secret", async () => {
    const h = kvHarness();
    const reply = await h.iq(registerP2Iq({ token: "kv-fcm" }));
    const node = formField(reply, "node")?.values[0] ?? "";
    const secret = formField(reply, "secret")?.values[0] ?? "";
    expect(errorOf(await h.iq(publishIq({ node, from: "capulet.example" })))).toBe("auth/forbidden");
    expect((await h.iq(publishIq({ node, from: "capulet.example", secret }))).attrs.type).toBe("result");
    expect(h.fcm.sent.map((request) => request.registration.token)).toEqual(["kv-fcm"]);
  });

  it("unregisters; the deleted node stays dead and a new registration gets a new node", async () => {
    const h = kvHarness();
    const node = formField(await h.iq(registerDeviceIq({ token: "kv-gone" })), "node")?.values[0] ?? "";
    h.apns.willAnswer({ kind: "token-dead", reason: "Unregistered" });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("cancel/item-not-found");
    expect(errorOf(await h.iq(publishIq({ node, id: "later" })))).toBe("cancel/item-not-found");
    expect(h.apns.sent).toHaveLength(1);
    const fresh = formField(await h.iq(registerDeviceIq({ token: "kv-gone", id: "new" })), "node")?.values[0];
    expect(fresh).toBeTruthy();
    expect(fresh).not.toBe(node);
  });

  it("gives 100 simultaneous registrations of one identity one node through the Durable Object", async () => {
    const h = kvHarness();
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => h.iq(registerP2Iq({ token: `t-${i}`, id: `p2-${i}`, deviceId: "same" }))),
    );
    expect(new Set(replies.map((reply) => formField(reply, "node")?.values[0])).size).toBe(1);
  });

  it("caps registrations per account in the Durable Object, whatever isolate asks", async () => {
    const a = kvHarness({ MAX_REGISTRATIONS_PER_ACCOUNT: "2" });
    for (let i = 0; i < 2; i++)
      expect(formField(await a.iq(registerP2Iq({ deviceId: `d${i}` })), "node")).toBeDefined();
    expect(errorOf(await a.iq(registerP2Iq({ deviceId: "d2" })))).toBe("cancel/not-allowed");
  });

  it("keeps REST claims apart from the XMPP registration they name", async () => {
    const h = kvHarness({ REST_API_KEYS: JSON.stringify({ default: REST_KEY }) });
    const reply = await h.iq(registerP2Iq({ token: "victim", deviceId: "D" }));
    const node = formField(reply, "node")?.values[0] ?? "";
    const response = await h.app.request("/v1/registrations", {
      method: "POST",
      headers: { authorization: `Bearer ${REST_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ provider: "fcm", token: "attacker", account: "juliet@capulet.example", deviceId: "D" }),
    });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { node: string }).node).not.toBe(node);
    const stored = await h.store.get(node);
    expect(stored.kind === "found" && stored.registration.token).toBe("victim");
  });

  it("answers item-not-found for a node KV never had", async () => {
    const h = kvHarness();
    expect(errorOf(await h.iq(publishIq({ node: "never-minted-here" })))).toBe("cancel/item-not-found");
  });
});

describe("the Worker's fetch handler", () => {
  const post = (body: string) =>
    exports.default.fetch(
      new Request("http://gateway.test/xmpp", { method: "POST", headers: { "content-type": "application/xml" }, body }),
    );

  it("answers health, disco#info and a publish to an unknown node", async () => {
    const health = await exports.default.fetch(new Request("http://gateway.test/health"));
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", jid: "push.localhost" });
    const disco = await post(
      "<iq type='get' from='example.com' to='push.localhost' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    );
    expect(await disco.text()).toContain("<identity category='pubsub' type='push'");
    const publish = await post(
      "<iq type='set' from='example.com' to='push.localhost' id='p1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='nope'><item><notification xmlns='urn:xmpp:push:0'/></item></publish></pubsub></iq>",
    );
    expect(await publish.text()).toContain("<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>");
  });

  it("answers 400 to malformed XML", async () => {
    expect((await post("<iq")).status).toBe(400);
  });
});

describe("the Worker's provider transport", () => {
  it("aborts a request whose timeoutMs passed with workerd's TimeoutError, which requestWithDeadline turns into retry-later", async () => {
    const { fetchTransport } = await import("../../src/runtime/worker");
    const { requestWithDeadline } = await import("../../src/providers/provider-request");
    expect(fetchTransport.enforcesTimeout).toBe(true);
    // A provider that never answers: the request ends only when the transport's own signal aborts it.
    const hanging = vi.spyOn(globalThis, "fetch").mockImplementation(
      (_url, init) =>
        new Promise((_resolve, reject) => {
          const signal = init?.signal;
          signal?.addEventListener("abort", () => reject(signal.reason));
        }),
    );
    try {
      const started = Date.now();
      const exchange = await requestWithDeadline(
        fetchTransport,
        "https://api.push.apple.com/3/device/x",
        { method: "POST", headers: {}, body: "{}" },
        50,
      );
      expect(exchange).toEqual({ ok: false, outcome: { kind: "retry-later", reason: "no answer within 50 ms" } });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(hanging).toHaveBeenCalledTimes(1);
    } finally {
      hanging.mockRestore();
    }
  });
});
