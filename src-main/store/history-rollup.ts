/**
 * The downsampled history tier: per series and minute the count of values and of gaps, min, max,
 * sum and whether the minimum came first, kept as one compressed chunk per series and hour
 * (`history_rollups`). A block of raw samples is rolled up when it is compacted
 * (history-writer.ts): its minutes replace the same minutes in the hour's chunk, so rolling a
 * block up twice (a crash, a late chunk) writes the same rows again.
 *
 * Sums are kept rather than means: the sum of values that are decimals is a decimal too and
 * compresses like them. Rollups migrated from schema 6 kept means; their chunks say so.
 */
import { BitReader, BitWriter } from './bits';
import { CHUNK_ROLLUP, readTimes, readValues, writeTimes, writeValues } from './chunk-codec';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** One rollup row as read back: bucket start, non-null count, null count, min, max, mean, min first. */
export type RollupRow = [t: number, n: number, gaps: number, min: number | null, max: number | null, avg: number | null, minFirst: number];

/** Rollup rows in columns (NaN for a missing min/max/sum); `means` when the sums column holds means. */
export interface RollupColumns {
  t: number[];
  n: number[];
  gaps: number[];
  min: number[];
  max: number[];
  sum: number[];
  minFirst: number[];
  means: boolean;
}

export function emptyRollup(means = false): RollupColumns {
  return { t: [], n: [], gaps: [], min: [], max: [], sum: [], minFirst: [], means };
}

/** Smallest power of ten (up to 10^6) that makes every value an integer within 10^−6, or 0 when none does. */
function decimalScale(v: ArrayLike<number>, from: number, to: number): number {
  for (let s = 1; s <= 1e6; s *= 10) {
    let ok = true;
    for (let i = from; i < to && ok; i++) {
      const x = v[i]!;
      if (Number.isNaN(x)) continue;
      const k = x * s;
      ok = Math.abs(k - Math.round(k)) <= 1e-6 * Math.max(1, Math.abs(k)) && Math.abs(k) < 2 ** 50;
    }
    if (ok) return s;
  }
  return 0;
}

/** Rolls samples (time order, NaN = gap) up into minutes; appends the rows to `out`. */
export function rollUpSamples(t: ArrayLike<number>, v: ArrayLike<number>, n: number, out: RollupColumns): void {
  const scale = decimalScale(v, 0, n);
  let i = 0;
  while (i < n) {
    const bucket = Math.floor(t[i]! / MINUTE_MS) * MINUTE_MS;
    let count = 0;
    let gaps = 0;
    let min = Infinity;
    let max = -Infinity;
    let minAt = 0;
    let maxAt = 0;
    let sum = 0;
    let seen = 0;
    for (; i < n && t[i]! < bucket + MINUTE_MS; i++) {
      const x = v[i]!;
      seen++;
      if (Number.isNaN(x)) {
        gaps++;
        continue;
      }
      count++;
      // Decimals are summed as integers, so the sum is the decimal it should be (and compresses so).
      sum += scale > 0 ? Math.round(x * scale) : x;
      if (x < min) {
        min = x;
        minAt = seen;
      }
      if (x > max) {
        max = x;
        maxAt = seen;
      }
    }
    const has = count > 0;
    out.t.push(bucket);
    out.n.push(count);
    out.gaps.push(gaps);
    out.min.push(has ? min : NaN);
    out.max.push(has ? max : NaN);
    out.sum.push(has ? (scale > 0 ? sum / scale : sum) : NaN);
    out.minFirst.push(has && minAt <= maxAt ? 1 : 0);
  }
}

/** The rows of `a` with those of `b` put in: a row of `b` replaces the row of `a` with the same minute. */
export function mergeRollups(a: RollupColumns, b: RollupColumns): RollupColumns {
  const out = emptyRollup(a.means && a.t.length > 0 ? true : b.means);
  let i = 0;
  let j = 0;
  const take = (c: RollupColumns, k: number): void => {
    out.t.push(c.t[k]!);
    out.n.push(c.n[k]!);
    out.gaps.push(c.gaps[k]!);
    out.min.push(c.min[k]!);
    out.max.push(c.max[k]!);
    // Means and sums do not mix in one chunk: a mean is turned into a sum where they meet.
    const s = c.sum[k]!;
    out.sum.push(c.means === out.means ? s : c.means ? s * c.n[k]! : s / c.n[k]!);
    out.minFirst.push(c.minFirst[k]!);
  };
  while (i < a.t.length || j < b.t.length) {
    const ta = a.t[i] ?? Infinity;
    const tb = b.t[j] ?? Infinity;
    if (tb <= ta) {
      take(b, j++);
      if (tb === ta) i++;
    } else take(a, i++);
  }
  return out;
}

/** Encodes rollup rows (at least one, minutes in order). */
export function encodeRollup(r: RollupColumns): Uint8Array {
  const n = r.t.length;
  const w = new BitWriter(n * 8 + 64);
  w.bits(CHUNK_ROLLUP, 8);
  w.uint(n, 32);
  w.bit(r.means);
  writeTimes(w, r.t, n);
  for (const col of [r.n, r.gaps, r.minFirst, r.min, r.max, r.sum]) writeValues(w, col, n);
  return w.finish();
}

/** Decodes a rollup chunk; throws a RangeError when it is corrupt. */
export function decodeRollup(bytes: Uint8Array): RollupColumns {
  const r = new BitReader(bytes);
  if (r.bits(8) !== CHUNK_ROLLUP) throw new RangeError('not a history rollup chunk');
  const n = r.uint(32);
  if (n < 1 || n > bytes.length * 8) throw new RangeError('history rollup chunk corrupt (count)');
  const means = r.bit() === 1;
  const t = Array.from(readTimes(r, n));
  const [cn, gaps, minFirst, min, max, sum] = [0, 1, 2, 3, 4, 5].map(() => Array.from(readValues(r, n)));
  return { t, n: cn!, gaps: gaps!, min: min!, max: max!, sum: sum!, minFirst: minFirst!, means };
}

/** Rows of the columns with from ≤ t < before, as the rollup rows queries draw. */
export function rollupRows(c: RollupColumns, from: number, before: number): RollupRow[] {
  const out: RollupRow[] = [];
  for (let k = 0; k < c.t.length; k++) {
    const t = c.t[k]!;
    if (t < from || t >= before) continue;
    const n = c.n[k]!;
    const has = n > 0;
    const s = c.sum[k]!;
    out.push([t, n, c.gaps[k]!, has ? c.min[k]! : null, has ? c.max[k]! : null, has ? (c.means ? s : s / n) : null, c.minFirst[k]!]);
  }
  return out;
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
