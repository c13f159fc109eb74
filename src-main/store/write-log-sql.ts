/**
 * The write log on the encrypted database: every bounded write and revert, refusals included,
 * because the log is the audit trail of who asked for what change and why it was or was not made.
 *
 * Bounds: an entry goes only when it is both older than the retention (default a year) and
 * not among the newest `keepEntries` (default 100 000), so a quiet plant keeps its last
 * 100 000 changes and a busy one its last year. A hard cap (default 250 000 entries, about
 * 150 MB) protects the disk from a runaway API client; it wins over both, and what it drops
 * is counted in `meta` (surviving restarts) and logged.
 *
 * "Newest first" is by completion time, ties in append order; the write service appends when
 * a write completes, so this is the order in which results were recorded.
 */
import { WriteResultSchema, type WriteResult } from '../../src-preload/contract';
import type { Logger } from '../core/log';
import { systemClock, type Clock } from '../core/types';
import type { WriteLogQuery, WriteLogStore } from '../core/write-log';
import type { StoreDb } from './schema';

/** Options of the SQL write log. */
export interface SqlWriteLogOptions {
  log: Logger;
  clock?: Clock;
  /** Entries younger than this are never removed for their age (default 366 days). */
  retentionMs?: number;
  /** The newest entries kept whatever their age (default 100 000). */
  keepEntries?: number;
  /** Hard cap on kept entries, over everything else (default 250 000; at least `keepEntries`). */
  maxEntries?: number;
}

/** Counters an operator can see. */
export interface SqlWriteLogStats {
  entries: number;
  /** Removed by age beyond the newest `keepEntries` (the policy, not a loss). */
  expired: number;
  /** Removed by the hard cap although still inside the retention. */
  dropped: number;
  /** Appends the database refused (the write service's log line is then the only record). */
  failed: number;
}

/** A WriteLogStore on the database, with its counters. */
export interface SqlWriteLog extends WriteLogStore {
  stats(): SqlWriteLogStats;
}

const DAY_MS = 86_400_000;
/** Defaults of the bounds (see the header). */
export const DEFAULT_WRITE_LOG_RETENTION_MS = 366 * DAY_MS;
export const DEFAULT_WRITE_LOG_KEEP = 100_000;
export const DEFAULT_WRITE_LOG_MAX = 250_000;
const DROPPED_KEY = 'write_log_dropped';
const LOG_EVERY_MS = 60_000;

/** Creates the write log over an open, migrated store database. */
export function createSqlWriteLog(db: StoreDb, opts: SqlWriteLogOptions): SqlWriteLog {
  const clock = opts.clock ?? systemClock;
  const log = opts.log;
  const retentionMs = opts.retentionMs ?? DEFAULT_WRITE_LOG_RETENTION_MS;
  const keep = Math.max(1, Math.floor(opts.keepEntries ?? DEFAULT_WRITE_LOG_KEEP));
  const cap = Math.max(keep, Math.floor(opts.maxEntries ?? DEFAULT_WRITE_LOG_MAX));

  const q = {
    insert: db.prepare(
      'INSERT OR REPLACE INTO write_log (id, machine, point, user, at, outcome, revert_of, entry) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    get: db.prepare('SELECT entry FROM write_log WHERE id = ?').raw(),
    all: db.prepare('SELECT id, entry FROM write_log ORDER BY at DESC, rowid DESC LIMIT ?').raw(),
    byMachine: db.prepare('SELECT id, entry FROM write_log WHERE machine = ? ORDER BY at DESC, rowid DESC LIMIT ?').raw(),
    count: db.prepare('SELECT count(*) FROM write_log').raw(),
    expire: db.prepare('DELETE FROM write_log WHERE rowid IN (SELECT rowid FROM write_log WHERE at < ? ORDER BY at, rowid LIMIT ?)'),
    dropOldest: db.prepare('DELETE FROM write_log WHERE rowid IN (SELECT rowid FROM write_log ORDER BY at, rowid LIMIT ?)'),
    readMeta: db.prepare('SELECT value FROM meta WHERE key = ?').raw(),
    writeMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
  };

  let entries = (q.count.get() as [number] | undefined)?.[0] ?? 0;
  let dropped = Number((q.readMeta.get([DROPPED_KEY]) as [string] | undefined)?.[0] ?? 0) || 0;
  let expired = 0;
  let failed = 0;
  let lastDropLogAt = -Infinity;
  let lastFailLogAt = -Infinity;
  const bad = new Set<string>();

  /** Applies both bounds inside the caller's transaction to a log of `count` entries; returns what went. */
  const boundInTx = (count: number, now: number): { expired: number; dropped: number } => {
    let n = count;
    let gone = 0;
    if (n > keep) {
      gone = q.expire.run([now - retentionMs, n - keep]).changes;
      n -= gone;
    }
    let capped = 0;
    if (n > cap) {
      capped = q.dropOldest.run([n - cap]).changes;
      q.writeMeta.run([DROPPED_KEY, String(dropped + capped)]);
    }
    return { expired: gone, dropped: capped };
  };

  const afterBound = (r: { expired: number; dropped: number }): void => {
    entries -= r.expired + r.dropped;
    expired += r.expired;
    if (r.dropped === 0) return;
    dropped += r.dropped;
    const now = clock.now();
    if (now - lastDropLogAt >= LOG_EVERY_MS) {
      lastDropLogAt = now;
      log.log('warn', `The write log is at its cap of ${cap} entries: the oldest are dropped although younger than the retention`, {
        dropped,
        cap,
      });
    }
  };

  const appendTx = db.transaction((e: WriteResult, now: number) => {
    const replaced = q.get.get([e.id]) !== undefined;
    q.insert.run([e.id, e.machineId, e.pointId, e.user, e.at, e.outcome, e.revertOf, JSON.stringify(e)]);
    const count = entries + (replaced ? 0 : 1);
    return { count, ...boundInTx(count, now) };
  });

  const parse = (id: string, json: string): WriteResult | undefined => {
    try {
      return WriteResultSchema.parse(JSON.parse(json));
    } catch (err) {
      if (!bad.has(id) && bad.size < 1000) {
        bad.add(id);
        log.log('error', 'Write log: a stored entry cannot be read and is skipped', {
          writeId: id,
          error: err instanceof Error ? err.message : String(err),
        });
      }
      return undefined;
    }
  };

  // Bounds lowered since the last run apply at once.
  afterBound(db.transaction(() => boundInTx(entries, clock.now()))());

  return {
    append(entry) {
      try {
        const r = appendTx(entry, clock.now());
        entries = r.count;
        afterBound(r);
      } catch (err) {
        // Not thrown: the write has happened on the machine; failing the caller now would hide
        // its outcome. The write service logs every result in full, which stays as the record.
        failed++;
        const now = clock.now();
        if (now - lastFailLogAt >= LOG_EVERY_MS) {
          lastFailLogAt = now;
          log.log('error', `Write log: an entry could not be stored: ${err instanceof Error ? err.message : String(err)}`, {
            writeId: entry.id,
            failed,
          });
        }
      }
    },
    get(id) {
      const row = q.get.get([id]) as [string] | undefined;
      return row ? parse(id, row[0]) : undefined;
    },
    list({ machineId, limit }: WriteLogQuery) {
      const ceil = Math.max(0, Math.ceil(limit));
      if (ceil === 0 || Number.isNaN(ceil)) return [];
      // SQLite takes -1 as "no limit"; Infinity cannot be bound.
      const n = Number.isFinite(ceil) ? ceil : -1;
      const rows = (machineId === undefined ? q.all.all([n]) : q.byMachine.all([machineId, n])) as [string, string][];
      const out: WriteResult[] = [];
      for (const [id, json] of rows) {
        const e = parse(id, json);
        if (e) out.push(e);
      }
      return out;
    },
    stats: () => ({ entries, expired, dropped, failed }),
  };
}
