import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { childElement } from "../../src/xmpp";
import {
  errorOf,
  formField,
  type Harness,
  makeHarness,
  PUSH_JID,
  publishIq,
  registerDeviceIq,
  registerP2Iq,
} from "./harness";

const fixture = (path: string) => readFileSync(new URL(`../fixtures/${path}`, import.meta.url), "utf8");

async function tigaseNode(h: Harness, from = "romeo@montague.example/orchard"): Promise<string> {
  return formField(await h.iq(registerDeviceIq({ from })), "node")?.values[0] ?? "";
}

async function p2Registration(h: Harness): Promise<{ node: string; secret: string }> {
  const reply = await h.iq(registerP2Iq({ from: "juliet@capulet.example/phone" }));
  return { node: formField(reply, "node")?.values[0] ?? "", secret: formField(reply, "secret")?.values[0] ?? "" };
}

describe("publish dialects (docs/protocol.md 4)", () => {
  it("reads the XEP-0357 summary example: sender, body, count, high priority; ignores unknown elements", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    const stanza = fixture("xep/xep0357-publish-summary.xml")
      .replace("yxs32uqsflafdk3iuqo", node)
      .replace("from='example.com'", "from='montague.example'");
    const reply = await h.iq(stanza);
    expect(reply.attrs).toMatchObject({
      type: "result",
      id: "n12",
      to: "montague.example",
      from: "push-5.client.example",
    });
    expect(h.apns.sent[0]?.notification).toEqual({
      priority: "high",
      messageCount: 1,
      sender: "juliet@capulet.example/balcony",
      body: "Wherefore art thou, Romeo?",
    });
  });

  it("reads Prosody's count-only summary as a low-priority push", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    await h.iq(
      publishIq({
        node,
        notification: `<x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='message-count'><value>1</value></field></x>`,
      }),
    );
    expect(h.apns.sent[0]?.notification).toEqual({ priority: "low", messageCount: 1 });
  });

  it("accepts ejabberd's empty notification", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    const reply = await h.iq(publishIq({ node, notification: "" }));
    expect(reply.attrs.type).toBe("result");
    expect(h.apns.sent[0]?.notification).toEqual({ priority: "low" });
  });

  it("accepts a summary form of type submit, absent, or with empty fields", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    for (const type of ["type='submit'", "type='form'", ""]) {
      const reply = await h.iq(
        publishIq({
          node,
          notification: `<x xmlns='jabber:x:data' ${type}><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='last-message-body'><value/></field><field var='last-message-sender'/></x>`,
        }),
      );
      expect(reply.attrs.type).toBe("result");
    }
    expect(h.apns.sent.map((r) => r.notification.priority)).toEqual(["low", "low", "low"]);
  });

  it("forwards the Tigase encrypted blob unchanged", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h, "juliet@capulet.example/balcony");
    const vector = JSON.parse(fixture("push/encrypted-publish.vector.json"));
    const reply = await h.iq(fixture("push/encrypted-publish.xml").replace("NODE", node));
    expect(reply.attrs).toMatchObject({ type: "result", id: "pub-1" });
    expect(h.apns.sent[0]?.notification).toEqual({
      priority: "high",
      encrypted: { data: vector.chat.encrypted, iv: vector.chat.iv, voip: false },
    });
  });

  it("removes the white space a server wrapped into the base64 of a VoIP blob and keeps the Jingle hint", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h, "juliet@capulet.example/balcony");
    await h.iq(fixture("push/encrypted-voip-publish.xml").replace("NODE", node));
    const notification = h.apns.sent[0]?.notification;
    expect(notification?.encrypted?.voip).toBe(true);
    expect(notification?.encrypted?.data).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(notification?.encrypted?.data.startsWith("Vs3H8XOdcJwhLr+snS20NevF")).toBe(true);
    expect(notification?.jingle).toEqual({ action: "propose", sid: "jmi-7", media: ["audio", "video"] });
  });

  it("lets an explicit Tigase priority win", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    await h.iq(
      publishIq({
        node,
        notification: `<priority xmlns='tigase:push:priority:0'>low</priority><x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='last-message-body'><value>hi</value></field></x>`,
      }),
    );
    expect(h.apns.sent[0]?.notification.priority).toBe("low");
  });

  it("reads the Tigase groupchat nickname and a message-count of 0", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    await h.iq(
      publishIq({
        node,
        notification: `<x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='message-count'><value>0</value></field></x><groupchat xmlns='http://tigase.org/protocol/muc#offline'><nickname>Mercutio</nickname></groupchat>`,
      }),
    );
    expect(h.apns.sent[0]?.notification).toEqual({ priority: "low", messageCount: 0, nickname: "Mercutio" });
  });

  it("refuses an encrypted element without iv", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    const reply = await h.iq(
      publishIq({ node, notification: "<encrypted xmlns='tigase:push:encrypt:0'>AAAA</encrypted>" }),
    );
    expect(errorOf(reply)).toBe("modify/bad-request");
  });
});

describe("publish checks (docs/protocol.md 3.3)", () => {
  it("answers item-not-found for an unknown node without calling a provider", async () => {
    const h = makeHarness();
    expect(errorOf(await h.iq(publishIq({ node: "never-minted" })))).toBe("cancel/item-not-found");
    expect(h.apns.sent).toHaveLength(0);
  });

  it("answers forbidden when the publisher is not the registration's domain", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    expect(errorOf(await h.iq(publishIq({ node, from: "capulet.example" })))).toBe("auth/forbidden");
    expect(h.apns.sent).toHaveLength(0);
  });

  it("answers forbidden to a full JID as publisher, and accepts a bare JID of the same domain", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    expect(errorOf(await h.iq(publishIq({ node, from: "montague.example/push" })))).toBe("auth/forbidden");
    expect(errorOf(await h.iq(publishIq({ node, from: "romeo@montague.example/orchard" })))).toBe("auth/forbidden");
    expect((await h.iq(publishIq({ node, from: "romeo@montague.example" }))).attrs.type).toBe("result");
  });

  it("compares the publisher's domain without regard to case", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    expect((await h.iq(publishIq({ node, from: "Montague.Example" }))).attrs.type).toBe("result");
  });

  it("requires the registration's secret in publish-options", async () => {
    const h = makeHarness();
    const { node, secret } = await p2Registration(h);
    expect(errorOf(await h.iq(publishIq({ node, from: "capulet.example" })))).toBe("auth/forbidden");
    expect(errorOf(await h.iq(publishIq({ node, from: "capulet.example", secret: `${secret}x` })))).toBe(
      "auth/forbidden",
    );
    expect(errorOf(await h.iq(publishIq({ node, from: "capulet.example", secret: "" })))).toBe("auth/forbidden");
    expect(h.fcm.sent).toHaveLength(0);
    expect((await h.iq(publishIq({ node, from: "capulet.example", secret }))).attrs.type).toBe("result");
    expect(h.fcm.sent).toHaveLength(1);
  });

  it("needs no secret for a Tigase registration, and ignores one sent anyway", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    expect((await h.iq(publishIq({ node, secret: "anything" }))).attrs.type).toBe("result");
  });

  it("answers feature-not-implemented with unsupported to other pubsub requests", async () => {
    const h = makeHarness();
    for (const stanza of [
      `<iq type='get' from='montague.example' to='${PUSH_JID}' id='g'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n'/></pubsub></iq>`,
      `<iq type='set' from='montague.example' to='${PUSH_JID}' id='s'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='n' jid='a@b.example'/></pubsub></iq>`,
      `<iq type='set' from='montague.example' to='${PUSH_JID}' id='c'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='n'/></pubsub></iq>`,
    ]) {
      const reply = await h.iq(stanza);
      expect(errorOf(reply)).toBe("cancel/feature-not-implemented");
      const error = childElement(reply, "error");
      expect(error && childElement(error, "unsupported", "http://jabber.org/protocol/pubsub#errors")).toBeDefined();
    }
  });

  it("answers bad-request to a publish without a node, or that is not a push notification, or has a malformed form", async () => {
    const h = makeHarness();
    const node = await tigaseNode(h);
    const cases = [
      `<iq type='set' from='montague.example' to='${PUSH_JID}' id='a'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish><item><notification xmlns='urn:xmpp:push:0'/></item></publish></pubsub></iq>`,
      `<iq type='set' from='montague.example' to='${PUSH_JID}' id='b'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node}'><item><entry xmlns='http://www.w3.org/2005/Atom'/></item></publish></pubsub></iq>`,
      `<iq type='set' from='montague.example' to='${PUSH_JID}' id='c'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node}'/></pubsub></iq>`,
      publishIq({
        node,
        notification: `<x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='message-count'><value>1</value></field><field var='message-count'><value>2</value></field></x>`,
      }),
      publishIq({ node, secret: "s" }).replace("</publish-options>", "</publish-options><publish-options/>"),
      publishIq({ node, secret: "s" }).replace("pubsub#publish-options", "pubsub#node_config"),
    ];
    for (const stanza of cases) expect(errorOf(await h.iq(stanza))).toBe("modify/bad-request");
    expect(h.apns.sent).toHaveLength(0);
  });

  it("finds publish-options beside publish, whatever the element order", async () => {
    const h = makeHarness();
    const { node, secret } = await p2Registration(h);
    const stanza = `<iq type='set' from='capulet.example' to='${PUSH_JID}' id='o'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish-options><x xmlns='jabber:x:data' type='submit'><field var='secret'><value>${secret}</value></field><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field></x></publish-options><publish node='${node}'><item><notification xmlns='urn:xmpp:push:0'/></item></publish></pubsub></iq>`;
    expect((await h.iq(stanza)).attrs.type).toBe("result");
  });
});
