/**
 * How a process value sits against its normal band, and which way it is heading: what the
 * overview bar and trend arrow draw.
 */
import type { RingBuffer } from './ringBuffer';

export interface Band {
  low: number;
  high: number;
}

export type Deviation = 'low' | 'high' | 'normal';

/** Where a value lies relative to its normal band. */
export function deviationOf(value: number, band: Band): Deviation {
  if (value < band.low) return 'low';
  if (value > band.high) return 'high';
  return 'normal';
}

export interface BarGeometry {
  /** Left and right edge of the normal band, percent of bar width. */
  bandFrom: number;
  bandTo: number;
  /** Marker position, percent of bar width, clamped to the bar. */
  marker: number;
  /** True when the value lies beyond the drawn scale (marker pinned to an end). */
  offScale: boolean;
}

/** Bar scale: the band takes the middle half, so a deviation of half a band still shows in place. */
export function barGeometry(value: number, band: Band): BarGeometry {
  const span = Math.max(band.high - band.low, Math.abs(band.high) * 1e-3, 1e-9);
  const min = band.low - span * 0.5;
  const max = band.high + span * 0.5;
  const pct = (x: number): number => ((x - min) / (max - min)) * 100;
  const raw = pct(value);
  return { bandFrom: pct(band.low), bandTo: pct(band.high), marker: Math.min(100, Math.max(0, raw)), offScale: raw < 0 || raw > 100 };
}

export type Trend = 'rising' | 'falling' | 'steady';

/**
 * Direction over the last `windowMs` from a least-squares slope; "steady" unless the change
 * over the window exceeds `threshold` (in the value's unit), so sensor noise does not flicker.
 */
export function trendOf(buf: RingBuffer | undefined, now: number, windowMs: number, threshold: number): Trend | null {
  if (!buf || buf.size < 3) return null;
  const from = now - windowMs;
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let i = buf.size - 1; i >= 0; i--) {
    const t = buf.timeAt(i);
    if (t < from) break;
    const v = buf.valueAt(i);
    if (Number.isNaN(v)) continue;
    const x = (t - now) / 1000;
    n++;
    sx += x;
    sy += v;
    sxx += x * x;
    sxy += x * v;
  }
  if (n < 3) return null;
  const denom = n * sxx - sx * sx;
  if (denom === 0) return 'steady';
  const slopePerS = (n * sxy - sx * sy) / denom;
  const change = slopePerS * (windowMs / 1000);
  if (change > threshold) return 'rising';
  if (change < -threshold) return 'falling';
  return 'steady';
}

/** Change that counts as a trend: 5 % of the band, or 1 % of the value without one. */
export function trendThreshold(band: Band | null, value: number): number {
  if (band) return Math.max((band.high - band.low) * 0.05, 1e-9);
  return Math.max(Math.abs(value) * 0.01, 1e-9);
}
