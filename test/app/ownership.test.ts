import { describe, expect, it } from "vitest";
import type { RegistrationStore } from "../../src/ports/store";
import { SqliteRegistrationStore } from "../../src/runtime/sqlite-store";
import { KvRegistrationStore, MemoryRegistrationStore } from "../../src/store";
import { MemoryKv } from "../shared/memory-kv";
import {
  errorOf,
  errorText,
  formField,
  type Harness,
  makeHarness,
  PUSH_JID,
  publishIq,
  REST_KEY,
  registerDeviceIq,
  registerP2Iq,
} from "./harness";

/**
 * The attacks of the security review (docs/protocol.md section 2, "Ownership" and "Cost"), each kept as a
 * test on every Node-side store; test/worker/ownership.test.ts runs them on KV with the Durable Object.
 */
const STORES: ReadonlyArray<readonly [string, () => RegistrationStore]> = [
  ["memory", () => new MemoryRegistrationStore()],
  ["SQLite", () => new SqliteRegistrationStore(":memory:")],
  ["KV", () => new KvRegistrationStore(new MemoryKv())],
];

const VICTIM = "romeo@montague.example";
const REST_ENV = { REST_API_KEYS: JSON.stringify({ default: REST_KEY }) };

function rest(h: Harness, path: string, body: unknown, authorization = `Bearer ${REST_KEY}`) {
  return h.app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", authorization },
    body: JSON.stringify(body),
  });
}

function nodeOf(reply: Parameters<typeof formField>[0]): string {
  return formField(reply, "node")?.values[0] ?? "";
}

function p2Apns(deviceId: string, token: string, id = "p2"): string {
  return registerP2Iq({ from: `${VICTIM}/phone`, provider: "apns", deviceId, token, id });
}

describe.each(STORES)("ownership and limits on the %s store", (_name, makeStore) => {
  const harness = (env: Record<string, unknown> = {}) =>
    makeHarness({ store: makeStore(), env: { ...REST_ENV, ...env } });

  it("REST cannot take over an XMPP registration by claiming its account and device id", async () => {
    const h = harness();
    const reply = await h.iq(p2Apns("D", "victim-token"));
    const node = nodeOf(reply);
    const secret = formField(reply, "secret")?.values[0] ?? "";

    const response = await rest(h, "/v1/registrations", {
      provider: "apns",
      token: "attacker-token",
      account: VICTIM,
      deviceId: "D",
    });
    expect(response.status).toBe(201);
    const answer = await response.json();
    expect(answer.node).not.toBe(node);
    expect(answer.secret).not.toBe(secret);

    expect((await h.iq(publishIq({ node, secret }))).attrs.type).toBe("result");
    expect(h.apns.sent.map((sent) => sent.registration.token)).toEqual(["victim-token"]);
    const stored = await h.store.get(node);
    expect(stored.kind === "found" && stored.registration.token).toBe("victim-token");
  });

  it("REST cannot poison a Tigase registration with a secret, nor learn its node", async () => {
    const h = harness();
    const node = nodeOf(await h.iq(registerDeviceIq({ token: "tigase-token" })));
    const response = await rest(h, "/v1/registrations", { provider: "apns", token: "tigase-token", account: VICTIM });
    expect(response.status).toBe(201);
    expect((await response.json()).node).not.toBe(node);
    // The user's server publishes without a secret, as before.
    expect((await h.iq(publishIq({ node }))).attrs.type).toBe("result");
  });

  it("a REST refresh names its node and secret: an XMPP node with a guessed secret is refused", async () => {
    const h = harness();
    const node = nodeOf(await h.iq(registerDeviceIq({ token: "tigase-token" })));
    const response = await rest(h, "/v1/registrations", {
      provider: "apns",
      token: "attacker",
      account: VICTIM,
      node,
      secret: "A".repeat(24),
    });
    expect(response.status).toBe(404);
    const stored = await h.store.get(node);
    expect(stored.kind === "found" && stored.registration.token).toBe("tigase-token");
  });

  it("Siskin's unregister deletes only a token-style registration whose account, provider and token match", async () => {
    const h = harness();
    const tigase = nodeOf(await h.iq(registerDeviceIq({ token: "tok" })));
    const p2 = nodeOf(await h.iq(p2Apns("tok", "tok")));
    const restNode = (
      await (await rest(h, "/v1/registrations", { provider: "apns", token: "tok", account: VICTIM })).json()
    ).node;
    const unregister = (body: Record<string, string>, jid = PUSH_JID) => rest(h, `/unregister-device/${jid}`, body, "");
    const body = { account: VICTIM, provider: "tigase:messenger:apns:1", "device-token": "tok" };

    expect((await unregister(body, "push.other.example")).status).toBe(404);
    expect((await unregister({ ...body, "device-token": "other" })).status).toBe(200);
    expect((await unregister({ ...body, provider: "fcm" })).status).toBe(200);
    expect((await unregister({ ...body, account: "mercutio@verona.example" })).status).toBe(200);
    for (const node of [tigase, p2, restNode]) expect((await h.store.get(node)).kind).toBe("found");

    expect((await unregister(body)).status).toBe(200);
    expect(await h.store.get(tigase)).toEqual({ kind: "deleted" });
    expect((await h.store.get(p2)).kind).toBe("found");
    expect((await h.store.get(restNode)).kind).toBe("found");
  });

  it("gives 200 simultaneous registrations of one identity one node, and unregistering stops every push", async () => {
    const h = harness();
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => h.iq(p2Apns("D", `token-${i}`, `p2-${i}`))),
    );
    const nodes = new Set(replies.map(nodeOf));
    expect(nodes.size).toBe(1);
    const [node = ""] = nodes;
    const secret = formField(replies[0] as never, "secret")?.values[0] ?? "";
    const unregister = `<iq type='set' from='${VICTIM}/phone' to='${PUSH_JID}' id='u'><command xmlns='http://jabber.org/protocol/commands' node='unregister-push-apns' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='android-id'><value>D</value></field></x></command></iq>`;
    expect((await h.iq(unregister)).attrs.type).toBe("result");
    expect(errorOf(await h.iq(publishIq({ node, secret })))).toBe("cancel/item-not-found");
    expect(h.apns.sent).toHaveLength(0);
  });

  it("caps live XMPP registrations per account, refusing the next with not-allowed and never a refresh", async () => {
    const h = harness({ MAX_REGISTRATIONS_PER_ACCOUNT: "3" });
    for (let i = 0; i < 3; i++) expect(nodeOf(await h.iq(p2Apns(`d${i}`, `t${i}`)))).not.toBe("");
    const refused = await h.iq(p2Apns("d3", "t3"));
    expect(errorOf(refused)).toBe("cancel/not-allowed");
    expect(errorText(refused)).toContain("limit of 3");
    expect(nodeOf(await h.iq(p2Apns("d0", "t0-new")))).not.toBe("");
    expect(nodeOf(await h.iq(registerP2Iq({ from: "benvolio@montague.example/x", provider: "apns" })))).not.toBe("");
    // REST claims on the account count against the app, not the account.
    expect((await rest(h, "/v1/registrations", { provider: "apns", token: "r", account: VICTIM })).status).toBe(201);
  });

  it("caps live REST registrations per API credential", async () => {
    const h = harness({ MAX_REST_REGISTRATIONS_PER_APP: "2" });
    const body = (token: string) => ({ provider: "apns", token, account: "anyone@example.org" });
    expect((await rest(h, "/v1/registrations", body("a"))).status).toBe(201);
    const second = await (await rest(h, "/v1/registrations", body("b"))).json();
    const refused = await rest(h, "/v1/registrations", body("c"));
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ field: "app" });
    // A refresh is never refused, and a deletion makes room.
    expect(
      (await rest(h, "/v1/registrations", { ...body("b2"), node: second.node, secret: second.secret })).status,
    ).toBe(201);
    const deleted = await h.app.request(`/v1/registrations/${second.node}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${second.secret}` },
    });
    expect(deleted.status).toBe(204);
    expect((await rest(h, "/v1/registrations", body("c"))).status).toBe(201);
  });

  it("keeps a register-push-fcm registration as p2 does: no JID, device id or MUC, yet capped and removable per account", async () => {
    const h = harness({ MAX_REGISTRATIONS_PER_ACCOUNT: "2" });
    const fcm = (deviceId: string, muc?: string, id = "f") =>
      registerP2Iq({
        from: "nurse@capulet.example/pager",
        deviceId,
        token: `fcm-token-${deviceId.length}${muc ? "m" : ""}`,
        id,
        ...(muc ? { muc } : {}),
      });
    const reply = await h.iq(fcm("dev-7c1a", "orchard@rooms.capulet.example"));
    const node = nodeOf(reply);
    const stored = JSON.stringify(await h.store.get(node));
    for (const clear of ["nurse", "dev-7c1a", "orchard"]) expect(stored).not.toContain(clear);
    expect(stored).toContain('"domain":"capulet.example"');
    expect(nodeOf(await h.iq(fcm("dev-2")))).not.toBe("");
    expect(errorOf(await h.iq(fcm("dev-3")))).toBe("cancel/not-allowed");
    const unregister = `<iq type='set' from='nurse@capulet.example/pager' to='${PUSH_JID}' id='u'><command xmlns='http://jabber.org/protocol/commands' node='unregister-push-fcm' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='android-id'><value>dev-7c1a</value></field><field var='muc'><value>orchard@rooms.capulet.example</value></field></x></command></iq>`;
    expect((await h.iq(unregister)).attrs.type).toBe("result");
    expect(await h.store.get(node)).toEqual({ kind: "deleted" });
    expect(nodeOf(await h.iq(fcm("dev-3")))).not.toBe("");
  });

  it("keeps no usable publish secret in the store: the secret is derived from the server key", async () => {
    const h = harness();
    const reply = await h.iq(p2Apns("D", "tok"));
    const secret = formField(reply, "secret")?.values[0] ?? "";
    const stored = await h.store.get(nodeOf(reply));
    expect(stored.kind).toBe("found");
    expect(JSON.stringify(stored)).not.toContain(secret);
    // Another gateway over the same store but another server key answers forbidden.
    const other = makeHarness({ store: h.store, env: { SERVER_KEY: "another-server-key-0123456789abcdefgh" } });
    expect(errorOf(await other.iq(publishIq({ node: nodeOf(reply), secret, from: "montague.example" })))).toBe(
      "auth/forbidden",
    );
  });
});
