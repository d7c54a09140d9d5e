/**
 * The syntax parseXml accepts and refuses, edge by edge (XML 1.0 5th edition, XML Namespaces 1.0):
 * what fast-xml-parser's validator used to decide for the gateway, now decided by its own parser.
 */
import fc from "fast-check";
import { SaxesParser } from "saxes";
import { describe, expect, it } from "vitest";
import { DEFAULT_XML_LIMITS, parseXml, type XmlElement, type XmlLimits, type XmlNode } from "../../../src/xmpp/xml";

const el = (name: string, attrs: Record<string, string> = {}, children: XmlNode[] = [], ns = ""): XmlElement => ({
  name,
  ns,
  attrs,
  children,
});

function parsed(text: string, limits?: XmlLimits): XmlElement {
  const result = parseXml(text, limits);
  if (!result.ok) throw new Error(`refused: ${result.error.reason}`);
  return result.value;
}

function outcome(text: string, limits?: XmlLimits): string {
  const result = parseXml(text, limits);
  return result.ok ? "accepted" : result.error.reason;
}

describe("tags (XML 1.0 section 3.1)", () => {
  it.each([
    ["<a/>", el("a")],
    ["<a />", el("a")],
    ["<a\n/>", el("a")],
    ["<a></a >", el("a")],
    ["<a></a\t\r\n>", el("a")],
    ["<a x = '1' />", el("a", { x: "1" })],
    ["<a\tx\n=\r\n'1'\ty=\"2\"\n>\n</a\n>", el("a", { x: "1", y: "2" }, ["\n"])],
  ])("accepts white space where STag, ETag and Eq allow it: %j", (text, tree) => {
    expect(parsed(text)).toEqual(tree);
  });

  it.each([
    ["< a/>", "malformed start tag"],
    ["<a/ >", "malformed start tag"],
    ["<a x='1'/ >", "malformed start tag"],
    ["<a></ a>", "malformed end tag"],
    ["<a></a/>", "malformed end tag"],
    ["<a></a b='1'>", "malformed end tag"],
    ["<a x='1'y='2'/>", "malformed start tag"],
    ['<a x="1"y="2"/>', "malformed start tag"],
    ["<a x/>", "malformed start tag"],
    ["<a x y='1'/>", "malformed start tag"],
    ["<a x=1/>", "malformed start tag"],
    ["<a ='1'/>", "malformed start tag"],
    ["<a x=='1'/>", "malformed start tag"],
    ["<a x='1'=/>", "malformed start tag"],
    ["<a x='1' = 'y'/>", "malformed start tag"],
    ["<a!/>", "malformed start tag"],
    ["<a\u00a0x='1'/>", "malformed start tag"],
    ["<a", "unterminated tag"],
    ["<a x='1'", "unterminated tag"],
    ["<a x='1", "unterminated tag"],
    ["<a></a", "unterminated tag"],
  ])("refuses %j", (text, reason) => {
    expect(outcome(text)).toBe(reason);
  });

  it("refuses a repeated attribute, a repeated declaration included", () => {
    expect(outcome("<a x='1' x='2'/>")).toBe("attribute repeated");
    expect(outcome("<a xmlns:p='u' xmlns:p='u'/>")).toBe("attribute repeated");
    expect(outcome("<a xmlns='u' xmlns='u'/>")).toBe("attribute repeated");
  });

  it("keeps attribute names that Object.prototype also has as they are", () => {
    expect(parsed("<a toString='1' valueOf='2' hasOwnProperty='3'/>").attrs).toEqual({
      toString: "1",
      valueOf: "2",
      hasOwnProperty: "3",
    });
    expect(parsed("<toString/>").name).toBe("toString");
  });

  it.each(["<a __proto__='x'/>", "<a constructor='x'/>", "<a prototype='x'/>", "<__proto__/>", "<constructor/>"])(
    "refuses %j as fast-xml-parser did",
    (text) => {
      expect(outcome(text)).toBe("name reserved in JavaScript");
    },
  );

  it.each([
    ["<a></b>"],
    ["<a></ab>"],
    ["<ab></a>"],
    ["<a></a:b>"],
    ["<a:b xmlns:a='u'></a>"],
    ["<p:a xmlns:p='u'></q:a>"],
    ["<p:a xmlns:p='u'></a>"],
    // One expanded name, two qualified names: XML 1.0 matches the names as written.
    ["<p:a xmlns:p='u' xmlns:q='u'></q:a>"],
    ["<a><b></a></b>"],
  ])("refuses the end tag of %j", (text) => {
    expect(outcome(text)).toBe("mismatched end tag");
  });

  it("matches end tags with a prefix", () => {
    expect(parsed("<p:a xmlns:p='u'><p:b></p:b ></p:a>")).toEqual(
      el("a", { "xmlns:p": "u" }, [el("b", {}, [], "u")], "u"),
    );
  });
});

describe("names (XML 1.0 section 2.3, XML Namespaces 1.0 section 4)", () => {
  it.each([
    ["<é/>", "é"],
    ["<a·b/>", "a·b"],
    ["<a.b-c_d9/>", "a.b-c_d9"],
    ["<_/>", "_"],
    ["<a\u0300/>", "a\u0300"],
    ["<\u{10000}a/>", "\u{10000}a"],
    ["<a\u{EFFFF}/>", "a\u{EFFFF}"],
    ["<\uFEFFa/>", "\uFEFFa"],
  ])("accepts %j", (text, name) => {
    expect(parsed(text).name).toBe(name);
  });

  it.each([
    ["<1a/>", "malformed start tag"],
    ["<-a/>", "malformed start tag"],
    ["<·a/>", "malformed start tag"],
    ["<\u0300a/>", "malformed start tag"],
    ["<a×/>", "malformed start tag"],
    ["<a\u{F0000}/>", "malformed start tag"],
    ["<:a/>", "invalid qualified name"],
    ["<a:/>", "invalid qualified name"],
    ["<a:b:c xmlns:a='u'/>", "invalid qualified name"],
    ["<a:1b xmlns:a='u'/>", "invalid qualified name"],
    ["<a p:-x='1' xmlns:p='u'/>", "invalid qualified name"],
    ["<a xmlns:='u'/>", "invalid qualified name"],
  ])("refuses %j", (text, reason) => {
    expect(outcome(text)).toBe(reason);
  });
});

describe("attribute values (XML 1.0 sections 3.1 and 3.3.3)", () => {
  it.each([
    ["<a x='>'/>", ">"],
    ["<a x=']]>'/>", "]]>"],
    [`<a x="it's"/>`, "it's"],
    [`<a x='say "hi"'/>`, 'say "hi"'],
    ["<a x='a\tb\nc'/>", "a b c"],
    // Section 2.11 first: CR LF is one line feed, so one space.
    ["<a x='a\r\nb\rc'/>", "a b c"],
    ["<a x='&#9;&#10;&#13;'/>", "\t\n\r"],
    ["<a x='&#x1F600;&#128512;'/>", "😀😀"],
    ["<a x='\u{1F600}'/>", "😀"],
    ["<a x=''/>", ""],
  ])("reads %j", (text, value) => {
    expect(parsed(text).attrs.x).toBe(value);
  });

  it.each([
    ["<a x='<'/>", "'<' in an attribute value"],
    ["<a x='a&b'/>", "bare '&' in character data"],
    ["<a x='&amp'/>", "bare '&' in character data"],
    ["<a x='&#x0;'/>", "character reference to an illegal character"],
    ["<a x='&#xD800;'/>", "character reference to an illegal character"],
    ["<a x='&nbsp;'/>", "undefined entity &nbsp;"],
    ["<a x='\u0000'/>", "illegal character"],
    ["<a x='\uD800'/>", "illegal character"],
    ["<a x='\uDC00\uD800'/>", "illegal character"],
    ["<a x='\uFFFF'/>", "illegal character"],
  ])("refuses %j", (text, reason) => {
    expect(outcome(text)).toBe(reason);
  });

  it("holds a value to maxAttributeLength characters as read, and reads no further", () => {
    const at = "v".repeat(DEFAULT_XML_LIMITS.maxAttributeLength);
    expect(parsed(`<a x='${at}'/>`).attrs.x).toBe(at);
    expect(outcome(`<a x='${at}v'/>`)).toBe("attribute too long");
    // The rest of a value past the limit is not read: the illegal character in it goes unseen.
    expect(outcome(`<a x='${at}v\u0000'/>`)).toBe("attribute too long");
    // CR LF is read as one character.
    expect(parsed(`<a x='${at.slice(2)}\r\nv'/>`).attrs.x).toBe(`${at.slice(2)} v`);
  });
});

describe("character data and references (XML 1.0 sections 2.4, 2.7, 2.11, 4.1)", () => {
  it.each([
    ["<a>&#x1F600;&#128512;</a>", ["😀😀"]],
    ["<a>&#0000065;&#x000041;</a>", ["AA"]],
    ["<a>a > b</a>", ["a > b"]],
    ["<a>]] ]</a>", ["]] ]"]],
    ["<a>x\r\ny\rz\n</a>", ["x\ny\nz\n"]],
    ["<a>&#13;&#10;</a>", ["\r\n"]],
    ["<a> </a>", [" "]],
    ["<a>x<!--c-->y<b/>z<!--d--></a>", ["xy", el("b"), "z"]],
    ["<a><!--c--></a>", []],
    ["<a><!--c--><!--d-->x<!--e-->y</a>", ["xy"]],
    ["<a>x<![CDATA[<y>&amp;]]>z</a>", ["x<y>&amp;z"]],
    ["<a><![CDATA[]]></a>", []],
    ["<a><![CDATA[a]]><![CDATA[b]]><b/><![CDATA[c]]></a>", ["ab", el("b"), "c"]],
    ["<a><![CDATA[x\r\ny]]></a>", ["x\ny"]],
    ["<a>x<![CDATA[]]>y</a>", ["xy"]],
    // `]]>` is refused in one CharData; a comment or CDATA section between its parts ends the CharData.
    ["<a>]]<!---->></a>", ["]]>"]],
    ["<a>]]<![CDATA[]]>></a>", ["]]>"]],
  ])("reads %j", (text, children) => {
    expect(parsed(text).children).toEqual(children);
  });

  it.each([
    ["<a>]]></a>", "']]>' in character data"],
    ["<a>x]]>y</a>", "']]>' in character data"],
    ["<a>&#x0;</a>", "character reference to an illegal character"],
    ["<a>&#xFFFE;</a>", "character reference to an illegal character"],
    ["<a>&#xDC00;</a>", "character reference to an illegal character"],
    ["<a>&#x41</a>", "bare '&' in character data"],
    ["<a>& b</a>", "bare '&' in character data"],
    ["<a>\u0000</a>", "illegal character"],
    ["<a>\u0008</a>", "illegal character"],
    ["<a>\uD83D</a>", "illegal character"],
    ["<a>\uDE00\uD83D</a>", "illegal character"],
    ["<a>\uFFFE</a>", "illegal character"],
    ["<a><![CDATA[\u0001]]></a>", "illegal character"],
    ["<a><![CDATA[\uD800]]></a>", "illegal character"],
    ["<a><![CDATA[x</a>", "unterminated CDATA section"],
  ])("refuses %j", (text, reason) => {
    expect(outcome(text)).toBe(reason);
  });
});

describe("comments, declarations and processing instructions (XML 1.0 sections 2.5 to 2.8)", () => {
  it.each([
    ["<a><!-- a - b --></a>", "accepted"],
    ["<a><!----></a>", "accepted"],
    ["<a><!-- a -- b --></a>", "'--' inside a comment"],
    ["<a><!-- a ---></a>", "'--' inside a comment"],
    ["<a><!---></a>", "unterminated comment"],
    ["<a/><!-- x", "unterminated comment"],
    ["<a/><!-- x --", "unterminated comment"],
    ["<a><!-- \u0001 --></a>", "illegal character"],
    ["<a><!-- \uDC00 --></a>", "illegal character"],
    ["<a><!DOCTYPE a></a>", "DOCTYPE or other markup declaration"],
    ["<a><!ELEMENT a ANY></a>", "DOCTYPE or other markup declaration"],
    ["<a><!-x--></a>", "DOCTYPE or other markup declaration"],
    ["<a><?pi x?></a>", "processing instruction"],
    ["<a/><?pi?>", "processing instruction"],
    ["<?xml-stylesheet href='x'?><a/>", "processing instruction"],
    ["<?xmlx?><a/>", "processing instruction"],
  ])("%j: %s", (text, expected) => {
    expect(outcome(text)).toBe(expected);
  });

  it.each([
    "<?xml version='1.0'?><a/>",
    '<?xml version="1.0"?><a/>',
    "<?xml version='1.1'?><a/>",
    "<?xml version = '1.0' encoding = 'UTF-8' standalone = 'no' ?>\n<a/>",
    "<?xml version='1.0' standalone='yes'?><a/>",
    "\uFEFF<?xml version='1.0' encoding='utf-8'?><a/>",
  ])("accepts the XML declaration %j", (text) => {
    expect(outcome(text)).toBe("accepted");
  });

  it.each([
    ["<?xml?><a/>", "malformed XML declaration"],
    ["<?xml encoding='UTF-8'?><a/>", "malformed XML declaration"],
    ["<?xml version='2.0'?><a/>", "malformed XML declaration"],
    ["<?xml version='1.0\"?><a/>", "malformed XML declaration"],
    ["<?xml version='1.0'encoding='UTF-8'?><a/>", "malformed XML declaration"],
    ["<?xml version='1.0' standalone='maybe'?><a/>", "malformed XML declaration"],
    ["<?xml version='1.0' standalone='yes' encoding='UTF-8'?><a/>", "malformed XML declaration"],
    ["<?xml version='1.0' encoding='8bit'?><a/>", "malformed XML declaration"],
    ["<?xml version='1.0'? ><a/>", "malformed XML declaration"],
    ["<?xml\u00a0version='1.0'?><a/>", "processing instruction"],
    [" <?xml version='1.0'?><a/>", "processing instruction"],
    ["<a/><?xml version='1.0'?>", "processing instruction"],
    ["<?xml version='1.0'?><?xml version='1.0'?><a/>", "processing instruction"],
  ])("refuses the XML declaration %j", (text, reason) => {
    expect(outcome(text)).toBe(reason);
  });
});

describe("the document around the root (XML 1.0 sections 2.1 and 2.8)", () => {
  it.each([" \t\r\n<a/> \t\r\n", "<!-- before --><a/><!-- after -->", "\uFEFF<a/>", "\uFEFF \n<!-- x -->\n<a/>\n"])(
    "accepts %j",
    (text) => {
      expect(parsed(text)).toEqual(el("a"));
    },
  );

  it.each([
    ["", "no element"],
    ["  <!-- x -->  ", "no element"],
    ["<a/><b/>", "more than one root element"],
    ["<a></a><a></a>", "more than one root element"],
    ["x<a/>", "text outside the root element"],
    ["<a/>x", "text outside the root element"],
    ["<a/>&amp;", "text outside the root element"],
    // Only XML's four white space characters, not Unicode's others, nor a second byte order mark.
    ["\u00a0<a/>", "text outside the root element"],
    ["<a/>\u00a0", "text outside the root element"],
    ["<a/>\u2028", "text outside the root element"],
    ["<a/>\uFEFF", "text outside the root element"],
    ["\uFEFF\uFEFF<a/>", "text outside the root element"],
    ["<a/>\u0000", "illegal character"],
    ["<a/>\uD800", "illegal character"],
    ["<![CDATA[x]]><a/>", "CDATA outside the root element"],
    ["<a/><![CDATA[x]]>", "CDATA outside the root element"],
    ["</a>", "end tag without a start tag"],
    ["<a/></a>", "end tag without a start tag"],
    ["<a>", "unclosed element"],
    ["<a><b></b>", "unclosed element"],
    ["<!DOCTYPE a><a/>", "DOCTYPE or other markup declaration"],
  ])("refuses %j", (text, reason) => {
    expect(outcome(text)).toBe(reason);
  });
});

/** The tree of a well-formed, namespace-well-formed text as saxes reads it, merged as parseXml merges text. */
function saxesTree(text: string): XmlElement | string {
  const parser = new SaxesParser({ xmlns: true, position: false });
  let root: XmlElement | undefined;
  let error = "";
  const open: XmlNode[][] = [];
  const addText = (data: string) => {
    const children = open[open.length - 1];
    if (children === undefined || data === "") return;
    const last = children[children.length - 1];
    if (typeof last === "string") children[children.length - 1] = last + data;
    else children.push(data);
  };
  parser.on("error", (e) => {
    error ||= e.message;
  });
  parser.on("opentag", (tag) => {
    const attrs: Record<string, string> = {};
    for (const attribute of Object.values(tag.attributes)) attrs[attribute.name] = attribute.value;
    const children: XmlNode[] = [];
    const element: XmlElement = { name: tag.local, ns: tag.uri, attrs, children };
    const parent = open[open.length - 1];
    if (parent) parent.push(element);
    else root = element;
    open.push(children);
  });
  parser.on("closetag", () => {
    open.pop();
  });
  parser.on("text", addText);
  parser.on("cdata", addText);
  parser.write(text).close();
  return error || root || "no root";
}

const NAMES = ["a", "b", "field", "x-y", "a.b", "_c", "é", "n1", "\u{10000}z"];
const TEXT = ["x", " ", "\t", "\n", "\r\n", "\r", ">", "]", "]]", "'", '"', "é", "\u{1F600}"];
const REFERENCES = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#65;", "&#x263A;", "&#x1F600;", "&#13;", "&#10;"];
const SPACE = ["", " ", "\n", "\t", "\r\n"];

interface Tree {
  readonly prefix: "" | "p" | "q";
  readonly name: string;
  readonly declare: readonly string[];
  readonly attrs: readonly { name: string; prefix: "" | "p" | "q"; value: string[]; quote: string; eq: string }[];
  readonly children: readonly (Tree | { text: string[] } | { cdata: string } | { comment: string })[];
  readonly space: string;
}

/* Random well-formed stanzas: p and q bound at the root to different namespaces (so no expanded name repeats),
 * redeclared below, text of every kind, all the white space the grammar allows. */
const { tree: treeArb } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.record({
    prefix: fc.constantFrom<Tree["prefix"]>("", "", "p", "q"),
    name: fc.constantFrom(...NAMES),
    declare: fc
      .tuple(
        fc.constantFrom([], ["xmlns='urn:d1'"], ["xmlns=''"]),
        fc.subarray(["xmlns:p='urn:p2'", "xmlns:q='urn:q2'"]),
      )
      .map(([defaults, prefixes]) => [...defaults, ...prefixes]),
    attrs: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom(...NAMES),
        prefix: fc.constantFrom<Tree["prefix"]>("", "", "p", "q"),
        value: fc.array(fc.constantFrom(...TEXT, ...REFERENCES, "]]>", "&#9;"), { maxLength: 4 }),
        quote: fc.constantFrom("'", '"'),
        eq: fc.constantFrom("=", " = ", "\n=\t"),
      }),
      { selector: (attribute) => `${attribute.prefix}:${attribute.name}`, maxLength: 3 },
    ),
    children: fc.array(
      fc.oneof(
        { depthSize: "small" },
        fc.record({ text: fc.array(fc.constantFrom(...TEXT, ...REFERENCES), { minLength: 1, maxLength: 4 }) }),
        fc.record({ cdata: fc.constantFrom("", "x", "<&>", "]]", "]", "\r\n", "&amp;") }),
        fc.record({ comment: fc.constantFrom("", " c ", "-x", "é", "<a>") }),
        tie("tree"),
      ),
      { maxLength: 4 },
    ),
    space: fc.constantFrom(...SPACE),
  }),
}));

function write(tree: Tree, root: boolean): string {
  const qname = tree.prefix === "" ? tree.name : `${tree.prefix}:${tree.name}`;
  const declarations = root
    ? ["xmlns:p='urn:p1'", "xmlns:q='urn:q1'", ...tree.declare.filter((declaration) => !declaration.includes(":"))]
    : tree.declare;
  const attrs = tree.attrs.map(({ name, prefix, value, quote, eq }) => {
    const text = value.map((piece) => (piece === quote ? (quote === "'" ? "&apos;" : "&quot;") : piece)).join("");
    return `${prefix === "" ? name : `${prefix}:${name}`}${eq}${quote}${text}${quote}`;
  });
  const head = `<${qname}${[...declarations, ...attrs].map((attribute) => ` ${attribute}`).join("")}${tree.space}`;
  if (tree.children.length === 0 && tree.space !== "\t") return `${head}/>`;
  const body = tree.children.map((child) => {
    if ("text" in child) return child.text.join("");
    if ("cdata" in child) return `<![CDATA[${child.cdata}]]>`;
    if ("comment" in child) return `<!--${child.comment}-->`;
    return write(child, false);
  });
  return `${head}>${body.join("")}</${qname}${tree.space}>`;
}

describe("parseXml and saxes (property)", () => {
  it("build the same tree from any well-formed stanza", () => {
    let trees = 0;
    fc.assert(
      fc.property(
        treeArb,
        fc.constantFrom("", "<?xml version='1.0'?>\n"),
        fc.constantFrom("", "\n<!-- end -->\n"),
        (tree, before, after) => {
          const text = `${before}${write(tree, true)}${after}`;
          const expected = saxesTree(text);
          // Random pieces may meet as ']]>' in one CharData: both refuse that.
          if (typeof expected === "string") expect(outcome(text)).toBe("']]>' in character data");
          else {
            expect(parseXml(text)).toEqual({ ok: true, value: expected });
            trees += 1;
          }
        },
      ),
      { numRuns: 2000 },
    );
    // Most runs compare trees, not refusals.
    expect(trees).toBeGreaterThan(1500);
  });
});
