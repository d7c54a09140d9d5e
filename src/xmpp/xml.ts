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

/**
 * Bounds on what one stanza may contain, against denial of service (RFC 6120 section 13.12). All but
 * maxAttributeLength are counted by the pre-scan of the markup, before fast-xml-parser runs, so that a
 * stanza past them costs one linear pass and builds no tree.
 */
export interface XmlLimits {
  /** Nesting levels, the root being level 1. */
  readonly maxDepth: number;
  /** Characters of one attribute value, before references are decoded. */
  readonly maxAttributeLength: number;
  /** Elements in the stanza, the root included. */
  readonly maxElements: number;
  /** Attributes of one element, namespace declarations included. */
  readonly maxAttributesPerElement: number;
  /** Attributes in the whole stanza, namespace declarations included. */
  readonly maxAttributes: number;
  /** `xmlns` and `xmlns:*` attributes in the whole stanza (XML Namespaces 1.0 section 3). */
  readonly maxNamespaceDeclarations: number;
  /** Elements whose local name is `field` under any prefix: the fields of XEP-0004 data forms. */
  readonly maxFormFields: number;
  /**
   * Entity and character references (XML 1.0 section 4.1) in text and attribute values: byte for byte
   * the costliest content for the parsers, so bounded apart from the body size.
   */
  readonly maxReferences: number;
  /** CDATA sections (XML 1.0 section 2.7): each is a node of its own for fast-xml-parser. */
  readonly maxCdataSections: number;
}

/**
 * The limits every stanza is held to unless a caller passes others. Real stanzas (publishes and ad-hoc
 * commands of Tigase, Prosody and ejabberd) have well under 100 elements, 10 attributes per element,
 * 10 namespace declarations, 20 form fields and no CDATA section. The element, attribute, reference and
 * CDATA counts are set so that the costliest stanza within all of them stays under 5 ms of CPU on Node at
 * the 64 KiB default body limit: fast-xml-parser spends some 3 µs per element and per attribute, and each
 * element with an attribute and a text costs some 7 µs in all (bench/hostile-stanzas.ts).
 */
export const DEFAULT_XML_LIMITS: XmlLimits = Object.freeze({
  maxDepth: 32,
  maxAttributeLength: 4096,
  maxElements: 256,
  maxAttributesPerElement: 32,
  maxAttributes: 512,
  maxNamespaceDeclarations: 64,
  maxFormFields: 64,
  maxReferences: 2048,
  maxCdataSections: 64,
});

/**
 * A count of the work one parse did, for tests that bound work rather than time. Pass one in
 * {@link ParseOptions.work}; parseXml only adds to it.
 */
export interface ParseWork {
  /** Markup items (tags, comments, CDATA sections) walked by the pre-scan. */
  scanned: number;
  /** Runs of fast-xml-parser: 0 when the pre-scan refused the input. */
  parserRuns: number;
  /**
   * Steps of the conversion to {@link XmlElement}s: nodes visited, attributes read, and namespace
   * bindings pushed, popped or looked up.
   */
  steps: number;
}

/** Optional extras of {@link parseXml}. */
export interface ParseOptions {
  /** Where to count the work done; nothing is counted without it. */
  readonly work?: ParseWork;
}

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
const LITERAL_WHITE_SPACE = /[\t\n\r]/g;
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

/* The value of the digits raw[from, to) of a character reference (XML 1.0 section 4.1), or NaN when one is not a digit of the radix. */
function referenceValue(raw: string, from: number, to: number, radix: 10 | 16): number {
  if (from >= to) return Number.NaN;
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = raw.charCodeAt(i);
    let digit: number;
    if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
    else if (radix === 16 && c >= 0x41 && c <= 0x46) digit = c - 0x37;
    else if (radix === 16 && c >= 0x61 && c <= 0x66) digit = c - 0x57;
    else return Number.NaN;
    // Past the last code point the value only needs to stay illegal, not exact.
    value = Math.min(value * radix + digit, 0x110000);
  }
  return value;
}

/* The replacement of the reference raw[from - 1, to] ('&' to ';'): a predefined entity (compared
 * directly, not looked up in a record, where `&toString;` would find Object.prototype) or a character
 * reference to a legal character. */
function decodeReference(raw: string, from: number, to: number): string {
  const length = to - from;
  if (length === 2 && raw.charCodeAt(from + 1) === 0x74 /* t */) {
    if (raw.charCodeAt(from) === 0x6c /* l */) return "<";
    if (raw.charCodeAt(from) === 0x67 /* g */) return ">";
  } else if (length === 3 && raw.startsWith("amp", from)) return "&";
  else if (length === 4 && raw.startsWith("apos", from)) return "'";
  else if (length === 4 && raw.startsWith("quot", from)) return '"';
  let code = Number.NaN;
  if (raw.charCodeAt(from) === 0x23 /* # */)
    code =
      raw.charCodeAt(from + 1) === 0x78 /* x */
        ? referenceValue(raw, from + 2, to, 16)
        : referenceValue(raw, from + 1, to, 10);
  if (Number.isNaN(code)) refuse(`undefined entity ${raw.slice(from - 1, to + 1).slice(0, 20)}`);
  if (!isLegalChar(code)) refuse("character reference to an illegal character");
  return String.fromCodePoint(code);
}

/**
 * Decodes the five predefined entities and character references; anything else is refused. One pass
 * over the characters, no callback or regular expression per reference: text of nothing but references
 * is the costliest text there is.
 */
function decodeReferences(raw: string): string {
  let amp = raw.indexOf("&");
  if (amp === -1) return raw;
  let out = "";
  let from = 0;
  while (amp !== -1) {
    let end = amp + 1;
    while (end < raw.length && raw.charCodeAt(end) !== 0x3b /* ; */ && raw.charCodeAt(end) !== 0x26 /* & */) end += 1;
    if (end === raw.length || raw.charCodeAt(end) !== 0x3b) refuse("bare '&' in character data");
    out += raw.slice(from, amp) + decodeReference(raw, amp + 1, end);
    from = end + 1;
    amp = raw.indexOf("&", from);
  }
  return out + raw.slice(from);
}

/*
 * Whether text[from, to) is an NCName: ASCII names are checked character by character (what nearly every
 * stanza holds), anything else by the full NCNAME expression of XML Namespaces 1.0.
 */
function isNCName(text: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f) continue; // a-z A-Z _
    if (i > from && ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e)) continue; // 0-9 - .
    if (c < 0x80) return false;
    return NCNAME.test(text.slice(from, to));
  }
  return true;
}

/** The prefix of a qualified name, checked (XML Namespaces 1.0 section 4); "" without one. */
function prefixOf(qname: string): string {
  const colon = qname.indexOf(":");
  if (colon === -1) {
    if (!isNCName(qname, 0, qname.length)) refuse("invalid name");
    return "";
  }
  if (!isNCName(qname, 0, colon) || !isNCName(qname, colon + 1, qname.length)) refuse("invalid qualified name");
  return qname.slice(0, colon);
}

/** The local part of a qualified name already checked by {@link prefixOf}. */
function localOf(qname: string, prefix: string): string {
  return prefix === "" ? qname : qname.slice(prefix.length + 1);
}

/**
 * The namespace bindings in scope (XML Namespaces 1.0 section 6.1), as one map from prefix to a stack
 * of URIs: an element pushes what it declares and pops it when it is left. Copying the parent's map for
 * every declaring element made a root with P prefixes and S declaring children cost P x S; this costs
 * O(1) per declaration and per lookup.
 */
class NamespaceScope {
  private readonly bindings = new Map<string, string[]>([
    ["xml", [XML_NS]],
    ["", [""]],
  ]);

  constructor(private readonly work: ParseWork | undefined) {}

  push(prefix: string, uri: string): void {
    if (this.work) this.work.steps += 1;
    const stack = this.bindings.get(prefix);
    if (stack) stack.push(uri);
    else this.bindings.set(prefix, [uri]);
  }

  pop(prefix: string): void {
    if (this.work) this.work.steps += 1;
    this.bindings.get(prefix)?.pop();
  }

  lookup(prefix: string): string | undefined {
    if (this.work) this.work.steps += 1;
    const stack = this.bindings.get(prefix);
    return stack?.[stack.length - 1];
  }
}

interface Conversion {
  readonly limits: XmlLimits;
  readonly scope: NamespaceScope;
  readonly work: ParseWork | undefined;
}

type OrderedNode = Record<string, unknown>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/* The tag name of a node of fast-xml-parser's ordered tree: its one key besides ":@" (no array made). */
function nameOf(node: OrderedNode): string | undefined {
  for (const key in node) if (key !== ":@") return key;
  return undefined;
}

/* Whether a value holds a tab, line feed or carriage return (what attribute normalisation replaces). */
function hasLiteralWhiteSpace(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x09 || c === 0x0a || c === 0x0d) return true;
  }
  return false;
}

function readAttributes(node: OrderedNode, { limits, work }: Conversion): Record<string, string> {
  const raw = node[":@"];
  if (!isRecord(raw)) return {};
  const attrs: Record<string, string> = {};
  for (const name in raw) {
    const value = raw[name];
    if (work) work.steps += 1;
    if (typeof value !== "string") refuse("attribute without a value");
    if (value.length > limits.maxAttributeLength) refuse("attribute too long");
    if (value.includes("<")) refuse("'<' in an attribute value");
    // XML 1.0 section 3.3.3: literal white space in an attribute value normalizes to a space.
    attrs[name] = decodeReferences(hasLiteralWhiteSpace(value) ? value.replace(LITERAL_WHITE_SPACE, " ") : value);
  }
  return attrs;
}

/** Pushes the declarations of one element (XML Namespaces 1.0 section 3) and returns their prefixes, for popping. */
function declareNamespaces(attrs: Record<string, string>, scope: NamespaceScope): string[] | undefined {
  let declared: string[] | undefined;
  for (const name in attrs) {
    if (name.charCodeAt(0) !== 0x78 /* x */ || !name.startsWith("xmlns")) continue;
    const value = attrs[name] as string;
    let prefix: string;
    if (name === "xmlns") {
      if (value === XML_NS || value === XMLNS_NS) refuse("reserved namespace as default");
      prefix = "";
    } else if (name.startsWith("xmlns:")) {
      prefix = name.slice(6);
      if (!NCNAME.test(prefix)) refuse("invalid namespace prefix");
      if (prefix === "xmlns") refuse("the xmlns prefix cannot be declared");
      if (value === "") refuse("empty namespace for a prefix");
      if ((prefix === "xml") !== (value === XML_NS)) refuse("the xml prefix is reserved");
      if (value === XMLNS_NS) refuse("reserved namespace");
    } else continue;
    scope.push(prefix, value);
    declared ??= [];
    declared.push(prefix);
  }
  return declared;
}

function checkAttributeNames(attrs: Record<string, string>, scope: NamespaceScope): void {
  let expanded: Set<string> | undefined;
  for (const name in attrs) {
    const prefix = prefixOf(name);
    if (prefix === "" || prefix === "xmlns") continue;
    const local = localOf(name, prefix);
    const ns = prefix === "xml" ? XML_NS : scope.lookup(prefix);
    if (ns === undefined) refuse(`unbound attribute prefix ${prefix.slice(0, 20)}`);
    // XML Namespaces 1.0 section 6.3: no two attributes with the same expanded name.
    const key = `${ns} ${local}`;
    expanded ??= new Set();
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

function convertElement(node: OrderedNode, depth: number, conversion: Conversion): XmlElement {
  const { limits, scope, work } = conversion;
  if (depth > limits.maxDepth) refuse("nested too deeply");
  if (work) work.steps += 1;
  const qname = nameOf(node);
  if (qname === undefined) refuse("empty node");
  const attrs = readAttributes(node, conversion);
  const declared = declareNamespaces(attrs, scope);
  checkAttributeNames(attrs, scope);
  const prefix = prefixOf(qname);
  const local = localOf(qname, prefix);
  if (prefix === "xmlns") refuse("element in the xmlns namespace");
  const ns = prefix === "xml" ? XML_NS : scope.lookup(prefix);
  if (ns === undefined) refuse(`unbound element prefix ${prefix.slice(0, 20)}`);
  const body = node[qname];
  const children: XmlNode[] = [];
  if (Array.isArray(body)) {
    for (const child of body) {
      if (!isRecord(child)) continue;
      if (typeof child["#text"] === "string") {
        if (work) work.steps += 1;
        pushText(children, checkText(child["#text"]));
      } else if ("#cdata" in child) {
        if (work) work.steps += 1;
        pushText(children, checkCdata(child["#cdata"]));
      } else {
        const key = nameOf(child) ?? "";
        if (key.startsWith("?")) refuse("processing instruction");
        if (key.startsWith("!")) refuse("markup declaration");
        children.push(convertElement(child, depth + 1, conversion));
      }
    }
  }
  // Leaving the element ends the scope of its declarations (a refusal abandons the whole scope instead).
  if (declared) for (const declaredPrefix of declared) scope.pop(declaredPrefix);
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

/* Each attribute of a start tag that matched START_TAG, in turn from the end of the tag's name. */
const ATTRIBUTE_NAME = /\s+([^\s=]+)\s*=\s*(?:"[^"]*"|'[^']*')/y;

/* Namespace declarations among the attributes of a start tag that matched START_TAG, from nameEnd on. */
function countDeclarations(tag: string, nameEnd: number): number {
  let count = 0;
  ATTRIBUTE_NAME.lastIndex = nameEnd;
  for (let match = ATTRIBUTE_NAME.exec(tag); match !== null; match = ATTRIBUTE_NAME.exec(tag)) {
    const name = match[1] ?? "";
    if (name === "xmlns" || name.startsWith("xmlns:")) count += 1;
  }
  return count;
}

/* The '&'s of text[from, to): each begins a reference, or is refused later as a bare '&'. */
function countAmpersands(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = text.indexOf("&", from); i !== -1 && i < to; i = text.indexOf("&", i + 1)) count += 1;
  return count;
}

/* What the pre-scan counts against the limits. */
interface Counts {
  elements: number;
  attributes: number;
  declarations: number;
  fields: number;
  references: number;
  cdata: number;
}

/* Counts one start tag that matched START_TAG, whose attributes hold `equals` unquoted '='s. */
function countStartTag(tag: string, equals: number, counts: Counts, limits: XmlLimits): void {
  counts.elements += 1;
  if (counts.elements > limits.maxElements) refuse("too many elements");
  if (equals > limits.maxAttributesPerElement) refuse("too many attributes on one element");
  counts.attributes += equals;
  if (counts.attributes > limits.maxAttributes) refuse("too many attributes");
  let nameEnd = 1;
  while (nameEnd < tag.length && !endsName(tag.charCodeAt(nameEnd))) nameEnd += 1;
  if (equals > 0) {
    if (tag.includes("xmlns")) {
      counts.declarations += countDeclarations(tag, nameEnd);
      if (counts.declarations > limits.maxNamespaceDeclarations) refuse("too many namespace declarations");
    }
    counts.references += countAmpersands(tag, 0, tag.length);
    if (counts.references > limits.maxReferences) refuse("too many references");
  }
  // XEP-0004 fields, whatever the prefix: counting by local name keeps the scan free of namespaces.
  const local = nameEnd - "field".length;
  if (local >= 1 && tag.startsWith("field", local) && (local === 1 || tag.charCodeAt(local - 1) === 0x3a)) {
    counts.fields += 1;
    if (counts.fields > limits.maxFormFields) refuse("too many form fields");
  }
}

/* White space, '/' and '>': what ends the name of a start tag that matched START_TAG. */
function endsName(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d || code === 0x2f || code === 0x3e;
}

/* A scan of the markup that the validator of fast-xml-parser lets through although XML 1.0 forbids it:
 * stray characters in tags (`<x a='1'=>`), text or a second element beside the root, `--` in
 * comments, DOCTYPE and processing instructions (RFC 6120 11.1). It also counts what the limits bound,
 * so that a stanza past them is refused after one linear pass, before fast-xml-parser builds anything. */
function checkMarkup(text: string, limits: XmlLimits, work: ParseWork | undefined): void {
  let depth = 0;
  let roots = 0;
  const counts: Counts = { elements: 0, attributes: 0, declarations: 0, fields: 0, references: 0, cdata: 0 };
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf("<", at);
    const textEnd = open === -1 ? text.length : open;
    if (depth === 0) {
      if (text.slice(at, textEnd).trim() !== "") refuse("text outside the root element");
    } else if (textEnd > at) {
      counts.references += countAmpersands(text, at, textEnd);
      if (counts.references > limits.maxReferences) refuse("too many references");
    }
    if (open === -1) break;
    if (work) work.scanned += 1;
    if (text.startsWith("<!--", open)) {
      at = endOf(text, open + 4, "-->", "comment");
      const body = text.slice(open + 4, at - 3);
      if (body.includes("--") || body.endsWith("-")) refuse("'--' inside a comment");
    } else if (text.startsWith("<![CDATA[", open)) {
      if (depth === 0) refuse("CDATA outside the root element");
      at = endOf(text, open + 9, "]]>", "CDATA section");
      counts.cdata += 1;
      if (counts.cdata > limits.maxCdataSections) refuse("too many CDATA sections");
    } else if (text.startsWith("<?", open)) {
      refuse("processing instruction");
    } else if (text.startsWith("<!", open)) {
      refuse("DOCTYPE or other markup declaration");
    } else {
      // Outside quoted values every '=' of a well-formed start tag separates an attribute from its value.
      let equals = 0;
      let close = -1;
      for (let i = open + 1; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 0x27 || c === 0x22) {
          i = text.indexOf(c === 0x27 ? "'" : '"', i + 1);
          if (i === -1) break;
        } else if (c === 0x3d) equals += 1;
        else if (c === 0x3e) {
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
        if (depth + 1 > limits.maxDepth) refuse("nested too deeply");
        countStartTag(tag, equals, counts, limits);
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
 * namespace-well-formed element (XML Namespaces 1.0 sections 5 and 6), and anything past the limits,
 * which are counted before fast-xml-parser runs. Namespace scopes cost O(1) per declaration, so the whole
 * parse is linear in the stanza's size.
 * @param limits the bounds of {@link XmlLimits}; {@link DEFAULT_XML_LIMITS} unless given.
 * @param options `work`, to count the work done (tests of the cost); nothing is counted without it.
 * @see https://www.rfc-editor.org/rfc/rfc6120#section-11.1
 * @see https://www.rfc-editor.org/rfc/rfc6120#section-13.12
 */
export function parseXml(
  text: string,
  limits: XmlLimits = DEFAULT_XML_LIMITS,
  options: ParseOptions = {},
): XmlParseResult {
  const { work } = options;
  try {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (ILLEGAL_CHAR.test(text)) refuse("illegal character");
    const body = checkProlog(text);
    checkMarkup(body, limits, work);
    if (work) work.parserRuns += 1;
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
      const key = nameOf(node) ?? "";
      if (key.startsWith("?")) refuse("processing instruction");
      if (key === "#cdata") refuse("CDATA outside the root element");
      roots.push(node);
    }
    const [root, ...others] = roots;
    if (root === undefined) refuse("no element");
    if (others.length > 0) refuse("more than one root element");
    return { ok: true, value: convertElement(root, 1, { limits, scope: new NamespaceScope(work), work }) };
  } catch (error) {
    if (error instanceof Refused) return { ok: false, error: { reason: error.message } };
    if (error instanceof Error)
      return { ok: false, error: { reason: `not well-formed: ${error.message.slice(0, 80)}` } };
    throw error;
  }
}
