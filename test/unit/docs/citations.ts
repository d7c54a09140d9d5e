import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";

/**
 * Citation checks: every Markdown file the project's text names must exist in the repository, and
 * every section it cites there must exist as a numbered heading.
 *
 * What counts as a reference: a path or a bare name ending in `.md` (such as `docs/protocol.md` or
 * `storage.md`), anywhere in a scanned file (comments, strings, Markdown links, prose).
 *
 * What counts as a section citation: one of the forms below right after a reference, with the file
 * written as FILE (any reference as above):
 * `FILE section 5`, `FILE section 6.4`, `FILE sections 1 and 2`, `FILE 3.2`, `FILE 4 and 6.1`, `FILE §5`,
 * `FILE, section 5`, the number possibly on the next line of the same comment; and `section 5 of FILE`.
 * Headings that satisfy a citation look like `## 5. Title` or `### 6.4 Title` (outside code fences).
 *
 * How a reference resolves, in order:
 * 1. inside a URL (`https://…`, any `scheme://…`): skipped, never checked;
 * 2. an absolute path (`/…`, `~/…`), or a relative one that climbs out of the repository: it names
 *    something outside the repository on purpose; the file is not checked, but a section citation
 *    into it is a problem (the repository's text cites its own contract);
 * 3. relative to the citing file's folder (the only option for `./…` and `../…`);
 * 4. relative to the repository root;
 * 5. a bare name: the one file of that name in the repository; a path with folders: the one file
 *    whose path ends with it. Several candidates are a problem (ambiguous).
 *
 * A line that contains {@link IGNORE_MARKER} is not scanned (text that quotes a broken citation on
 * purpose).
 */

/** The folders whose files are scanned, and the single files. */
export const SCANNED_FOLDERS = ["src", "test", "docs", "bench", "scripts", "infra", "integrations"] as const;
export const SCANNED_FILES = ["README.md"] as const;

/** Put this on a line to leave it out of the scan. */
export const IGNORE_MARKER = "citation-check: ignore";

const SKIPPED_FOLDERS: ReadonlySet<string> = new Set([
  "node_modules",
  ".wrangler",
  "reports",
  "dist",
  ".sandbox",
  ".git",
]);

const TEXT_EXTENSIONS: ReadonlySet<string> = new Set([
  ".ts",
  ".mts",
  ".cts",
  ".js",
  ".mjs",
  ".cjs",
  ".json",
  ".md",
  ".toml",
  ".yml",
  ".yaml",
  ".txt",
  ".xml",
  ".sh",
  ".lua",
  ".html",
  ".css",
  ".cfg",
  ".conf",
]);

/** One reference to a Markdown file, with the sections it cites (none for a plain reference). */
export interface Reference {
  /** The citing file, relative to the repository root, with `/`. */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** The path as written. */
  readonly target: string;
  /** Section numbers cited, such as `5` or `6.4`, in the order written. */
  readonly sections: readonly string[];
}

/** Where a reference points. */
export type Resolution =
  | { readonly kind: "found"; readonly path: string }
  | { readonly kind: "outside" }
  | { readonly kind: "missing" }
  | { readonly kind: "ambiguous"; readonly candidates: readonly string[] };

export type ProblemKind = "missing-file" | "ambiguous-file" | "missing-section" | "section-outside";

/** A broken citation. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly target: string;
  readonly kind: ProblemKind;
  /** The section at fault, for `missing-section`. */
  readonly section?: string;
  readonly detail: string;
}

/** The files of the repository and a way to read them. */
export interface Repository {
  /** Every file, relative to the root, with `/`. */
  readonly files: readonly string[];
  /** The text of a file, or `undefined` when it cannot be read. */
  read(path: string): string | undefined;
}

/** A file to scan. */
export interface SourceText {
  readonly path: string;
  readonly text: string;
}

export interface ResolvedReference extends Reference {
  readonly resolution: Resolution;
}

export interface ScanResult {
  readonly references: readonly ResolvedReference[];
  readonly problems: readonly Problem[];
}

const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s<>"'`)\]]*/gi;
const REFERENCE_PATTERN = /(?<![\w./~*}$-])(~?\/?(?:[\w.-]+\/)*[\w-][\w.-]*\.md)(?![\w-]|\.[\w-])/g;
const NUMBER = String.raw`\d{1,2}(?:\.\d{1,2})*`;
/** A section number must end there: not inside a longer number or a word. */
const NUMBER_END = String.raw`(?![\w]|\.\d)`;
const KEYWORD = String.raw`(?:sections?|sec\.|§§?)`;
const UNIT_AFTER = /^[ \t]*(?:ms|s|seconds?|minutes?|KiB|MiB|kB|MB|bytes?|%|x|times)\b/i;
const SECTION_AFTER = new RegExp(
  String.raw`^[\x60'"*_)\]]*(,?)([ \t]*(?:\n[ \t]*)?)(?:(${KEYWORD})[ \t]*)?(${NUMBER})${NUMBER_END}` +
    String.raw`((?:[ \t]*(?:,|and|or|&)[ \t]*(?:${KEYWORD}[ \t]*)?${NUMBER}${NUMBER_END})*)`,
  "i",
);
const SECTION_BEFORE = new RegExp(
  String.raw`${KEYWORD}[ \t]*(${NUMBER}(?:[ \t]*(?:,|and|or|&)[ \t]*${NUMBER})*)${NUMBER_END}[ \t]+(?:of|in)[ \t]+(?:the[ \t]+)?[\x60'"*_(\[]*$`,
  "i",
);
const NUMBERS = new RegExp(NUMBER, "g");
const HEADING = /^ {0,3}#{1,6}[ \t]+(?:(?:section|§)[ \t]*)?(\d+(?:\.\d+)*)\.?(?=[ \t]|$)/i;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const NUMBERED_ITEM = /^\d+[.)][ \t]/;

function isMarkdown(path: string): boolean {
  return path.endsWith(".md");
}

/** The next line without its comment leader (`*`, `//`, `#` outside Markdown, `>`), for wrapped citations. */
function continuation(line: string | undefined, markdown: boolean): string {
  if (line === undefined) return "";
  const leader = markdown ? /^[ \t]*(?:>[ \t]*)*/ : /^[ \t]*(?:\*+(?!\/)|\/\/+|#+|--|>+)?[ \t]*/;
  const text = line.replace(leader, "");
  // A numbered list item (`2. Next step`) starts something new: it does not continue a citation.
  return NUMBERED_ITEM.test(text) ? "" : text;
}

function blankUrls(line: string): string {
  return line.replace(URL_PATTERN, (url) => " ".repeat(url.length));
}

function sectionsAfter(tail: string): string[] {
  const match = SECTION_AFTER.exec(tail);
  if (match === null) return [];
  const [, , space = "", keyword, first = "", more = ""] = match;
  // Without a keyword the number must stand apart (`FILE 3.2`), and must not be a quantity (`FILE 5 ms`).
  if (keyword === undefined) {
    if (space === "") return [];
    if (UNIT_AFTER.test(tail.slice(match.index + match[0].length))) return [];
  }
  return [first, ...(more.match(NUMBERS) ?? [])];
}

function sectionsBefore(head: string): string[] {
  const match = SECTION_BEFORE.exec(head);
  return match?.[1]?.match(NUMBERS) ?? [];
}

/**
 * Every reference to a Markdown file in `text`, with the sections each cites. References on one line
 * to the same target are merged (a Markdown link names its file twice).
 */
export function findReferences(file: string, text: string): Reference[] {
  const markdown = isMarkdown(file);
  const lines = text.split(/\r?\n/);
  const found: Reference[] = [];
  lines.forEach((raw, index) => {
    if (raw.includes(IGNORE_MARKER)) return;
    const line = blankUrls(raw);
    const byTarget = new Map<string, string[]>();
    for (const match of line.matchAll(REFERENCE_PATTERN)) {
      const target = match[1] ?? "";
      const start = match.index ?? 0;
      const end = start + match[0].length;
      const tail = `${line.slice(end)}\n${blankUrls(continuation(lines[index + 1], markdown))}`;
      const sections = [...sectionsBefore(line.slice(0, start)), ...sectionsAfter(tail)];
      const known = byTarget.get(target);
      if (known === undefined) byTarget.set(target, sections);
      else for (const section of sections) if (!known.includes(section)) known.push(section);
    }
    for (const [target, sections] of byTarget) found.push({ file, line: index + 1, target, sections });
  });
  return found;
}

/** The numbers of the numbered headings of a Markdown text (`## 5. Title` gives `5`), outside code fences. */
export function headingNumbers(markdown: string): Set<string> {
  const numbers = new Set<string>();
  let fence: string | undefined;
  for (const line of markdown.split(/\r?\n/)) {
    const opening = FENCE.exec(line)?.[1];
    if (opening !== undefined) {
      if (fence === undefined) fence = opening[0] ?? "`";
      else if (opening[0] === fence) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const number = HEADING.exec(line)?.[1];
    if (number !== undefined) numbers.add(number);
  }
  return numbers;
}

/** The repository's files, indexed for {@link resolveReference}. */
export interface FileIndex {
  readonly files: ReadonlySet<string>;
  readonly byBasename: ReadonlyMap<string, readonly string[]>;
}

export function indexFiles(files: readonly string[]): FileIndex {
  const byBasename = new Map<string, string[]>();
  for (const file of files) {
    const name = posix.basename(file);
    const list = byBasename.get(name);
    if (list === undefined) byBasename.set(name, [file]);
    else list.push(file);
  }
  return { files: new Set(files), byBasename };
}

function leavesRoot(path: string): boolean {
  return path === ".." || path.startsWith("../");
}

function unique(candidates: readonly string[]): Resolution {
  const [only] = candidates;
  if (candidates.length === 1 && only !== undefined) return { kind: "found", path: only };
  if (candidates.length === 0) return { kind: "missing" };
  return { kind: "ambiguous", candidates: [...candidates].sort() };
}

/** Resolves a reference written in `fromFile` (see the rules at the top of this module). */
export function resolveReference(target: string, fromFile: string, index: FileIndex): Resolution {
  if (target.startsWith("/") || target.startsWith("~")) return { kind: "outside" };
  const relative = posix.normalize(posix.join(posix.dirname(fromFile), target));
  const explicit = target.startsWith("./") || target.startsWith("../");
  if (explicit) {
    if (leavesRoot(relative)) return { kind: "outside" };
    return index.files.has(relative) ? { kind: "found", path: relative } : { kind: "missing" };
  }
  if (!leavesRoot(relative) && index.files.has(relative)) return { kind: "found", path: relative };
  const fromRoot = posix.normalize(target);
  if (index.files.has(fromRoot)) return { kind: "found", path: fromRoot };
  if (!fromRoot.includes("/")) return unique(index.byBasename.get(fromRoot) ?? []);
  const suffix = `/${fromRoot}`;
  return unique((index.byBasename.get(posix.basename(fromRoot)) ?? []).filter((file) => file.endsWith(suffix)));
}

function describeHeadings(numbers: ReadonlySet<string>): string {
  const list = [...numbers];
  return list.length === 0 ? "it has no numbered headings" : `it has ${list.join(", ")}`;
}

/** Checks every reference of `sources` against `repository`. */
export function checkCitations(sources: readonly SourceText[], repository: Repository): ScanResult {
  const index = indexFiles(repository.files);
  const headings = new Map<string, Set<string>>();
  const headingsOf = (path: string): Set<string> => {
    let numbers = headings.get(path);
    if (numbers === undefined) {
      numbers = headingNumbers(repository.read(path) ?? "");
      headings.set(path, numbers);
    }
    return numbers;
  };
  const references: ResolvedReference[] = [];
  const problems: Problem[] = [];
  for (const source of sources) {
    for (const reference of findReferences(source.path, source.text)) {
      const resolution = resolveReference(reference.target, reference.file, index);
      references.push({ ...reference, resolution });
      const at = { file: reference.file, line: reference.line, target: reference.target };
      switch (resolution.kind) {
        case "missing": {
          const cites = reference.sections.length > 0 ? ` (cited for section ${reference.sections.join(", ")})` : "";
          problems.push({ ...at, kind: "missing-file", detail: `no such file in the repository${cites}` });
          break;
        }
        case "ambiguous":
          problems.push({
            ...at,
            kind: "ambiguous-file",
            detail: `ambiguous: ${resolution.candidates.join(", ")}; write the path`,
          });
          break;
        case "outside":
          if (reference.sections.length > 0)
            problems.push({
              ...at,
              kind: "section-outside",
              detail: `cites section ${reference.sections.join(", ")} of a file outside the repository`,
            });
          break;
        case "found": {
          const numbers = headingsOf(resolution.path);
          for (const section of reference.sections)
            if (!numbers.has(section))
              problems.push({
                ...at,
                kind: "missing-section",
                section,
                detail: `${resolution.path} has no heading numbered ${section} (${describeHeadings(numbers)})`,
              });
          break;
        }
      }
    }
  }
  return { references, problems };
}

/** `file:line: target [section N]: detail`, one line per problem. */
export function formatProblem(problem: Problem): string {
  const section = problem.section === undefined ? "" : ` section ${problem.section}`;
  return `${problem.file}:${problem.line}: ${problem.target}${section}: ${problem.detail}`;
}

/** What the scan found per cited file: references, section citations among them, and problems. */
export interface CitedFileSummary {
  readonly cited: string;
  readonly status: Resolution["kind"];
  references: number;
  sectionCitations: number;
  problems: number;
}

/** Groups the references of a scan by the file they point at (the path as written when unresolved). */
export function summarize(result: ScanResult): CitedFileSummary[] {
  const rows = new Map<string, CitedFileSummary>();
  const problemsAt = new Map<string, number>();
  for (const problem of result.problems) {
    const key = `${problem.file}:${problem.line}:${problem.target}`;
    problemsAt.set(key, (problemsAt.get(key) ?? 0) + 1);
  }
  for (const reference of result.references) {
    const { resolution } = reference;
    const cited = resolution.kind === "found" ? resolution.path : reference.target;
    const key = `${resolution.kind}:${cited}`;
    let row = rows.get(key);
    if (row === undefined) {
      row = { cited, status: resolution.kind, references: 0, sectionCitations: 0, problems: 0 };
      rows.set(key, row);
    }
    row.references += 1;
    if (reference.sections.length > 0) row.sectionCitations += 1;
    row.problems += problemsAt.get(`${reference.file}:${reference.line}:${reference.target}`) ?? 0;
  }
  return [...rows.values()].sort((a, b) => b.references - a.references || a.cited.localeCompare(b.cited));
}

/** Whether a repository file is one the scan reads: in a scanned folder or listed, with a text extension. */
export function isScanned(path: string): boolean {
  const parts = path.split("/");
  if (parts.some((part) => SKIPPED_FOLDERS.has(part))) return false;
  const top = parts[0] ?? "";
  const listed = (SCANNED_FILES as readonly string[]).includes(path);
  if (!listed && (parts.length < 2 || !(SCANNED_FOLDERS as readonly string[]).includes(top))) return false;
  return TEXT_EXTENSIONS.has(posix.extname(path));
}

function walk(root: string, folder: string, out: string[]): void {
  for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
    if (SKIPPED_FOLDERS.has(entry.name)) continue;
    const path = folder === "" ? entry.name : `${folder}/${entry.name}`;
    if (entry.isDirectory()) walk(root, path, out);
    else if (entry.isFile()) out.push(path);
  }
}

/**
 * The files of the repository at `root`: what git tracks plus new files it does not ignore (a file
 * written but not yet committed counts), or, without git, every file outside the skipped folders.
 */
export function listRepositoryFiles(root: string): string[] {
  try {
    const output = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      stdio: ["ignore", "pipe", "ignore"],
    });
    const files = output.split("\0").filter((path) => path !== "" && existsSync(join(root, path)));
    return [...new Set(files)].filter((path) => statSync(join(root, path)).isFile()).sort();
  } catch {
    const files: string[] = [];
    walk(root, "", files);
    return files.sort();
  }
}

/** Reads files of the repository at `root`; binary files (with a NUL byte) read as `undefined`. */
export function fileReader(root: string): (path: string) => string | undefined {
  return (path) => {
    try {
      const text = readFileSync(join(root, path), "utf8");
      return text.includes("\0") ? undefined : text;
    } catch {
      return undefined;
    }
  };
}

/** Scans the repository at `root`: every scanned file against every file. */
export function scanRepository(root: string): ScanResult {
  const files = listRepositoryFiles(root);
  const read = fileReader(root);
  const sources: SourceText[] = [];
  for (const path of files.filter(isScanned)) {
    const text = read(path);
    if (text !== undefined) sources.push({ path, text });
  }
  return checkCitations(sources, { files, read });
}
