import Database from "better-sqlite3";
import { identityKey, type Registration, type RegistrationIdentity } from "./registration";
import type { DeletionReason, NodeLookup, RegistrationStore } from "./store";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS registrations (node TEXT PRIMARY KEY, data TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS identities (identity TEXT PRIMARY KEY, node TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS tombstones (node TEXT PRIMARY KEY, reason TEXT NOT NULL, at INTEGER NOT NULL) STRICT;
`;

function isRegistration(value: unknown): value is Registration {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return ["node", "account", "token", "device", "app", "style", "provider"].every(
    (key) => typeof record[key] === "string",
  );
}

/**
 * Registrations in an embedded SQLite file (better-sqlite3), for one Node process next to a small
 * XMPP server (`npm run serve`). Strongly consistent; tombstones are kept for good, as the file is
 * small. Schema in docs/storage.md.
 */
export class SqliteRegistrationStore implements RegistrationStore {
  private readonly db: Database.Database;
  private readonly selectNode: Database.Statement<[string], { data: string }>;
  private readonly selectTombstone: Database.Statement<[string], { reason: string }>;
  private readonly selectIdentity: Database.Statement<[string], { data: string }>;
  private readonly upsert: Database.Transaction<(registration: Registration) => void>;
  private readonly remove: Database.Transaction<
    (registration: Registration, reason: DeletionReason, at: number) => void
  >;

  /** Opens (and creates) the database at `path`; `:memory:` for tests. */
  constructor(
    path: string,
    private readonly now: () => number = Date.now,
  ) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(SCHEMA);
    this.selectNode = this.db.prepare("SELECT data FROM registrations WHERE node = ?");
    this.selectTombstone = this.db.prepare("SELECT reason FROM tombstones WHERE node = ?");
    this.selectIdentity = this.db.prepare(
      "SELECT r.data AS data FROM identities i JOIN registrations r ON r.node = i.node WHERE i.identity = ?",
    );
    const putRegistration = this.db.prepare(
      "INSERT INTO registrations (node, data) VALUES (?, ?) ON CONFLICT(node) DO UPDATE SET data = excluded.data",
    );
    const putIdentity = this.db.prepare(
      "INSERT INTO identities (identity, node) VALUES (?, ?) ON CONFLICT(identity) DO UPDATE SET node = excluded.node",
    );
    const putTombstone = this.db.prepare(
      "INSERT INTO tombstones (node, reason, at) VALUES (?, ?, ?) ON CONFLICT(node) DO UPDATE SET reason = excluded.reason, at = excluded.at",
    );
    const deleteRegistration = this.db.prepare("DELETE FROM registrations WHERE node = ?");
    const deleteIdentity = this.db.prepare("DELETE FROM identities WHERE identity = ? AND node = ?");
    this.upsert = this.db.transaction((registration: Registration) => {
      putRegistration.run(registration.node, JSON.stringify(registration));
      putIdentity.run(identityKey(registration), registration.node);
    });
    this.remove = this.db.transaction((registration: Registration, reason: DeletionReason, at: number) => {
      putTombstone.run(registration.node, reason, at);
      deleteRegistration.run(registration.node);
      deleteIdentity.run(identityKey(registration), registration.node);
    });
  }

  private read(data: string | undefined): Registration | undefined {
    if (data === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(data);
      return isRegistration(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  async get(node: string): Promise<NodeLookup> {
    const registration = this.read(this.selectNode.get(node)?.data);
    if (registration) return { kind: "found", registration };
    return this.selectTombstone.get(node) ? { kind: "deleted" } : { kind: "absent" };
  }

  async findByIdentity(identity: RegistrationIdentity): Promise<Registration | undefined> {
    return this.read(this.selectIdentity.get(identityKey(identity))?.data);
  }

  async put(registration: Registration): Promise<void> {
    this.upsert(registration);
  }

  async delete(registration: Registration, reason: DeletionReason): Promise<void> {
    this.remove(registration, reason, this.now());
  }

  /** Closes the database file. */
  close(): void {
    this.db.close();
  }
}
