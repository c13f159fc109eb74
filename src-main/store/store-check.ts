/**
 * What the console checks when it opens its store, before it writes anything:
 *
 * - the database reads (`PRAGMA quick_check`): a truncated or damaged file is named, with what
 *   to do, instead of surfacing later as a stack trace;
 * - a file that does not decrypt is told apart: when it starts with the store's own salt
 *   (remembered by the sequence guard) the key is right and the header is damaged; only when
 *   it does not is it "another key";
 * - the uplink's sequence counter is not behind the guard (sequence-guard.ts): a store that
 *   was rolled back would number batches with numbers the cloud already holds.
 */
import type { Logger } from '../core/log';
import { StoreError } from './errors';
import type { StoreDb } from './schema';
import type { SequenceGuard } from './sequence-guard';

/** Meta key: sequence ranges lost to a crash or a rollback, for the uplink to declare in a gap notice. */
export const DECLARE_LOST_META = 'uplink.declare_lost';

const DAMAGE_CODES = /^SQLITE_(CORRUPT|IOERR|NOTADB|CANTOPEN|FORMAT)/;

/** True for errors that mean the file itself is damaged or unreadable. */
export function isDamage(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && DAMAGE_CODES.test(e.code)) return true;
  return typeof e.message === 'string' && /database disk image is malformed|file is not a database|disk I\/O error/i.test(e.message);
}

const WAY_FORWARD =
  'Stop the console and keep a copy of the data directory. Then restore plant.db (with plant.db-wal if there is one) ' +
  'from a backup of this data directory, or move plant.db aside to start a new store: the plant then makes new keys, ' +
  'which the supplier must register again (plant-console keys show), and its local history, alarms and audit log start empty.';

/** The store file is damaged: named, with the cause and what to do. */
export function damagedStoreError(path: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const cause = `${typeof e.code === 'string' ? `${e.code}: ` : ''}${typeof e.message === 'string' ? e.message : String(err)}`;
  return new StoreError('damaged', `The store file ${path} is damaged or truncated (${cause}). ${WAY_FORWARD}`, { cause: err });
}

/** A file that does not decrypt (`salt`: its first 8 bytes): damaged when it carries the store's own salt, another key otherwise; null when `err` is something else. */
export function notADatabaseError(
  path: string,
  err: unknown,
  knownSalt: string | null | undefined,
  salt: string | null,
): StoreError | null {
  const e = err as { code?: unknown; message?: unknown };
  const notADb = e.code === 'SQLITE_NOTADB' || (typeof e.message === 'string' && e.message.includes('file is not a database'));
  if (!notADb) return null;
  if (knownSalt && salt === knownSalt) {
    return new StoreError(
      'damaged',
      `The store file ${path} is damaged: its header cannot be read, although it is this store's own file (its salt matches store-guard.bin), so the key is right. ${WAY_FORWARD}`,
      { cause: err },
    );
  }
  if (knownSalt && salt !== null) {
    return new StoreError(
      'wrong-key',
      `${path} cannot be opened with this key: it was encrypted with another key, or it is not a plant store (it is not the file this data directory created).`,
      { cause: err },
    );
  }
  return new StoreError(
    'wrong-key',
    `${path} cannot be opened with this key: it was encrypted with another key, or it is not a plant store${salt === null ? ' (the file is shorter than a header: truncated?)' : ''}`,
    { cause: err },
  );
}

/** Runs `PRAGMA quick_check`; throws a StoreError naming the file and the first problems when it fails. */
export function checkIntegrity(db: StoreDb, path: string, log: Logger): void {
  const t = performance.now();
  let rows: unknown[][];
  try {
    rows = db.prepare('PRAGMA quick_check(5)').raw().all() as unknown[][];
  } catch (err) {
    throw damagedStoreError(path, err);
  }
  const problems = rows.map((r) => String(r[0]));
  if (problems.length !== 1 || problems[0] !== 'ok') {
    throw new StoreError('damaged', `The store file ${path} failed its integrity check: ${problems.join('; ')}. ${WAY_FORWARD}`);
  }
  const ms = performance.now() - t;
  if (ms > 1000) log.log('info', 'Store integrity checked', { ms: Math.round(ms) });
}

/** What the sequence check found (applied after the migrations by applySequenceCheck). */
export type SequenceVerdict =
  | { kind: 'ok'; stored: number }
  /** The store is ahead of the guard (a store from before the guard existed): the guard catches up. */
  | { kind: 'ahead'; stored: number }
  /** Numbers the guard reserved and the store does not have: skipped, and declared lost to the cloud. */
  | { kind: 'skip'; stored: number; from: number; to: number; rolledBack: boolean };

function storedSequence(db: StoreDb): number {
  const has = (t: string): boolean =>
    db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").raw().get([t]) !== undefined;
  let n = 0;
  if (has('sequence'))
    n = Number((db.prepare("SELECT value FROM sequence WHERE name = 'uplink'").raw().get() as [number] | undefined)?.[0] ?? 0);
  if (has('uplink_outbox'))
    n = Math.max(n, Number((db.prepare('SELECT coalesce(max(seq), 0) FROM uplink_outbox').raw().get() as [number])[0]));
  return n;
}

/**
 * Compares the store's uplink counter with the guard. Behind by more than the last reservation
 * means a rollback: a StoreError with the way forward, unless `acceptRollback`.
 */
export function judgeSequence(
  db: StoreDb,
  guard: SequenceGuard,
  opts: { dataDir: string; dbPath: string; acceptRollback: boolean },
): SequenceVerdict {
  const stored = storedSequence(db);
  const g = guard.record();
  if (stored === g.used) return { kind: 'ok', stored };
  if (stored > g.used) return { kind: 'ahead', stored };
  // One reservation behind: the console stopped between writing the guard and committing.
  if (stored >= g.before) return { kind: 'skip', stored, from: stored + 1, to: g.used, rolledBack: false };
  if (opts.acceptRollback) return { kind: 'skip', stored, from: stored + 1, to: g.used, rolledBack: true };
  throw new StoreError(
    'store-behind',
    `The store ${opts.dbPath} is behind its sequence guard ${guard.path}: its last uplink sequence number is ${stored}, ` +
      `but numbers up to ${g.used} were already used. The database was rolled back (a damaged write-ahead log, a restored ` +
      `backup of plant.db alone, or a disk that lost writes); numbering again from ${stored + 1} would reuse numbers the cloud ` +
      `may already hold, so the console does not start. Nothing was changed. Keep a copy of ${opts.dataDir}, then either ` +
      `restore the newest backup of the whole data directory, or run "plant-console store recover --data-dir ${opts.dataDir}" ` +
      `to continue at ${g.used + 1} and tell the cloud, in a signed gap notice, that ${stored + 1}..${g.used} may be lost ` +
      `(whatever else the store lost after that point, history, alarms or audit records, stays lost).`,
  );
}

/**
 * Moves the uplink counter to `to` (numbering continues at `to + 1`, in the store and in the
 * guard) and queues `from..to` to be declared lost to the cloud in the next gap notice.
 */
export function skipSequence(db: StoreDb, guard: SequenceGuard, from: number, to: number): void {
  db.transaction(() => {
    db.prepare("INSERT INTO sequence (name, value) VALUES ('uplink', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run([to]);
    const row = db.prepare('SELECT value FROM meta WHERE key = ?').raw().get([DECLARE_LOST_META]) as [string] | undefined;
    const ranges = row ? (JSON.parse(row[0]) as [number, number][]) : [];
    ranges.push([from, to]);
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run([
      DECLARE_LOST_META,
      JSON.stringify(ranges),
    ]);
  }).immediate();
  guard.reset(to);
}

/** Applies a verdict once the tables exist: the counter moves past every number ever used, and skipped ones wait to be declared. */
export function applySequenceCheck(db: StoreDb, guard: SequenceGuard, v: SequenceVerdict, log: Logger, fileSalt: string | null): void {
  // `fileSalt` was read before the database was opened (open.ts). A new store's first page
  // reaches plant.db only at its first checkpoint: the salt is taken at a later start.
  const salt = guard.record().dbSalt ?? fileSalt;
  if (salt) guard.setDbSalt(salt);
  if (v.kind === 'ok') return;
  if (v.kind === 'ahead') {
    guard.reset(v.stored);
    return;
  }
  skipSequence(db, guard, v.from, v.to);
  log.log(
    v.rolledBack ? 'error' : 'warn',
    v.rolledBack
      ? 'The store was rolled back: uplink numbering continues after the highest number ever used, and the cloud is told the skipped ones may be lost'
      : 'The console stopped between reserving uplink sequence numbers and recording them: they are skipped and declared lost, never reused',
    { from: v.from, to: v.to, stored: v.stored },
  );
}
