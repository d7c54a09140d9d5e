import { XMLParser, XMLValidator } from "fast-xml-parser";

/** A node of a parsed stanza: an element or a run of character data. */
export type XmlNode = XmlElement | string;

/**
 * An element with its namespace resolved (XML Namespaces 1.0 section 6).
 * `attrs` holds the attributes by their qualified names, namespace declarations included,
 * with entity and character references decoded.
 */
export interface XmlElement {
  readonly name: string;
  readonly ns: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly XmlNode[];
}

/** Why a text was refused as a stanza. */
export interface XmlParseError {
  readonly reason: string;
}

export type XmlParseResult = { ok: true; value: XmlElement } | { ok: false; error: XmlParseError };

/** Bounds on what one stanza may contain. */
export interface XmlLimits {
  readonly maxDepth: number;
  readonly maxAttributeLength: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = { maxDepth: 32, maxAttributeLength: 4096 };

const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

/* The one parser configuration of the project: attributes kept, values left as strings, white space
 * kept, entities left for decodeReferences() so that nothing but the five predefined entities and
 * character references is ever expanded. */
const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  cdataPropName: "#cdata",
  ignoreDeclaration: false,
  ignorePiTags: false,
  allowBooleanAttributes: false,
  removeNSPrefix: false,
  maxNestedTags: 1024,
});

// XML 1.0 section 2.2 Char, minus what is legal: tab, LF, CR, and the ranges below.
const ILLEGAL_CHAR =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NAME_START =
  "A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD";
const NAME_CHAR = `${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040`;
const NCNAME = new RegExp(`^[${NAME_START}][${NAME_CHAR}]*$`);
const REFERENCE = /&([^;&]*);|&/g;
const PREDEFINED: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", apos: "'", quot: '"' };
const XML_DECL =
  /^<\?xml\s+version\s*=\s*(["'])1\.[0-9]+\1(\s+encoding\s*=\s*(["'])[A-Za-z][A-Za-z0-9._-]*\3)?(\s+standalone\s*=\s*(["'])(yes|no)\5)?\s*\?>/;

class Refused extends Error {}

function refuse(reason: string): never {
  throw new Refused(reason);
}

function isLegalChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

/** Decodes the five predefined entities and character references; anything else is refused. */
function decodeReferences(raw: string): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(REFERENCE, (whole: string, body: string | undefined) => {
    if (body === undefined) refuse("bare '&' in character data");
    const predefined = PREDEFINED[body];
    if (predefined !== undefined) return predefined;
    const match = /^#(?:x([0-9A-Fa-f]+)|([0-9]+))$/.exec(body);
    if (!match) refuse(`undefined entity ${whole.slice(0, 20)}`);
    const code = match[1] !== undefined ? Number.parseInt(match[1], 16) : Number.parseInt(match[2] ?? "", 10);
    if (!isLegalChar(code)) refuse("character reference to an illegal character");
    return String.fromCodePoint(code);
  });
}

function splitQName(qname: string): { prefix: string; local: string } {
  const colon = qname.indexOf(":");
  if (colon === -1) {
    if (!NCNAME.test(qname)) refuse("invalid name");
    return { prefix: "", local: qname };
  }
  const prefix = qname.slice(0, colon);
  const local = qname.slice(colon + 1);
  if (!NCNAME.test(prefix) || !NCNAME.test(local)) refuse("invalid qualified name");
  return { prefix, local };
}

type Scope = ReadonlyMap<string, string>;

type OrderedNode = Record<string, unknown>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readAttributes(node: OrderedNode, limits: XmlLimits): Record<string, string> {
  const raw = node[":@"];
  const attrs: Record<string, string> = {};
  if (!isRecord(raw)) return attrs;
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== "string") refuse("attribute without a value");
    if (value.length > limits.maxAttributeLength) refuse("attribute too long");
    if (value.includes("<")) refuse("'<' in an attribute value");
    // XML 1.0 section 3.3.3: literal white space in an attribute value normalizes to a space.
    attrs[name] = decodeReferences(value.replace(/[\t\n\r]/g, " "));
  }
  return attrs;
}

function declareNamespaces(attrs: Record<string, string>, parent: Scope): Scope {
  let scope: Map<string, string> | undefined;
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "xmlns") {
      if (value === XML_NS || value === XMLNS_NS) refuse("reserved namespace as default");
      scope ??= new Map(parent);
      scope.set("", value);
    } else if (name.startsWith("xmlns:")) {
      const prefix = name.slice(6);
      if (!NCNAME.test(prefix)) refuse("invalid namespace prefix");
      if (prefix === "xmlns") refuse("the xmlns prefix cannot be declared");
      if (value === "") refuse("empty namespace for a prefix");
      if ((prefix === "xml") !== (value === XML_NS)) refuse("the xml prefix is reserved");
      if (value === XMLNS_NS) refuse("reserved namespace");
      scope ??= new Map(parent);
      scope.set(prefix, value);
    }
  }
  return scope ?? parent;
}

function checkAttributeNames(attrs: Record<string, string>, scope: Scope): void {
  const expanded = new Set<string>();
  for (const name of Object.keys(attrs)) {
    const { prefix, local } = splitQName(name);
    if (prefix === "" || prefix === "xmlns") continue;
    const ns = prefix === "xml" ? XML_NS : scope.get(prefix);
    if (ns === undefined) refuse(`unbound attribute prefix ${prefix.slice(0, 20)}`);
    const key = `${ns} ${local}`;
    if (expanded.has(key)) refuse("attribute repeated under another prefix");
    expanded.add(key);
  }
}

function checkText(raw: string): string {
  if (raw.includes("]]>")) refuse("']]>' in character data");
  return decodeReferences(raw);
}

function checkCdata(value: unknown): string {
  if (!Array.isArray(value)) return "";
  return value.map((part) => (isRecord(part) && typeof part["#text"] === "string" ? part["#text"] : "")).join("");
}

function convertElement(node: OrderedNode, parent: Scope, depth: number, limits: XmlLimits): XmlElement {
  if (depth > limits.maxDepth) refuse("nested too deeply");
  const qname = Object.keys(node).find((key) => key !== ":@");
  if (qname === undefined) refuse("empty node");
  const attrs = readAttributes(node, limits);
  const scope = declareNamespaces(attrs, parent);
  checkAttributeNames(attrs, scope);
  const { prefix, local } = splitQName(qname);
  if (prefix === "xmlns") refuse("element in the xmlns namespace");
  const ns = prefix === "xml" ? XML_NS : scope.get(prefix);
  if (ns === undefined) refuse(`unbound element prefix ${prefix.slice(0, 20)}`);
  const body = node[qname];
  const children: XmlNode[] = [];
  if (Array.isArray(body)) {
    for (const child of body) {
      if (!isRecord(child)) continue;
      if (typeof child["#text"] === "string") pushText(children, checkText(child["#text"]));
      else if ("#cdata" in child) pushText(children, checkCdata(child["#cdata"]));
      else {
        const key = Object.keys(child).find((k) => k !== ":@") ?? "";
        if (key.startsWith("?")) refuse("processing instruction");
        if (key.startsWith("!")) refuse("markup declaration");
        children.push(convertElement(child, scope, depth + 1, limits));
      }
    }
  }
  return { name: local, ns, attrs, children };
}

function pushText(children: XmlNode[], text: string): void {
  const last = children[children.length - 1];
  if (typeof last === "string") children[children.length - 1] = last + text;
  else if (text !== "") children.push(text);
}

/* What the validator of fast-xml-parser lets through but XML 1.0 forbids outside the element tree. */
function checkProlog(text: string): string {
  let rest = text;
  const decl = XML_DECL.exec(rest);
  if (decl) rest = rest.slice(decl[0].length);
  else if (rest.startsWith("<?xml") && /^<\?xml[\s?]/.test(rest)) refuse("malformed XML declaration");
  return rest;
}

const START_TAG = new RegExp(
  `^<[${NAME_START}:][${NAME_CHAR}:]*(?:\\s+[${NAME_START}:][${NAME_CHAR}:]*\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*\\s*/?>$`,
);
const END_TAG = new RegExp(`^</[${NAME_START}:][${NAME_CHAR}:]*\\s*>$`);

function endOf(text: string, from: number, marker: string, what: string): number {
  const end = text.indexOf(marker, from);
  if (end === -1) refuse(`unterminated ${what}`);
  return end + marker.length;
}

/* A scan of the markup that the validator of fast-xml-parser lets through although XML 1.0 forbids it:
 * stray characters in tags (`<x a='1'=>`), text or a second element beside the root, `--` in
 * comments, DOCTYPE and processing instructions (RFC 6120 11.1). */
function checkMarkup(text: string): void {
  let depth = 0;
  let roots = 0;
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf("<", at);
    const between = text.slice(at, open === -1 ? text.length : open);
    if (depth === 0 && between.trim() !== "") refuse("text outside the root element");
    if (open === -1) break;
    if (text.startsWith("<!--", open)) {
      at = endOf(text, open + 4, "-->", "comment");
      const body = text.slice(open + 4, at - 3);
      if (body.includes("--") || body.endsWith("-")) refuse("'--' inside a comment");
    } else if (text.startsWith("<![CDATA[", open)) {
      if (depth === 0) refuse("CDATA outside the root element");
      at = endOf(text, open + 9, "]]>", "CDATA section");
    } else if (text.startsWith("<?", open)) {
      refuse("processing instruction");
    } else if (text.startsWith("<!", open)) {
      refuse("DOCTYPE or other markup declaration");
    } else {
      let quote: string | undefined;
      let close = -1;
      for (let i = open + 1; i < text.length; i++) {
        const c = text[i];
        if (quote !== undefined) {
          if (c === quote) quote = undefined;
        } else if (c === "'" || c === '"') quote = c;
        else if (c === ">") {
          close = i;
          break;
        }
      }
      if (close === -1) refuse("unterminated tag");
      const tag = text.slice(open, close + 1);
      if (tag.startsWith("</")) {
        if (!END_TAG.test(tag)) refuse("malformed end tag");
        depth -= 1;
        if (depth < 0) refuse("end tag without a start tag");
      } else {
        if (!START_TAG.test(tag)) refuse("malformed start tag");
        if (depth === 0) roots += 1;
        if (roots > 1) refuse("more than one root element");
        if (!tag.endsWith("/>")) depth += 1;
      }
      at = close + 1;
    }
  }
  if (roots === 0) refuse("no element");
  if (depth !== 0) refuse("unclosed element");
}

/**
 * Parses one stanza. Refuses what RFC 6120 section 11.1 forbids in XMPP streams (DOCTYPE,
 * processing instructions, entities other than the predefined five), anything that is not one
 * namespace-well-formed element, and anything past the limits.
 * @see https://www.rfc-editor.org/rfc/rfc6120#section-11.1
 */
export function parseXml(text: string, limits: XmlLimits = DEFAULT_XML_LIMITS): XmlParseResult {
  try {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (ILLEGAL_CHAR.test(text)) refuse("illegal character");
    const body = checkProlog(text);
    checkMarkup(body);
    const validation = XMLValidator.validate(body, { allowBooleanAttributes: false });
    if (validation !== true) refuse(`not well-formed: ${validation.err.msg.slice(0, 80)}`);
    const tree: unknown = parser.parse(body);
    if (!Array.isArray(tree)) refuse("no element");
    const roots: OrderedNode[] = [];
    for (const node of tree) {
      if (!isRecord(node)) continue;
      if (typeof node["#text"] === "string") {
        if (node["#text"].trim() !== "") refuse("text outside the root element");
        continue;
      }
      const key = Object.keys(node).find((k) => k !== ":@") ?? "";
      if (key.startsWith("?")) refuse("processing instruction");
      if (key === "#cdata") refuse("CDATA outside the root element");
      roots.push(node);
    }
    const [root, ...others] = roots;
    if (root === undefined) refuse("no element");
    if (others.length > 0) refuse("more than one root element");
    return {
      ok: true,
      value: convertElement(
        root,
        new Map([
          ["xml", XML_NS],
          ["", ""],
        ]),
        1,
        limits,
      ),
    };
  } catch (error) {
    if (error instanceof Refused) return { ok: false, error: { reason: error.message } };
    if (error instanceof Error)
      return { ok: false, error: { reason: `not well-formed: ${error.message.slice(0, 80)}` } };
    throw error;
  }
}
