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
