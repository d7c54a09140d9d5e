/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): the functions with the most self time, the
 * garbage collector's share, and the self time grouped by source file. `node --import tsx
 * bench/profile-summary.ts FILE.cpuprofile [top]` prints markdown; `summariseProfile` returns it.
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function shortUrl(url: string): string {
  if (url === "") return "(native)";
  const cut = url.replace(/^file:\/\//, "");
  const nm = cut.lastIndexOf("node_modules/");
  if (nm >= 0) return cut.slice(nm + "node_modules/".length);
  const src = cut.search(/\/(src|bench|test)\//);
  if (src >= 0) return cut.slice(src + 1);
  return cut;
}

export function summariseProfile(path: string, top = 25): string {
  const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === "(idle)") {
      idle += us;
      continue;
    }
    const file = shortUrl(frame.url);
    const key = `${frame.functionName || "(anonymous)"} ${file}${frame.url ? `:${frame.lineNumber + 1}` : ""}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const group =
      frame.url === ""
        ? frame.functionName.startsWith("(")
          ? frame.functionName
          : "(native)"
        : file.startsWith("node:")
          ? file
          : file.split("/").slice(0, 2).join("/");
    byFile.set(group, (byFile.get(group) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1)}%`;
  const lines = [
    `Profile ${path}: ${(busy / 1000).toFixed(0)} ms busy (idle excluded).`,
    "",
    "| self | function |",
    "|---:|---|",
  ];
  for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`| ${pct(us)} | ${key} |`);
  lines.push("", "| self | file or group |", "|---:|---|");
  for (const [key, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`| ${pct(us)} | ${key} |`);
  return lines.join("\n");
}

if (process.argv[2] !== undefined && import.meta.url === pathToFileURL(process.argv[1] ?? "").href)
  console.log(summariseProfile(process.argv[2], Number(process.argv[3] ?? 25)));
