import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  checkCitations,
  findReferences,
  formatProblem,
  headingNumbers,
  IGNORE_MARKER,
  indexFiles,
  isScanned,
  type Repository,
  resolveReference,
  scanRepository,
} from "./citations";

/*
 * The texts below spell Markdown names as `${md}` so that this file itself cites nothing: the
 * repository scan at the end reads it too.
 */
const md = ".md";
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

function sectionsOf(text: string, file = "src/a.ts"): (readonly string[])[] {
  return findReferences(file, text).map((reference) => reference.sections);
}

function repository(files: Readonly<Record<string, string>>): Repository {
  return { files: Object.keys(files), read: (path) => files[path] };
}

const CONTRACT = [
  "# Contract",
  "## 2. HTTP",
  "## 5. Replies and error mapping",
  "### 6.4 Payload budget",
  "```",
  "## 9. Inside a fence, not a heading",
  "```",
].join("\n");

describe("findReferences", () => {
  it("reads every citation form", () => {
    expect(sectionsOf(`// docs/protocol${md} section 5`)).toEqual([["5"]]);
    expect(sectionsOf(`// docs/protocol${md} section 6.4.`)).toEqual([["6.4"]]);
    expect(sectionsOf(`(docs/protocol${md} 3.2)`)).toEqual([["3.2"]]);
    expect(sectionsOf(`(docs/protocol${md} 2)`)).toEqual([["2"]]);
    expect(sectionsOf(`docs/protocol${md} §5 and docs/protocol${md} § 6.4`)).toEqual([["5", "6.4"]]);
    expect(sectionsOf(`see \`docs/protocol${md}\`, section 8`)).toEqual([["8"]]);
    expect(sectionsOf(`(docs/protocol${md} sections 1 and 2)`)).toEqual([["1", "2"]]);
    expect(sectionsOf(`(docs/protocol${md} 4 and 6.1)`)).toEqual([["4", "6.1"]]);
    expect(sectionsOf(`(docs/protocol${md} section 2, "Ownership")`)).toEqual([["2"]]);
    expect(sectionsOf(`as section 5 of docs/protocol${md} says`)).toEqual([["5"]]);
  });

  it("follows a citation onto the next line of the same comment", () => {
    expect(sectionsOf(` * the fallback push of docs/protocol${md}\n * 6.4. The gateway never decrypts.`)).toEqual([
      ["6.4"],
    ]);
    expect(sectionsOf(`in any dialect of docs/protocol${md}\n * section 4: the summary`)).toEqual([["4"]]);
    expect(sectionsOf(`No server implements it (docs/protocol${md}\nsection 7) yet.`, `docs/x${md}`)).toEqual([["7"]]);
  });

  it("does not take quantities, list items or plain references for sections", () => {
    expect(sectionsOf(`bench/results/hostile${md} 5 ms at most`)).toEqual([[]]);
    expect(sectionsOf(`Read storage${md}\n2. Then run the tests.`, `docs/x${md}`)).toEqual([[]]);
    expect(sectionsOf(`[storage${md}](storage${md}) keeps 128 bits`)).toEqual([[]]);
    expect(sectionsOf(`docs/storage${md}:12 and docs/storage${md}#schema`)).toEqual([[]]);
  });

  it("merges a Markdown link's two names and keeps line numbers", () => {
    const references = findReferences(`README${md}`, `intro\n\nsee [docs/protocol${md}](docs/protocol${md}) section 5`);
    expect(references).toEqual([{ file: `README${md}`, line: 3, target: `docs/protocol${md}`, sections: ["5"] }]);
  });

  it("skips URLs, templates, globs and lines with the ignore marker", () => {
    expect(findReferences("src/a.ts", `https://example.org/docs/README${md} section 3`)).toEqual([]);
    expect(findReferences("src/a.ts", `\`\${folder}/RESULTS${md}\` and docs/**/*${md}`)).toEqual([]);
    expect(findReferences("src/a.ts", `missing${md} section 3 // ${IGNORE_MARKER}`)).toEqual([]);
  });
});

describe("headingNumbers", () => {
  it("takes numbered headings outside code fences", () => {
    expect([...headingNumbers(CONTRACT)]).toEqual(["2", "5", "6.4"]);
  });
});

describe("resolveReference", () => {
  const index = indexFiles([
    `README${md}`,
    `docs/protocol${md}`,
    `docs/storage${md}`,
    `infra/README${md}`,
    `test/vectors/README${md}`,
    `bench/results/hostile${md}`,
  ]);

  it("resolves from the citing folder, from the root, and by a unique name", () => {
    expect(resolveReference(`storage${md}`, `docs/security${md}`, index)).toEqual({
      kind: "found",
      path: `docs/storage${md}`,
    });
    expect(resolveReference(`docs/protocol${md}`, "src/a.ts", index)).toEqual({
      kind: "found",
      path: `docs/protocol${md}`,
    });
    expect(resolveReference(`storage${md}`, "src/store/kv.ts", index)).toEqual({
      kind: "found",
      path: `docs/storage${md}`,
    });
    expect(resolveReference(`results/hostile${md}`, "bench/run.ts", index)).toEqual({
      kind: "found",
      path: `bench/results/hostile${md}`,
    });
    expect(resolveReference(`../../test/vectors/README${md}`, "src/omemo/plaintext.ts", index)).toEqual({
      kind: "found",
      path: `test/vectors/README${md}`,
    });
  });

  it("says when a name is missing, ambiguous or outside the repository", () => {
    expect(resolveReference(`PROTOCOL${md}`, "src/a.ts", index)).toEqual({ kind: "missing" });
    expect(resolveReference(`./storage${md}`, "src/a.ts", index)).toEqual({ kind: "missing" });
    expect(resolveReference(`README${md}`, "src/a.ts", index)).toEqual({ kind: "found", path: `README${md}` });
    expect(resolveReference(`vectors/README${md}`, "src/a.ts", index)).toEqual({
      kind: "found",
      path: `test/vectors/README${md}`,
    });
    const ambiguous = indexFiles([`a/notes${md}`, `b/notes${md}`]);
    expect(resolveReference(`notes${md}`, "src/a.ts", ambiguous)).toEqual({
      kind: "ambiguous",
      candidates: [`a/notes${md}`, `b/notes${md}`],
    });
    expect(resolveReference(`/work/shared/PROTOCOL${md}`, `docs/protocol${md}`, index)).toEqual({ kind: "outside" });
    expect(resolveReference(`../../../elsewhere/notes${md}`, `docs/protocol${md}`, index)).toEqual({
      kind: "outside",
    });
  });
});

describe("checkCitations", () => {
  const repo = repository({ [`docs/contract${md}`]: CONTRACT, "src/a.ts": "" });

  it("passes a citation of an existing file and section", () => {
    const source = { path: "src/a.ts", text: `// see docs/contract${md} section 5 and docs/contract${md} 6.4\n` };
    expect(checkCitations([source], repo).problems).toEqual([]);
  });

  it("reports a missing file and a missing section with file and line", () => {
    const text = [
      "/**",
      ` * The reply mapping (PROTOCOL${md} section 5).`,
      ` * The limits (docs/contract${md} section 9), the budget (docs/contract${md} 6.4).`,
      " */",
    ].join("\n");
    const { problems } = checkCitations([{ path: "src/gateway/x.ts", text }], repo);
    expect(problems.map(formatProblem)).toEqual([
      `src/gateway/x.ts:2: PROTOCOL${md}: no such file in the repository (cited for section 5)`,
      `src/gateway/x.ts:3: docs/contract${md} section 9: docs/contract${md} has no heading numbered 9 (it has 2, 5, 6.4)`,
    ]);
    expect(problems.map((problem) => [problem.kind, problem.line])).toEqual([
      ["missing-file", 2],
      ["missing-section", 3],
    ]);
  });

  it("accepts an outside file named on purpose, but not a section cited in it", () => {
    const named = { path: `docs/contract${md}`, text: `Started from \`/work/shared/PROTOCOL${md}\`.` };
    expect(checkCitations([named], repo).problems).toEqual([]);
    const cited = { path: "src/a.ts", text: `// /work/shared/PROTOCOL${md} section 5` };
    expect(checkCitations([cited], repo).problems.map((problem) => problem.kind)).toEqual(["section-outside"]);
  });
});

describe("isScanned", () => {
  it("reads text files of the project's folders and the README, nothing else", () => {
    expect(isScanned("src/gateway/publish.ts")).toBe(true);
    expect(isScanned(`docs/protocol${md}`)).toBe(true);
    expect(isScanned(`README${md}`)).toBe(true);
    expect(isScanned("test/fixtures/push/encrypted-publish.xml")).toBe(true);
    expect(isScanned("package.json")).toBe(false);
    expect(isScanned(`node_modules/x/README${md}`)).toBe(false);
    expect(isScanned(`src/node_modules/x/README${md}`)).toBe(false);
    expect(isScanned("docs/diagram.png")).toBe(false);
  });
});

describe("the repository's citations", () => {
  it("name Markdown files that exist and sections those files have", () => {
    const { references, problems } = scanRepository(ROOT);
    expect(references.length).toBeGreaterThan(0);
    if (problems.length > 0)
      expect.fail(
        `${problems.length} broken citation(s); fix the file or the section number:\n` +
          problems.map(formatProblem).join("\n"),
      );
  });
});
