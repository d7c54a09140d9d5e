import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));

/** The modules every publish runs through, on every runtime (docs/architecture.md, "Style"). */
const HOT = [
  "gateway/publish.ts",
  "gateway/iq.ts",
  "http/xmpp.ts",
  "http/body.ts",
  "http/app.ts",
  "log.ts",
  "providers/provider-request.ts",
  "runtime/http2-transport.ts",
  "runtime/node-xmpp.ts",
  "runtime/worker.ts",
  "runtime/prometheus-metrics.ts",
  "store/kv.ts",
  "store/memory.ts",
  ...["xmpp", "omemo", "providers/apns", "providers/fcm"].flatMap((dir) =>
    readdirSync(join(SRC, dir))
      .filter((file) => file.endsWith(".ts"))
      .map((file) => `${dir}/${file}`),
  ),
];

/*
 * An object literal that starts with a spread and adds keys after it (`{ ...x, key }`): Node 20's V8 gives
 * each such object a map of its own, about a microsecond per added key (bench/RESULTS.md). A spread that
 * comes after a key (`{ key, ...x }`) and `Object.assign({}, x, { key })` are cheap.
 */
const SPREAD_THEN_KEY = /\{\s*\.\.\.[^{},]+,\s*[A-Za-z_$"'[]/;

function codeLines(text: string): [number, string][] {
  return text
    .split("\n")
    .map((line, index) => [index + 1, line] as [number, string])
    .filter(([, line]) => !/^\s*(\/\/|\*|\/\*)/.test(line))
    .map(([index, line]) => [index, line.replace(/`[^`]*`/g, "``")] as [number, string]);
}

describe("the per-publish modules", () => {
  it("build no object as `{ ...x, key }`", () => {
    const found = HOT.flatMap((file) =>
      codeLines(readFileSync(join(SRC, file), "utf8"))
        .filter(([, line]) => SPREAD_THEN_KEY.test(line))
        .map(([line, text]) => `${file}:${line}: ${text.trim()}`),
    );
    expect(found).toEqual([]);
  });

  it("would catch one", () => {
    expect(SPREAD_THEN_KEY.test("return { ...labels, reason: outcomeReason(outcome) };")).toBe(true);
    expect(SPREAD_THEN_KEY.test("const x = { node, ...fields, outcome };")).toBe(false);
    expect(SPREAD_THEN_KEY.test("Object.assign({}, deps, { metrics })")).toBe(false);
  });
});
