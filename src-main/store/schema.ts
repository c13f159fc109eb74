/**
 * The store's schema as an ordered list of migrations. Later work only appends migrations;
 * pending ones are applied in one transaction, so a crash leaves the old schema or the new one.
 */
import type Database from 'libsql';
import { StoreError } from './errors';
import { migrateHistoryToChunks } from './history-migrate';

export type StoreDb = Database.Database;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** A step in code after the SQL, in the same transaction (converting data the SQL cannot). */
  run?: (db: StoreDb) => void;
}

/**
 * Migration 1 creates every table the issue needs, including the ones later work fills (outbox,
 * write log, alarms), so that work only adds migrations. History rows name their series by id
 * (machine and point strings once, in `series`) and the table has no rowid: about 27 bytes a
 * sample instead of 45, and range deletes 20× faster, which is what the disk budget trims by.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      CREATE TABLE series (
        id      INTEGER PRIMARY KEY,
        machine TEXT NOT NULL,
        point   TEXT NOT NULL,
        UNIQUE (machine, point)
      ) STRICT;

      -- n tells apart samples of one series with the same t (kept, as the in-memory store does).
      CREATE TABLE history (
        series INTEGER NOT NULL,
        t      INTEGER NOT NULL,
        n      INTEGER NOT NULL DEFAULT 0,
        v      REAL,
        PRIMARY KEY (series, t, n)
      ) WITHOUT ROWID;

      CREATE TABLE kpi_samples (
        machine      TEXT NOT NULL,
        t            INTEGER NOT NULL,
        availability REAL,
        performance  REAL,
        quality      REAL,
        oee          REAL,
        good_count   REAL NOT NULL,
        scrap_count  REAL NOT NULL
      );
      CREATE INDEX kpi_samples_machine_t ON kpi_samples (machine, t);

      -- The plant's own key pairs; secrets are protected by the database encryption.
      CREATE TABLE plant_keys (
        key_id     TEXT PRIMARY KEY,
        kind       TEXT NOT NULL CHECK (kind IN ('ed25519', 'x25519')),
        public_key BLOB NOT NULL,
        secret_key BLOB NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('current', 'retired')),
        created_at INTEGER NOT NULL,
        retired_at INTEGER
      ) STRICT;
      CREATE UNIQUE INDEX plant_keys_one_current ON plant_keys (kind) WHERE status = 'current';

      CREATE TABLE uplink_outbox (
        id         INTEGER PRIMARY KEY,
        seq        INTEGER NOT NULL UNIQUE,
        kind       TEXT NOT NULL,
        machine    TEXT,
        bytes      BLOB NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;

      -- Counters that must survive restarts; value = the last number handed out.
      CREATE TABLE sequence (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) STRICT;
      INSERT INTO sequence (name, value) VALUES ('uplink', 0);

      CREATE TABLE write_log (
        id         TEXT PRIMARY KEY,
        machine    TEXT NOT NULL,
        point      TEXT NOT NULL,
        user       TEXT NOT NULL,
        at         INTEGER NOT NULL,
        outcome    TEXT NOT NULL,
        revert_of  TEXT,
        entry      TEXT NOT NULL
      ) STRICT;
      CREATE INDEX write_log_at ON write_log (at);
      CREATE INDEX write_log_machine_at ON write_log (machine, at);

      CREATE TABLE alarms (
        id         TEXT PRIMARY KEY,
        machine    TEXT NOT NULL,
        state      TEXT NOT NULL,
        raised_at  INTEGER NOT NULL,
        alarm      TEXT NOT NULL
      ) STRICT;

      CREATE TABLE alarm_events (
        id       INTEGER PRIMARY KEY,
        at       INTEGER NOT NULL,
        alarm_id TEXT NOT NULL,
        machine  TEXT NOT NULL,
        event    TEXT NOT NULL,
        entry    TEXT NOT NULL
      ) STRICT;
      CREATE INDEX alarm_events_at ON alarm_events (at);
    `,
  },
  {
    // Accounts, sessions and the audit log (src-main/auth/, src-main/audit/). Session tokens are
    // kept only as hashes. The audit triggers stop the console itself from ever changing a
    // record; someone with the store key can drop them, which the hash chain and the signed
    // heads then reveal (src-main/audit/record.ts).
    version: 2,
    name: 'accounts, sessions and audit log',
    sql: `
      CREATE TABLE users (
        name                TEXT PRIMARY KEY,
        role                TEXT NOT NULL CHECK (role IN ('operator', 'maintenance', 'admin', 'supplier-support')),
        disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        password_hash       TEXT NOT NULL,
        pin_hash            TEXT,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL,
        password_changed_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE sessions (
        id         TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        user       TEXT NOT NULL,
        role       TEXT NOT NULL,
        origin     TEXT NOT NULL CHECK (origin IN ('local', 'remote')),
        source     TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        idle_ms    INTEGER,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX sessions_user ON sessions (user);

      CREATE TABLE audit_log (
        seq        INTEGER PRIMARY KEY,
        at         INTEGER NOT NULL,
        kind       TEXT NOT NULL,
        user       TEXT,
        role       TEXT,
        origin     TEXT,
        session_id TEXT,
        machine_id TEXT,
        detail     TEXT NOT NULL,
        prev_hash  TEXT NOT NULL,
        hash       TEXT NOT NULL
      ) STRICT;
      CREATE INDEX audit_log_at ON audit_log (at);
      CREATE INDEX audit_log_user ON audit_log (user, seq);
      CREATE INDEX audit_log_machine ON audit_log (machine_id, seq);

      CREATE TABLE audit_heads (
        id        INTEGER PRIMARY KEY,
        seq       INTEGER NOT NULL,
        hash      TEXT NOT NULL,
        signed_at INTEGER NOT NULL,
        key_id    TEXT NOT NULL,
        signature TEXT NOT NULL
      ) STRICT;

      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_heads_no_update BEFORE UPDATE ON audit_heads BEGIN SELECT RAISE(ABORT, 'signed audit heads are append-only'); END;
      CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads BEGIN SELECT RAISE(ABORT, 'signed audit heads are append-only'); END;

      INSERT INTO sequence (name, value) VALUES ('audit', 0);
    `,
  },
  {
    // The downsampled history tier (src-main/store/history-rollup.ts): per series and minute the
    // count of values and of gaps, min, max, mean, and whether the minimum came first. Kept for
    // history.rollupRetentionDays after the raw samples are gone.
    version: 3,
    name: 'history rollups',
    sql: `
      CREATE TABLE history_rollup (
        series    INTEGER NOT NULL,
        t         INTEGER NOT NULL,
        n         INTEGER NOT NULL,
        gaps      INTEGER NOT NULL,
        min       REAL,
        max       REAL,
        avg       REAL,
        min_first INTEGER NOT NULL,
        PRIMARY KEY (series, t)
      ) WITHOUT ROWID;
    `,
  },
  {
    // Remote support grants and change requests survive a restart (src-main/remote/grant-store.ts:
    // the row's JSON is the grant or request as the API shows it; the join code only as its keyed
    // hash). config_snapshot holds the canonical JSON of the configuration seen at the last start
    // (never a secret), which the next start compares with (src-main/config/config-audit.ts).
    version: 4,
    name: 'remote grants, change requests and config snapshot',
    sql: `
      CREATE TABLE remote_grants (
        id         TEXT PRIMARY KEY,
        state      TEXT NOT NULL CHECK (state IN ('waiting', 'live', 'ended')),
        created_at INTEGER NOT NULL,
        grant_json TEXT NOT NULL,
        code_hash  BLOB,
        failures   INTEGER NOT NULL DEFAULT 0
      ) STRICT;

      CREATE TABLE remote_requests (
        id           TEXT PRIMARY KEY,
        grant_id     TEXT NOT NULL,
        state        TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        request_json TEXT NOT NULL
      ) STRICT;
      CREATE INDEX remote_requests_grant ON remote_requests (grant_id);

      CREATE TABLE config_snapshot (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        hash      TEXT NOT NULL,
        snapshot  TEXT NOT NULL,
        taken_at  INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    // Supplier recommendations (src-main/recommendations/store.ts). reco_seen keeps every
    // authenticated id forever (a replayed id is refused; the digest tells a broker's redelivery
    // of the same message apart). reco_items holds accepted ones with their decision, apply
    // result, outcome and, while an apply runs, its progress (JSON of the contract's shapes).
    version: 5,
    name: 'supplier recommendations',
    sql: `
      CREATE TABLE reco_seen (
        id       TEXT PRIMARY KEY,
        digest   TEXT NOT NULL,
        first_at INTEGER NOT NULL,
        accepted INTEGER NOT NULL CHECK (accepted IN (0, 1))
      ) STRICT;

      CREATE TABLE reco_items (
        id          TEXT PRIMARY KEY,
        machine     TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        status      TEXT NOT NULL,
        body        TEXT NOT NULL,
        decision    TEXT,
        apply       TEXT,
        outcome     TEXT,
        progress    TEXT,
        updated_at  INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX reco_items_received ON reco_items (received_at);

      CREATE TABLE reco_refused (
        id          INTEGER PRIMARY KEY,
        ref         TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        code        TEXT NOT NULL,
        message     TEXT NOT NULL,
        machine     TEXT
      ) STRICT;
    `,
  },
  {
    // IoT modules and their firmware (src-main/modules/store.ts). firmware_root is the pinned root
    // of trust (its canonical bytes, and the signatures of the rotation that brought it; [] for
    // the provisioned one). Release images are kept in 1 MiB chunks so a resumed download reads
    // only what it needs. modules, module_events and firmware_rollouts hold JSON of the
    // contract's shapes plus what the console keeps of each module (its paired key).
    version: 6,
    name: 'iot modules and firmware',
    sql: `
      CREATE TABLE firmware_root (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        root       BLOB NOT NULL,
        signatures TEXT NOT NULL,
        version    INTEGER NOT NULL,
        pinned_at  INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE firmware_releases (
        id          TEXT PRIMARY KEY,
        manifest    BLOB NOT NULL,
        signatures  TEXT NOT NULL,
        info        TEXT NOT NULL,
        imported_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE firmware_chunks (
        release TEXT NOT NULL,
        n       INTEGER NOT NULL,
        bytes   BLOB NOT NULL,
        PRIMARY KEY (release, n)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE firmware_refused (
        id    INTEGER PRIMARY KEY,
        at    INTEGER NOT NULL,
        entry TEXT NOT NULL
      ) STRICT;

      CREATE TABLE modules (
        id         TEXT PRIMARY KEY,
        record     TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE module_events (
        id     INTEGER PRIMARY KEY,
        module TEXT NOT NULL,
        at     INTEGER NOT NULL,
        entry  TEXT NOT NULL
      ) STRICT;
      CREATE INDEX module_events_module ON module_events (module, id);

      CREATE TABLE firmware_rollouts (
        id          TEXT PRIMARY KEY,
        state       TEXT NOT NULL,
        approved_at INTEGER NOT NULL,
        rollout     TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    // Sign-in failure counters and lockouts (src-main/auth/throttle-sql.ts): kept over a restart,
    // listed and lifted by an admin. `key` names the scope, the source and the account tried.
    version: 7,
    name: 'sign-in lockouts',
    sql: `
      CREATE TABLE login_throttle (
        key             TEXT PRIMARY KEY,
        scope           TEXT NOT NULL CHECK (scope IN ('account', 'source', 'network', 'pin')),
        user            TEXT,
        source          TEXT,
        origin          TEXT,
        failures        INTEGER NOT NULL,
        last_failure_at INTEGER NOT NULL,
        locked_at       INTEGER,
        locked_until    INTEGER
      ) STRICT;
      CREATE INDEX login_throttle_locked ON login_throttle (locked_until) WHERE locked_until IS NOT NULL;
    `,
  },
  {
    // History as compressed chunks (src-main/store/history-writer.ts, chunk-codec.ts,
    // docs/history.md): one row per series and run of samples, one per series and hour of
    // one-minute rollups. `level` 0 is a chunk as sealed from memory, 1 one compacted into the
    // single chunk of its 10-minute block (and rolled up). The row-per-sample tables of schema 6
    // are converted (history-migrate.ts) and dropped.
    version: 8,
    name: 'history in compressed chunks',
    sql: `
      CREATE TABLE history_chunks (
        id     INTEGER PRIMARY KEY,
        series INTEGER NOT NULL,
        t0     INTEGER NOT NULL,
        t1     INTEGER NOT NULL,
        n      INTEGER NOT NULL,
        level  INTEGER NOT NULL CHECK (level IN (0, 1)),
        data   BLOB NOT NULL
      ) STRICT;
      CREATE INDEX history_chunks_series_t1 ON history_chunks (series, t1);
      CREATE INDEX history_chunks_fresh ON history_chunks (series, t1) WHERE level = 0;

      CREATE TABLE history_rollups (
        id     INTEGER PRIMARY KEY,
        series INTEGER NOT NULL,
        hour   INTEGER NOT NULL,
        rows   INTEGER NOT NULL,
        data   BLOB NOT NULL,
        UNIQUE (series, hour)
      ) STRICT;
    `,
    run: (db) => migrateHistoryToChunks(db),
  },
];

/**
 * A BLOB column as a Buffer: libsql returns BLOBs as Buffers from `.get()` but as ArrayBuffers
 * from `.all()`/`.iterate()`. The Buffer shares the row's memory, so zeroing it zeroes the row.
 */
export function blobOf(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`expected a BLOB, got ${typeof value}`);
}

/** The newest schema version this build knows. */
export const SCHEMA_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);

/** The schema version of an open database (0 for a new one). */
export function schemaVersion(db: StoreDb): number {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT',
  );
  const row = db.prepare('SELECT max(version) FROM schema_version').raw().get() as [number | null] | undefined;
  return row?.[0] ?? 0;
}

/** Applies the pending migrations in one transaction; returns the versions applied. */
export function migrate(db: StoreDb, migrations: readonly Migration[] = MIGRATIONS, now: number = Date.now()): number[] {
  const current = schemaVersion(db);
  const newest = migrations.reduce((v, m) => Math.max(v, m.version), 0);
  if (current > newest) {
    throw new StoreError(
      'schema-too-new',
      `The store was written by a newer Plant Console (schema ${current}, this one knows ${newest}): update the console`,
    );
  }
  const pending = [...migrations].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  if (pending.length === 0) return [];
  const record = db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (const m of pending) {
      db.exec(m.sql);
      m.run?.(db);
      record.run([m.version, m.name, now]);
    }
  }).immediate();
  return pending.map((m) => m.version);
}
