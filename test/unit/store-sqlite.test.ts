import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteRegistrationStore } from "../../src/runtime/sqlite-store";
import { describeStoreContract, identityOf, requestFor, sampleRegistration, seed } from "../shared/store-contract";

const dir = mkdtempSync(join(tmpdir(), "push-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract("SQLite", (options) => new SqliteRegistrationStore(":memory:", options));

describe("SQLite registration store on disk", () => {
  it("keeps registrations and tombstones across reopening the file", async () => {
    const path = join(dir, "registrations.sqlite");
    const first = new SqliteRegistrationStore(path);
    const kept = await seed(first, sampleRegistration({ secured: true }));
    const gone = await seed(first, sampleRegistration({ account: "tybalt@capulet.example" }));
    await first.delete(gone, "token-dead");
    first.close();
    const second = new SqliteRegistrationStore(path);
    expect(await second.get(kept.node)).toEqual({ kind: "found", registration: kept });
    expect(await second.get(gone.node)).toEqual({ kind: "deleted" });
    second.close();
  });

  it("keeps no account, device, token or secret in its index columns", async () => {
    const path = join(dir, "columns.sqlite");
    const store = new SqliteRegistrationStore(path);
    await seed(store, sampleRegistration({ account: "juliet@capulet.example", token: "apns-token-zz", secured: true }));
    store.close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare("SELECT node, owner, identity FROM registrations").all() as Record<string, string>[];
    db.close();
    expect(rows).toHaveLength(1);
    for (const value of Object.values(rows[0] ?? {})) expect(value).not.toMatch(/juliet|capulet|apns-token/);
    expect(rows[0]?.identity).toMatch(/^[0-9a-f]{64}$/);
  });

  it("purges expired tombstones as it deletes, so register-then-delete cycles leave bounded rows", async () => {
    let now = 1_800_000_000_000;
    const store = new SqliteRegistrationStore(":memory:", { now: () => now, tombstoneTtlSeconds: 180 });
    for (let i = 0; i < 600; i++) {
      const registration = await seed(store, sampleRegistration({ device: `d${i}`, token: `d${i}`, node: `n${i}` }));
      await store.delete(registration, "unregistered");
      now += 1_000;
    }
    const db = (store as unknown as { db: Database.Database }).db;
    const { n } = db.prepare("SELECT count(*) AS n FROM tombstones").get() as { n: number };
    expect(n).toBeLessThanOrEqual(181);
    store.close();
  });

  it("adds the endpoint ledger's tables to a schema-2 file, keeping its registrations", async () => {
    const path = join(dir, "schema2.sqlite");
    const old = new Database(path);
    old.exec(`
      CREATE TABLE registrations (node TEXT PRIMARY KEY, owner TEXT NOT NULL, identity TEXT UNIQUE, data TEXT NOT NULL) STRICT;
      CREATE INDEX registrations_owner ON registrations (owner);
      CREATE TABLE tombstones (node TEXT PRIMARY KEY, reason TEXT NOT NULL, at INTEGER NOT NULL) STRICT;
      CREATE INDEX tombstones_at ON tombstones (at);
      PRAGMA user_version = 2;`);
    old.close();
    const first = new SqliteRegistrationStore(path);
    const kept = await seed(first, sampleRegistration());
    expect(await first.endpoints.attach("ab".repeat(32), "arn:endpoint/1", kept.node, 5)).toEqual({
      kind: "attached",
      users: 1,
    });
    first.close();
    const second = new SqliteRegistrationStore(path);
    expect(await second.get(kept.node)).toEqual({ kind: "found", registration: kept });
    expect(await second.endpoints.users("ab".repeat(32))).toEqual([kept.node]);
    second.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(3);
    expect(db.prepare("SELECT key, arn FROM endpoints").all()).toEqual([
      { key: "ab".repeat(32), arn: "arn:endpoint/1" },
    ]);
    expect(db.prepare("SELECT key, node FROM endpoint_users").all()).toEqual([
      { key: "ab".repeat(32), node: kept.node },
    ]);
    db.close();
  });

  it("moves a schema-1 file over: registrations kept, secrets dropped, identities hashed", async () => {
    const path = join(dir, "schema1.sqlite");
    const old = new Database(path);
    old.exec(`
      CREATE TABLE registrations (node TEXT PRIMARY KEY, data TEXT NOT NULL) STRICT;
      CREATE TABLE identities (identity TEXT PRIMARY KEY, node TEXT NOT NULL) STRICT;
      CREATE TABLE tombstones (node TEXT PRIMARY KEY, reason TEXT NOT NULL, at INTEGER NOT NULL) STRICT;`);
    const { secured: _s, ...legacy } = sampleRegistration({ node: "legacy-node", style: "device", device: "dev" });
    old
      .prepare("INSERT INTO registrations VALUES (?, ?)")
      .run("legacy-node", JSON.stringify({ ...legacy, secret: "clear" }));
    old.close();
    const store = new SqliteRegistrationStore(path);
    const expected = { ...legacy, secured: true };
    expect(await store.get("legacy-node")).toEqual({ kind: "found", registration: expected });
    expect(await store.findByIdentity(identityOf(expected))).toEqual(expected);
    const refreshed = await store.register(requestFor(expected, { candidateNode: "other", token: "t2" }));
    expect(refreshed.kind).toBe("refreshed");
    store.close();
    const db = new Database(path, { readonly: true });
    const all = JSON.stringify(db.prepare("SELECT * FROM registrations").all());
    db.close();
    expect(all).not.toContain("clear");
  });
});
