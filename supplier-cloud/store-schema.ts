/**
 * The receiver database's schema and how it is opened (WAL, synchronous commits, the tables
 * created if missing), plus the small row helpers the store's queries share.
 */
import Database from 'libsql';
import { ConsoleError } from '../src-main/core/errors';
import { installSafeTransactions } from '../src-main/store/transactions';

export type Db = Database.Database;
type LibsqlOptions = Database.Options & { encryptionKey?: string };

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS plants (
    plant          TEXT PRIMARY KEY,
    plant_id       TEXT NOT NULL,
    state          TEXT,
    state_session  INTEGER,
    state_at       INTEGER,
    signing_ring   TEXT,
    box_kid        TEXT,
    box_public_key TEXT,
    jump_base      INTEGER,
    pruned_through INTEGER
  ) STRICT;
  CREATE TABLE IF NOT EXISTS batches (
    plant          TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('sealed', 'plain', 'gap-notice', 'reco-report', 'module-health', 'audit-head')),
    machine        TEXT NOT NULL,
    from_ms        INTEGER NOT NULL,
    to_ms          INTEGER NOT NULL,
    signing_kid    TEXT NOT NULL,
    encryption_kid TEXT,
    points         INTEGER NOT NULL,
    samples        INTEGER NOT NULL,
    payload        TEXT NOT NULL,
    received_at    INTEGER NOT NULL,
    receiver       TEXT NOT NULL,
    PRIMARY KEY (plant, seq)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS machines (
    plant      TEXT NOT NULL,
    machine    TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    model      TEXT,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (plant, machine)
  ) STRICT;
  CREATE TABLE IF NOT EXISTS refusals (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    receiver TEXT NOT NULL,
    topic    TEXT NOT NULL,
    plant    TEXT,
    seq      INTEGER,
    reason   TEXT NOT NULL,
    detail   TEXT NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS refusals_plant ON refusals (plant, reason);
  CREATE TABLE IF NOT EXISTS gap_notices (
    id                  INTEGER PRIMARY KEY,
    plant               TEXT NOT NULL,
    seq                 INTEGER NOT NULL,
    issued              INTEGER NOT NULL,
    received_at         INTEGER NOT NULL,
    receiver            TEXT NOT NULL,
    dropped_batches     INTEGER NOT NULL,
    not_recorded_sealed INTEGER NOT NULL,
    not_recorded_plain  INTEGER NOT NULL,
    not_recorded_from   INTEGER,
    not_recorded_to     INTEGER,
    total_dropped       INTEGER NOT NULL,
    total_not_recorded  INTEGER NOT NULL,
    sig                 TEXT NOT NULL UNIQUE
  ) STRICT;
  CREATE TABLE IF NOT EXISTS declared_lost (
    plant      TEXT NOT NULL,
    from_seq   INTEGER NOT NULL,
    to_seq     INTEGER NOT NULL,
    notice_seq INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS declared_lost_plant ON declared_lost (plant, from_seq);
  -- Recommendations (docs/recommendations.md): what was sent, and the plants' reports on them.
  -- Added after the first release: CREATE IF NOT EXISTS is the whole migration of older files.
  CREATE TABLE IF NOT EXISTS reco_sent (
    plant       TEXT NOT NULL,
    id          TEXT NOT NULL,
    machine     TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    valid_until INTEGER NOT NULL,
    sent_at     INTEGER NOT NULL,
    origin      TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (plant, id)
  ) STRICT;
  CREATE INDEX IF NOT EXISTS reco_sent_machine ON reco_sent (plant, machine, sent_at);
  CREATE TABLE IF NOT EXISTS reco_reports (
    id             INTEGER PRIMARY KEY,
    plant          TEXT NOT NULL,
    machine        TEXT NOT NULL,
    recommendation TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('decision', 'result', 'outcome', 'refused')),
    at             INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    receiver       TEXT NOT NULL,
    body           TEXT NOT NULL,
    sig            TEXT NOT NULL UNIQUE
  ) STRICT;
  CREATE INDEX IF NOT EXISTS reco_reports_reco ON reco_reports (plant, recommendation, at);
  -- The plants' signed audit heads (docs/uplink.md §17): the witness outside the plant, kept
  -- append-only. The conflict column says why a head disagrees with one received before (a log cut
  -- back or rewritten at the plant); such a head is kept too, as evidence.
  CREATE TABLE IF NOT EXISTS audit_heads (
    id          INTEGER PRIMARY KEY,
    plant       TEXT NOT NULL,
    uplink_seq  INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    signed_at   INTEGER NOT NULL,
    kid         TEXT NOT NULL,
    sig         TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    receiver    TEXT NOT NULL,
    conflict    TEXT,
    UNIQUE (plant, sig)
  ) STRICT;
  CREATE INDEX IF NOT EXISTS audit_heads_plant ON audit_heads (plant, seq);
  CREATE TRIGGER IF NOT EXISTS audit_heads_no_update BEFORE UPDATE ON audit_heads
    BEGIN SELECT RAISE(ABORT, 'witnessed audit heads are append-only'); END;
  CREATE TRIGGER IF NOT EXISTS audit_heads_no_delete BEFORE DELETE ON audit_heads
    BEGIN SELECT RAISE(ABORT, 'witnessed audit heads are append-only'); END;
`;

export const num = (v: unknown): number | null => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : null);

export function rowOf(db: Db, sql: string, params: unknown[] = []): unknown[] | undefined {
  return db.prepare(sql).raw().get(params) as unknown[] | undefined;
}

export function rowsOf(db: Db, sql: string, params: unknown[] = []): unknown[][] {
  return db.prepare(sql).raw().all(params) as unknown[][];
}

/**
 * Files made before reports on recommendations, module health events and audit heads existed
 * refuse the kinds 'reco-report', 'module-health' or 'audit-head' in
 * `batches` (a CHECK constraint, which SQLite cannot alter): the table is rebuilt once with
 * the new constraint, rows kept, inside the opening transaction.
 */
function allowReportSequences(db: Db): void {
  const sql = rowOf(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'batches'")?.[0];
  if (typeof sql !== 'string' || sql.includes("'audit-head'")) return;
  db.exec(`
    ALTER TABLE batches RENAME TO batches_before_kinds;
    ${/CREATE TABLE IF NOT EXISTS batches \([\s\S]*?WITHOUT ROWID;/.exec(SCHEMA)![0]}
    INSERT INTO batches SELECT * FROM batches_before_kinds;
    DROP TABLE batches_before_kinds;
  `);
}

/**
 * Columns added after the first release: `plants.jump_base` (the operator let a plant's
 * sequence jump: `accept-jump`) and `plants.pruned_through` (retention deleted up to there).
 */
function addPlantColumns(db: Db): void {
  const have = new Set(rowsOf(db, 'PRAGMA table_info(plants)').map((r) => String(r[1])));
  for (const col of ['jump_base', 'pruned_through']) if (!have.has(col)) db.exec(`ALTER TABLE plants ADD COLUMN ${col} INTEGER`);
}

/** Opens (or creates) the receiver database at `path` and its tables; `key` (hex) encrypts it. */
export function openCloudDb(path: string, key?: string): Db {
  try {
    const db = new Database(path, (key ? { encryptionKey: key } : {}) as LibsqlOptions);
    // A full disk is reported as itself, not as "cannot rollback - no transaction is active".
    installSafeTransactions(db);
    db.exec('PRAGMA busy_timeout = 10000');
    rowOf(db, 'PRAGMA journal_mode = WAL');
    // Batches are acknowledged to the broker after their commit: a commit must survive power loss.
    db.exec('PRAGMA synchronous = FULL');
    db.transaction(() => {
      db.exec(SCHEMA);
      allowReportSequences(db);
      addPlantColumns(db);
      // After a rebuild of `batches` its index is to be made again.
      db.exec('CREATE INDEX IF NOT EXISTS batches_received ON batches (received_at)');
    }).immediate();
    return db;
  } catch (err) {
    throw new ConsoleError('UNAVAILABLE', `Cannot open the receiver database ${path}: ${(err as Error).message}`, { cause: err });
  }
}
