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
 * Bounds on what one stanza may contain, against denial of service (RFC 6120 section 13.12). The parser
 * counts each one as it reads and refuses the stanza at the item that passes it, so that a stanza past
 * any of them costs at most part of one linear pass.
 */
export interface XmlLimits {
  /** Nesting levels, the root being level 1. */
  readonly maxDepth: number;
  /** Characters of one attribute value as written (CR LF counting as one, XML 1.0 section 2.11), before references are decoded. */
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
   * the costliest content to decode, so bounded apart from the body size.
   */
  readonly maxReferences: number;
  /** CDATA sections (XML 1.0 section 2.7): each is a piece of text to merge, so bounded apart from the body size. */
  readonly maxCdataSections: number;
}

/**
 * The limits every stanza is held to unless a caller passes others. Real stanzas (publishes and ad-hoc
 * commands of Tigase, Prosody and ejabberd) have well under 100 elements, 10 attributes per element,
 * 10 namespace declarations, 20 form fields and no CDATA section. The element, attribute, reference and
 * CDATA counts are set so that the costliest stanza within all of them stays under 5 ms of CPU on Node at
 * the 64 KiB default body limit: the parser spends some 0.1 µs per element, 0.2 µs per attribute and 2 ns
 * per byte of text, so that stanza costs under 1 ms (bench/hostile-stanzas.ts).
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
  /** Markup items (start tags, end tags, comments, CDATA sections) the parser reached. */
  scanned: number;
  /**
   * Parses that read the input to its end: 1 for an accepted stanza (or one refused for what only its
   * end shows, such as an unclosed element), 0 when a fault or a limit stopped the parser before.
   */
  parserRuns: number;
  /**
   * Steps of building the {@link XmlElement}s: elements, attributes and text runs made, and namespace
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

// XML 1.0 section 2.8 XMLDecl, with S as XML defines it (not \s, which also takes U+00A0 and others).
const XML_DECL =
  /<\?xml[ \t\n\r]+version[ \t\n\r]*=[ \t\n\r]*(["'])1\.[0-9]+\1(?:[ \t\n\r]+encoding[ \t\n\r]*=[ \t\n\r]*(["'])[A-Za-z][A-Za-z0-9._-]*\2)?(?:[ \t\n\r]+standalone[ \t\n\r]*=[ \t\n\r]*(["'])(?:yes|no)\3)?[ \t\n\r]*\?>/y;

class Refused extends Error {}

function refuse(reason: string): never {
  throw new Refused(reason);
}

/* What a character may be in an XML Name (XML 1.0 section 2.3): NameStartChar, or NameChar only. */
const NOT_NAME = 0;
const NAME_CHAR = 1;
const NAME_START = 2;

/* The kinds of the ASCII characters, looked up rather than compared: nearly every name is ASCII. The
 * colon is left out, as the name scanner tracks it for the QName rules. */
const ASCII_NAME_KIND = (() => {
  const kinds = new Uint8Array(128);
  for (let c = 0x41; c <= 0x5a; c++) kinds[c] = NAME_START; // A-Z
  for (let c = 0x61; c <= 0x7a; c++) kinds[c] = NAME_START; // a-z
  kinds[0x5f] = NAME_START; // _
  for (let c = 0x30; c <= 0x39; c++) kinds[c] = NAME_CHAR; // 0-9
  kinds[0x2d] = NAME_CHAR; // -
  kinds[0x2e] = NAME_CHAR; // .
  return kinds;
})();

/* The kind of a character of the Basic Multilingual Plane past ASCII and outside the surrogates: the
 * NameStartChar and NameChar ranges of XML 1.0 section 2.3. */
function nonAsciiNameKind(c: number): number {
  if (c < 0xc0) return c === 0xb7 ? NAME_CHAR : NOT_NAME;
  if (c <= 0x2ff) return c === 0xd7 || c === 0xf7 ? NOT_NAME : NAME_START;
  if (c <= 0x36f) return NAME_CHAR;
  if (c <= 0x1fff) return c === 0x37e ? NOT_NAME : NAME_START;
  if (c === 0x200c || c === 0x200d) return NAME_START;
  if (c === 0x203f || c === 0x2040) return NAME_CHAR;
  if (
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd)
  )
    return NAME_START;
  return NOT_NAME;
}

/* XML 1.0 section 2.3 S. */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/*
 * The index after the character at i, whose code unit c is at least U+D800: a surrogate pair is one
 * character; a lone surrogate, U+FFFE and U+FFFF are no XML characters (XML 1.0 section 2.2 Char).
 */
function afterWide(text: string, i: number, c: number): number {
  if (c <= 0xdbff) {
    const low = text.charCodeAt(i + 1);
    if (low >= 0xdc00 && low <= 0xdfff) return i + 2;
  } else if (c >= 0xe000 && c <= 0xfffd) return i + 1;
  return refuse("illegal character");
}

/* Whether the character at i is one XML 1.0 allows (section 2.2 Char); i is within the text. */
function isLegalAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 0x20) return c === 0x09 || c === 0x0a || c === 0x0d;
  if (c < 0xd800) return true;
  if (c <= 0xdbff) {
    const low = text.charCodeAt(i + 1);
    return low >= 0xdc00 && low <= 0xdfff;
  }
  return c >= 0xe000 && c <= 0xfffd;
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

/*
 * Names that would be keys of Object.prototype's own machinery in `attrs`. fast-xml-parser, the parser
 * before this one, refused them as element and attribute names; they stay refused, and `__proto__`
 * could not be stored in a plain record anyway.
 */
function isReservedKey(name: string): boolean {
  return (
    (name.length === 9 || name.length === 11) &&
    (name === "__proto__" || name === "prototype" || name === "constructor")
  );
}

/**
 * One parse of one stanza: a single pass over the text that checks it as it goes and builds the
 * {@link XmlElement}s directly, with the namespace scopes as stacks (O(1) per declaration and lookup),
 * text runs gathered as slices joined once, and every limit counted at the item that adds to it.
 */
class StanzaParser {
  /** Where the scan is. */
  private pos = 0;
  private readonly end: number;
  /** Set by {@link scanName}: the first colon of the name scanned (-1 without one), and whether it is a QName. */
  private colon = -1;
  private isQName = true;
  /** Set by {@link reference} and {@link attributeValue}: the index after what they read. */
  private after = 0;
  // What the limits bound, counted so far.
  private elementCount = 0;
  private attributeCount = 0;
  private declarationCount = 0;
  private fieldCount = 0;
  private referenceCount = 0;
  private cdataCount = 0;
  /** The root, once its start tag is read. */
  private root: XmlElement | undefined;
  /** The children of the innermost open element; undefined outside the root. */
  private children: XmlNode[] | undefined;
  // The open elements, innermost last: qualified name, children, and the prefixes it declared.
  private readonly openNames: string[] = [];
  private readonly openChildren: XmlNode[][] = [];
  private readonly openDeclared: (string[] | undefined)[] = [];
  /** The default namespace in scope, and the ones it shadows (XML Namespaces 1.0 section 6.2). */
  private defaultNs = "";
  private readonly shadowedDefaults: string[] = [];
  /** Each prefix bound in scope to the stack of its URIs, innermost last; made at the first declaration. */
  private prefixes: Map<string, string[]> | undefined;
  /** The current text run: its one piece, or all its pieces once it has several (joined once when it ends). */
  private run = "";
  private runParts: string[] | undefined;
  /** The attributes of the current start tag that declare a namespace or have a prefix, with their colons. */
  private readonly specialNames: string[] = [];
  private readonly specialColons: number[] = [];

  constructor(
    private readonly text: string,
    private readonly limits: XmlLimits,
    private readonly work: ParseWork | undefined,
  ) {
    this.end = text.length;
  }

  parse(): XmlElement {
    this.prolog();
    const text = this.text;
    const end = this.end;
    while (this.pos < end) {
      if (text.charCodeAt(this.pos) === 0x3c /* < */) this.markup();
      else if (this.children !== undefined) this.charData();
      else this.outsideRoot();
    }
    if (this.work) this.work.parserRuns += 1;
    if (this.root === undefined) refuse("no element");
    if (this.openNames.length > 0) refuse("unclosed element");
    return this.root;
  }

  /* A byte order mark, then the XML declaration if there is one (XML 1.0 sections 2.8 and F). */
  private prolog(): void {
    const text = this.text;
    let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
    if (text.startsWith("<?xml", pos)) {
      const c = text.charCodeAt(pos + 5);
      // Anything else after `<?xml` is a processing instruction, refused with the others.
      if (isSpace(c) || c === 0x3f /* ? */) {
        XML_DECL.lastIndex = pos;
        if (!XML_DECL.test(text)) refuse("malformed XML declaration");
        pos = XML_DECL.lastIndex;
      }
    }
    this.pos = pos;
  }

  /* White space between the items outside the root (XML 1.0 section 2.8 Misc), and nothing else. */
  private outsideRoot(): void {
    const text = this.text;
    let i = this.pos;
    while (isSpace(text.charCodeAt(i))) i += 1;
    this.pos = i;
    if (i < this.end && text.charCodeAt(i) !== 0x3c /* < */)
      refuse(isLegalAt(text, i) ? "text outside the root element" : "illegal character");
  }

  /* The item at '<'. RFC 6120 section 11.1 forbids DOCTYPE and processing instructions in streams. */
  private markup(): void {
    if (this.work) this.work.scanned += 1;
    const text = this.text;
    const next = text.charCodeAt(this.pos + 1);
    if (next === 0x2f /* / */) this.endTag();
    else if (next === 0x21 /* ! */) {
      if (text.startsWith("--", this.pos + 2)) this.comment();
      else if (text.startsWith("[CDATA[", this.pos + 2)) this.cdataSection();
      else refuse("DOCTYPE or other markup declaration");
    } else if (next === 0x3f /* ? */) refuse("processing instruction");
    else this.startTag();
  }

  /**
   * Scans an XML Name (XML 1.0 section 2.3) from `from` and returns its end, `from` when no name starts
   * there. Sets {@link colon} and {@link isQName} (XML Namespaces 1.0 section 4: at most one colon,
   * with an NCName on each side).
   */
  private scanName(from: number): number {
    const text = this.text;
    const end = this.end;
    let i = from;
    let colon = -1;
    let isQName = true;
    let atStart = true; // whether the next character starts an NCName
    while (i < end) {
      const c = text.charCodeAt(i);
      let kind: number;
      let width = 1;
      if (c < 0x80) {
        if (c === 0x3a /* : */) {
          if (colon !== -1 || i === from) isQName = false;
          else colon = i;
          atStart = true;
          i += 1;
          continue;
        }
        kind = ASCII_NAME_KIND[c] ?? NOT_NAME;
      } else if (c >= 0xd800 && c <= 0xdbff) {
        // [#x10000-#xEFFFF] start names too.
        const low = text.charCodeAt(i + 1);
        if (!(low >= 0xdc00 && low <= 0xdfff)) break;
        const code = ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
        kind = code <= 0xeffff ? NAME_START : NOT_NAME;
        width = 2;
      } else kind = nonAsciiNameKind(c);
      if (kind === NOT_NAME) break;
      if (atStart && kind !== NAME_START) {
        if (i === from) break;
        isQName = false;
      }
      atStart = false;
      i += width;
    }
    if (atStart && i > from) isQName = false; // a name ending with its colon
    this.colon = colon;
    this.isQName = isQName;
    return i;
  }

  /*
   * STag and EmptyElemTag (XML 1.0 section 3.1): '<' Name (S Attribute)* S? ('>' | '/>'), where
   * Attribute is Name Eq AttValue and Eq is S? '=' S?. Then the namespaces (XML Namespaces 1.0
   * sections 3 to 6) and the element itself.
   */
  private startTag(): void {
    const { text, limits, work } = this;
    if (this.children === undefined) {
      if (this.root !== undefined) refuse("more than one root element");
    } else this.flushText();
    if (this.openNames.length + 1 > limits.maxDepth) refuse("nested too deeply");
    this.elementCount += 1;
    if (this.elementCount > limits.maxElements) refuse("too many elements");
    const nameStart = this.pos + 1;
    const nameEnd = this.scanName(nameStart);
    if (nameEnd === nameStart) refuse(nameStart >= this.end ? "unterminated tag" : "malformed start tag");
    if (!this.isQName) refuse("invalid qualified name");
    const qname = text.slice(nameStart, nameEnd);
    const colon = this.colon;
    const local = colon === -1 ? qname : text.slice(colon + 1, nameEnd);
    if (isReservedKey(qname)) refuse("name reserved in JavaScript");
    // XEP-0004 fields, whatever the prefix: counting by local name keeps the count free of namespaces.
    if (local === "field") {
      this.fieldCount += 1;
      if (this.fieldCount > limits.maxFormFields) refuse("too many form fields");
    }

    const attrs: Record<string, string> = {};
    let count = 0;
    let specials = 0;
    let prefixed = 0;
    let empty = false;
    let i = nameEnd;
    for (;;) {
      const spaced = i;
      let c = text.charCodeAt(i);
      while (isSpace(c)) c = text.charCodeAt(++i);
      if (c === 0x3e /* > */) {
        i += 1;
        break;
      }
      if (c === 0x2f /* / */) {
        // `<a/ >` is not an EmptyElemTag.
        if (text.charCodeAt(i + 1) !== 0x3e) refuse(i + 1 >= this.end ? "unterminated tag" : "malformed start tag");
        empty = true;
        i += 2;
        break;
      }
      if (i >= this.end) refuse("unterminated tag");
      // Each attribute follows white space: `<a x='1'y='2'>` is not well-formed.
      if (i === spaced) refuse("malformed start tag");
      count += 1;
      if (count > limits.maxAttributesPerElement) refuse("too many attributes on one element");
      this.attributeCount += 1;
      if (this.attributeCount > limits.maxAttributes) refuse("too many attributes");
      const attrEnd = this.scanName(i);
      if (attrEnd === i) refuse("malformed start tag");
      if (!this.isQName) refuse("invalid qualified name");
      const name = text.slice(i, attrEnd);
      const attrColon = this.colon;
      if (isReservedKey(name)) refuse("name reserved in JavaScript");
      const declares = attrColon === -1 ? name === "xmlns" : attrColon === i + 5 && text.startsWith("xmlns", i);
      if (declares) {
        this.declarationCount += 1;
        if (this.declarationCount > limits.maxNamespaceDeclarations) refuse("too many namespace declarations");
      }
      if (declares || attrColon !== -1) {
        if (!declares) prefixed += 1;
        this.specialNames[specials] = name;
        this.specialColons[specials] = attrColon === -1 ? -1 : attrColon - i;
        specials += 1;
      }
      // Eq, then the quoted value.
      i = attrEnd;
      c = text.charCodeAt(i);
      while (isSpace(c)) c = text.charCodeAt(++i);
      if (c !== 0x3d /* = */) refuse(i >= this.end ? "unterminated tag" : "malformed start tag");
      c = text.charCodeAt(++i);
      while (isSpace(c)) c = text.charCodeAt(++i);
      if (c !== 0x22 /* " */ && c !== 0x27 /* ' */) refuse(i >= this.end ? "unterminated tag" : "malformed start tag");
      const value = this.attributeValue(i, c);
      i = this.after;
      // XML 1.0 section 3.1: an attribute name appears once per tag.
      if (Object.hasOwn(attrs, name)) refuse("attribute repeated");
      attrs[name] = value;
      if (work) work.steps += 1;
    }

    const declared = specials > 0 ? this.declare(attrs, specials) : undefined;
    if (prefixed > 0) this.checkPrefixedAttributes(specials, prefixed);
    let ns: string;
    if (colon === -1) {
      if (work) work.steps += 1;
      ns = this.defaultNs;
    } else {
      const prefix = text.slice(nameStart, colon);
      if (prefix === "xmlns") refuse("element in the xmlns namespace");
      const bound = prefix === "xml" ? XML_NS : this.lookup(prefix);
      if (bound === undefined) refuse(`unbound element prefix ${prefix.slice(0, 20)}`);
      ns = bound;
    }

    if (work) work.steps += 1;
    const children: XmlNode[] = [];
    const element: XmlElement = { name: local, ns, attrs, children };
    if (this.children === undefined) this.root = element;
    else this.children.push(element);
    if (empty) {
      if (declared) this.undeclare(declared);
    } else {
      this.openNames.push(qname);
      this.openChildren.push(children);
      this.openDeclared.push(declared);
      this.children = children;
    }
    this.pos = i;
  }

  /*
   * The value of the attribute whose opening quote is at `open` (XML 1.0 section 3.1 AttValue), read
   * as section 3.3.3 says: CR LF and a lone CR become LF (section 2.11), literal tab, LF and CR become a
   * space, then references are decoded. Refused past maxAttributeLength characters without reading on.
   * Sets {@link after} to the index after the closing quote.
   */
  private attributeValue(open: number, quote: number): string {
    const text = this.text;
    const start = open + 1;
    let stop = Math.min(this.end, start + this.limits.maxAttributeLength + 1);
    let parts: string[] | undefined;
    let from = start;
    let i = start;
    for (;;) {
      if (i >= stop) refuse(stop >= this.end ? "unterminated tag" : "attribute too long");
      const c = text.charCodeAt(i);
      if (c > 0x3c) {
        i = c < 0xd800 ? i + 1 : afterWide(text, i, c);
        continue;
      }
      if (c === quote) break;
      if (c >= 0x20) {
        if (c === 0x26 /* & */) {
          parts ??= [];
          parts.push(text.slice(from, i), this.reference(i, quote));
          i = from = this.after;
        } else if (c === 0x3c) refuse("'<' in an attribute value");
        else i += 1;
        continue;
      }
      if (c !== 0x09 && c !== 0x0a && c !== 0x0d) refuse("illegal character");
      parts ??= [];
      parts.push(text.slice(from, i), " ");
      if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) {
        // One character once read: the limit counts it so.
        i += 1;
        stop = Math.min(this.end, stop + 1);
      }
      i += 1;
      from = i;
    }
    this.after = i + 1;
    if (parts === undefined) return text.slice(start, i);
    parts.push(text.slice(from, i));
    return parts.join("");
  }

  /*
   * The entity or character reference at `amp` (XML 1.0 section 4.1), counted against maxReferences:
   * its replacement, with {@link after} set past its ';'. The name ends at ';' and cannot run past
   * `stop` (the quote of an attribute value, '<' in text) or another '&', so no character is read twice.
   */
  private reference(amp: number, stop: number): string {
    this.referenceCount += 1;
    if (this.referenceCount > this.limits.maxReferences) refuse("too many references");
    const text = this.text;
    let semicolon = amp + 1;
    for (;;) {
      const c = text.charCodeAt(semicolon);
      if (c === 0x3b /* ; */) break;
      if (c === 0x26 || c === 0x3c || c === stop || semicolon >= this.end) refuse("bare '&' in character data");
      semicolon += 1;
    }
    this.after = semicolon + 1;
    return decodeReference(text, amp + 1, semicolon);
  }

  /*
   * Pushes the namespace declarations among the special attributes of a start tag (XML Namespaces 1.0
   * section 3, and the reserved prefixes and names of section 3 too) and returns their prefixes, for
   * undeclaring when the element ends.
   */
  private declare(attrs: Record<string, string>, specials: number): string[] | undefined {
    let declared: string[] | undefined;
    for (let k = 0; k < specials; k++) {
      const name = this.specialNames[k] ?? "";
      const colon = this.specialColons[k] ?? -1;
      if (colon === -1) {
        // `xmlns`: the default namespace, "" undeclaring it.
        const uri = attrs[name] ?? "";
        if (uri === XML_NS || uri === XMLNS_NS) refuse("reserved namespace as default");
        if (this.work) this.work.steps += 1;
        this.shadowedDefaults.push(this.defaultNs);
        this.defaultNs = uri;
        declared ??= [];
        declared.push("");
      } else if (colon === 5 && name.startsWith("xmlns")) {
        const prefix = name.slice(6);
        const uri = attrs[name] ?? "";
        if (prefix === "xmlns") refuse("the xmlns prefix cannot be declared");
        if (uri === "") refuse("empty namespace for a prefix");
        if ((prefix === "xml") !== (uri === XML_NS)) refuse("the xml prefix is reserved");
        if (uri === XMLNS_NS) refuse("reserved namespace");
        if (this.work) this.work.steps += 1;
        this.prefixes ??= new Map();
        const stack = this.prefixes.get(prefix);
        if (stack) stack.push(uri);
        else this.prefixes.set(prefix, [uri]);
        declared ??= [];
        declared.push(prefix);
      }
    }
    return declared;
  }

  /* Ends the scope of the declarations of an element (a refusal abandons the whole parse instead). */
  private undeclare(declared: readonly string[]): void {
    for (const prefix of declared) {
      if (this.work) this.work.steps += 1;
      if (prefix === "") this.defaultNs = this.shadowedDefaults.pop() ?? "";
      else this.prefixes?.get(prefix)?.pop();
    }
  }

  private lookup(prefix: string): string | undefined {
    if (this.work) this.work.steps += 1;
    const stack = this.prefixes?.get(prefix);
    return stack?.[stack.length - 1];
  }

  /*
   * Resolves the prefixed attributes of a start tag, its declarations pushed: each prefix must be bound,
   * and no two attributes may share an expanded name (XML Namespaces 1.0 section 6.3).
   */
  private checkPrefixedAttributes(specials: number, prefixed: number): void {
    const expanded = prefixed > 1 ? new Set<string>() : undefined;
    for (let k = 0; k < specials; k++) {
      const name = this.specialNames[k] ?? "";
      const colon = this.specialColons[k] ?? -1;
      if (colon === -1) continue;
      const prefix = name.slice(0, colon);
      if (prefix === "xmlns") continue;
      const ns = prefix === "xml" ? XML_NS : this.lookup(prefix);
      if (ns === undefined) refuse(`unbound attribute prefix ${prefix.slice(0, 20)}`);
      if (expanded) {
        const key = `${ns} ${name.slice(colon + 1)}`;
        if (expanded.has(key)) refuse("attribute repeated under another prefix");
        expanded.add(key);
      }
    }
  }

  /* ETag (XML 1.0 section 3.1): '</' Name S? '>', the Name that of the innermost open element. */
  private endTag(): void {
    this.flushText();
    const depth = this.openNames.length;
    if (depth === 0) refuse("end tag without a start tag");
    const text = this.text;
    const qname = this.openNames[depth - 1] ?? "";
    let i = this.pos + 2;
    let c = text.charCodeAt(i + qname.length);
    if (text.startsWith(qname, i) && (c === 0x3e || isSpace(c))) i += qname.length;
    else {
      const nameEnd = this.scanName(i);
      if (nameEnd === i) refuse(i >= this.end ? "unterminated tag" : "malformed end tag");
      if (nameEnd - i !== qname.length || !text.startsWith(qname, i)) refuse("mismatched end tag");
      i = nameEnd; // the same name followed by something else: refused below
    }
    c = text.charCodeAt(i);
    while (isSpace(c)) c = text.charCodeAt(++i);
    if (c !== 0x3e /* > */) refuse(i >= this.end ? "unterminated tag" : "malformed end tag");
    this.pos = i + 1;
    this.openNames.pop();
    this.openChildren.pop();
    const declared = this.openDeclared.pop();
    if (declared) this.undeclare(declared);
    this.children = this.openChildren[this.openChildren.length - 1];
  }

  /* Comment (XML 1.0 section 2.5): no '--' inside, and so none just before the closing '-->'. */
  private comment(): void {
    const text = this.text;
    const start = this.pos + 4;
    const dashes = text.indexOf("--", start);
    if (dashes === -1 || dashes + 2 >= this.end) refuse("unterminated comment");
    if (text.charCodeAt(dashes + 2) !== 0x3e /* > */) refuse("'--' inside a comment");
    this.chars(start, dashes, false);
    this.pos = dashes + 3;
  }

  /* CDATA section (XML 1.0 section 2.7): its characters join the text run as they are. */
  private cdataSection(): void {
    if (this.children === undefined) refuse("CDATA outside the root element");
    this.cdataCount += 1;
    if (this.cdataCount > this.limits.maxCdataSections) refuse("too many CDATA sections");
    const start = this.pos + 9;
    const close = this.text.indexOf("]]>", start);
    if (close === -1) refuse("unterminated CDATA section");
    if (this.work) this.work.steps += 1;
    this.chars(start, close, true);
    this.pos = close + 3;
  }

  /* Checks that text[from, to) holds only XML characters; when `keep`, appends them to the text run,
   * CR LF and a lone CR read as LF (XML 1.0 section 2.11). */
  private chars(from: number, to: number, keep: boolean): void {
    const text = this.text;
    let piece = from;
    let i = from;
    while (i < to) {
      const c = text.charCodeAt(i);
      if (c >= 0x20) i = c < 0xd800 ? i + 1 : afterWide(text, i, c);
      else if (c === 0x09 || c === 0x0a) i += 1;
      else if (c === 0x0d) {
        if (keep) this.appendCarriageReturn(piece, i);
        i += 1;
        piece = i;
      } else refuse("illegal character");
    }
    if (keep) this.appendText(text.slice(piece, to));
  }

  /* Appends text[from, cr) and the line feed the CR at `cr` is read as, unless one follows it anyway. */
  private appendCarriageReturn(from: number, cr: number): void {
    this.appendText(this.text.slice(from, cr));
    if (this.text.charCodeAt(cr + 1) !== 0x0a) this.appendText("\n");
  }

  /*
   * CharData and references (XML 1.0 sections 2.4 and 4.1) up to the next '<' or the end: no ']]>',
   * only XML characters, CR LF and a lone CR read as LF (section 2.11).
   */
  private charData(): void {
    const text = this.text;
    const end = this.end;
    let from = this.pos;
    let i = from;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c > 0x5d /* ] */) {
        i = c < 0xd800 ? i + 1 : afterWide(text, i, c);
        continue;
      }
      if (c >= 0x20) {
        if (c === 0x3c /* < */) break;
        if (c === 0x26 /* & */) {
          this.appendText(text.slice(from, i));
          this.appendText(this.reference(i, 0x3c));
          i = from = this.after;
          continue;
        }
        if (c === 0x5d && text.charCodeAt(i + 1) === 0x5d && text.charCodeAt(i + 2) === 0x3e)
          refuse("']]>' in character data");
        i += 1;
        continue;
      }
      if (c === 0x0a || c === 0x09) i += 1;
      else if (c === 0x0d) {
        this.appendCarriageReturn(from, i);
        i += 1;
        from = i;
      } else if (i >= end) break;
      else refuse("illegal character");
    }
    this.appendText(text.slice(from, i));
    if (this.work) this.work.steps += 1;
    this.pos = i;
  }

  private appendText(piece: string): void {
    if (piece === "") return;
    if (this.runParts !== undefined) this.runParts.push(piece);
    else if (this.run === "") this.run = piece;
    else this.runParts = [this.run, piece];
  }

  /* Ends the text run: adjacent text, references and CDATA sections, across comments, make one child. */
  private flushText(): void {
    const children = this.children;
    if (children === undefined) return;
    if (this.runParts !== undefined) {
      children.push(this.runParts.join(""));
      this.runParts = undefined;
      this.run = "";
    } else if (this.run !== "") {
      children.push(this.run);
      this.run = "";
    }
  }
}

/**
 * Parses one stanza, in one pass that builds the tree as it reads. Refuses what RFC 6120 section 11.1
 * forbids in XMPP streams (DOCTYPE, processing instructions, entities other than the predefined five),
 * anything that is not one well-formed element (XML 1.0 5th edition: sections 2.2 Char, 2.8 prolog,
 * 3.1 tags, 4.1 references) that is namespace-well-formed (XML Namespaces 1.0 sections 3 to 6), the
 * names `__proto__`, `constructor` and `prototype` for elements and attributes, and anything past the
 * limits, each counted as it is read, so a stanza past one stops the parse there. Namespace scopes cost
 * O(1) per declaration and lookup and text is joined once per run, so the whole parse is linear in the
 * stanza's size.
 * @param limits the bounds of {@link XmlLimits}; {@link DEFAULT_XML_LIMITS} unless given.
 * @param options `work`, to count the work done (tests of the cost); nothing is counted without it.
 * @see https://www.w3.org/TR/xml/
 * @see https://www.w3.org/TR/xml-names/
 * @see https://www.rfc-editor.org/rfc/rfc6120#section-11.1
 * @see https://www.rfc-editor.org/rfc/rfc6120#section-13.12
 */
export function parseXml(
  text: string,
  limits: XmlLimits = DEFAULT_XML_LIMITS,
  options: ParseOptions = {},
): XmlParseResult {
  try {
    return { ok: true, value: new StanzaParser(text, limits, options.work).parse() };
  } catch (error) {
    if (error instanceof Refused) return { ok: false, error: { reason: error.message } };
    // No input should get here; if one does, it is still bad input to the caller (a 400), never a fault.
    if (error instanceof Error) return { ok: false, error: { reason: `not well-formed: ${error.name}` } };
    throw error;
  }
}
