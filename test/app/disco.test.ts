import { describe, expect, it } from "vitest";
import { childElement, childElements } from "../../src/xmpp";
import { errorOf, makeHarness, PUSH_JID } from "./harness";

const DISCO_INFO = `<iq type='get' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='disco1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`;

describe("service discovery", () => {
  it("announces the push identity, the encryption features and one feature per configured provider", async () => {
    const h = makeHarness();
    const reply = await h.iq(DISCO_INFO);
    expect(reply.attrs.type).toBe("result");
    const query = childElement(reply, "query", "http://jabber.org/protocol/disco#info");
    expect(query).toBeDefined();
    if (!query) return;
    const identity = childElement(query, "identity");
    expect(identity?.attrs).toMatchObject({ category: "pubsub", type: "push" });
    const features = childElements(query, "feature").map((f) => f.attrs.var);
    for (const feature of [
      "urn:xmpp:push:0",
      "http://jabber.org/protocol/disco#info",
      "http://jabber.org/protocol/commands",
      "tigase:push:encrypt:0",
      "tigase:push:encrypt:aes-128-gcm",
      "tigase:push:encrypt:omemo:0",
      "tigase:messenger:apns:1",
      "tigase:messenger:fcm:1",
    ])
      expect(features).toContain(feature);
  });

  it("offers no provider feature for a provider that is not configured", async () => {
    const h = makeHarness();
    const only = makeHarness({ providers: { default: { apns: h.apns } } });
    const query = childElement(await only.iq(DISCO_INFO), "query");
    const features = query ? childElements(query, "feature").map((f) => f.attrs.var) : [];
    expect(features).toContain("tigase:messenger:apns:1");
    expect(features).not.toContain("tigase:messenger:fcm:1");
  });

  it("lists the commands and echoes the node", async () => {
    const h = makeHarness();
    const reply = await h.iq(
      `<iq type='get' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='items1'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>`,
    );
    const query = childElement(reply, "query", "http://jabber.org/protocol/disco#items");
    expect(query?.attrs.node).toBe("http://jabber.org/protocol/commands");
    const nodes = query ? childElements(query, "item").map((item) => item.attrs.node) : [];
    expect(nodes).toEqual([
      "register-device",
      "unregister-device",
      "register-push-fcm",
      "register-push-apns",
      "unregister-push-fcm",
      "unregister-push-apns",
    ]);
    for (const item of query ? childElements(query, "item") : []) expect(item.attrs.jid).toBe(PUSH_JID);
  });

  it("describes a command node as automation/command-node", async () => {
    const h = makeHarness();
    const reply = await h.iq(
      `<iq type='get' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='i2'><query xmlns='http://jabber.org/protocol/disco#info' node='register-device'/></iq>`,
    );
    const query = childElement(reply, "query");
    expect(query && childElement(query, "identity")?.attrs).toMatchObject({
      category: "automation",
      type: "command-node",
    });
    expect(query && childElements(query, "feature").map((f) => f.attrs.var)).toContain(
      "http://jabber.org/protocol/commands",
    );
  });

  it("answers item-not-found for an unknown disco node", async () => {
    const h = makeHarness();
    const reply = await h.iq(
      `<iq type='get' from='a@b.example/c' to='${PUSH_JID}' id='i3'><query xmlns='http://jabber.org/protocol/disco#info' node='nope'/></iq>`,
    );
    expect(errorOf(reply)).toBe("cancel/item-not-found");
  });

  it("answers a ping with an empty result", async () => {
    const h = makeHarness();
    const reply = await h.iq(
      `<iq type='get' from='montague.example' to='${PUSH_JID}' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>`,
    );
    expect(reply.attrs).toMatchObject({ type: "result", id: "ping1", from: PUSH_JID, to: "montague.example" });
    expect(reply.children).toEqual([]);
  });

  it("answers service-unavailable to an IQ it does not handle", async () => {
    const h = makeHarness();
    const reply = await h.iq(
      `<iq type='get' from='a@b.example/c' to='${PUSH_JID}' id='v1'><query xmlns='jabber:iq:version'/></iq>`,
    );
    expect(errorOf(reply)).toBe("cancel/service-unavailable");
  });
});
