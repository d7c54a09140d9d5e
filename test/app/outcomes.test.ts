import { describe, expect, it } from "vitest";
import type {
  RegisterOutcome,
  RegisterRequest,
  Registration,
  RegistrationIdentity,
} from "../../src/domain/registration";
import { mintNode } from "../../src/gateway/tokens";
import type { NodeLookup, RegistrationStore } from "../../src/ports/store";
import { MemoryRegistrationStore } from "../../src/store";
import { MemoryEndpointLedger } from "../../src/store/endpoint-ledger";
import { errorOf, formField, type Harness, makeHarness, publishIq, registerDeviceIq } from "./harness";

const ENCRYPTED = "<encrypted xmlns='tigase:push:encrypt:0' iv='tHHveInbtMGbDn7n'>x0bbKnQRaD4zW18rdg7jtMuc</encrypted>";

async function registered(h: Harness): Promise<string> {
  return formField(await h.iq(registerDeviceIq({})), "node")?.values[0] ?? "";
}

describe("replies to provider outcomes (docs/protocol.md 5)", () => {
  it("answers an empty result when the provider accepted the push", async () => {
    const h = makeHarness();
    const node = await registered(h);
    const reply = await h.iq(publishIq({ node }));
    expect(reply.attrs.type).toBe("result");
    expect(reply.children).toEqual([]);
  });

  it("deletes the registration when the token is dead, and answers later publishes without a provider request", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "token-dead", reason: "Unregistered", timestamp: h.clock.now + 1 });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("cancel/item-not-found");
    expect(await h.store.get(node)).toEqual({ kind: "deleted" });
    expect(errorOf(await h.iq(publishIq({ node, id: "again" })))).toBe("cancel/item-not-found");
    expect(h.apns.sent).toHaveLength(1);
  });

  it("keeps the registration and answers wait when a 410 predates the last token update", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "token-dead", reason: "Unregistered", timestamp: h.clock.now - 60_000 });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("wait/internal-server-error");
    expect((await h.store.get(node)).kind).toBe("found");
  });

  it("deletes on a dead token that carries no timestamp (FCM UNREGISTERED)", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "token-dead", reason: "UNREGISTERED" });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("cancel/item-not-found");
    expect(await h.store.get(node)).toEqual({ kind: "deleted" });
  });

  it("retries a transient failure once, then answers wait", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "retry-later", reason: "503" }, { kind: "retry-later", reason: "503" });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("wait/internal-server-error");
    expect(h.apns.sent).toHaveLength(2);
    expect((await h.store.get(node)).kind).toBe("found");
  });

  it("answers result when the one retry succeeds, after waiting what Retry-After asked", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "retry-later", reason: "429", retryAfterMs: 1500 });
    expect((await h.iq(publishIq({ node }))).attrs.type).toBe("result");
    expect(h.sleeps).toEqual([1500]);
    expect(h.apns.sent).toHaveLength(2);
  });

  it("does not retry when Retry-After asks for more time than the request has left", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "retry-later", reason: "429", retryAfterMs: 60_000 });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("wait/internal-server-error");
    expect(h.apns.sent).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
  });

  it("answers wait and logs loudly on the gateway's own misconfiguration, never cancel", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "misconfigured", reason: "InvalidProviderToken" });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("wait/internal-server-error");
    expect((await h.store.get(node)).kind).toBe("found");
    expect(h.logs.find((l) => l.event === "publish")).toMatchObject({
      level: "error",
      fields: { outcome: "misconfigured" },
    });
  });

  it("answers wait and logs loudly on any other provider refusal", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "rejected", reason: "MissingTopic" });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("wait/internal-server-error");
    expect(h.logs.find((l) => l.event === "publish")?.level).toBe("error");
  });

  it("sends the fallback push without the blob when the provider refuses the payload as too large", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "payload-rejected", reason: "PayloadTooLarge" });
    expect((await h.iq(publishIq({ node, notification: ENCRYPTED }))).attrs.type).toBe("result");
    expect(h.apns.sent.map((r) => r.withoutEncrypted)).toEqual([false, true]);
  });

  it("answers wait when even the fallback push is refused", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer(
      { kind: "payload-rejected", reason: "PayloadTooLarge" },
      { kind: "payload-rejected", reason: "PayloadTooLarge" },
    );
    expect(errorOf(await h.iq(publishIq({ node, notification: ENCRYPTED })))).toBe("wait/internal-server-error");
    expect(h.apns.sent).toHaveLength(2);
  });

  it("sends the fallback at once for a blob larger than the provider's budget", async () => {
    const h = makeHarness({ apnsPayloadSize: 10 });
    const node = await registered(h);
    expect((await h.iq(publishIq({ node, notification: ENCRYPTED }))).attrs.type).toBe("result");
    expect(h.apns.sent.map((r) => r.withoutEncrypted)).toEqual([true]);
  });

  it("sends a blob over the advertised max-payload-size but within the capacity with its content (Tigase's trimming)", async () => {
    const h = makeHarness({ apnsPayloadSize: 10 });
    // What Tigase's server writes overshoots the advertised figure; the real envelope still holds it.
    h.apns.payloadCapacity = () => 4000;
    const node = await registered(h);
    expect((await h.iq(publishIq({ node, notification: ENCRYPTED }))).attrs.type).toBe("result");
    expect(h.apns.sent.map((r) => r.withoutEncrypted)).toEqual([false]);
  });

  it("never makes more than two provider requests for one publish", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer(
      { kind: "payload-rejected", reason: "PayloadTooLarge" },
      { kind: "retry-later", reason: "503" },
      { kind: "retry-later", reason: "503" },
    );
    expect(errorOf(await h.iq(publishIq({ node, notification: ENCRYPTED })))).toBe("wait/internal-server-error");
    expect(h.apns.sent).toHaveLength(2);
  });

  it("remembers the APNs environment that accepted the token", async () => {
    const h = makeHarness();
    const node = await registered(h);
    h.apns.willAnswer({ kind: "delivered", environment: "sandbox" });
    await h.iq(publishIq({ node }));
    const stored = await h.store.get(node);
    expect(stored.kind === "found" && stored.registration.environment).toBe("sandbox");
  });

  it("answers wait when the store fails", async () => {
    const failing: RegistrationStore = {
      get: async (): Promise<NodeLookup> => {
        throw new Error("KV unavailable");
      },
      findByIdentity: async (_identity: RegistrationIdentity) => undefined,
      register: async (_request: RegisterRequest): Promise<RegisterOutcome> => ({ kind: "over-cap" }),
      update: async (_registration: Registration) => {},
      delete: async () => {},
      endpoints: new MemoryEndpointLedger(),
      close: async () => {},
    };
    const h = makeHarness({ store: failing });
    expect(errorOf(await h.iq(publishIq({ node: "whatever" })))).toBe("wait/internal-server-error");
    // Logged as a store failure at error level, never as a node "not yet visible".
    const publish = h.logs.find((entry) => entry.event === "publish");
    expect(publish).toMatchObject({ level: "error", fields: { outcome: "store-failure" } });
    expect(h.logs.find((entry) => entry.event === "store-failure")?.level).toBe("error");
  });

  it("answers wait for an unknown node this gateway provably minted moments ago (NODE_MAC_KEY)", async () => {
    const key = "a-node-mac-key-of-32-characters!";
    const h = makeHarness({ env: { NODE_MAC_KEY: key } });
    const fresh = await mintNode(h.deps.randomBytes, h.clock.now, key);
    expect(errorOf(await h.iq(publishIq({ node: fresh })))).toBe("wait/internal-server-error");
    h.clock.now += 121_000;
    expect(errorOf(await h.iq(publishIq({ node: fresh })))).toBe("cancel/item-not-found");
    const forged = await mintNode(h.deps.randomBytes, h.clock.now, "another-key-of-enough-length");
    expect(errorOf(await h.iq(publishIq({ node: forged })))).toBe("cancel/item-not-found");
  });

  it("answers item-not-found, not wait, for a MAC-proven node that was deleted", async () => {
    const key = "a-node-mac-key-of-32-characters!";
    const h = makeHarness({ env: { NODE_MAC_KEY: key } });
    const node = await registered(h);
    expect(node.startsWith("m")).toBe(true);
    h.apns.willAnswer({ kind: "token-dead", reason: "Unregistered" });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("cancel/item-not-found");
    expect(errorOf(await h.iq(publishIq({ node }))), "tombstone wins over the recent mint").toBe(
      "cancel/item-not-found",
    );
  });

  it("answers wait when the registration's app lost its provider", async () => {
    const base = makeHarness();
    const store = new MemoryRegistrationStore();
    const before = makeHarness({ store, providers: { default: { apns: base.apns } } });
    const node = formField(await before.iq(registerDeviceIq({})), "node")?.values[0] ?? "";
    const after = makeHarness({ store, providers: { default: { fcm: base.fcm } } });
    expect(errorOf(await after.iq(publishIq({ node })))).toBe("wait/internal-server-error");
  });

  it("logs no full node, token or secret", async () => {
    const h = makeHarness();
    const node = await registered(h);
    await h.iq(publishIq({ node, notification: ENCRYPTED }));
    const text = JSON.stringify(h.logs);
    expect(text).not.toContain(node);
    expect(text).not.toContain("apns-token-1");
    expect(text).not.toContain("x0bbKnQRaD4zW18rdg7jtMuc");
  });
});

describe("failures below the use cases", () => {
  it("answers wait, not an HTTP 500, when the store fails during a registration", async () => {
    const failing: RegistrationStore = {
      get: async (): Promise<NodeLookup> => ({ kind: "absent" }),
      findByIdentity: async () => undefined,
      register: async () => {
        throw new Error("KV: too many writes to one key");
      },
      update: async () => {},
      delete: async () => {},
      endpoints: new MemoryEndpointLedger(),
      close: async () => {},
    };
    const h = makeHarness({ store: failing });
    const response = await h.post(registerDeviceIq({}));
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("<error type='wait'><internal-server-error");
    expect(h.logs.find((entry) => entry.event === "iq-failure")?.level).toBe("error");
  });
});
