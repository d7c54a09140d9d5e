import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteRegistrationStore } from "../../src/store/sqlite";
import { describeStoreContract, sampleRegistration } from "../shared/store-contract";

const dir = mkdtempSync(join(tmpdir(), "push-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract("SQLite", () => new SqliteRegistrationStore(":memory:"));

describe("SQLite registration store on disk", () => {
  it("keeps registrations and tombstones across reopening the file", async () => {
    const path = join(dir, "registrations.sqlite");
    const first = new SqliteRegistrationStore(path);
    const kept = sampleRegistration({ secret: "s" });
    const gone = sampleRegistration({ account: "tybalt@capulet.example" });
    await first.put(kept);
    await first.put(gone);
    await first.delete(gone, "token-dead");
    first.close();
    const second = new SqliteRegistrationStore(path);
    expect(await second.get(kept.node)).toEqual({ kind: "found", registration: kept });
    expect(await second.get(gone.node)).toEqual({ kind: "deleted" });
    second.close();
  });
});
