import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src-main/modbus/backoff';

const b = { initialDelayMs: 500, maxDelayMs: 30_000, randomisationFactor: 0.2 };
const mid = () => 0.5; // no jitter

describe('backoffDelay', () => {
  it('doubles from initialDelayMs and caps at maxDelayMs', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, b, mid))).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('treats attempts below 1, fractions and non-numbers as the first attempt or its floor', () => {
    expect(backoffDelay(0, b, mid)).toBe(500);
    expect(backoffDelay(-3, b, mid)).toBe(500);
    expect(backoffDelay(Number.NaN, b, mid)).toBe(500);
    expect(backoffDelay(2.9, b, mid)).toBe(1000);
  });

  it('stays at the cap for huge attempt numbers (no overflow to Infinity or NaN)', () => {
    expect(backoffDelay(10_000, b, mid)).toBe(30_000);
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, b, () => 0)).toBe(24_000);
  });

  it('jitters by ± randomisationFactor', () => {
    expect(backoffDelay(3, b, () => 0)).toBe(1600); // 2000 × 0.8
    expect(backoffDelay(3, b, () => 0.999999)).toBe(2400); // ≈ 2000 × 1.2
    expect(backoffDelay(3, b, () => 0.25)).toBe(1800);
  });

  it('never exceeds maxDelayMs and is never negative, whatever random returns', () => {
    const wild = [0, 0.5, 0.999, 1, -5, 7, Number.NaN];
    for (const factor of [0, 0.2, 0.5, 1]) {
      for (let n = 1; n <= 12; n++) {
        for (const r of wild) {
          const d = backoffDelay(n, { ...b, randomisationFactor: factor }, () => r);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(b.maxDelayMs);
          expect(Number.isInteger(d)).toBe(true);
        }
      }
    }
  });

  it('with factor 1 can reach 0 and is capped above', () => {
    const full = { ...b, randomisationFactor: 1 };
    expect(backoffDelay(1, full, () => 0)).toBe(0);
    expect(backoffDelay(1, full, () => 0.999999)).toBe(1000);
    expect(backoffDelay(7, full, () => 0.999999)).toBe(30_000);
  });

  it('caps at maxDelayMs even when it is below initialDelayMs', () => {
    expect(backoffDelay(1, { initialDelayMs: 1000, maxDelayMs: 100, randomisationFactor: 0.5 }, () => 0.99)).toBe(100);
  });

  it('spreads over the jitter range with Math.random', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(4, b);
      expect(d).toBeGreaterThanOrEqual(3200);
      expect(d).toBeLessThanOrEqual(4800);
      seen.add(d);
    }
    expect(seen.size).toBeGreaterThan(20);
  });
});
