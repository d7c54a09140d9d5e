import { describe, expect, it } from "vitest";
import { childElement, serialize, textOf } from "../../../src/xmpp/element";
import { parseXml } from "../../../src/xmpp/xml";

describe("parseXml", () => {
  it("resolves default and prefixed namespaces", () => {
    const result = parseXml(
      `<iq xmlns='jabber:client' type='set' id='a&amp;b'><p:x xmlns:p='urn:p'>t&lt;&#65;<![CDATA[<z>]]></p:x></iq>`,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.ns).toBe("jabber:client");
    expect(result.value.attrs.id).toBe("a&b");
    const x = childElement(result.value, "x", "urn:p");
    expect(x && textOf(x)).toBe("t<A<z>");
  });

  it.each([
    ["two roots", "<a/><b/>"],
    ["doctype", "<!DOCTYPE a><a/>"],
    ["processing instruction", "<?pi x?><a/>"],
    ["unknown entity", "<a>&foo;</a>"],
    ["lt in attribute", "<a x='<'/>"],
    ["control character", "<a>\u0001</a>"],
    ["unbound prefix", "<a:b/>"],
    ["mismatched tags", "<a><b></a>"],
    ["cdata end in text", "<a>]]></a>"],
    ["deep nesting", `${"<a>".repeat(40)}${"</a>".repeat(40)}`],
  ])("refuses %s", (_name, text) => {
    expect(parseXml(text).ok).toBe(false);
  });

  it("round-trips through serialize", () => {
    const result = parseXml(`<a xmlns='u' k='1 &apos;2&apos;'>x &amp; y<b/></a>`);
    expect(result.ok && serialize(result.value)).toBe(
      `<a xmlns='u' k='1 &apos;2&apos;'>x &amp; y<b xmlns='u'/></a>`.replace(" xmlns='u'/>", "/>"),
    );
  });
});

describe("parseXml namespace scopes (XML Namespaces 1.0 section 6)", () => {
  const parse = (text: string) => {
    const result = parseXml(text);
    if (!result.ok) throw new Error(result.error.reason);
    return result.value;
  };
  const reason = (text: string) => {
    const result = parseXml(text);
    return result.ok ? "accepted" : result.error.reason;
  };

  it("ends a declaration's scope with its element", () => {
    expect(reason("<a><b xmlns:p='u'/><p:c/></a>")).toBe("unbound element prefix p");
    expect(reason("<a><b xmlns:p='u'/><c p:x='1'/></a>")).toBe("unbound attribute prefix p");
  });

  it("lets a redeclaration shadow the outer binding, and restores it after", () => {
    const root = parse("<a xmlns:p='u1'><b xmlns:p='u2'><p:c/></b><p:d/></a>");
    const [b, d] = root.children;
    const c = typeof b === "string" ? undefined : b?.children[0];
    expect(typeof c === "object" && c.ns).toBe("u2");
    expect(typeof d === "object" && d.ns).toBe("u1");
  });

  it("undeclares and restores the default namespace", () => {
    const root = parse("<a xmlns='u'><b xmlns=''><c/></b><d/></a>");
    expect(root.ns).toBe("u");
    const [b, d] = root.children;
    const c = typeof b === "string" ? undefined : b?.children[0];
    expect(typeof b === "object" && b.ns).toBe("");
    expect(typeof c === "object" && c.ns).toBe("");
    expect(typeof d === "object" && d.ns).toBe("u");
  });

  it("binds a prefix for its own element and the attributes before the declaration", () => {
    const root = parse("<p:a p:x='1' xmlns:p='u'/>");
    expect(root.ns).toBe("u");
    expect(root.attrs["p:x"]).toBe("1");
  });

  it("refuses two attributes with one expanded name, whichever elements declared the prefixes", () => {
    expect(reason("<a xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>")).toBe("attribute repeated under another prefix");
    expect(reason("<a xmlns:p='u'><b xmlns:q='u' p:x='1' q:x='2'/></a>")).toBe(
      "attribute repeated under another prefix",
    );
    expect(reason("<a xmlns:p='u'><b xmlns:p='v' xmlns:q='u' p:x='1' q:x='2'/></a>")).toBe("accepted");
  });

  it.each([
    ["<a xmlns:xml='urn:other'/>", "the xml prefix is reserved"],
    ["<a xmlns:p='http://www.w3.org/XML/1998/namespace'/>", "the xml prefix is reserved"],
    ["<a xmlns:xmlns='urn:x'/>", "the xmlns prefix cannot be declared"],
    ["<a xmlns:p='http://www.w3.org/2000/xmlns/'/>", "reserved namespace"],
    ["<a xmlns='http://www.w3.org/2000/xmlns/'/>", "reserved namespace as default"],
    ["<a xmlns:p=''/>", "empty namespace for a prefix"],
    ["<xmlns:a/>", "element in the xmlns namespace"],
  ])("keeps the reserved-name checks: %s", (text, expected) => {
    expect(reason(text)).toBe(expected);
  });

  it("accepts the xml prefix bound to its own namespace, declared or not", () => {
    expect(parse("<a xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='en'/>").attrs["xml:lang"]).toBe("en");
    expect(parse("<xml:a/>").ns).toBe("http://www.w3.org/XML/1998/namespace");
  });
});

describe("parseXml references (XML 1.0 section 4.1)", () => {
  it.each([
    ["&#65;&#x42;&#x0043;&lt;&gt;&amp;&apos;&quot;", "ABC<>&'\""],
    ["&#x10FFFF;", "\u{10FFFF}"],
    ["a&amp;b&amp;c", "a&b&c"],
  ])("decodes %s", (text, expected) => {
    const result = parseXml(`<a>${text}</a>`);
    expect(result.ok && result.value.children).toEqual([expected]);
  });

  it.each([
    ["&toString;", "undefined entity &toString;"],
    ["&constructor;", "undefined entity &constructor;"],
    ["&__proto__;", "undefined entity &__proto__;"],
    ["&X;", "undefined entity &X;"],
    ["&#x;", "undefined entity &#x;"],
    ["&#;", "undefined entity &#;"],
    ["&#x110000;", "character reference to an illegal character"],
    ["&#99999999999999999999;", "character reference to an illegal character"],
    ["&#0;", "character reference to an illegal character"],
  ])("refuses %s (no lookup on Object.prototype)", (text, expected) => {
    expect(parseXml(`<a>${text}</a>`)).toEqual({ ok: false, error: { reason: expected } });
    expect(parseXml(`<a b='${text}'/>`)).toEqual({ ok: false, error: { reason: expected } });
  });

  it("refuses an upper-case X in a hexadecimal reference", () => {
    expect(parseXml("<a>&#X41;</a>").ok).toBe(false);
    expect(parseXml("<a b='&#X41;'/>").ok).toBe(false);
  });
});
