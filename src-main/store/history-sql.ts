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
import { createHistoryMaintenance, type SqlHistoryStats } from './history-maintenance';
import { createRollup, MINUTE_MS, rollupPoints } from './history-rollup';
import type { StoreDb } from './schema';

const DAY_MS = 86_400_000;
const MIB = 1024 * 1024;
/** Samples per transaction when the timer flushes (≈ 80 ms of work here). */
const SLICE_SAMPLES = 20_000;

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

export type { SqlHistoryStats } from './history-maintenance';

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
  const rollup = createRollup(db);
  const maxPending = Math.max(1, opts.maxPending ?? 200_000);

  const q = {
    findSeries: db.prepare('SELECT id FROM series WHERE machine = ? AND point = ?').raw(),
    addSeries: db.prepare('INSERT INTO series (machine, point) VALUES (?, ?)'),
    lastSample: db.prepare('SELECT t, n FROM history WHERE series = ? ORDER BY t DESC, n DESC LIMIT 1').raw(),
    insert: db.prepare('INSERT OR IGNORE INTO history (series, t, n, v) VALUES (?, ?, ?, ?)'),
    range: db.prepare('SELECT t, v FROM history WHERE series = ? AND t >= ? AND t < ? ORDER BY t, n').raw(),
    firstSample: db.prepare('SELECT t FROM history WHERE series = ? ORDER BY t LIMIT 1').raw(),
    kpiTail: db.prepare('SELECT max(t) FROM kpi_samples WHERE machine = ?').raw(),
    kpiInsert: db.prepare(
      'INSERT INTO kpi_samples (machine, t, availability, performance, quality, oee, good_count, scrap_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    kpiSince: db
      .prepare(
        'SELECT t, availability, performance, quality, oee, good_count, scrap_count FROM kpi_samples WHERE machine = ? AND t >= ? ORDER BY t, rowid',
      )
      .raw(),
  };

  const series = new Map<string, SeriesState>();
  const kpiTails = new Map<string, number>();
  const dirty = new Set<SeriesState>();
  let pendingCount = 0;
  const { stats, failed, usedBytes, trim, maintain } = createHistoryMaintenance(db, {
    rollup,
    retentionMs: (opts.retentionDays ?? 7) * DAY_MS,
    rollupRetentionMs: (opts.rollupRetentionDays ?? 90) * DAY_MS,
    budget: opts.diskBudgetBytes ?? 512 * MIB,
    clock,
    log: opts.log,
    flush: () => flush(),
  });

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
