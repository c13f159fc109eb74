import { describe, expect, it } from 'vitest';
import { createMemoryHistory } from '../../src-main/core/history-memory';
import type { KpiSample } from '../../src-preload/contract';

const T0 = Date.UTC(2026, 0, 12, 6);
const MIN = 60_000;

function manualClock(t: number) {
  return {
    t,
    now() {
      return this.t;
    },
  };
}

describe('memory history', () => {
  it('returns everything when it fits', () => {
    const h = createMemoryHistory({ retentionMs: 60 * MIN });
    for (let i = 0; i < 10; i++) h.append('m1', 'temp', T0 + i * 1000, i);
    const s = h.query('m1', 'temp', T0, T0 + 9000, 100);
    expect(s.pointId).toBe('temp');
    expect(s.t).toEqual(Array.from({ length: 10 }, (_, i) => T0 + i * 1000));
    expect(s.v).toEqual(Array.from({ length: 10 }, (_, i) => i));
    // Inclusive bounds, other series untouched.
    expect(h.query('m1', 'temp', T0 + 2000, T0 + 4000, 100).v).toEqual([2, 3, 4]);
    expect(h.query('m1', 'other', T0, T0 + 9000, 100)).toEqual({ pointId: 'other', t: [], v: [] });
    expect(h.query('m2', 'temp', T0, T0 + 9000, 100).t).toEqual([]);
  });

  it('keeps the min and max of every bucket, in time order, within maxPoints', () => {
    const h = createMemoryHistory({ retentionMs: 24 * 60 * MIN });
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      // A gentle sine with two single-sample spikes the chart must still show.
      let v = Math.sin(i / 500) * 10;
      if (i === 1234) v = 500;
      if (i === 8765) v = -400;
      h.append('m1', 'p', T0 + i * 100, v);
    }
    const s = h.query('m1', 'p', T0, T0 + n * 100, 200);
    expect(s.t.length).toBeLessThanOrEqual(200);
    expect(s.t.length).toBeGreaterThan(150);
    expect(s.v).toContain(500);
    expect(s.v).toContain(-400);
    expect(s.t.indexOf(T0 + 1234 * 100)).toBeGreaterThanOrEqual(0);
    for (let i = 1; i < s.t.length; i++) expect(s.t[i]!).toBeGreaterThan(s.t[i - 1]!);
    expect(Math.max(...(s.v as number[]))).toBe(500);
    expect(Math.min(...(s.v as number[]))).toBe(-400);
    // Every bucket of 100 raw samples (2 points per bucket) keeps its own extremes.
    for (const maxPoints of [2, 3, 7, 64, 4000]) {
      expect(h.query('m1', 'p', T0, T0 + n * 100, maxPoints).t.length).toBeLessThanOrEqual(maxPoints);
    }
  });

  it("picks exactly each time bucket's min and max", () => {
    const h = createMemoryHistory({ retentionMs: 24 * 60 * MIN });
    // 1 000 samples 1 s apart; maxPoints 20 → 10 buckets of 100 s each.
    const value = (i: number): number => ((i * 7919) % 1000) - 500;
    for (let i = 0; i < 1000; i++) h.append('m1', 'p', T0 + i * 1000, value(i));
    const s = h.query('m1', 'p', T0, T0 + 999_000, 20);
    const expected: number[] = [];
    for (let b = 0; b < 10; b++) {
      const idx = Array.from({ length: 100 }, (_, k) => b * 100 + k);
      const minI = idx.reduce((a, i) => (value(i) < value(a) ? i : a));
      const maxI = idx.reduce((a, i) => (value(i) > value(a) ? i : a));
      expected.push(...[minI, maxI].sort((x, y) => x - y));
    }
    expect(s.t).toEqual(expected.map((i) => T0 + i * 1000));
    expect(s.v).toEqual(expected.map(value));
  });

  it('keeps gaps as gaps when downsampling', () => {
    const h = createMemoryHistory({ retentionMs: 24 * 60 * MIN });
    for (let i = 0; i < 1000; i++) h.append('m1', 'p', T0 + i * 1000, i >= 400 && i < 420 ? null : i % 7);
    const full = h.query('m1', 'p', T0, T0 + 1_000_000, 4000);
    expect(full.v.filter((v) => v === null)).toHaveLength(20);
    const s = h.query('m1', 'p', T0, T0 + 1_000_000, 60);
    expect(s.t.length).toBeLessThanOrEqual(60);
    expect(s.v).toContain(null);
    const gapAt = s.v.indexOf(null);
    expect(s.t[gapAt]).toBeGreaterThanOrEqual(T0 + 400_000);
    expect(s.t[gapAt]).toBeLessThan(T0 + 420_000);
    expect(s.v.filter((v) => v !== null).every((v) => (v as number) >= 0 && (v as number) <= 6)).toBe(true);
  });

  it('trims by retention on append and on trim()', () => {
    const clock = manualClock(T0);
    const h = createMemoryHistory({ retentionMs: 10 * MIN, clock });
    for (let i = 0; i <= 20; i++) {
      clock.t = T0 + i * MIN;
      h.append('m1', 'p', clock.t, i);
    }
    // Now T0 + 20 min; 10 min retention keeps minutes 10..20.
    expect(h.query('m1', 'p', 0, clock.t, 100).v).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    h.trim(T0 + 15 * MIN);
    expect(h.query('m1', 'p', 0, clock.t, 100).v).toEqual([15, 16, 17, 18, 19, 20]);
  });

  it('caps a series at maxSamplesPerSeries, dropping the oldest', () => {
    const h = createMemoryHistory({ retentionMs: 365 * 24 * 60 * MIN, maxSamplesPerSeries: 1000 });
    for (let i = 0; i < 5000; i++) h.append('m1', 'p', T0 + i, i);
    const s = h.query('m1', 'p', 0, T0 + 10_000, 4000);
    expect(s.t).toHaveLength(1000);
    expect(s.v[0]).toBe(4000);
    expect(s.v[999]).toBe(4999);
  });

  it('drops samples older than the newest (a clock stepped back)', () => {
    const h = createMemoryHistory({ retentionMs: 60 * MIN });
    h.append('m1', 'p', T0 + 2000, 1);
    h.append('m1', 'p', T0 + 1000, 2);
    h.append('m1', 'p', T0 + 3000, 3);
    expect(h.query('m1', 'p', T0, T0 + 5000, 10).v).toEqual([1, 3]);
  });

  it('stores KPI samples per machine, from a time on, trimmed like the rest', () => {
    const clock = manualClock(T0);
    const h = createMemoryHistory({ retentionMs: 30 * MIN, clock });
    const sample = (t: number, good: number): KpiSample => ({
      t,
      availability: 0.9,
      performance: 0.8,
      quality: null,
      oee: null,
      goodCount: good,
      scrapCount: 0,
    });
    for (let i = 0; i <= 60; i++) {
      clock.t = T0 + i * MIN;
      h.appendKpi('m1', sample(clock.t, i));
    }
    expect(h.kpis('m1', 0).map((s) => s.goodCount)).toEqual(Array.from({ length: 31 }, (_, i) => 30 + i));
    expect(h.kpis('m1', T0 + 55 * MIN).map((s) => s.goodCount)).toEqual([55, 56, 57, 58, 59, 60]);
    expect(h.kpis('m2', 0)).toEqual([]);
    h.trim(T0 + 59 * MIN);
    expect(h.kpis('m1', 0)).toHaveLength(2);
  });
});
