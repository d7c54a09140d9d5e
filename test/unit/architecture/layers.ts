import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

/** A part of `src/`: a folder (`gateway`) or a top-level module (`config`, `log`). */
export type Layer =
  | "domain"
  | "ports"
  | "log"
  | "config"
  | "xmpp"
  | "omemo"
  | "gateway"
  | "store"
  | "providers"
  | "http"
  | "runtime"
  | "bridge"
  | "cli";

const ALL: readonly Layer[] = [
  "domain",
  "ports",
  "log",
  "config",
  "xmpp",
  "omemo",
  "gateway",
  "store",
  "providers",
  "http",
  "runtime",
  "bridge",
  "cli",
];

/**
 * What each layer may import (docs/architecture.md, "Layers"): entry points and runtime → http → use
 * cases (gateway) → domain and ports; adapters (store, providers) implement ports; xmpp and omemo are
 * pure libraries.
 */
export const ALLOWED: Readonly<Record<Layer, readonly Layer[]>> = {
  domain: ["domain"],
  ports: ["ports", "domain"],
  log: ["log"],
  config: ["config", "domain"],
  xmpp: ["xmpp", "domain"],
  omemo: ["omemo", "xmpp", "domain"],
  gateway: ["gateway", "domain", "ports", "xmpp", "omemo", "config", "log"],
  store: ["store", "domain", "ports", "log"],
  providers: ["providers", "domain", "ports", "config", "log"],
  http: ["http", "gateway", "domain", "ports", "config", "log", "xmpp"],
  runtime: ALL,
  bridge: ["bridge", "log", "config"],
  cli: ALL,
};

/** Layers that are entry points: the only ones that may import `node:` modules or read `process.env`. */
export const ENTRY_LAYERS: ReadonlySet<Layer> = new Set<Layer>(["runtime", "bridge", "cli"]);
/** Layers that may import Hono: the HTTP surface and the runtimes that serve it. */
export const HONO_LAYERS: ReadonlySet<Layer> = new Set<Layer>(["http", "runtime"]);

/** The layer of a path relative to `src/`, or undefined for a file outside every layer. */
export function layerOf(path: string): Layer | undefined {
  const [head = "", ...rest] = path.split("/");
  const name = rest.length === 0 ? head.replace(/\.(d\.)?ts$/, "") : head;
  return ALL.find((layer) => layer === name);
}

/** One import (or environment read) that breaks a rule, with where it is. */
export interface Violation {
  readonly file: string;
  readonly line: number;
  readonly rule: string;
}

const IMPORT = /(?:^|\s)(?:import|export)\s[^"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** Checks one source file of `src/` (path relative to `src/`) against the rules. */
export function checkFile(path: string, text: string): Violation[] {
  const layer = layerOf(path);
  const violations: Violation[] = [];
  if (layer === undefined) return [{ file: path, line: 1, rule: "file outside every layer of src/" }];
  const lines = text.split("\n");
  lines.forEach((content, index) => {
    const line = index + 1;
    if (/process\.env/.test(content) && !ENTRY_LAYERS.has(layer) && !/^\s*(\*|\/\/)/.test(content))
      violations.push({ file: path, line, rule: `${layer} reads process.env (only entry points may)` });
    for (const match of content.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? "";
      if (specifier.startsWith("node:") && !ENTRY_LAYERS.has(layer))
        violations.push({ file: path, line, rule: `${layer} imports ${specifier} (only entry points may)` });
      if ((specifier === "hono" || specifier.startsWith("hono/")) && !HONO_LAYERS.has(layer))
        violations.push({ file: path, line, rule: `${layer} imports ${specifier} (only http and runtime may)` });
      if (!specifier.startsWith(".")) continue;
      const target = normalize(join(dirname(path), specifier));
      const targetLayer = layerOf(target);
      if (target.startsWith("..") || targetLayer === undefined) {
        violations.push({ file: path, line, rule: `imports ${specifier}, outside src/` });
        continue;
      }
      if (!ALLOWED[layer].includes(targetLayer))
        violations.push({ file: path, line, rule: `${layer} imports ${targetLayer} (${specifier})` });
    }
  });
  return violations;
}

/** Every `.ts` file under `dir`, relative to it. */
export function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".ts")) found.push(relative(dir, full));
    }
  };
  walk(dir);
  return found.sort();
}

/** Checks every file of `src/`. */
export function checkTree(srcDir: string): Violation[] {
  return sourceFiles(srcDir).flatMap((path) => checkFile(path, readFileSync(join(srcDir, path), "utf8")));
}
