import type { XmlElement, XmlNode } from "./xml";

/** Child elements of `parent` with this local name and namespace (any namespace when `ns` is omitted). */
export function childElements(parent: XmlElement, name?: string, ns?: string): XmlElement[] {
  const found: XmlElement[] = [];
  for (const child of parent.children) {
    if (typeof child === "string") continue;
    if (name !== undefined && child.name !== name) continue;
    if (ns !== undefined && child.ns !== ns) continue;
    found.push(child);
  }
  return found;
}

/** The first child element with this local name and namespace, if any. */
export function childElement(parent: XmlElement, name: string, ns?: string): XmlElement | undefined {
  return childElements(parent, name, ns)[0];
}

/** The concatenated character data directly inside `element` (not of its descendants). */
export function textOf(element: XmlElement): string {
  let text = "";
  for (const child of element.children) if (typeof child === "string") text += child;
  return text;
}

/** An attribute by its qualified name. */
export function attribute(element: XmlElement, name: string): string | undefined {
  return Object.hasOwn(element.attrs, name) ? element.attrs[name] : undefined;
}

type AttributeInput = Readonly<Record<string, string | number | undefined>>;

/**
 * Builds an element for serialization. `xmlns` in `attrs` sets its namespace; attributes whose value
 * is `undefined` are left out, so optional attributes can be written inline.
 */
export function element(
  name: string,
  attrs: AttributeInput = {},
  children: readonly (XmlNode | undefined | false)[] = [],
): XmlElement {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined) kept[key] = String(value);
  const nodes: XmlNode[] = [];
  for (const child of children) if (child !== undefined && child !== false) nodes.push(child);
  return { name, ns: kept.xmlns ?? "", attrs: kept, children: nodes };
}

function escapeText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));
}

const ATTRIBUTE_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "'": "&apos;",
  '"': "&quot;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};

function escapeAttribute(value: string): string {
  return value.replace(/[&<>'"\t\n\r]/g, (c) => ATTRIBUTE_ESCAPES[c] ?? c);
}

/**
 * Serializes an element without an XML declaration, with single-quoted attributes as Prosody writes
 * them. The element's `name` is written as is; namespaces travel in its `xmlns` attributes.
 */
export function serialize(node: XmlNode): string {
  if (typeof node === "string") return escapeText(node);
  let out = `<${node.name}`;
  for (const [key, value] of Object.entries(node.attrs)) out += ` ${key}='${escapeAttribute(value)}'`;
  if (node.children.length === 0) return `${out}/>`;
  out += ">";
  for (const child of node.children) out += serialize(child);
  return `${out}</${node.name}>`;
}
