import { describe, expect, it } from "vitest";
import { errorOf, type Harness, makeHarness, publishIq, REST_KEY } from "./harness";

const REST_ENV = { REST_API_KEYS: JSON.stringify({ default: REST_KEY }) };

function postJson(h: Harness, path: string, body: unknown, headers: Record<string, string> = {}) {
  return h.app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function register(h: Harness, body: unknown, key = REST_KEY) {
  return postJson(h, "/v1/registrations", body, { authorization: `Bearer ${key}` });
}

const APNS_BODY = { provider: "apns", token: "abc123", account: "romeo@montague.example" };

describe("POST /v1/registrations", () => {
  it("answers 404 while the operator has not enabled REST registration", async () => {
    const h = makeHarness();
    expect((await register(h, APNS_BODY)).status).toBe(404);
    expect((await h.app.request("/v1/registrations/x", { method: "DELETE" })).status).toBe(404);
  });

  it("answers 401 without the app's API credential, or with a wrong one", async () => {
    const h = makeHarness({ env: REST_ENV });
    expect((await postJson(h, "/v1/registrations", APNS_BODY)).status).toBe(401);
    expect((await register(h, APNS_BODY, `${REST_KEY}x`)).status).toBe(401);
    expect((await register(h, APNS_BODY, "short")).status).toBe(401);
  });

  it("registers with a secret and answers jid, node, secret and maxPayloadSize", async () => {
    const h = makeHarness({ apnsPayloadSize: 2900, env: REST_ENV });
    const response = await register(h, APNS_BODY);
    expect(response.status).toBe(201);
    const body = await response.json();
    expect(body).toMatchObject({ jid: "push.example.net", maxPayloadSize: 2900 });
    expect(body.node).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(body.secret).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(errorOf(await h.iq(publishIq({ node: body.node })))).toBe("auth/forbidden");
    expect((await h.iq(publishIq({ node: body.node, secret: body.secret }))).attrs.type).toBe("result");
  });

  it("refreshes the token with node and secret, returning the same node and secret", async () => {
    const h = makeHarness({ env: REST_ENV });
    const first = await (await register(h, APNS_BODY)).json();
    const response = await register(h, { ...APNS_BODY, token: "new-token", node: first.node, secret: first.secret });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual(first);
    const stored = await h.store.get(first.node);
    expect(stored.kind === "found" && stored.registration.token).toBe("new-token");
  });

  it("makes a registration of its own when the same claim comes again without the secret", async () => {
    const h = makeHarness({ env: REST_ENV });
    const first = await (await register(h, APNS_BODY)).json();
    const second = await (await register(h, { ...APNS_BODY, token: "other" })).json();
    expect(second.node).not.toBe(first.node);
    expect(second.secret).not.toBe(first.secret);
    const stored = await h.store.get(first.node);
    expect(stored.kind === "found" && stored.registration.token).toBe("abc123");
  });

  it("refuses a refresh with a wrong secret, or with only one of node and secret", async () => {
    const h = makeHarness({ env: REST_ENV });
    const first = await (await register(h, APNS_BODY)).json();
    const wrong = await register(h, { ...APNS_BODY, token: "evil", node: first.node, secret: `${first.secret}x` });
    expect(wrong.status).toBe(404);
    const unknown = await register(h, { ...APNS_BODY, token: "evil", node: "no-such-node", secret: first.secret });
    expect(unknown.status).toBe(404);
    expect(await wrong.json()).toEqual(await unknown.json());
    expect((await register(h, { ...APNS_BODY, node: first.node })).status).toBe(400);
    const stored = await h.store.get(first.node);
    expect(stored.kind === "found" && stored.registration.token).toBe("abc123");
  });

  it("treats a registration with deviceId like a p2 one", async () => {
    const h = makeHarness({ env: REST_ENV });
    const first = await (await register(h, { ...APNS_BODY, provider: "fcm", deviceId: "dev-9" })).json();
    const stored = await h.store.get(first.node);
    expect(stored.kind === "found" && stored.registration).toMatchObject({
      origin: "rest",
      style: "device",
      device: "dev-9",
      secured: true,
    });
  });

  it.each([
    ["provider", { ...APNS_BODY, provider: "mpns" }],
    ["token", { ...APNS_BODY, token: "" }],
    ["token", { ...APNS_BODY, token: 42 }],
    ["account", { ...APNS_BODY, account: "montague.example" }],
    ["account", { ...APNS_BODY, account: "not a jid" }],
    ["environment", { ...APNS_BODY, environment: "staging" }],
    ["app", { ...APNS_BODY, app: "im.unknown" }],
    ["body", "[1,2]"],
    ["body", "{not json"],
  ])("names the bad field %s", async (field, body) => {
    const h = makeHarness({ env: REST_ENV });
    const response = await register(h, body);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ field });
  });

  it("refuses a provider that is not configured, naming the field", async () => {
    const h = makeHarness();
    const apnsOnly = makeHarness({ providers: { default: { apns: h.apns } }, env: REST_ENV });
    const response = await register(apnsOnly, { ...APNS_BODY, provider: "fcm" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ field: "provider" });
  });

  it("refuses invalid UTF-8 in the body", async () => {
    const h = makeHarness({ env: REST_ENV });
    const bytes = new Uint8Array([...new TextEncoder().encode('{"provider":"apns","token":"a'), 0xff, 0x22, 0x7d]);
    const response = await h.app.request("/v1/registrations", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${REST_KEY}` },
      body: bytes,
    });
    expect(response.status).toBe(400);
  });
});

describe("DELETE /v1/registrations/{node}", () => {
  it("deletes with the secret: 204; the same 404 for a wrong secret, no secret and an unknown node", async () => {
    const h = makeHarness({ env: REST_ENV });
    const { node, secret } = await (await register(h, APNS_BODY)).json();
    const del = (path: string, token?: string) =>
      h.app.request(path, {
        method: "DELETE",
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
    const refusals = [
      await del(`/v1/registrations/${node}`, "wrong"),
      await del(`/v1/registrations/${node}`),
      await del("/v1/registrations/never-minted", secret),
    ];
    const bodies = await Promise.all(refusals.map(async (response) => [response.status, await response.text()]));
    expect(new Set(bodies.map((body) => JSON.stringify(body)))).toEqual(
      new Set([JSON.stringify([404, '{"error":"unknown node"}'])]),
    );
    expect((await del(`/v1/registrations/${node}`, secret)).status).toBe(204);
    expect((await del(`/v1/registrations/${node}`, secret)).status).toBe(404);
    expect(errorOf(await h.iq(publishIq({ node, secret })))).toBe("cancel/item-not-found");
  });
});
