import { describe, expect, it } from "vitest";
import { errorOf, type Harness, makeHarness, publishIq } from "./harness";

function postJson(h: Harness, path: string, body: unknown, headers: Record<string, string> = {}) {
  return h.app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const APNS_BODY = { provider: "apns", token: "abc123", account: "romeo@montague.example" };

describe("POST /v1/registrations", () => {
  it("registers with a secret and answers jid, node, secret and maxPayloadSize", async () => {
    const h = makeHarness({ apnsPayloadSize: 2900 });
    const response = await postJson(h, "/v1/registrations", APNS_BODY);
    expect(response.status).toBe(201);
    const body = await response.json();
    expect(body).toMatchObject({ jid: "push.example.net", maxPayloadSize: 2900 });
    expect(body.node).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(body.secret).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const again = await (await postJson(h, "/v1/registrations", APNS_BODY)).json();
    expect(again).toEqual(body);
    expect(errorOf(await h.iq(publishIq({ node: body.node })))).toBe("auth/forbidden");
    expect((await h.iq(publishIq({ node: body.node, secret: body.secret }))).attrs.type).toBe("result");
  });

  it("treats a registration with deviceId like a p2 one", async () => {
    const h = makeHarness();
    const first = await (
      await postJson(h, "/v1/registrations", { ...APNS_BODY, provider: "fcm", deviceId: "dev-9" })
    ).json();
    const second = await (
      await postJson(h, "/v1/registrations", { ...APNS_BODY, provider: "fcm", deviceId: "dev-9", token: "new-token" })
    ).json();
    expect(second.node).toBe(first.node);
    const stored = await h.store.get(first.node);
    expect(stored.kind === "found" && stored.registration).toMatchObject({
      style: "device",
      device: "dev-9",
      token: "new-token",
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
    const h = makeHarness();
    const response = await postJson(h, "/v1/registrations", body);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ field });
  });

  it("refuses a provider that is not configured, naming the field", async () => {
    const h = makeHarness();
    const apnsOnly = makeHarness({ providers: { default: { apns: h.apns } } });
    const response = await postJson(apnsOnly, "/v1/registrations", { ...APNS_BODY, provider: "fcm" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ field: "provider" });
  });
});

describe("DELETE /v1/registrations/{node}", () => {
  it("deletes with the secret: 204, then 404; 403 with a wrong secret", async () => {
    const h = makeHarness();
    const { node, secret } = await (await postJson(h, "/v1/registrations", APNS_BODY)).json();
    const del = (token: string) =>
      h.app.request(`/v1/registrations/${node}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    expect((await del("wrong")).status).toBe(403);
    expect((await h.app.request(`/v1/registrations/${node}`, { method: "DELETE" })).status).toBe(403);
    expect((await del(secret)).status).toBe(204);
    expect((await del(secret)).status).toBe(404);
    expect(errorOf(await h.iq(publishIq({ node, secret })))).toBe("cancel/item-not-found");
  });
});

describe("Siskin's REST unregister", () => {
  it.each(["/unregister-device/push.example.net", "/rest/push/unregister-device/push.example.net"])(
    "drops the token registration at %s and answers success, also when nothing matched",
    async (path) => {
      const h = makeHarness();
      const { node } = await (await postJson(h, "/v1/registrations", APNS_BODY)).json();
      const body = { account: "romeo@montague.example", provider: "tigase:messenger:apns:1", "device-token": "abc123" };
      const response = await postJson(h, path, body);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ result: "success" });
      expect(await h.store.get(node)).toEqual({ kind: "deleted" });
      expect(await (await postJson(h, path, body)).json()).toEqual({ result: "success" });
    },
  );
});
