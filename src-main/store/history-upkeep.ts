/**
 * Retention and the disk budget of the SQL history, as a generator of short transactions (the
 * writer runs one per step). Raw chunks go by whole chunks and only once compacted (so their
 * minutes are rolled up); rollup chunks go by whole hours; KPI samples after the raw retention.
 * Over budget, the oldest compacted raw chunks go first, then the oldest rollup hours, until the
 * store is 5 % under its budget; the freed pages then go back to the file system.
 */
import type { HistoryNote, HistoryStats } from './history-writer';
import { HOUR_MS, MINUTE_MS } from './history-rollup';
import type { StoreDb } from './schema';

/** Cutoffs of one upkeep pass. */
export interface UpkeepRequest {
  /** Raw samples (and KPI samples) before this go. */
  olderThan: number;
  /** Rollup hours ending before this go. */
  rollupsBefore: number;
}

/** Series handled per transaction when deleting. */
const SERIES_PER_STEP = 200;
const MIB = 1024 * 1024;

type Span = { lo: number; hi: number } | null;

/** The upkeep of one pass, sharing the writer's counters. */
export function createUpkeep(db: StoreDb, stats: HistoryStats, budget: number, now: number, note: (n: HistoryNote) => void) {
  const q = {
    series: db.prepare('SELECT id FROM series ORDER BY id').raw(),
    dropRaw: db.prepare('DELETE FROM history_chunks WHERE series = ? AND t1 < ? AND level = 1 RETURNING n').raw(),
    dropRollups: db.prepare('DELETE FROM history_rollups WHERE series = ? AND hour < ? RETURNING rows').raw(),
    dropKpis: db.prepare('DELETE FROM kpi_samples WHERE rowid IN (SELECT rowid FROM kpi_samples WHERE t < ? LIMIT 5000)'),
    rawSpan: db
      .prepare(
        'SELECT (SELECT t1 FROM history_chunks WHERE series = s.id AND level = 1 ORDER BY t1 LIMIT 1), (SELECT t1 FROM history_chunks WHERE series = s.id ORDER BY t1 DESC LIMIT 1) FROM series s',
      )
      .raw(),
    rollupSpan: db
      .prepare(
        'SELECT (SELECT hour FROM history_rollups WHERE series = s.id ORDER BY hour LIMIT 1), (SELECT hour FROM history_rollups WHERE series = s.id ORDER BY hour DESC LIMIT 1) FROM series s',
      )
      .raw(),
    pageCount: db.prepare('PRAGMA page_count').raw(),
    freePages: db.prepare('PRAGMA freelist_count').raw(),
    pageSize: db.prepare('PRAGMA page_size').raw(),
  };
  const pragma = (stmt: typeof q.pageCount): number => Number((stmt.get() as [number] | undefined)?.[0] ?? 0);
  const usedBytes = (): number => (pragma(q.pageCount) - pragma(q.freePages)) * pragma(q.pageSize);
  const seriesIds = (): number[] => (q.series.all() as [number][]).map((r) => r[0]);

  /** Deletes, a few series per transaction, what `drop` removes below `cutoff`; yields between; returns the count. */
  function* deleteBefore(drop: typeof q.dropRaw, cutoff: number, into: { removed: number }): Generator<void, void, void> {
    const ids = seriesIds();
    for (let i = 0; i < ids.length; i += SERIES_PER_STEP) {
      const part = ids.slice(i, i + SERIES_PER_STEP);
      into.removed += db.transaction(() => {
        let removed = 0;
        for (const id of part) for (const [count] of drop.iterate([id, cutoff]) as Iterable<[number]>) removed += count;
        return removed;
      })();
      yield;
    }
  }

  const span = (stmt: typeof q.rawSpan): Span => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const [a, b] of stmt.all() as [number | null, number | null][]) {
      if (a !== null && a < lo) lo = a;
      if (b !== null && b > hi) hi = b;
    }
    return Number.isFinite(lo) ? { lo, hi: Math.max(lo, hi) } : null;
  };

  /** Deletes the oldest of one tier in steps until usedBytes ≤ target; returns [removed, last cutoff]. */
  function* trimTier(
    drop: typeof q.dropRaw,
    spanOf: () => Span,
    minStep: number,
    target: number,
    out: { removed: number; cutoff: number },
  ): Generator<void, void, void> {
    // Rows arrive at a steady rate, so the share of a tier's time span ≈ the share of its bytes.
    for (let round = 0; round < 40; round++) {
      const used = usedBytes();
      if (used <= target) return;
      const range = spanOf();
      if (!range) return;
      const share = Math.min(0.5, Math.max(0.02, (used - target) / used));
      const cutoff = Math.max(range.lo + minStep, range.lo + (range.hi - range.lo) * share);
      const step = { removed: 0 };
      yield* deleteBefore(drop, cutoff, step);
      out.removed += step.removed;
      out.cutoff = cutoff;
      if (step.removed === 0) return;
    }
  }

  function* enforceBudget(): Generator<void, void, void> {
    stats.usedBytes = usedBytes();
    if (stats.usedBytes <= budget) {
      stats.overBudget = false;
      return;
    }
    const before = stats.usedBytes;
    const started = performance.now();
    // Below the budget, so the next minutes of samples do not trigger a trim each time.
    const target = budget * 0.95;
    const raw = { removed: 0, cutoff: -Infinity };
    yield* trimTier(q.dropRaw, () => span(q.rawSpan), MINUTE_MS, target, raw);
    const rollups = { removed: 0, cutoff: -Infinity };
    yield* trimTier(q.dropRollups, () => span(q.rollupSpan), HOUR_MS, target, rollups);
    if (raw.removed + rollups.removed > 0) {
      releaseSpace();
      stats.budgetTrims++;
      stats.budgetTrimmed += raw.removed;
      stats.budgetTrimmedRollups += rollups.removed;
      stats.lastBudgetTrimAt = now;
    }
    stats.usedBytes = usedBytes();
    stats.overBudget = stats.usedBytes > budget;
    const mib = (b: number): number => +(b / MIB).toFixed(1);
    if (raw.removed + rollups.removed > 0) {
      const when = Number.isFinite(raw.cutoff) ? ` (before ${new Date(raw.cutoff).toISOString()})` : '';
      note({
        level: 'warn',
        msg: `History over its disk budget: trimmed the ${raw.removed} oldest samples${when} and ${rollups.removed} rollup rows`,
        data: {
          usedMiB: mib(before),
          nowMiB: mib(stats.usedBytes),
          budgetMiB: mib(budget),
          budgetTrims: stats.budgetTrims,
          ms: Math.round(performance.now() - started),
        },
      });
    }
    if (stats.overBudget)
      note({
        level: 'warn',
        msg: 'The store is over its disk budget with no history left to trim',
        data: { usedMiB: mib(stats.usedBytes), budgetMiB: mib(budget) },
      });
  }

  const releaseSpace = (): void => {
    // Free pages go back to the file system (auto_vacuum = INCREMENTAL), then out of the WAL.
    db.prepare('PRAGMA incremental_vacuum').all();
    db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').all();
  };

  return {
    usedBytes,
    /** Retention of raw samples, KPI samples and rollups, then the budget. */
    *run(request: UpkeepRequest): Generator<void, void, void> {
      const raw = { removed: 0 };
      yield* deleteBefore(q.dropRaw, request.olderThan, raw);
      stats.retentionTrimmed += raw.removed;
      while (db.transaction(() => q.dropKpis.run([request.olderThan]).changes)() > 0) yield;
      // An hour of rollups goes once all of it is older than the cutoff.
      const rollups = { removed: 0 };
      yield* deleteBefore(q.dropRollups, request.rollupsBefore - HOUR_MS + 1, rollups);
      stats.rollupRetentionTrimmed += rollups.removed;
      yield* enforceBudget();
    },
  };
}
