import { readFileSync } from "node:fs";
import { SaxesParser } from "saxes";
import { describe, expect, it } from "vitest";
import { makeHarness, PUSH_JID, publishIq, registerDeviceIq, registerP2Iq } from "./harness";

const fixture = (path: string) => readFileSync(new URL(`../fixtures/${path}`, import.meta.url), "utf8");
const withoutComment = (text: string) => text.replace(/^<!--[\s\S]*?-->\s*/, "");

const SEEDS = [
  registerDeviceIq({ voipToken: "voip" }),
  registerP2Iq({ muc: "room@conference.example" }),
  publishIq({ node: "n1", secret: "s" }),
  publishIq({ node: "n2", notification: "" }),
  withoutComment(fixture("xep/xep0357-publish-summary.xml")),
  fixture("push/encrypted-publish.xml"),
  fixture("push/encrypted-voip-publish.xml"),
  `<iq type='get' from='a@b.example/c' to='${PUSH_JID}' id='d1'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>`,
  `<iq type='get' to='${PUSH_JID}' id='p'><ping xmlns='urn:xmpp:ping'/></iq>`,
  `<?xml version='1.0'?><message from='a@b.example' to='${PUSH_JID}'><body>x &amp; y &#x263A;</body><![CDATA[<z>]]><!-- note --></message>`,
  `<presence xmlns='jabber:client' xmlns:p='urn:p' p:x='1'/>`,
];

const INSERTS = [
  "<",
  ">",
  "&",
  "'",
  '"',
  "/",
  "=",
  ";",
  "!",
  "?",
  "[",
  "]",
  "-",
  ":",
  " ",
  "\u0001",
  "&amp;",
  "&#0;",
  "&#x41;",
  "&lt;",
  "<![CDATA[",
  "]]>",
  "<!--",
  "-->",
  "<?pi?>",
  "<!DOCTYPE x>",
  "xmlns:q='u'",
  "q:",
  "é",
  "\uD800",
];

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(text: string, random: () => number): string {
  let out = text;
  const steps = 1 + Math.floor(random() * 3);
  for (let step = 0; step < steps; step++) {
    const at = Math.floor(random() * (out.length + 1));
    const choice = Math.floor(random() * 6);
    if (choice === 0) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 3));
    else if (choice === 1) out = out.slice(0, at) + INSERTS[Math.floor(random() * INSERTS.length)] + out.slice(at);
    else if (choice === 2) {
      const length = Math.floor(random() * 30);
      out = out.slice(0, at) + out.slice(at, at + length) + out.slice(at);
    } else if (choice === 3) out = out.slice(0, at);
    else if (choice === 4) {
      const other = Math.floor(random() * out.length);
      const [a, b] = at < other ? [at, other] : [other, at];
      out = out.slice(0, a) + out.slice(b, b + 1) + out.slice(a + 1, b) + out.slice(a, a + 1) + out.slice(b + 1);
    } else out = out.replace(/'/, '"');
  }
  return out;
}

interface Oracle {
  readonly accept: boolean;
  readonly id?: string;
  readonly expectsReply: boolean;
}

/**
 * An independent strict reading (saxes: XML 1.0 + namespaces) of what the gateway must accept: one
 * well-formed, namespace-well-formed element, no DOCTYPE or processing instruction (RFC 6120 11.1),
 * depth at most 32 and attributes at most 4096 characters (the gateway's documented limits), whose root
 * is iq, message or presence in the client, component or no namespace.
 */
function oracle(text: string): Oracle {
  const parser = new SaxesParser({ xmlns: true, position: false });
  let ok = true;
  let depth = 0;
  let maxDepth = 0;
  let root: { name: string; ns: string; attrs: Record<string, string> } | undefined;
  parser.on("error", () => {
    ok = false;
  });
  parser.on("doctype", () => {
    ok = false;
  });
  parser.on("processinginstruction", () => {
    ok = false;
  });
  parser.on("opentag", (tag) => {
    depth += 1;
    maxDepth = Math.max(maxDepth, depth);
    const attrs: Record<string, string> = {};
    for (const attr of Object.values(tag.attributes)) {
      if (attr.value.length > 4096) ok = false;
      attrs[attr.name] = attr.value;
    }
    if (depth === 1) root = { name: tag.local, ns: tag.uri, attrs };
  });
  parser.on("closetag", () => {
    depth -= 1;
  });
  try {
    parser.write(text).close();
  } catch {
    ok = false;
  }
  if (!ok || !root || maxDepth > 32) return { accept: false, expectsReply: false };
  if (!["", "jabber:client", "jabber:component:accept"].includes(root.ns))
    return { accept: false, expectsReply: false };
  if (!["iq", "message", "presence"].includes(root.name)) return { accept: false, expectsReply: false };
  const type = root.attrs.type;
  const expectsReply = root.name === "iq" && type !== "result" && type !== "error";
  return { accept: true, expectsReply, ...(root.attrs.id !== undefined ? { id: root.attrs.id } : {}) };
}

describe("fuzzing /xmpp with mutated fixture stanzas", () => {
  it("accepts every seed as the oracle does", () => {
    for (const seed of SEEDS) expect(oracle(seed).accept, seed).toBe(true);
  });

  it("answers 200 with the id echoed, or 204, exactly for well-formed stanzas, and 400 for the rest", async () => {
    const h = makeHarness();
    const random = prng(Number(process.env.FUZZ_SEED ?? 0x5eed));
    const disagreements: string[] = [];
    let accepted = 0;
    const runs = Number(process.env.FUZZ_RUNS ?? 4000);
    for (let i = 0; i < runs; i++) {
      const seed = SEEDS[i % SEEDS.length] ?? "";
      // What travels is UTF-8: a lone surrogate arrives as U+FFFD, so the oracle reads the bytes' text.
      const input = new TextDecoder().decode(new TextEncoder().encode(mutate(seed, random)));
      const expected = oracle(input);
      const response = await h.post(input);
      const body = await response.text();
      if (response.status === 500) disagreements.push(`500 for ${JSON.stringify(input)}`);
      if (!expected.accept) {
        if (response.status !== 400) disagreements.push(`${response.status} for ill-formed ${JSON.stringify(input)}`);
        continue;
      }
      accepted += 1;
      if (expected.expectsReply) {
        if (response.status !== 200) disagreements.push(`${response.status} (${body}) for ${JSON.stringify(input)}`);
        else if (expected.id !== undefined && !oracleReplyEchoes(body, expected.id))
          disagreements.push(`reply ${body} does not echo id of ${JSON.stringify(input)}`);
      } else if (response.status !== 204)
        disagreements.push(`${response.status} for no-reply ${JSON.stringify(input)}`);
    }
    expect(disagreements.slice(0, 5)).toEqual([]);
    expect(accepted).toBeGreaterThan(runs / 10);
    expect(runs - accepted).toBeGreaterThan(runs / 10);
  }, 120_000);
});

function oracleReplyEchoes(reply: string, id: string): boolean {
  const parser = new SaxesParser({ xmlns: true });
  let rootId: string | undefined;
  let depth = 0;
  parser.on("opentag", (tag) => {
    depth += 1;
    if (depth === 1) rootId = tag.attributes.id?.value;
  });
  parser.on("closetag", () => {
    depth -= 1;
  });
  try {
    parser.write(reply).close();
  } catch {
    return false;
  }
  return rootId === id;
}
