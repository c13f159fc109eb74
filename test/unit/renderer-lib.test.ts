import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src-renderer/src/lib/ringBuffer';
import { appendTail, downsampleMinMax, trimBefore } from '../../src-renderer/src/lib/downsample';
import { niceTicks, tickDecimals } from '../../src-renderer/src/lib/ticks';
import { barGeometry, deviationOf, trendOf, trendThreshold } from '../../src-renderer/src/lib/values';
import { ingestSnapshot, liveBuffer, resetLiveSamples } from '../../src-renderer/src/lib/liveSamples';
import { valueLiveness } from '../../src-renderer/src/lib/liveness';
import { backoffDelay } from '../../src-renderer/src/transport/backoff';
import { machine } from './renderer-fixtures';

describe('RingBuffer', () => {
  it('keeps samples oldest first and overwrites the oldest when full', () => {
    const b = new RingBuffer(3);
    expect(b.size).toBe(0);
    expect(Number.isNaN(b.lastTime())).toBe(true);
    for (let i = 1; i <= 5; i++) b.push(i * 10, i);
    expect(b.size).toBe(3);
    expect(b.toArrays()).toEqual({ t: [30, 40, 50], v: [3, 4, 5] });
    expect(b.firstTime()).toBe(30);
    expect(b.lastTime()).toBe(50);
  });

  it('returns only the tail after a time, and keeps NaN gaps', () => {
    const b = new RingBuffer(8);
    b.push(1, 1);
    b.push(2, Number.NaN);
    b.push(3, 3);
    const tail = b.toArrays(1);
    expect(tail.t).toEqual([2, 3]);
    expect(Number.isNaN(tail.v[0])).toBe(true);
    expect(b.toArrays(3)).toEqual({ t: [], v: [] });
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
    expect(() => new RingBuffer(1.5)).toThrow(RangeError);
  });

  it('clear empties it', () => {
    const b = new RingBuffer(2);
    b.push(1, 1);
    b.clear();
    expect(b.size).toBe(0);
  });
});

describe('downsampleMinMax', () => {
  it('leaves short series alone', () => {
    const s = { t: [1, 2, 3], v: [1, 2, 3] };
    expect(downsampleMinMax(s, 10)).toEqual(s);
  });

  it('reduces to about maxPoints and keeps the extremes', () => {
    const n = 10_000;
    const t = Array.from({ length: n }, (_, i) => i);
    const v = t.map((i) => Math.sin(i / 50));
    v[4321] = 99; // a spike an operator must still see
    v[7000] = -99;
    const out = downsampleMinMax({ t, v }, 200);
    expect(out.t.length).toBeLessThanOrEqual(200);
    expect(out.t.length).toBeGreaterThan(100);
    expect(out.v).toContain(99);
    expect(out.v).toContain(-99);
    for (let i = 1; i < out.t.length; i++) expect(out.t[i]!).toBeGreaterThan(out.t[i - 1]!);
  });

  it('keeps gaps as null so the chart does not bridge an outage', () => {
    const t = Array.from({ length: 1000 }, (_, i) => i);
    const v: (number | null)[] = t.map((i) => (i >= 500 && i < 600 ? null : 1));
    const out = downsampleMinMax({ t, v }, 50);
    expect(out.v).toContain(null);
  });
});

describe('appendTail / trimBefore', () => {
  it('appends only live samples newer than the history, NaN as null', () => {
    const merged = appendTail({ t: [1, 2], v: [10, 20] }, { t: [2, 3, 4], v: [20, Number.NaN, 40] });
    expect(merged).toEqual({ t: [1, 2, 3, 4], v: [10, 20, null, 40] });
  });

  it('drops samples before the window', () => {
    expect(trimBefore({ t: [1, 2, 3], v: [1, 2, 3] }, 2)).toEqual({ t: [2, 3], v: [2, 3] });
  });
});

describe('niceTicks', () => {
  it('puts ticks on round numbers covering the range', () => {
    const { domain, ticks } = niceTicks(203.4, 227.9, 5);
    expect(domain[0]).toBeLessThanOrEqual(203.4);
    expect(domain[1]).toBeGreaterThanOrEqual(227.9);
    expect(ticks).toEqual([200, 205, 210, 215, 220, 225, 230]);
    expect(tickDecimals(5)).toBe(0);
    expect(tickDecimals(0.25)).toBe(2);
  });

  it('survives a flat or empty range', () => {
    expect(niceTicks(5, 5).ticks.length).toBeGreaterThan(1);
    expect(niceTicks(Number.NaN, 1)).toEqual({ domain: [0, 1], ticks: [0, 1] });
  });
});

describe('band and trend', () => {
  const band = { low: 200, high: 220 };

  it('classifies deviation', () => {
    expect(deviationOf(199, band)).toBe('low');
    expect(deviationOf(210, band)).toBe('normal');
    expect(deviationOf(221, band)).toBe('high');
  });

  it('draws the band in the middle half and pins far-off values to the ends', () => {
    expect(barGeometry(210, band)).toEqual({ bandFrom: 25, bandTo: 75, marker: 50, offScale: false });
    expect(barGeometry(1000, band)).toMatchObject({ marker: 100, offScale: true });
    expect(barGeometry(-5, band)).toMatchObject({ marker: 0, offScale: true });
  });

  it('finds a rising, falling or steady trend and ignores noise', () => {
    const up = new RingBuffer(100);
    const flat = new RingBuffer(100);
    const down = new RingBuffer(100);
    for (let i = 0; i < 30; i++) {
      up.push(i * 1000, 200 + i * 0.5);
      flat.push(i * 1000, 210 + (i % 2 ? 0.1 : -0.1));
      down.push(i * 1000, 220 - i * 0.5);
    }
    const th = trendThreshold(band, 210);
    expect(trendOf(up, 29_000, 30_000, th)).toBe('rising');
    expect(trendOf(flat, 29_000, 30_000, th)).toBe('steady');
    expect(trendOf(down, 29_000, 30_000, th)).toBe('falling');
    expect(trendOf(undefined, 0, 30_000, th)).toBeNull();
  });
});

describe('live samples and liveness', () => {
  it('stores one sample per new reading and a gap for a stale value', () => {
    resetLiveSamples();
    const m = machine('m1', { ts: 1000 });
    ingestSnapshot(m);
    ingestSnapshot(m); // same reading again: no new sample
    ingestSnapshot({ ...m, ts: 2000, values: { ...m.values, zone1: { ...m.values.zone1!, quality: 'stale', reason: 'timeout' } } });
    const b = liveBuffer('m1', 'zone1')!;
    expect(b.size).toBe(2);
    expect(Number.isNaN(b.valueAt(1))).toBe(true);
    expect(liveBuffer('m1', 'serial')).toBeUndefined(); // strings are not trended
  });

  it('says why a value is not live', () => {
    const m = machine('m1', { ts: 10_000 });
    const pv = m.values.zone1;
    expect(valueLiveness(pv, m, true, 10_000)).toEqual({ live: true, reason: null });
    expect(valueLiveness(pv, m, false, 10_000).reason).toMatch(/Connection to the console core lost/);
    expect(
      valueLiveness(
        pv,
        { ...m, state: 'offline', link: { ...m.link, lastError: { code: 'MODBUS_TIMEOUT', message: 'no answer in 1000 ms' } } },
        true,
        10_000,
      ).reason,
    ).toMatch(/offline: no answer in 1000 ms \(MODBUS_TIMEOUT\)/);
    expect(valueLiveness({ ...pv!, quality: 'bad', reason: 'illegal address' }, m, true, 10_000).reason).toMatch(
      /Bad value: illegal address/,
    );
    expect(valueLiveness(pv, m, true, 10_000 + 60_000).reason).toMatch(/s old/);
    expect(valueLiveness(undefined, m, true, 10_000).reason).toMatch(/No reading yet/);
  });
});

describe('backoffDelay (renderer)', () => {
  const opts = { initialDelayMs: 250, maxDelayMs: 5000, randomisationFactor: 0.3 };
  it('doubles, caps at about 5 s and jitters within the factor', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, opts, () => 0.5))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect(backoffDelay(1, opts, () => 0)).toBe(350);
    expect(backoffDelay(1, opts, () => 1)).toBe(650);
    expect(backoffDelay(100, opts, () => 1)).toBe(5000);
    expect(backoffDelay(Number.NaN, opts, () => 0.5)).toBe(250);
  });
});
