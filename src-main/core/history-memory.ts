/**
 * In-memory history: one ring buffer per machine and point (Float64Array pairs, NaN for a
 * gap), bounded by the retention and by a hard cap per series, so days of uptime cannot
 * grow memory. Queries downsample by keeping the min and max of each time bucket: a chart
 * as wide as maxPoints still shows every spike.
 */
import type { KpiSample, Series } from '../../src-preload/contract';
import { ExceptionFilter, type RecordingRule } from './recording';
import type { Clock, HistoryStore, SeriesWriter } from './types';

/** Options of the in-memory history store. */
export interface MemoryHistoryOptions {
  retentionMs: number;
  clock?: Clock;
  /** Hard cap per series; the oldest samples go first. */
  maxSamplesPerSeries?: number;
  /** Hard cap of KPI samples per machine. */
  maxKpiSamples?: number;
}

const INITIAL_CAPACITY = 256;

/** A growable ring of (t, v) samples in time order; v NaN is a gap. */
class Ring {
  private t: Float64Array;
  private v: Float64Array;
  private head = 0;
  size = 0;

  constructor(private readonly maxCap: number) {
    const cap = Math.min(INITIAL_CAPACITY, maxCap);
    this.t = new Float64Array(cap);
    this.v = new Float64Array(cap);
  }

  private idx(i: number): number {
    return (this.head + i) % this.t.length;
  }

  timeAt(i: number): number {
    return this.t[this.idx(i)] ?? NaN;
  }

  valueAt(i: number): number {
    return this.v[this.idx(i)] ?? NaN;
  }

  lastTime(): number {
    return this.size > 0 ? this.timeAt(this.size - 1) : -Infinity;
  }

  push(t: number, v: number): void {
    if (this.size === this.t.length) {
      if (this.t.length < this.maxCap) this.grow(Math.min(this.maxCap, this.t.length * 2));
      else {
        this.head = (this.head + 1) % this.t.length;
        this.size--;
      }
    }
    const at = this.idx(this.size);
    this.t[at] = t;
    this.v[at] = v;
    this.size++;
  }

  private grow(cap: number): void {
    const t = new Float64Array(cap);
    const v = new Float64Array(cap);
    for (let i = 0; i < this.size; i++) {
      t[i] = this.timeAt(i);
      v[i] = this.valueAt(i);
    }
    this.t = t;
    this.v = v;
    this.head = 0;
  }

  dropOlderThan(ms: number): void {
    while (this.size > 0 && this.timeAt(0) < ms) {
      this.head = (this.head + 1) % this.t.length;
      this.size--;
    }
  }

  /** First logical index whose time is ≥ ms. */
  lowerBound(ms: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timeAt(mid) < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Indices of [lo, hi) to keep so that at most maxPoints remain: min, max and first gap per bucket. */
export function downsampleIndices(
  n: { lo: number; hi: number },
  timeAt: (i: number) => number,
  valueAt: (i: number) => number,
  maxPoints: number,
): number[] {
  const { lo, hi } = n;
  const all: number[] = [];
  if (hi - lo <= maxPoints) {
    for (let i = lo; i < hi; i++) all.push(i);
    return all;
  }
  let hasGap = false;
  for (let i = lo; i < hi && !hasGap; i++) hasGap = Number.isNaN(valueAt(i));
  const perBucket = Math.min(hasGap ? 3 : 2, maxPoints);
  const buckets = Math.max(1, Math.floor(maxPoints / perBucket));
  const t0 = timeAt(lo);
  const span = timeAt(hi - 1) - t0 + 1;
  const out: number[] = [];
  let i = lo;
  for (let b = 0; b < buckets && i < hi; b++) {
    const bucketEnd = t0 + (span * (b + 1)) / buckets;
    let minI = -1;
    let maxI = -1;
    let gapI = -1;
    for (; i < hi && (timeAt(i) < bucketEnd || b === buckets - 1); i++) {
      const v = valueAt(i);
      if (Number.isNaN(v)) {
        if (gapI < 0) gapI = i;
        continue;
      }
      if (minI < 0 || v < valueAt(minI)) minI = i;
      if (maxI < 0 || v > valueAt(maxI)) maxI = i;
    }
    // Priority when a bucket may keep fewer than three: the extremes, then the gap.
    const picked = [minI, maxI, gapI].filter((k, j, arr) => k >= 0 && arr.indexOf(k) === j).slice(0, perBucket);
    out.push(...picked.sort((a, b2) => a - b2));
  }
  return out;
}

/** One series: its ring, and its filter when recorded by exception. */
interface MemorySeries extends SeriesWriter {
  ring: Ring;
  /** Appends to the ring (what the filter, when there is one, calls). */
  record: (t: number, v: number | null) => void;
  filter: ExceptionFilter | null;
}

/** Adds a filter's held sample (the latest, not recorded) to a query result when it is in range. */
export function withHeld(out: Series, held: { t: number; v: number } | null, fromMs: number, toMs: number): Series {
  if (held && held.t >= fromMs && held.t <= toMs && held.t > (out.t[out.t.length - 1] ?? -Infinity)) {
    out.t.push(held.t);
    out.v.push(held.v);
  }
  return out;
}

/** An in-memory HistoryStore bounded by retention and a per-series cap. */
export function createMemoryHistory(opts: MemoryHistoryOptions): HistoryStore {
  const maxPerSeries = Math.max(16, opts.maxSamplesPerSeries ?? 100_000);
  const maxKpi = Math.max(16, opts.maxKpiSamples ?? 20_000);
  const series = new Map<string, MemorySeries>();
  const kpiSamples = new Map<string, KpiSample[]>();
  const key = (machineId: string, pointId: string): string => `${machineId}\u0000${pointId}`;
  const cutoff = (t: number): number => (opts.clock?.now() ?? t) - opts.retentionMs;

  const trimKpis = (list: KpiSample[], olderThanMs: number): void => {
    let k = 0;
    while (k < list.length && (list[k]?.t ?? Infinity) < olderThanMs) k++;
    if (list.length - k > maxKpi) k = list.length - maxKpi;
    if (k > 0) list.splice(0, k);
  };

  const seriesOf = (machineId: string, pointId: string, rule?: RecordingRule): MemorySeries => {
    const k = key(machineId, pointId);
    let s = series.get(k);
    if (!s) {
      const ring = new Ring(maxPerSeries);
      const record = (t: number, v: number | null): void => {
        // A series is append-only in time order; a sample from the past (clock stepped back) is dropped.
        if (!Number.isFinite(t) || t < ring.lastTime()) return;
        ring.push(t, v === null || !Number.isFinite(v) ? NaN : v);
        ring.dropOlderThan(cutoff(t));
      };
      const created: MemorySeries = {
        ring,
        record,
        filter: null,
        append: (t, v) => (created.filter ? created.filter.offer(t, v) : record(t, v)),
      };
      s = created;
      series.set(k, s);
    }
    if (rule) {
      if (s.filter) s.filter.setRule(rule);
      else s.filter = new ExceptionFilter(rule, s.record);
    }
    return s;
  };

  return {
    series: seriesOf,
    append(machineId, pointId, t, v) {
      seriesOf(machineId, pointId).append(t, v);
    },
    query(machineId, pointId, fromMs, toMs, maxPoints) {
      const out: Series = { pointId, t: [], v: [] };
      const s = series.get(key(machineId, pointId));
      if (!s || toMs < fromMs) return out;
      const ring = s.ring;
      const held = s.filter?.held() ?? null;
      const lo = ring.lowerBound(fromMs);
      const hi = ring.lowerBound(toMs + 1);
      const picked = downsampleIndices(
        { lo, hi },
        (i) => ring.timeAt(i),
        (i) => ring.valueAt(i),
        Math.max(1, Math.floor(maxPoints) - (held ? 1 : 0)),
      );
      for (const i of picked) {
        const v = ring.valueAt(i);
        out.t.push(ring.timeAt(i));
        out.v.push(Number.isNaN(v) ? null : v);
      }
      return withHeld(out, held, fromMs, toMs);
    },
    appendKpi(machineId, sample) {
      let list = kpiSamples.get(machineId);
      if (!list) {
        list = [];
        kpiSamples.set(machineId, list);
      }
      const tail = list[list.length - 1];
      if (tail && sample.t < tail.t) return;
      list.push({ ...sample });
      trimKpis(list, cutoff(sample.t));
    },
    kpis(machineId, fromMs) {
      const list = kpiSamples.get(machineId) ?? [];
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((list[mid]?.t ?? Infinity) < fromMs) lo = mid + 1;
        else hi = mid;
      }
      return list.slice(lo).map((s) => ({ ...s }));
    },
    trim(olderThanMs) {
      for (const s of series.values()) s.ring.dropOlderThan(olderThanMs);
      for (const [k, list] of kpiSamples) {
        trimKpis(list, olderThanMs);
        if (list.length === 0) kpiSamples.delete(k);
      }
    },
  };
}
