import { createHash } from "node:crypto";
import Database from "better-sqlite3";
import {
  decideRegistration,
  identityKey,
  originOf,
  ownerKey,
  type RegisterOutcome,
  type RegisterRequest,
  type Registration,
  type RegistrationIdentity,
  requestOwnerKey,
} from "../domain/registration";
import type { AttachOutcome, DeletionReason, EndpointLedger, NodeLookup, RegistrationStore } from "../ports/store";
import { decodeRegistration, encodeRegistration, REGISTRATION_VERSION } from "../store/codec";
import type { DetachResult } from "../store/endpoint-ledger";
import { DEFAULT_TOMBSTONE_TTL_SECONDS, type TombstoneOptions } from "../store/tombstones";

/**
 * `PRAGMA user_version` of the current schema (docs/storage.md). 3 added the endpoint ledger's tables,
 * which `CREATE TABLE IF NOT EXISTS` adds to a schema-2 file when it is opened.
 */
const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS registrations (
  node TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  identity TEXT UNIQUE,
  data TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS registrations_owner ON registrations (owner);
CREATE TABLE IF NOT EXISTS tombstones (node TEXT PRIMARY KEY, reason TEXT NOT NULL, at INTEGER NOT NULL) STRICT;
CREATE INDEX IF NOT EXISTS tombstones_at ON tombstones (at);
CREATE TABLE IF NOT EXISTS endpoints (key TEXT PRIMARY KEY, arn TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS endpoint_users (key TEXT NOT NULL, node TEXT NOT NULL, PRIMARY KEY (key, node)) STRICT, WITHOUT ROWID;
`;

/**
 * Lower-case hex SHA-256, so that accounts, devices and tokens never appear in index columns. Synchronous
 * (node:crypto: this store runs on Node only), so that it can run inside a transaction.
 */
function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

interface Keys {
  readonly owner: string;
  /** `null` for REST registrations, which have no identity outside their node. */
  readonly identity: string | null;
}

function keysOf(registration: Registration): Keys {
  return {
    owner: sha256Hex(ownerKey(registration)),
    identity: originOf(registration) === "xmpp" ? sha256Hex(identityKey(registration)) : null,
  };
}

/**
 * Schema 1 (before 0.2) kept `registrations (node, data)` with unversioned JSON, publish secrets in
 * clear, and an `identities` table keyed by the identity in clear. Its registrations move over;
 * a secret becomes `secured` (the client gets the derived secret when it registers again).
 */
function migrateSchema1(db: Database.Database): void {
  const columns = db.prepare("SELECT name FROM pragma_table_info('registrations')").all() as { name: string }[];
  if (columns.length === 0 || columns.some((column) => column.name === "owner")) return;
  db.transaction(() => {
    const rows = db.prepare("SELECT data FROM registrations").all() as { data: string }[];
    db.exec("DROP TABLE registrations; DROP TABLE IF EXISTS identities;");
    db.exec(SCHEMA);
    const insert = db.prepare("INSERT OR IGNORE INTO registrations (node, owner, identity, data) VALUES (?, ?, ?, ?)");
    for (const row of rows) {
      let old: unknown;
      try {
        old = JSON.parse(row.data);
      } catch {
        continue;
      }
      if (typeof old !== "object" || old === null) continue;
      const { secret, ...rest } = old as Record<string, unknown>;
      const registration = decodeRegistration(
        JSON.stringify({ ...rest, v: REGISTRATION_VERSION, secured: typeof secret === "string" }),
      );
      if (registration === undefined) continue;
      const keys = keysOf(registration);
      insert.run(registration.node, keys.owner, keys.identity, encodeRegistration(registration));
    }
  })();
}

/**
 * Registrations in an embedded SQLite file (better-sqlite3), for one Node process next to a small
 * XMPP server (`npm run serve`). Strongly consistent: a registration is one transaction, and the
 * `identity` column is unique, so one identity has one node. Tombstones expire after their TTL.
 * Schema in docs/storage.md.
 */
export class SqliteRegistrationStore implements RegistrationStore {
  private readonly db: Database.Database;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly selectNode: Database.Statement<[string], { data: string }>;
  private readonly selectTombstone: Database.Statement<[string, number], { reason: string }>;
  private readonly selectIdentity: Database.Statement<[string], { data: string }>;
  private readonly countOwner: Database.Statement<[string], { n: number }>;
  private readonly updateData: Database.Statement<[string, string]>;
  private readonly registerTransaction: Database.Transaction<
    (request: RegisterRequest, keys: { owner: string; identity: string | null }) => RegisterOutcome
  >;
  private readonly removeTransaction: Database.Transaction<(node: string, reason: DeletionReason, at: number) => void>;
  readonly endpoints: EndpointLedger;

  /** Opens (and creates) the database at `path`; `:memory:` for tests. The runtime creates the file 0600. */
  constructor(path: string, options: TombstoneOptions = {}) {
    this.ttlMs = (options.tombstoneTtlSeconds ?? DEFAULT_TOMBSTONE_TTL_SECONDS) * 1000;
    this.now = options.now ?? Date.now;
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    migrateSchema1(this.db);
    this.db.exec(SCHEMA);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.selectNode = this.db.prepare("SELECT data FROM registrations WHERE node = ?");
    this.selectTombstone = this.db.prepare("SELECT reason FROM tombstones WHERE node = ? AND at >= ?");
    this.selectIdentity = this.db.prepare("SELECT data FROM registrations WHERE identity = ?");
    this.countOwner = this.db.prepare("SELECT count(*) AS n FROM registrations WHERE owner = ?");
    this.updateData = this.db.prepare("UPDATE registrations SET data = ? WHERE node = ?");
    const insert = this.db.prepare("INSERT INTO registrations (node, owner, identity, data) VALUES (?, ?, ?, ?)");
    const putTombstone = this.db.prepare(
      "INSERT INTO tombstones (node, reason, at) VALUES (?, ?, ?) ON CONFLICT(node) DO UPDATE SET reason = excluded.reason, at = excluded.at",
    );
    const expire = this.db.prepare("DELETE FROM tombstones WHERE at < ?");
    const deleteRegistration = this.db.prepare("DELETE FROM registrations WHERE node = ?");
    this.registerTransaction = this.db.transaction((request: RegisterRequest, keys: Keys) => {
      const existing =
        request.refreshNode !== undefined
          ? this.liveRest(request.refreshNode, request.app)
          : keys.identity !== null
            ? decodeRegistration(this.selectIdentity.get(keys.identity)?.data)
            : undefined;
      const outcome = decideRegistration(existing, this.countOwner.get(keys.owner)?.n ?? 0, request);
      if (outcome.kind === "refreshed")
        this.updateData.run(encodeRegistration(outcome.registration), outcome.registration.node);
      if (outcome.kind === "created")
        insert.run(outcome.registration.node, keys.owner, keys.identity, encodeRegistration(outcome.registration));
      return outcome;
    });
    this.removeTransaction = this.db.transaction((node: string, reason: DeletionReason, at: number) => {
      deleteRegistration.run(node);
      putTombstone.run(node, reason, at);
      expire.run(at - this.ttlMs);
    });
    this.endpoints = new SqliteEndpointLedger(this.db);
  }

  async get(node: string): Promise<NodeLookup> {
    const registration = decodeRegistration(this.selectNode.get(node)?.data, node);
    if (registration) return { kind: "found", registration };
    return this.selectTombstone.get(node, this.now() - this.ttlMs) ? { kind: "deleted" } : { kind: "absent" };
  }

  async findByIdentity(identity: RegistrationIdentity): Promise<Registration | undefined> {
    return decodeRegistration(this.selectIdentity.get(sha256Hex(identityKey(identity)))?.data);
  }

  async register(request: RegisterRequest): Promise<RegisterOutcome> {
    const keys: Keys = {
      owner: sha256Hex(requestOwnerKey(request)),
      identity: request.origin === "xmpp" ? sha256Hex(identityKey(request.identity)) : null,
    };
    return this.registerTransaction(request, keys);
  }

  async update(registration: Registration): Promise<void> {
    this.updateData.run(encodeRegistration(registration), registration.node);
  }

  async delete(registration: Registration, reason: DeletionReason): Promise<void> {
    this.removeTransaction(registration.node, reason, this.now());
  }

  /** Closes the database file. */
  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private liveRest(node: string, app: string): Registration | undefined {
    const registration = decodeRegistration(this.selectNode.get(node)?.data, node);
    return registration !== undefined && originOf(registration) === "rest" && registration.app === app
      ? registration
      : undefined;
  }
}

/**
 * The endpoint ledger in the same file: `endpoints (key, arn)` and one `endpoint_users (key, node)` row
 * per user. Each operation is one `BEGIN IMMEDIATE` transaction (it takes the write lock before it
 * reads, so even another process on the file cannot slip in between the count and the write).
 */
class SqliteEndpointLedger implements EndpointLedger {
  private readonly attachTransaction: Database.Transaction<
    (key: string, arn: string, node: string, cap: number) => AttachOutcome
  >;
  private readonly detachTransaction: Database.Transaction<(key: string, node: string) => DetachResult>;
  private readonly selectUsers: Database.Statement<[string], { node: string }>;

  constructor(db: Database.Database) {
    const count = db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM endpoint_users WHERE key = ?");
    const isUser = db.prepare<[string, string], { one: number }>(
      "SELECT 1 AS one FROM endpoint_users WHERE key = ? AND node = ?",
    );
    const putEndpoint = db.prepare<[string, string]>(
      "INSERT INTO endpoints (key, arn) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET arn = excluded.arn",
    );
    const addUser = db.prepare<[string, string]>("INSERT OR IGNORE INTO endpoint_users (key, node) VALUES (?, ?)");
    const selectArn = db.prepare<[string], { arn: string }>("SELECT arn FROM endpoints WHERE key = ?");
    const removeUser = db.prepare<[string, string]>("DELETE FROM endpoint_users WHERE key = ? AND node = ?");
    const removeEndpoint = db.prepare<[string]>("DELETE FROM endpoints WHERE key = ?");
    this.selectUsers = db.prepare("SELECT node FROM endpoint_users WHERE key = ? ORDER BY node");
    this.attachTransaction = db.transaction((key: string, arn: string, node: string, cap: number): AttachOutcome => {
      const users = count.get(key)?.n ?? 0;
      const already = isUser.get(key, node) !== undefined;
      if (!already && users >= cap) return { kind: "full" };
      putEndpoint.run(key, arn);
      addUser.run(key, node);
      return { kind: "attached", users: already ? users : users + 1 };
    });
    this.detachTransaction = db.transaction((key: string, node: string): DetachResult => {
      const endpoint = selectArn.get(key);
      if (endpoint === undefined || removeUser.run(key, node).changes === 0) return undefined;
      const remaining = count.get(key)?.n ?? 0;
      if (remaining === 0) removeEndpoint.run(key);
      return { arn: endpoint.arn, remaining };
    });
  }

  async attach(key: string, arn: string, node: string, cap: number): Promise<AttachOutcome> {
    return this.attachTransaction.immediate(key, arn, node, cap);
  }

  async detach(key: string, node: string): Promise<DetachResult> {
    return this.detachTransaction.immediate(key, node);
  }

  async users(key: string): Promise<readonly string[]> {
    return this.selectUsers.all(key).map((row) => row.node);
  }
}
