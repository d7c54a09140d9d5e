import { describe, expect, it } from "vitest";
import { conversationsHash } from "../../src/domain/conversations-hash";
import { childElement, childElements } from "../../src/xmpp";
import {
  errorOf,
  errorText,
  formField,
  makeHarness,
  PUSH_JID,
  publishIq,
  registerDeviceIq,
  registerP2Iq,
} from "./harness";

const COMMANDS_NS = "http://jabber.org/protocol/commands";

describe("register-device (Tigase clients)", () => {
  it("answers a completed command with node, list-multi features and an integer max-payload-size", async () => {
    // 3442 is what the real APNs provider advertises for romeo@montague.example without a PushKit token
    // since issue 14: the 3909-character capacity less room for Tigase's trimming (docs/protocol.md 6.4).
    // The harness's provider is a fake: the figure only has to reach the form unchanged, as an integer.
    const h = makeHarness({ apnsPayloadSize: 3442 });
    const reply = await h.iq(registerDeviceIq({}));
    expect(reply.attrs).toMatchObject({
      type: "result",
      id: "reg-1",
      from: PUSH_JID,
      to: "romeo@montague.example/orchard",
    });
    const command = childElement(reply, "command", COMMANDS_NS);
    expect(command?.attrs).toMatchObject({ node: "register-device", status: "completed" });
    expect(command?.attrs.sessionid).toBeTruthy();
    const x = command && childElement(command, "x", "jabber:x:data");
    expect(x?.attrs.type).toBe("result");
    const node = formField(reply, "node");
    expect(node?.type).toBe("text-single");
    expect(node?.values[0]).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(formField(reply, "features")).toEqual({
      type: "list-multi",
      values: ["tigase:push:encrypt:0", "tigase:push:encrypt:aes-128-gcm", "tigase:push:encrypt:omemo:0"],
    });
    expect(formField(reply, "max-payload-size")).toEqual({ type: "text-single", values: ["3442"] });
    const stored = await h.store.get(node?.values[0] ?? "");
    expect(stored.kind === "found" && stored.registration).toMatchObject({
      account: "romeo@montague.example",
      provider: "apns",
      token: "apns-token-1",
      style: "token",
    });
    expect(stored.kind === "found" && stored.registration.secured).toBe(false);
  });

  it("returns the same node when the same account registers the same token again", async () => {
    const h = makeHarness();
    const first = formField(await h.iq(registerDeviceIq({})), "node")?.values[0];
    h.clock.now += 1000;
    const second = formField(
      await h.iq(registerDeviceIq({ id: "reg-2", from: "romeo@montague.example/other" })),
      "node",
    )?.values[0];
    expect(second).toBe(first);
    const stored = await h.store.get(first ?? "");
    expect(stored.kind === "found" && stored.registration.tokenUpdatedAt).toBe(h.clock.now);
  });

  it("gives each account on one device token its own node", async () => {
    const h = makeHarness();
    const romeo = formField(await h.iq(registerDeviceIq({})), "node")?.values[0];
    const juliet = formField(await h.iq(registerDeviceIq({ from: "juliet@capulet.example/balcony" })), "node")
      ?.values[0];
    expect(romeo).toBeDefined();
    expect(juliet).not.toBe(romeo);
  });

  it("stores the VoIP token from device-second-token", async () => {
    const h = makeHarness();
    const node = formField(await h.iq(registerDeviceIq({ voipToken: "voip-token-1" })), "node")?.values[0] ?? "";
    const stored = await h.store.get(node);
    expect(stored.kind === "found" && stored.registration.voipToken).toBe("voip-token-1");
  });

  it("accepts the short provider names and the FCM aliases", async () => {
    for (const provider of ["apns", "fcm", "fcm-xmpp-api", "fcm-http-v1", "tigase:messenger:fcm:1"]) {
      const h = makeHarness();
      const reply = await h.iq(registerDeviceIq({ provider }));
      expect(childElement(reply, "command")?.attrs.status).toBe("completed");
    }
  });

  it("answers a command without a form with an executing session and a form describing its fields", async () => {
    const h = makeHarness();
    const reply = await h.iq(
      `<iq type='set' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='c1'><command xmlns='${COMMANDS_NS}' node='register-device' action='execute'/></iq>`,
    );
    const command = childElement(reply, "command", COMMANDS_NS);
    expect(command?.attrs.status).toBe("executing");
    const sessionId = command?.attrs.sessionid;
    expect(sessionId).toBeTruthy();
    const actions = command && childElement(command, "actions");
    expect(actions?.attrs.execute).toBe("complete");
    expect(actions && childElement(actions, "complete")).toBeDefined();
    const x = command && childElement(command, "x", "jabber:x:data");
    expect(x?.attrs.type).toBe("form");
    expect(x && childElements(x, "field").map((f) => f.attrs.var)).toEqual(
      expect.arrayContaining(["provider", "device-token", "device-second-token"]),
    );

    const followUp = await h.iq(
      `<iq type='set' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='c2'><command xmlns='${COMMANDS_NS}' node='register-device' sessionid='${sessionId}' action='complete'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>tigase:messenger:apns:1</value></field><field var='device-token'><value>t-1</value></field></x></command></iq>`,
    );
    const done = childElement(followUp, "command", COMMANDS_NS);
    expect(done?.attrs).toMatchObject({ status: "completed", sessionid: sessionId });
    expect(formField(followUp, "node")?.values[0]).toBeTruthy();
  });

  it("handles a follow-up without an action attribute like a submit", async () => {
    const h = makeHarness();
    const reply = await h.iq(
      `<iq type='set' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='c3'><command xmlns='${COMMANDS_NS}' node='register-device' sessionid='s1'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>apns</value></field><field var='device-token'><value>t-1</value></field></x></command></iq>`,
    );
    expect(childElement(reply, "command")?.attrs).toMatchObject({ status: "completed", sessionid: "s1" });
  });

  it("answers canceled to action cancel", async () => {
    const h = makeHarness();
    const reply = await h.iq(
      `<iq type='set' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='c4'><command xmlns='${COMMANDS_NS}' node='register-device' sessionid='s9' action='cancel'/></iq>`,
    );
    expect(childElement(reply, "command")?.attrs).toMatchObject({ status: "canceled", sessionid: "s9" });
  });

  it("answers item-not-found for an unknown command node", async () => {
    const h = makeHarness();
    const reply = await h.iq(
      `<iq type='set' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='c5'><command xmlns='${COMMANDS_NS}' node='format-disk' action='execute'/></iq>`,
    );
    expect(errorOf(reply)).toBe("cancel/item-not-found");
  });

  it("refuses a missing device-token with bad-request and bad-payload", async () => {
    const h = makeHarness();
    const reply = await h.iq(
      `<iq type='set' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='c6'><command xmlns='${COMMANDS_NS}' node='register-device' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>apns</value></field><field var='device-token'><value/></field></x></command></iq>`,
    );
    expect(errorOf(reply)).toBe("modify/bad-request");
    expect(errorText(reply)).toContain("device-token");
    const error = childElement(reply, "error");
    expect(error && childElement(error, "bad-payload", COMMANDS_NS)).toBeDefined();
  });

  it("refuses an unknown provider with a text that names it", async () => {
    const h = makeHarness();
    const reply = await h.iq(registerDeviceIq({ provider: "tigase:messenger:mpns:1" }));
    expect(errorOf(reply)).toBe("modify/bad-request");
    expect(errorText(reply)).toContain("unknown provider");
  });

  it("refuses a provider that is not configured on this gateway", async () => {
    const h = makeHarness();
    const apnsOnly = makeHarness({ providers: { default: { apns: h.apns } } });
    const reply = await apnsOnly.iq(registerDeviceIq({ provider: "tigase:messenger:fcm:1" }));
    expect(errorOf(reply)).toBe("modify/bad-request");
    expect(errorText(reply)).toContain("not configured");
  });

  it("refuses a repeated form field", async () => {
    const h = makeHarness();
    const reply = await h.iq(registerDeviceIq({ extra: "<field var='device-token'><value>other</value></field>" }));
    expect(errorOf(reply)).toBe("modify/bad-request");
  });

  it("picks the app and environment from optional fields, refusing an unknown app", async () => {
    const h = makeHarness();
    const multi = makeHarness({ providers: { default: { apns: h.apns }, "im.example": { apns: h.apns } } });
    const ok = await multi.iq(
      registerDeviceIq({
        extra:
          "<field var='app'><value>im.example</value></field><field var='environment'><value>sandbox</value></field>",
      }),
    );
    const node = formField(ok, "node")?.values[0] ?? "";
    const stored = await multi.store.get(node);
    expect(stored.kind === "found" && stored.registration).toMatchObject({ app: "im.example", environment: "sandbox" });
    const unknown = await multi.iq(
      registerDeviceIq({ id: "x", extra: "<field var='app'><value>im.other</value></field>" }),
    );
    expect(errorOf(unknown)).toBe("modify/bad-request");
    const badEnv = await multi.iq(
      registerDeviceIq({ id: "y", extra: "<field var='environment'><value>staging</value></field>" }),
    );
    expect(errorOf(badEnv)).toBe("modify/bad-request");
  });

  it("refuses a command from a server JID, which has no account", async () => {
    const h = makeHarness();
    const reply = await h.iq(registerDeviceIq({ from: "montague.example" }));
    expect(errorOf(reply)).toBe("modify/bad-request");
  });

  it("refuses a command sent as IQ get", async () => {
    const h = makeHarness();
    const reply = await h.iq(registerDeviceIq({}).replace("type='set'", "type='get'"));
    expect(errorOf(reply)).toBe("modify/bad-request");
  });
});

describe("unregister-device", () => {
  it("deletes the registration; a publish to it is item-not-found; registering again mints a new node", async () => {
    const h = makeHarness();
    const node = formField(await h.iq(registerDeviceIq({})), "node")?.values[0] ?? "";
    const reply = await h.iq(
      `<iq type='set' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='u1'><command xmlns='${COMMANDS_NS}' node='unregister-device' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>tigase:messenger:apns:1</value></field><field var='device-token'><value>apns-token-1</value></field></x></command></iq>`,
    );
    expect(childElement(reply, "command")?.attrs.status).toBe("completed");
    expect(await h.store.get(node)).toEqual({ kind: "deleted" });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("cancel/item-not-found");
    expect(h.apns.sent).toHaveLength(0);
    const again = formField(await h.iq(registerDeviceIq({ id: "reg-3" })), "node")?.values[0];
    expect(again).toBeTruthy();
    expect(again).not.toBe(node);
  });

  it("completes also when nothing matched", async () => {
    const h = makeHarness();
    const reply = await h.iq(
      `<iq type='set' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='u2'><command xmlns='${COMMANDS_NS}' node='unregister-device'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>apns</value></field><field var='device-token'><value>never</value></field></x></command></iq>`,
    );
    expect(childElement(reply, "command")?.attrs.status).toBe("completed");
  });
});

describe("p2 commands (Conversations)", () => {
  it("answers jid, node and secret, single-valued and typed", async () => {
    const h = makeHarness();
    const reply = await h.iq(registerP2Iq({}));
    expect(childElement(reply, "command")?.attrs.status).toBe("completed");
    expect(formField(reply, "jid")).toEqual({ type: "jid-single", values: [PUSH_JID] });
    expect(formField(reply, "node")?.type).toBe("text-single");
    expect(formField(reply, "secret")?.values[0]).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const stored = await h.store.get(formField(reply, "node")?.values[0] ?? "");
    // Kept as p2 keeps it (issue 14): the Conversations hash, the domain and a keyed hash of the account;
    // never the JID or the device id.
    expect(stored.kind === "found" && stored.registration).toMatchObject({
      style: "device",
      provider: "fcm",
      device: await conversationsHash("juliet@capulet.example", "a1b2c3d4"),
      domain: "capulet.example",
      token: "fcm-token-1",
    });
    const kept = JSON.stringify(stored);
    expect(kept).not.toContain("juliet");
    expect(kept).not.toContain("a1b2c3d4");
  });

  it("keeps node and secret when the device registers a new token", async () => {
    const h = makeHarness();
    const first = await h.iq(registerP2Iq({}));
    const second = await h.iq(registerP2Iq({ token: "fcm-token-2", id: "p2-2" }));
    expect(formField(second, "node")).toEqual(formField(first, "node"));
    expect(formField(second, "secret")).toEqual(formField(first, "secret"));
    const stored = await h.store.get(formField(second, "node")?.values[0] ?? "");
    expect(stored.kind === "found" && stored.registration.token).toBe("fcm-token-2");
  });

  it("gives a MUC registration its own node and reads device-id as well as android-id", async () => {
    const h = makeHarness();
    const plain = formField(await h.iq(registerP2Iq({})), "node")?.values[0];
    const muc = formField(await h.iq(registerP2Iq({ muc: "Room@Conference.Capulet.example", id: "m" })), "node")
      ?.values[0];
    expect(muc).not.toBe(plain);
    const stored = await h.store.get(muc ?? "");
    expect(stored.kind === "found" && stored.registration.muc).toBe(
      await conversationsHash("room@conference.capulet.example", "a1b2c3d4"),
    );
    const viaDeviceId = await h.iq(registerP2Iq({ id: "d" }).replace("android-id", "device-id"));
    expect(formField(viaDeviceId, "node")?.values[0]).toBe(plain);
  });

  it("unregisters, and answers item-not-found when nothing matched", async () => {
    const h = makeHarness();
    await h.iq(registerP2Iq({}));
    const unregister = `<iq type='set' from='juliet@capulet.example/phone' to='${PUSH_JID}' id='un'><command xmlns='${COMMANDS_NS}' node='unregister-push-fcm' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='android-id'><value>a1b2c3d4</value></field></x></command></iq>`;
    expect(childElement(await h.iq(unregister), "command")?.attrs.status).toBe("completed");
    expect(errorOf(await h.iq(unregister))).toBe("cancel/item-not-found");
  });

  it("refuses a registration without a device id", async () => {
    const h = makeHarness();
    const reply = await h.iq(registerP2Iq({}).replace(/<field var='android-id'>.*?<\/field>/, ""));
    expect(errorOf(reply)).toBe("modify/bad-request");
    expect(errorText(reply)).toContain("device-id");
  });

  it("registers for APNs through register-push-apns", async () => {
    const h = makeHarness();
    const reply = await h.iq(registerP2Iq({ provider: "apns", token: "apns-hex" }));
    const stored = await h.store.get(formField(reply, "node")?.values[0] ?? "");
    expect(stored.kind === "found" && stored.registration.provider).toBe("apns");
  });
});
