import { describe, expect, it } from "vitest";
import {
  buildIqError,
  buildIqResult,
  classifyStanza,
  element,
  parseJid,
  parseXml,
  serialize,
  type XmlElement,
} from "../../../src/xmpp";

function parse(text: string): XmlElement {
  const result = parseXml(text);
  if (!result.ok) throw new Error(result.error.reason);
  return result.value;
}

describe("classifyStanza (RFC 6120 8.2.3)", () => {
  it.each(["", " xmlns='jabber:client'", " xmlns='jabber:component:accept'"])(
    "reads an IQ get in namespace%s",
    (ns) => {
      const result = classifyStanza(
        parse(`<iq${ns} type='get' id='1' from='a.example' to='b.example'><ping xmlns='urn:xmpp:ping'/></iq>`),
      );
      expect(result.ok && result.value.kind).toBe("request");
    },
  );

  it.each([
    "<iq type='result' id='1'/>",
    "<iq type='error' id='1'/>",
    "<message><body>x</body></message>",
    "<presence/>",
  ])("never answers %s", (text) => {
    const result = classifyStanza(parse(text));
    expect(result.ok && result.value.kind).toBe("no-reply");
  });

  it.each([
    "<iq type='get' id='1'/>",
    "<iq type='set' id='1'><a/><b/></iq>",
    "<iq type='poke' id='1'><a/></iq>",
    "<iq type='get'><a/></iq>",
  ])("answers bad-request to %s", (text) => {
    const result = classifyStanza(parse(text));
    expect(result.ok && result.value.kind).toBe("bad-request");
  });

  it.each(["<query xmlns='jabber:iq:roster'/>", "<iq xmlns='urn:other' type='get' id='1'><a/></iq>"])(
    "is not a stanza: %s",
    (text) => {
      expect(classifyStanza(parse(text)).ok).toBe(false);
    },
  );
});

describe("IQ replies", () => {
  const iq = { id: "i'd", from: "montague.example", to: "push.example.net" };

  it("swap the addresses, keep the id and carry no xmlns", () => {
    expect(serialize(buildIqResult(iq, "fallback.example"))).toBe(
      "<iq type='result' from='push.example.net' to='montague.example' id='i&apos;d'/>",
    );
  });

  it("put the condition, text and application condition in the error", () => {
    const error = buildIqError(iq, "x", {
      type: "cancel",
      condition: "feature-not-implemented",
      text: "no",
      appCondition: element("unsupported", { xmlns: "http://jabber.org/protocol/pubsub#errors", feature: "items" }),
    });
    expect(serialize(error)).toBe(
      "<iq type='error' from='push.example.net' to='montague.example' id='i&apos;d'><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no</text><unsupported xmlns='http://jabber.org/protocol/pubsub#errors' feature='items'/></error></iq>",
    );
  });

  it("answer from the service JID when the request had no to", () => {
    expect(serialize(buildIqResult({ id: "1", from: "a.example", to: undefined }, "push.example.net"))).toBe(
      "<iq type='result' from='push.example.net' to='a.example' id='1'/>",
    );
  });
});

describe("parseJid (RFC 7622)", () => {
  it("splits and lowercases local part and domain, keeps the resource", () => {
    expect(parseJid("Romeo@Montague.Example/Orchard")).toEqual({
      local: "romeo",
      domain: "montague.example",
      resource: "Orchard",
    });
    expect(parseJid("montague.example")).toEqual({ domain: "montague.example" });
    expect(parseJid("montague.example.")).toEqual({ domain: "montague.example" });
  });

  it.each(["", "@a.example", "a@", "a@b.example/", "a b@c.example", "a@b c.example", `${"x".repeat(1024)}@a.example`])(
    "refuses %j",
    (text) => {
      expect(parseJid(text)).toBeUndefined();
    },
  );
});
