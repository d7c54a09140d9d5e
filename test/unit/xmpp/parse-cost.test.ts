/**
 * The cost of parseXml on hostile stanzas, as work counted rather than time (timings are in
 * bench/hostile-stanzas.ts): the namespace scopes are linear, every count limit refuses just past its
 * default and accepts at it, and a refusal stops the single-pass parser at the item past the limit: it
 * never reads on to the end of the input, and its work does not grow with what follows.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_XML_LIMITS,
  type ParseWork,
  parseXml,
  type XmlElement,
  type XmlLimits,
  type XmlParseResult,
} from "../../../src/xmpp/xml";

const L = DEFAULT_XML_LIMITS;

/** Work units allowed per byte of input: scanned markup items plus conversion steps. */
const WORK_PER_BYTE = 1;

/** The default limits with every count lifted, so that only the algorithms bound the work. */
const LIFTED: XmlLimits = {
  ...DEFAULT_XML_LIMITS,
  maxDepth: 100_000,
  maxElements: Number.MAX_SAFE_INTEGER,
  maxAttributesPerElement: Number.MAX_SAFE_INTEGER,
  maxAttributes: Number.MAX_SAFE_INTEGER,
  maxNamespaceDeclarations: Number.MAX_SAFE_INTEGER,
  maxFormFields: Number.MAX_SAFE_INTEGER,
  maxReferences: Number.MAX_SAFE_INTEGER,
  maxCdataSections: Number.MAX_SAFE_INTEGER,
};

function measured(text: string, limits: XmlLimits = L): { result: XmlParseResult; work: ParseWork; total: number } {
  const work: ParseWork = { scanned: 0, parserRuns: 0, steps: 0 };
  const result = parseXml(text, limits, { work });
  return { result, work, total: work.scanned + work.steps };
}

function accepted(text: string, limits: XmlLimits = L): XmlElement {
  const result = parseXml(text, limits);
  if (!result.ok) throw new Error(`refused: ${result.error.reason}`);
  return result.value;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Entries the former scopes would have copied: `new Map(parent)` for every element that declares a
 * namespace, the parent holding every prefix bound at that point (the built-in xml and default ones
 * included). A model of the removed code, run on the parsed tree.
 */
function copiesOfOldScopes(root: XmlElement): number {
  const bound = new Map<string, number>([
    ["xml", 1],
    ["", 1],
  ]);
  let copies = 0;
  const visit = (element: XmlElement): void => {
    const declared = Object.keys(element.attrs)
      .filter((name) => name === "xmlns" || name.startsWith("xmlns:"))
      .map((name) => name.slice(6));
    if (declared.length > 0) copies += bound.size;
    for (const prefix of declared) bound.set(prefix, (bound.get(prefix) ?? 0) + 1);
    for (const child of element.children) if (typeof child !== "string") visit(child);
    for (const prefix of declared) {
      const count = (bound.get(prefix) ?? 1) - 1;
      if (count === 0) bound.delete(prefix);
      else bound.set(prefix, count);
    }
  };
  visit(root);
  return copies;
}

// The attack shapes, by their counts.

/** The quadratic shape of the finding: `onRoot` prefixes on the root, then `children` declaring one more each. */
const prefixesPerChild = (onRoot: number, children: number) =>
  `<iq xmlns='jabber:client'${range(onRoot)
    .map((i) => ` xmlns:p${i}='urn:x'`)
    .join("")}>${range(children)
    .map((i) => `<c xmlns:q${i}='urn:x'/>`)
    .join("")}</iq>`;

/** `levels` nested elements below the root, each declaring `perLevel` prefixes and using the first. */
const deepDeclarations = (levels: number, perLevel: number) => {
  const declarations = (i: number) => range(perLevel).map((k) => ` xmlns:p${i}${k === 0 ? "" : `x${k}`}='u${k}'`);
  const open = range(levels).map((i) => `<p${i}:a${declarations(i).join("")}>`);
  const close = range(levels).map((i) => `</p${levels - 1 - i}:a>`);
  return `<message xmlns='jabber:client'>${open.join("")}${close.join("")}</message>`;
};

/** `total` prefixed attributes, `perElement` to an element, under a root declaring the prefix. */
const manyAttributes = (total: number, perElement: number) =>
  `<message xmlns='jabber:client' xmlns:p='u'>${range(Math.ceil(total / perElement))
    .map(
      (e) =>
        `<b${range(Math.min(perElement, total - e * perElement))
          .map((i) => ` p:a${i}='v'`)
          .join("")}/>`,
    )
    .join("")}</message>`;

/** The root and `children` empty siblings. */
const siblings = (children: number) => `<message xmlns='jabber:client'>${"<b/>".repeat(children)}</message>`;

/** One text of `length` characters. */
const longText = (length: number) => `<message xmlns='jabber:client'><body>${"x".repeat(length)}</body></message>`;

/** A publish whose data form has `count` fields, the last under a prefix of its own. */
const formFields = (count: number) =>
  "<iq xmlns='jabber:client' type='set' id='p1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>" +
  "<publish node='n1'><item><notification xmlns='urn:xmpp:push:0'><x xmlns='jabber:x:data' type='submit'>" +
  range(count)
    .map((i) =>
      i === count - 1 && i > 0
        ? `<d:field xmlns:d='jabber:x:data' var='f${i}'><d:value>v</d:value></d:field>`
        : `<field var='f${i}'><value>v</value></field>`,
    )
    .join("") +
  "</x></notification></item></publish></pubsub></iq>";

/** `count` references (at least 2): two in an attribute value, the rest in text. */
const references = (count: number) =>
  `<message xmlns='jabber:client' a='&amp;&#65;'>${"&#x263A;&lt;".repeat((count - 2) / 2)}${count % 2 ? "&gt;" : ""}</message>`;

/** `count` CDATA sections side by side. */
const cdataSections = (count: number) => `<message xmlns='jabber:client'>${"<![CDATA[x]]>".repeat(count)}</message>`;

interface Shape {
  readonly name: string;
  /** The shape at (not past) the default limits. */
  readonly atLimits: string;
  /** The shape grown to about 64 KiB, for parsing with the limits lifted. */
  readonly at64KiB: string;
}

function outcome(result: XmlParseResult): string {
  return result.ok ? "accepted" : result.error.reason;
}

const SHAPES: readonly Shape[] = [
  {
    name: "prefixes on the root + one per child",
    atLimits: prefixesPerChild(L.maxAttributesPerElement - 1, L.maxNamespaceDeclarations - L.maxAttributesPerElement),
    at64KiB: prefixesPerChild(1600, 1300),
  },
  {
    name: "deep nesting, declarations at every level",
    atLimits: deepDeclarations(L.maxDepth - 1, 2),
    at64KiB: deepDeclarations(800, 3),
  },
  { name: "many attributes", atLimits: manyAttributes(L.maxAttributes - 2, 32), at64KiB: manyAttributes(5000, 5000) },
  { name: "many siblings", atLimits: siblings(L.maxElements - 1), at64KiB: siblings(16_000) },
  { name: "long text", atLimits: longText(60_000), at64KiB: longText(65_000) },
  { name: "many form fields", atLimits: formFields(L.maxFormFields), at64KiB: formFields(1500) },
  { name: "many references", atLimits: references(L.maxReferences), at64KiB: references(9000) },
  { name: "many CDATA sections", atLimits: cdataSections(L.maxCdataSections), at64KiB: cdataSections(5000) },
];

describe("parseXml work on hostile stanzas", () => {
  it.each(SHAPES)(`$name: accepted at the limits, work within ${WORK_PER_BYTE} × bytes`, ({ atLimits }) => {
    const { result, total, work } = measured(atLimits);
    expect(outcome(result)).toBe("accepted");
    expect(work.parserRuns).toBe(1);
    expect(total).toBeLessThanOrEqual(WORK_PER_BYTE * atLimits.length);
  });

  it.each(SHAPES)("$name: linear even with the limits lifted (~64 KiB)", ({ at64KiB }) => {
    expect(at64KiB.length).toBeGreaterThan(40_000);
    expect(at64KiB.length).toBeLessThanOrEqual(96 * 1024);
    const { result, total } = measured(at64KiB, LIFTED);
    expect(outcome(result)).toBe("accepted");
    expect(total).toBeLessThanOrEqual(WORK_PER_BYTE * at64KiB.length);
  });

  it.each(SHAPES)(
    "$name: refused by the default limits at ~64 KiB, long before its end",
    ({ name, atLimits, at64KiB }) => {
      const { result, work, total } = measured(at64KiB);
      // A long text is within every count; the body limit alone bounds it.
      const expected = name === "long text" ? { ok: true, parserRuns: 1 } : { ok: false, parserRuns: 0 };
      expect({ ok: result.ok, parserRuns: work.parserRuns }).toEqual(expected);
      // What the limits allow bounds the work of a refusal, not the size of the input.
      if (!result.ok) expect(total).toBeLessThanOrEqual(measured(atLimits).total);
    },
  );

  it("the quadratic shape: the former scope copying would have blown the bound, the stacks stay far below it", () => {
    const text = prefixesPerChild(1600, 1300);
    const { result, total, work } = measured(text, LIFTED);
    if (!result.ok) throw new Error(result.error.reason);
    const copies = copiesOfOldScopes(result.value);
    // Numbers for the report: `vitest run … --reporter=verbose` shows them with the test.
    console.info(
      `quadratic shape, ${text.length} bytes: ${total} work units now (${work.scanned} scanned + ${work.steps} steps); ` +
        `the former scopes copied ${copies} map entries`,
    );
    expect(copies).toBeGreaterThan(20 * WORK_PER_BYTE * text.length);
    expect(total).toBeLessThanOrEqual(WORK_PER_BYTE * text.length);
    // And the work grows with the input, not with its square: twice the prefixes, twice the work.
    const doubled = measured(prefixesPerChild(3200, 2600), LIFTED);
    expect(doubled.total).toBeLessThanOrEqual(2.2 * total);
  });

  it("the model of the former scopes counts copies per declaring element", () => {
    // Root: copies the 2 built-in bindings; each child: copies the root's 3 + 2.
    expect(copiesOfOldScopes(accepted(prefixesPerChild(3, 4)))).toBe(2 + 4 * 5);
    expect(copiesOfOldScopes(accepted(siblings(10)))).toBe(2);
  });
});

describe("count limits", () => {
  const limitCases: ReadonlyArray<{ limit: keyof XmlLimits; reason: string; build: (n: number) => string }> = [
    { limit: "maxElements", reason: "too many elements", build: (n) => siblings(n - 1) },
    {
      limit: "maxAttributesPerElement",
      reason: "too many attributes on one element",
      build: (n) =>
        `<message${range(n)
          .map((i) => ` a${i}='v'`)
          .join("")}/>`,
    },
    { limit: "maxAttributes", reason: "too many attributes", build: (n) => manyAttributes(n - 2, 16) },
    {
      limit: "maxNamespaceDeclarations",
      reason: "too many namespace declarations",
      build: (n) => prefixesPerChild(0, n - 1),
    },
    { limit: "maxFormFields", reason: "too many form fields", build: formFields },
    { limit: "maxReferences", reason: "too many references", build: references },
    { limit: "maxCdataSections", reason: "too many CDATA sections", build: cdataSections },
    {
      limit: "maxDepth",
      reason: "nested too deeply",
      build: (n) => `${"<a>".repeat(n - 1)}<a/>${"</a>".repeat(n - 1)}`,
    },
  ];

  it.each(limitCases)(
    "$limit: accepted at the default, refused one past it with '$reason'",
    ({ limit, reason, build }) => {
      const at = L[limit];
      expect(parseXml(build(at)).ok).toBe(true);
      expect(parseXml(build(at + 1))).toEqual({ ok: false, error: { reason } });
    },
  );

  it.each(limitCases)("$limit: a refusal stops the parser at the item past the limit", ({ limit, reason, build }) => {
    const at = measured(build(L[limit]));
    const over = measured(build(L[limit] + 1));
    expect(over.result.ok).toBe(false);
    // The parser reads a stanza at the limit to its end, and stops short of the end of one past it.
    expect(at.work.parserRuns).toBe(1);
    expect(over.work.parserRuns).toBe(0);
    expect(over.total).toBeLessThanOrEqual(at.total);
    // Nothing after the item past the limit is read: not even a fault at the very end, which a pass over
    // the whole input (a pre-scan, a validator) would report first…
    expect(parseXml(`${build(L[limit] + 1)}\u0000<!DOCTYPE x>`)).toEqual({ ok: false, error: { reason } });
    // …and the work is the same however much follows.
    expect(measured(build(4 * (L[limit] + 1))).work).toEqual(over.work);
  });

  it("follows limits passed by the caller", () => {
    const tight: XmlLimits = { ...L, maxElements: 3, maxFormFields: 1, maxReferences: 2 };
    expect(parseXml(siblings(2), tight).ok).toBe(true);
    expect(parseXml(siblings(3), tight)).toEqual({ ok: false, error: { reason: "too many elements" } });
    expect(parseXml("<x><field/></x>", tight).ok).toBe(true);
    expect(parseXml("<x><field/><f:field xmlns:f='u'/></x>", tight)).toEqual({
      ok: false,
      error: { reason: "too many form fields" },
    });
    expect(parseXml("<x a='&lt;'>&gt;</x>", tight).ok).toBe(true);
    expect(parseXml("<x a='&lt;'>&gt;&amp;</x>", tight)).toEqual({
      ok: false,
      error: { reason: "too many references" },
    });
  });

  it("counts only what the limits name", () => {
    const limits: XmlLimits = { ...L, maxNamespaceDeclarations: 1, maxFormFields: 0, maxReferences: 0 };
    // 'xmlns' inside a value declares nothing, elements named fields, subfield or fieldx are no fields,
    // and an '&' in CDATA or a comment is no reference.
    const text = "<x xmlns='u' a=' xmlns:p=v '><fields/><subfield/><fieldx/><![CDATA[&&]]><!-- & --></x>";
    expect(outcome(parseXml(text, limits))).toBe("accepted");
    expect(outcome(parseXml("<x xmlns='u'><y xmlns=''/></x>", limits))).toBe("too many namespace declarations");
    expect(outcome(parseXml("<x><field/></x>", limits))).toBe("too many form fields");
    expect(outcome(parseXml("<x a='&#65;'/>", limits))).toBe("too many references");
  });
});
