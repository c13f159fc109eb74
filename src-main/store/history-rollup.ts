/**
 * The downsampled tier of the SQL history: one row per series and minute (count, gaps, min, max,
 * mean, and whether the minimum came first), rolled up from raw samples before they age out.
 *
 * A minute is rolled up once it is complete and older than `settleMs`; rows are written with
 * INSERT OR REPLACE from the raw samples still on disk, so rolling up a minute twice (a crash
 * between the roll-up and the raw deletion, a restart) writes the same row again. How far a
 * series is rolled up is the newest rollup row plus a minute; raw samples are only deleted below
 * that, so a sample never leaves the raw tier before its minute is in this one.
 */
import type { StoreDb } from './schema';

export const MINUTE_MS = 60_000;

/** One rollup row as read back: bucket start, non-null count, null count, min, max, mean, min first. */
export type RollupRow = [t: number, n: number, gaps: number, min: number | null, max: number | null, avg: number | null, minFirst: number];

export interface Rollup {
  /**
   * Rolls up every series' complete minutes before `upTo` (aligned down to a minute), at most about
   * `maxRows` raw samples per call (the rest next time); returns the rollup rows written. With
   * `from`, minutes from there on are rolled up again (rows replaced by the same rows).
   */
  rollUp(upTo: number, maxRows?: number, from?: number): number;
  /** Raw samples of the series before this time are rolled up (−Infinity: none is). */
  rolledThrough(seriesId: number): number;
  /** Rollup rows of a series with fromMs ≤ t ≤ toMs, in time order. */
  range(seriesId: number, fromMs: number, toMs: number): RollupRow[];
  /** Deletes the rollup rows (all series) with t < cutoff; returns how many. */
  deleteBefore(cutoff: number): number;
  /** Oldest and newest rollup bucket over all series, null when there is none. */
  span(): { lo: number; hi: number } | null;
}

/** Raw samples per roll-up window transaction (one series, at most an hour). */
const WINDOW_MS = 60 * MINUTE_MS;

export function createRollup(db: StoreDb): Rollup {
  const q = {
    allSeries: db.prepare('SELECT id FROM series').raw(),
    lastBucket: db.prepare('SELECT t FROM history_rollup WHERE series = ? ORDER BY t DESC LIMIT 1').raw(),
    nextRaw: db.prepare('SELECT t FROM history WHERE series = ? AND t >= ? ORDER BY t LIMIT 1').raw(),
    rawRange: db.prepare('SELECT t, v FROM history WHERE series = ? AND t >= ? AND t < ? ORDER BY t, n').raw(),
    upsert: db.prepare(
      'INSERT OR REPLACE INTO history_rollup (series, t, n, gaps, min, max, avg, min_first) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    range: db
      .prepare('SELECT t, n, gaps, min, max, avg, min_first FROM history_rollup WHERE series = ? AND t >= ? AND t <= ? ORDER BY t')
      .raw(),
    deleteBefore: db.prepare('DELETE FROM history_rollup WHERE series = ? AND t < ?'),
  };
  /** Per series: raw samples before this are rolled up (cached; the table is the truth). */
  const through = new Map<number, number>();

  const rolledThrough = (id: number): number => {
    const known = through.get(id);
    if (known !== undefined) return known;
    const last = (q.lastBucket.get([id]) as [number] | undefined)?.[0];
    const value = last === undefined ? -Infinity : last + MINUTE_MS;
    through.set(id, value);
    return value;
  };

  /** Rolls up [from, to) of one series (both minute-aligned); returns [rows written, raw samples read]. */
  const rollWindow = db.transaction((id: number, from: number, to: number): [number, number] => {
    let written = 0;
    let read = 0;
    let bucket = NaN;
    let n = 0;
    let gaps = 0;
    let min = Infinity;
    let max = -Infinity;
    let minAt = 0;
    let maxAt = 0;
    let sum = 0;
    const emit = (): void => {
      if (Number.isNaN(bucket)) return;
      const has = n > 0;
      q.upsert.run([id, bucket, n, gaps, has ? min : null, has ? max : null, has ? sum / n : null, has && minAt <= maxAt ? 1 : 0]);
      written++;
    };
    for (const [t, v] of q.rawRange.iterate([id, from, to]) as Iterable<[number, number | null]>) {
      read++;
      const b = Math.floor(t / MINUTE_MS) * MINUTE_MS;
      if (b !== bucket) {
        emit();
        bucket = b;
        n = gaps = sum = 0;
        min = Infinity;
        max = -Infinity;
      }
      if (v === null) {
        gaps++;
        continue;
      }
      n++;
      sum += v;
      if (v < min) {
        min = v;
        minAt = read;
      }
      if (v > max) {
        max = v;
        maxAt = read;
      }
    }
    emit();
    return [written, read];
  });

  return {
    rollUp(upTo, maxRows = 2_000_000, since?: number) {
      const end = Math.floor(upTo / MINUTE_MS) * MINUTE_MS;
      let written = 0;
      let read = 0;
      for (const [id] of q.allSeries.all() as [number][]) {
        let from = since === undefined ? rolledThrough(id) : Math.min(rolledThrough(id), Math.floor(since / MINUTE_MS) * MINUTE_MS);
        while (from < end) {
          if (read >= maxRows) return written;
          // Skip stretches without samples (a series idle for weeks) in one step.
          const next = (q.nextRaw.get([id, from === -Infinity ? Number.MIN_SAFE_INTEGER : from]) as [number] | undefined)?.[0];
          if (next === undefined || next >= end) {
            if (from !== -Infinity) through.set(id, end);
            break;
          }
          from = Math.max(from, Math.floor(next / MINUTE_MS) * MINUTE_MS);
          const to = Math.min(end, from + WINDOW_MS);
          const [w, r] = rollWindow(id, from, to);
          written += w;
          read += r;
          from = to;
          // Only after the transaction: a failed window is rolled up again next time.
          through.set(id, from);
        }
      }
      return written;
    },
    rolledThrough,
    range: (id, fromMs, toMs) => q.range.all([id, fromMs, toMs]) as RollupRow[],
    deleteBefore(cutoff) {
      const ids = (q.allSeries.all() as [number][]).map((r) => r[0]);
      return db.transaction(() => {
        let removed = 0;
        for (const id of ids) removed += q.deleteBefore.run([id, cutoff]).changes;
        return removed;
      })();
    },
    span: seriesSpan(db, 'history_rollup'),
  };
}

type Span = { lo: number; hi: number } | null;

/** Oldest and newest t over all series of a table keyed (series, t), null when it is empty. */
export function seriesSpan(db: StoreDb, table: 'history' | 'history_rollup'): () => Span {
  const stmt = db
    .prepare(
      `SELECT (SELECT t FROM ${table} WHERE series = s.id ORDER BY t LIMIT 1), (SELECT t FROM ${table} WHERE series = s.id ORDER BY t DESC LIMIT 1) FROM series s`,
    )
    .raw();
  return () => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const [a, b] of stmt.all() as [number | null, number | null][]) {
      if (a !== null && a < lo) lo = a;
      if (b !== null && b > hi) hi = b;
    }
    return Number.isFinite(lo) ? { lo, hi } : null;
  };
}

/**
 * Deletes the oldest rows tier after tier until `usedBytes()` ≤ target; returns per tier the rows
 * removed and the last cutoff. Rows arrive at a steady rate, so the share of a tier's time span
 * ≈ the share of its rows; a tier that can give nothing more (not rolled up yet) passes to the next.
 */
export function trimOldestFirst(
  tiers: { span: () => Span; deleteBefore: (cutoff: number) => number }[],
  target: number,
  usedBytes: () => number,
): [removed: number, cutoff: number][] {
  let used = usedBytes();
  return tiers.map(({ span, deleteBefore }) => {
    let gone = 0;
    let cutoff = -Infinity;
    for (let step = 0; step < 40 && used > target; step++) {
      const range = span();
      if (!range) break;
      const share = Math.min(0.5, Math.max(0.02, (used - target) / used));
      cutoff = Math.max(range.lo + MINUTE_MS, range.lo + (range.hi - range.lo) * share);
      const n = deleteBefore(cutoff);
      gone += n;
      if (n === 0) break;
      used = usedBytes();
    }
    return [gone, cutoff];
  });
}

/**
 * The points a chart draws for rollup rows: per minute its minimum and maximum in the order they
 * came (at the bucket start and half a minute in), a null where the minute held only gaps or
 * ended on a gap. Only points with t < before are kept.
 */
export function rollupPoints(rows: RollupRow[], before: number, ts: number[], vs: number[]): void {
  const push = (t: number, v: number): void => {
    if (t < before) {
      ts.push(t);
      vs.push(v);
    }
  };
  for (const [t, n, gaps, min, max, , minFirst] of rows) {
    if (n === 0 || min === null || max === null) {
      push(t, NaN);
      continue;
    }
    const [first, second] = minFirst ? [min, max] : [max, min];
    push(t, first);
    if (second !== first) push(t + MINUTE_MS / 2, second);
    if (gaps > 0) push(t + MINUTE_MS - 1, NaN);
  }
}
