import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import type { FakeWorld } from "../fakes/fake-world";
import {
  encryptedPublish,
  encryptedPublishVector,
  type FakeUserServer,
  fixtureCiphertext,
  p2AccountHash,
} from "../fakes/user-server";

const vector = encryptedPublishVector();
const JULIET = "juliet@capulet.example";

/** A fresh APNs-like device token (64 hex digits). */
export function apnsToken(): string {
  return randomBytes(32).toString("hex");
}

/** What the delivery scenarios run against: the fakes, and the user's server posting to a gateway. */
export interface DeliveryContext {
  readonly world: FakeWorld;
  readonly server: FakeUserServer;
}

/**
 * The delivery scenarios every gateway runtime passes against the fake APNs and FCM (docs/protocol.md 5
 * and 6), inside the caller's `describe`. `httpVersion` is what the runtime speaks to the providers:
 * 1.1 from local workerd, 2.0 from the Node entry.
 */
export function deliveryScenarios(context: () => DeliveryContext, httpVersion: "1.1" | "2.0"): void {
  it("delivers the Tigase encrypted publish to APNs with encrypted and iv unchanged and a verified JWT", async () => {
    const { world, server } = context();
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    const reply = await server.iq(encryptedPublish(node));
    expect(reply.type).toBe("result");
    const [push, ...others] = world.apns.to(token);
    expect(others).toHaveLength(0);
    expect(push).toMatchObject({
      environment: "production",
      status: 200,
      httpVersion,
      jwt: { kid: world.apnsKey.keyId, iss: world.apnsKey.teamId },
    });
    expect(push?.headers).toMatchObject({
      "apns-topic": world.env.APNS_TOPIC,
      "apns-push-type": "alert",
      "apns-priority": "10",
    });
    expect(push?.body).toMatchObject({
      aps: { "mutable-content": 1 },
      account: JULIET,
      encrypted: vector.chat.encrypted,
      iv: vector.chat.iv,
    });
  });

  it("sends a VoIP publish to the PushKit token with white space removed from the blob", async () => {
    const { world, server } = context();
    const token = apnsToken();
    const voipToken = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token, voipToken });
    expect((await server.iq(encryptedPublish(node, { voip: true }))).type).toBe("result");
    const [push] = world.apns.to(voipToken);
    expect(push?.headers).toMatchObject({ "apns-topic": `${world.env.APNS_TOPIC}.voip`, "apns-push-type": "voip" });
    expect(push?.body).toEqual({
      account: JULIET,
      encrypted: fixtureCiphertext("encrypted-voip-publish.xml"),
      iv: vector.call.iv,
    });
  });

  it("delivers a p2 registration's publish to FCM with the hashed account", async () => {
    const { world, server } = context();
    const token = `fcm-${randomBytes(40).toString("base64url")}`;
    const deviceId = randomBytes(8).toString("hex");
    const { node, secret } = await server.registerP2({ from: `${JULIET}/phone`, token, deviceId });
    expect((await server.iq(encryptedPublish(node, { secret }))).type).toBe("result");
    const [message] = world.fcm.to(token);
    expect(message).toMatchObject({ status: 200, httpVersion, project: world.serviceAccount.json.project_id });
    // Only what p2 tells Google (issue 14, docs/protocol.md 6.2): the hashed account, nothing from the publish.
    expect(message?.data).toEqual({ account: p2AccountHash(JULIET, deviceId) });
    expect(message?.message).toMatchObject({ android: { priority: "high" } });
    expect(
      world.fcm.tokenRequests.some((request) => request.status === 200 && request.httpVersion === httpVersion),
    ).toBe(true);
  });

  it("deletes the registration on 410 Unregistered: item-not-found, then item-not-found without a push", async () => {
    const { world, server } = context();
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    world.apns.failToken(token, { status: 410, reason: "Unregistered", timestamp: Date.now() });
    expect((await server.iq(encryptedPublish(node))).error).toBe("cancel/item-not-found");
    expect(world.apns.to(token)).toHaveLength(1);
    expect((await server.iq(encryptedPublish(node))).error).toBe("cancel/item-not-found");
    expect(world.apns.to(token)).toHaveLength(1);
  });

  it("deletes an FCM registration on UNREGISTERED", async () => {
    const { world, server } = context();
    const token = `fcm-${randomBytes(40).toString("base64url")}`;
    const { node, secret } = await server.registerP2({ from: `${JULIET}/phone`, token, deviceId: "dead" });
    world.fcm.failToken(token, { code: "UNREGISTERED" });
    expect((await server.iq(encryptedPublish(node, { secret }))).error).toBe("cancel/item-not-found");
    expect((await server.iq(encryptedPublish(node, { secret }))).error).toBe("cancel/item-not-found");
    expect(world.fcm.to(token)).toHaveLength(1);
  });

  it("answers wait on 503 after one retry, and keeps the registration", async () => {
    const { world, server } = context();
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    world.apns.failToken(token, { status: 503, reason: "ServiceUnavailable" });
    expect((await server.iq(encryptedPublish(node))).error).toBe("wait/internal-server-error");
    expect(world.apns.to(token).map((receipt) => receipt.status)).toEqual([503, 503]);
    world.apns.clearFailures(token);
    expect((await server.iq(encryptedPublish(node))).type).toBe("result");
  });

  it("re-mints an expired provider token once and delivers", async () => {
    const { world, server } = context();
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    world.apns.expireProviderTokenOnce();
    expect((await server.iq(encryptedPublish(node))).type).toBe("result");
    const [refused, delivered] = world.apns.to(token);
    expect(refused).toMatchObject({ status: 403, reason: "ExpiredProviderToken" });
    expect(delivered).toMatchObject({ status: 200 });
    expect(delivered?.authorization).not.toBe(refused?.authorization);
  });

  it("tries the sandbox once when production says BadDeviceToken, and delivers there", async () => {
    const { world, server } = context();
    const token = apnsToken();
    const node = await server.registerDevice({ from: `${JULIET}/balcony`, token });
    world.apns.failToken(token, { status: 400, reason: "BadDeviceToken", environment: "production" });
    expect((await server.iq(encryptedPublish(node))).type).toBe("result");
    expect(world.apns.to(token).map((receipt) => `${receipt.environment} ${receipt.status}`)).toEqual([
      "production 400",
      "sandbox 200",
    ]);
  });
}
