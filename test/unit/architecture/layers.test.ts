import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkFile, checkTree } from "./layers";

const SRC = fileURLToPath(new URL("../../../src", import.meta.url));

describe("the import graph of src/ (docs/architecture.md, Layers)", () => {
  it("breaks no layer rule", () => {
    const violations = checkTree(SRC).map((v) => `${v.file}:${v.line}: ${v.rule}`);
    expect(violations).toEqual([]);
  });

  it("reports a use case that imports an adapter, a runtime or Hono", () => {
    const text = [
      'import { KvRegistrationStore } from "../store/kv";',
      'import { startNodeGateway } from "../runtime/node";',
      'import { Hono } from "hono";',
      'import type { Registration } from "../domain/registration";',
    ].join("\n");
    expect(checkFile("gateway/publish.ts", text).map((v) => v.rule)).toEqual([
      "gateway imports store (../store/kv)",
      "gateway imports runtime (../runtime/node)",
      "gateway imports hono (only http and runtime may)",
    ]);
  });

  it("reports node: imports and environment reads below the entry points, and I/O in the pure libraries", () => {
    expect(checkFile("store/sqlite.ts", 'import { createHash } from "node:crypto";')[0]?.rule).toBe(
      "store imports node:crypto (only entry points may)",
    );
    expect(checkFile("providers/apns/provider.ts", "const key = process.env.APNS_KEY;")[0]?.rule).toBe(
      "providers reads process.env (only entry points may)",
    );
    expect(checkFile("xmpp/xml.ts", 'import type { Logger } from "../log";')[0]?.rule).toBe(
      "xmpp imports log (../log)",
    );
    expect(
      checkFile("domain/registration.ts", 'import type { RegistrationStore } from "../ports/store";'),
    ).toHaveLength(1);
  });

  it("lets entry points import anything", () => {
    expect(
      checkFile("runtime/node.ts", 'import { readFileSync } from "node:fs";\nimport { x } from "../store/kv";'),
    ).toEqual([]);
  });
});
