/** The poll schedule's arithmetic: start-to-start slots, overruns skipped and counted, lateness percentiles. */
import { describe, expect, it } from 'vitest';
import { LatenessHistogram, nextSlot, RecentLateness } from '../../src-main/modbus/schedule';

describe('poll schedule', () => {
  it('keeps a fixed grid and skips the slots a long cycle ran into', () => {
    // On time, or late but before the next slot: the next slot, nothing skipped.
    expect(nextSlot(1000, 100, 1030)).toEqual({ due: 1100, skipped: 0 });
    expect(nextSlot(1000, 100, 1100)).toEqual({ due: 1100, skipped: 0 });
    // Ran past the next slot's start: that slot is skipped, the one after is next.
    expect(nextSlot(1000, 100, 1101)).toEqual({ due: 1200, skipped: 1 });
    expect(nextSlot(1000, 100, 1350)).toEqual({ due: 1400, skipped: 3 });
    // As fast as possible (interval 0) never skips.
    expect(nextSlot(1000, 0, 5000)).toEqual({ due: 1000, skipped: 0 });
  });

  it('keeps lateness in fixed buckets and reports its percentiles', () => {
    const h = new LatenessHistogram();
    expect(h.summary()).toEqual({ count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 });
    for (let i = 0; i < 990; i++) h.add(i % 3);
    for (let i = 0; i < 10; i++) h.add(40 + i);
    h.add(-5);
    const s = h.summary();
    expect(s.count).toBe(1001);
    expect(s.p50Ms).toBeLessThanOrEqual(1.25);
    expect(s.p99Ms).toBeGreaterThanOrEqual(2);
    expect(s.p99Ms).toBeLessThanOrEqual(45);
    expect(s.maxMs).toBe(49);
    h.add(5000);
    expect(h.summary().maxMs).toBe(5000);
  });

  it('reports the recent past: a window and the one before it', () => {
    const r = new RecentLateness(1000, 0);
    r.add(30, 100);
    r.add(1, 1100);
    expect(r.summary()).toMatchObject({ count: 2, maxMs: 30 });
    r.add(1, 2200);
    expect(r.summary()).toMatchObject({ count: 2, maxMs: 1 });
    // A pause of more than two windows leaves only what came after it.
    r.add(2, 9000);
    expect(r.summary()).toMatchObject({ count: 1, maxMs: 2 });
  });
});
