/**
 * History on the encrypted database, with the same semantics as the in-memory store (append in
 * time order per series, a null is a gap, min/max-preserving downsampling in queries).
 *
 * Appends are buffered per series and written every 30 s by default, in transactions of whole
 * series. Rows are clustered by series, so a flush rewrites about one 4 KiB page per series
 * whatever it holds: at 10 000 series, flushing every second wrote 37 MiB/s to the WAL, every
 * 60 s 0.8 MiB/s. Queries read the buffer too; what a crash can lose is the last flush interval
 * of trend data (KPI samples are written at once).
 *
 * Retention and a disk budget are enforced by `maintain`, run by a timer. Raw samples are kept
 * for `retentionDays`; before they go, each minute is rolled up (min, max, mean: history-rollup.ts)
 * and kept for `rollupRetentionDays`, and queries over older ranges draw from the rollups. Over
 * budget, the oldest rolled-up raw samples go first, then the oldest rollups, with a log line and
 * counters; nothing here throws out of a timer or an append.
 */
import type { KpiSample, Series } from '../../src-preload/contract';
import { downsampleIndices } from '../core/history-memory';
import type { Logger } from '../core/log';
import { systemClock, type Clock, type HistoryStore } from '../core/types';
import { createRollup, MINUTE_MS, rollupPoints, seriesSpan, trimOldestFirst } from './history-rollup';
import type { StoreDb } from './schema';

const DAY_MS = 86_400_000;
const MIB = 1024 * 1024;
/** Samples per transaction when the timer flushes (≈ 80 ms of work here). */
const SLICE_SAMPLES = 20_000;
/** Minutes are rolled up once they are this old (appends arrive in time order, flushed well before). */
const ROLLUP_SETTLE_MS = 10 * MINUTE_MS;

/** Options of the SQL history store. */
export interface SqlHistoryOptions {
  /** Raw samples are kept this long (default 7 days). */
  retentionDays?: number;
  /** One-minute rollups (min, max, mean) are kept this long (default 90 days). */
  rollupRetentionDays?: number;
  /** The database may use this much disk before the oldest samples are trimmed (default 512 MiB). */
  diskBudgetBytes?: number;
  /** Buffered appends are written this often (default 30 000 ms; 0: only by flush, trim, close or a full buffer). */
  flushIntervalMs?: number;
  /** Writing starts at once when this many samples are buffered (default 200 000). */
  maxPending?: number;
  /** Retention and budget are enforced this often (default 60 000 ms; 0: only by `maintain`/`trim`). */
  maintenanceIntervalMs?: number;
  clock?: Clock;
  log: Logger;
}

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

/** A HistoryStore on the database, plus what persistence adds. */
export interface SqlHistoryStore extends HistoryStore {
  /** Writes buffered appends now. */
  flush(): void;
  /** Applies the retention and the disk budget now. */
  maintain(): void;
  stats(): SqlHistoryStats;
  /** Bytes of the database in use (pages minus free pages). */
  usedBytes(): number;
  /** Flushes and stops the timer; the database stays open (its owner closes it). */
  close(): void;
}

interface SeriesState {
  id: number;
  lastT: number;
  lastN: number;
  /** Samples not yet written, all newer than the stored ones (NaN for a gap). */
  pendingT: number[];
  pendingN: number[];
  pendingV: number[];
}

/** Creates the SQL history over an open, migrated store database. */
export function createSqlHistory(db: StoreDb, opts: SqlHistoryOptions): SqlHistoryStore {
  const clock = opts.clock ?? systemClock;
  const log = opts.log;
  const retentionMs = (opts.retentionDays ?? 7) * DAY_MS;
  const rollupRetentionMs = (opts.rollupRetentionDays ?? 90) * DAY_MS;
  const rollup = createRollup(db);
  const budget = opts.diskBudgetBytes ?? 512 * MIB;
  const maxPending = Math.max(1, opts.maxPending ?? 200_000);

  const q = {
    findSeries: db.prepare('SELECT id FROM series WHERE machine = ? AND point = ?').raw(),
    addSeries: db.prepare('INSERT INTO series (machine, point) VALUES (?, ?)'),
    allSeries: db.prepare('SELECT id FROM series').raw(),
    lastSample: db.prepare('SELECT t, n FROM history WHERE series = ? ORDER BY t DESC, n DESC LIMIT 1').raw(),
    insert: db.prepare('INSERT OR IGNORE INTO history (series, t, n, v) VALUES (?, ?, ?, ?)'),
    range: db.prepare('SELECT t, v FROM history WHERE series = ? AND t >= ? AND t < ? ORDER BY t, n').raw(),
    firstSample: db.prepare('SELECT t FROM history WHERE series = ? ORDER BY t LIMIT 1').raw(),
    deleteBefore: db.prepare('DELETE FROM history WHERE series = ? AND t < ?'),
    kpiTail: db.prepare('SELECT max(t) FROM kpi_samples WHERE machine = ?').raw(),
    kpiInsert: db.prepare(
      'INSERT INTO kpi_samples (machine, t, availability, performance, quality, oee, good_count, scrap_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    kpiSince: db
      .prepare(
        'SELECT t, availability, performance, quality, oee, good_count, scrap_count FROM kpi_samples WHERE machine = ? AND t >= ? ORDER BY t, rowid',
      )
      .raw(),
    kpiDelete: db.prepare('DELETE FROM kpi_samples WHERE t < ?'),
    pageCount: db.prepare('PRAGMA page_count').raw(),
    freePages: db.prepare('PRAGMA freelist_count').raw(),
    pageSize: db.prepare('PRAGMA page_size').raw(),
  };

  const series = new Map<string, SeriesState>();
  const kpiTails = new Map<string, number>();
  const dirty = new Set<SeriesState>();
  let pendingCount = 0;
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

  const key = (machineId: string, pointId: string): string => `${machineId}\u0000${pointId}`;

  const lookup = (machineId: string, pointId: string, create: boolean): SeriesState | undefined => {
    const k = key(machineId, pointId);
    const known = series.get(k);
    if (known) return known;
    let id = (q.findSeries.get([machineId, pointId]) as [number] | undefined)?.[0];
    if (id === undefined) {
      if (!create) return undefined;
      id = Number(q.addSeries.run([machineId, pointId]).lastInsertRowid);
    }
    const last = q.lastSample.get([id]) as [number, number] | undefined;
    const state: SeriesState = { id, lastT: last?.[0] ?? -Infinity, lastN: last?.[1] ?? -1, pendingT: [], pendingN: [], pendingV: [] };
    series.set(k, state);
    return state;
  };

  const writeBatch = db.transaction((batch: SeriesState[]) => {
    for (const s of batch) {
      for (let i = 0; i < s.pendingT.length; i++) {
        const v = s.pendingV[i] ?? NaN;
        q.insert.run([s.id, s.pendingT[i], s.pendingN[i], Number.isNaN(v) ? null : v]);
      }
    }
  });

  /** Writes whole series (never part of one: queries rely on it) until `limit` samples, in one transaction. */
  const flushSlice = (limit: number): void => {
    const batch: SeriesState[] = [];
    let count = 0;
    for (const s of dirty) {
      batch.push(s);
      count += s.pendingT.length;
      if (count >= limit) break;
    }
    if (batch.length === 0) return;
    for (const s of batch) dirty.delete(s);
    pendingCount -= count;
    try {
      writeBatch(batch);
      stats.samplesWritten += count;
    } catch (err) {
      // Dropped rather than kept: a buffer that grows while the disk refuses would end in a crash.
      stats.samplesDropped += count;
      failed('writing samples', err);
    }
    for (const s of batch) {
      s.pendingT = [];
      s.pendingN = [];
      s.pendingV = [];
    }
  };

  const flush = (): void => {
    while (dirty.size > 0) flushSlice(Infinity);
  };

  // The timer writes in slices with the event loop free in between: one transaction of 300 000
  // samples would stall polling (and its timeouts) for about a second.
  let draining = false;
  const drain = (): void => {
    if (draining) return;
    draining = true;
    const step = (): void => {
      flushSlice(SLICE_SAMPLES);
      if (dirty.size > 0) setImmediate(step);
      else draining = false;
    };
    step();
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

  const timers: NodeJS.Timeout[] = [];
  const flushEvery = opts.flushIntervalMs ?? 30_000;
  const maintainEvery = opts.maintenanceIntervalMs ?? 60_000;
  if (flushEvery > 0) timers.push(setInterval(drain, flushEvery).unref());
  if (maintainEvery > 0) timers.push(setInterval(maintain, maintainEvery).unref());

  return {
    append(machineId, pointId, t, v) {
      if (!Number.isFinite(t)) return;
      try {
        const s = lookup(machineId, pointId, true);
        // A series is append-only in time order; a sample from the past (clock stepped back) is dropped.
        if (!s || t < s.lastT) return;
        const n = t === s.lastT ? s.lastN + 1 : 0;
        s.lastT = t;
        s.lastN = n;
        s.pendingT.push(t);
        s.pendingN.push(n);
        s.pendingV.push(v === null || !Number.isFinite(v) ? NaN : v);
        dirty.add(s);
        pendingCount++;
      } catch (err) {
        stats.samplesDropped++;
        failed('recording a sample', err);
        return;
      }
      // Past twice the threshold the slices are not keeping up: write at once rather than grow.
      if (pendingCount >= 2 * maxPending) flush();
      else if (pendingCount >= maxPending) drain();
    },
    query(machineId, pointId, fromMs, toMs, maxPoints): Series {
      const out: Series = { pointId, t: [], v: [] };
      if (toMs < fromMs) return out;
      const s = lookup(machineId, pointId, false);
      if (!s) return out;
      // Before the oldest raw sample (stored or buffered), whole minutes come from the rollups.
      const rawStart = (q.firstSample.get([s.id]) as [number] | undefined)?.[0] ?? s.pendingT[0] ?? Infinity;
      const ts: number[] = [];
      const vs: number[] = [];
      if (fromMs < rawStart)
        rollupPoints(rollup.range(s.id, fromMs, Math.min(toMs, rawStart - MINUTE_MS)), Math.min(toMs + 1, rawStart), ts, vs);
      for (const [t, v] of q.range.iterate([s.id, fromMs, toMs + 1]) as Iterable<[number, number | null]>) {
        ts.push(t);
        vs.push(v === null ? NaN : v);
      }
      // Buffered samples are newer than every stored one: they follow in time order.
      let lo = 0;
      while (lo < s.pendingT.length && (s.pendingT[lo] ?? Infinity) < fromMs) lo++;
      for (let i = lo; i < s.pendingT.length && (s.pendingT[i] ?? Infinity) < toMs + 1; i++) {
        ts.push(s.pendingT[i] ?? NaN);
        vs.push(s.pendingV[i] ?? NaN);
      }
      const size = ts.length;
      const picked = downsampleIndices(
        { lo: 0, hi: size },
        (i) => ts[i] ?? NaN,
        (i) => vs[i] ?? NaN,
        Math.max(1, Math.floor(maxPoints)),
      );
      for (const i of picked) {
        const v = vs[i] ?? NaN;
        out.t.push(ts[i] ?? NaN);
        out.v.push(Number.isNaN(v) ? null : v);
      }
      return out;
    },
    appendKpi(machineId, sample) {
      try {
        let tail = kpiTails.get(machineId);
        if (tail === undefined) {
          tail = (q.kpiTail.get([machineId]) as [number | null] | undefined)?.[0] ?? -Infinity;
        }
        if (sample.t < tail) return;
        q.kpiInsert.run([
          machineId,
          sample.t,
          sample.availability,
          sample.performance,
          sample.quality,
          sample.oee,
          sample.goodCount,
          sample.scrapCount,
        ]);
        kpiTails.set(machineId, sample.t);
      } catch (err) {
        failed('recording a KPI sample', err);
      }
    },
    kpis(machineId, fromMs): KpiSample[] {
      const rows = q.kpiSince.all([machineId, fromMs]) as [
        number,
        number | null,
        number | null,
        number | null,
        number | null,
        number,
        number,
      ][];
      return rows.map(([t, availability, performance, quality, oee, goodCount, scrapCount]) => ({
        t,
        availability,
        performance,
        quality,
        oee,
        goodCount,
        scrapCount,
      }));
    },
    trim(olderThanMs) {
      try {
        trim(olderThanMs);
      } catch (err) {
        failed('trimming', err);
      }
    },
    flush,
    maintain,
    usedBytes,
    stats: () => ({ ...stats }),
    close() {
      for (const t of timers) clearInterval(t);
      timers.length = 0;
      flush();
    },
  };
}
