/**
 * The SQL history's upkeep: retention (raw samples rolled up, then deleted; rollups and KPI
 * samples deleted after theirs), the disk budget (oldest first, tier by tier), and the counters
 * an operator sees. Nothing here throws out of a timer: failures are counted and logged, at most
 * once a minute.
 */
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import { MINUTE_MS, seriesSpan, trimOldestFirst, type Rollup } from './history-rollup';
import type { StoreDb } from './schema';

const MIB = 1024 * 1024;
/** Minutes are rolled up once they are this old (appends arrive in time order, flushed well before). */
const ROLLUP_SETTLE_MS = 10 * MINUTE_MS;

/** Counters an operator can see (health page, logs). */
export interface SqlHistoryStats {
  samplesWritten: number;
  /** Samples lost because the database refused a write (disk full, I/O error). */
  samplesDropped: number;
  retentionTrimmed: number;
  /** One-minute rollup rows written (a minute rolled up again counts again), and removed by their retention. */
  rolledUp: number;
  rollupRetentionTrimmed: number;
  /** How many times the disk budget forced a trim, and how many raw samples and rollup rows it removed. */
  budgetTrims: number;
  budgetTrimmed: number;
  budgetTrimmedRollups: number;
  lastBudgetTrimAt: number | null;
  usedBytes: number;
  budgetBytes: number;
  /** Still over budget after trimming every sample (other tables fill it). */
  overBudget: boolean;
  errors: number;
}

/** What maintenance needs from the store it serves. */
export interface HistoryMaintenanceOptions {
  rollup: Rollup;
  retentionMs: number;
  rollupRetentionMs: number;
  budget: number;
  clock: Clock;
  log: Logger;
  /** Writes the store's buffered appends (before a trim, so none are older than what it keeps). */
  flush: () => void;
}

/** The maintenance of one SQL history, sharing its counters and failure log with the store. */
export interface HistoryMaintenance {
  /** The live counters (the store copies them out). */
  stats: SqlHistoryStats;
  /** Counts a failure and logs it at most once a minute. */
  failed(what: string, err: unknown): void;
  usedBytes(): number;
  /** Rolls up, then deletes raw samples and KPIs before olderThanMs and rollups before rollupsBefore; may throw. */
  trim(olderThanMs: number, rollupsBefore?: number): void;
  /** Applies the retention and the disk budget now; never throws. */
  maintain(): void;
}

/** Creates the maintenance of the SQL history over an open, migrated store database. */
export function createHistoryMaintenance(db: StoreDb, opts: HistoryMaintenanceOptions): HistoryMaintenance {
  const { rollup, retentionMs, rollupRetentionMs, budget, clock, log, flush } = opts;
  const q = {
    allSeries: db.prepare('SELECT id FROM series').raw(),
    deleteBefore: db.prepare('DELETE FROM history WHERE series = ? AND t < ?'),
    kpiDelete: db.prepare('DELETE FROM kpi_samples WHERE t < ?'),
    pageCount: db.prepare('PRAGMA page_count').raw(),
    freePages: db.prepare('PRAGMA freelist_count').raw(),
    pageSize: db.prepare('PRAGMA page_size').raw(),
  };

  const stats: SqlHistoryStats = {
    samplesWritten: 0,
    samplesDropped: 0,
    retentionTrimmed: 0,
    rolledUp: 0,
    rollupRetentionTrimmed: 0,
    budgetTrims: 0,
    budgetTrimmed: 0,
    budgetTrimmedRollups: 0,
    lastBudgetTrimAt: null,
    usedBytes: 0,
    budgetBytes: budget,
    overBudget: false,
    errors: 0,
  };
  let lastErrorLogAt = -Infinity;

  /** Counts a failure and logs it at most once a minute, so a full disk cannot flood the log. */
  const failed = (what: string, err: unknown): void => {
    stats.errors++;
    const now = clock.now();
    if (now - lastErrorLogAt >= 60_000) {
      lastErrorLogAt = now;
      log.log('error', `History store: ${what} failed: ${err instanceof Error ? err.message : String(err)}`, {
        errors: stats.errors,
        dropped: stats.samplesDropped,
      });
    }
  };

  const pragmaNumber = (stmt: typeof q.pageCount): number => Number((stmt.get() as [number] | undefined)?.[0] ?? 0);
  const usedBytes = (): number => (pragmaNumber(q.pageCount) - pragmaNumber(q.freePages)) * pragmaNumber(q.pageSize);

  /**
   * Deletes the raw samples (all series) with t < cutoff whose minute is rolled up; returns how
   * many. The cutoff is aligned down to a minute, so raw samples start where a rollup ends.
   */
  const deleteBefore = (cutoff: number): number => {
    const ids = (q.allSeries.all() as [number][]).map((r) => r[0]);
    const aligned = Math.floor(cutoff / MINUTE_MS) * MINUTE_MS;
    return db.transaction(() => {
      let removed = 0;
      for (const id of ids) {
        const upTo = Math.min(aligned, rollup.rolledThrough(id));
        if (upTo > -Infinity) removed += q.deleteBefore.run([id, upTo]).changes;
      }
      return removed;
    })();
  };

  const rollUp = (): void => {
    stats.rolledUp += rollup.rollUp(clock.now() - ROLLUP_SETTLE_MS);
  };

  const rawSpan = seriesSpan(db, 'history');

  const releaseSpace = (): void => {
    // Free pages go back to the file system (auto_vacuum = INCREMENTAL), then out of the WAL.
    db.prepare('PRAGMA incremental_vacuum').all();
    db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').all();
  };

  const enforceBudget = (): void => {
    const used = usedBytes();
    stats.usedBytes = used;
    if (used <= budget) {
      stats.overBudget = false;
      return;
    }
    const before = used;
    const started = performance.now();
    // Trim below the budget, so the next minutes of samples do not trigger a trim each time.
    const target = budget * 0.95;
    // Oldest first, tier by tier: raw samples already rolled up, then rollups.
    const trimmed = trimOldestFirst(
      [
        { span: rawSpan, deleteBefore },
        { span: rollup.span, deleteBefore: rollup.deleteBefore },
      ],
      target,
      usedBytes,
    );
    const [removed, cutoff] = trimmed[0] ?? [0, -Infinity];
    const removedRollups = trimmed[1]?.[0] ?? 0;
    if (removed + removedRollups > 0) releaseSpace();
    stats.usedBytes = usedBytes();
    stats.overBudget = stats.usedBytes > budget;
    if (removed + removedRollups > 0) {
      stats.budgetTrims++;
      stats.budgetTrimmed += removed;
      stats.budgetTrimmedRollups += removedRollups;
      stats.lastBudgetTrimAt = clock.now();
      const when = Number.isFinite(cutoff) ? ` (before ${new Date(cutoff).toISOString()})` : '';
      log.log('warn', `History over its disk budget: trimmed the ${removed} oldest samples${when} and ${removedRollups} rollup rows`, {
        usedMiB: +(before / MIB).toFixed(1),
        nowMiB: +(stats.usedBytes / MIB).toFixed(1),
        budgetMiB: +(budget / MIB).toFixed(1),
        budgetTrims: stats.budgetTrims,
        ms: Math.round(performance.now() - started),
      });
    }
    if (stats.overBudget) {
      log.log('warn', 'The store is over its disk budget with no history left to trim', {
        usedMiB: +(stats.usedBytes / MIB).toFixed(1),
        budgetMiB: +(budget / MIB).toFixed(1),
      });
    }
  };

  /** Rolls up, then deletes raw samples and KPIs before olderThanMs and rollups before rollupsBefore. */
  const trim = (olderThanMs: number, rollupsBefore = -Infinity): void => {
    flush();
    rollUp();
    const removed = deleteBefore(olderThanMs);
    q.kpiDelete.run([olderThanMs]);
    stats.retentionTrimmed += removed;
    if (rollupsBefore > -Infinity) stats.rollupRetentionTrimmed += rollup.deleteBefore(rollupsBefore);
    enforceBudget();
  };

  const maintain = (): void => {
    try {
      const now = clock.now();
      trim(now - retentionMs, now - rollupRetentionMs);
    } catch (err) {
      failed('retention and budget maintenance', err);
    }
  };

  return { stats, failed, usedBytes, trim, maintain };
}
