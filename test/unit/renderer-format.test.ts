import { describe, expect, it } from 'vitest';
import {
  NO_VALUE,
  formatAgo,
  formatClock,
  formatDuration,
  formatNumber,
  formatPercent,
  formatPointValue,
  formatRange,
  formatRaw,
  withUnit,
  zoneAbbrev,
} from '../../src-renderer/src/lib/format';

describe('numbers', () => {
  it('uses the profile decimals and thin-space grouping', () => {
    expect(formatNumber(1234.567, 1)).toBe('1\u202f234.6');
    expect(formatNumber(214.3, 0)).toBe('214');
    expect(formatNumber(0.5, 2)).toBe('0.50');
    expect(formatNumber(-0.01, 1)).toBe('0.0');
    expect(formatNumber(-12.5, 1)).toBe('-12.5');
  });

  it('shows a dash for missing or non-finite numbers, never NaN', () => {
    expect(formatNumber(null, 1)).toBe(NO_VALUE);
    expect(formatNumber(undefined, 1)).toBe(NO_VALUE);
    expect(formatNumber(Number.NaN, 1)).toBe(NO_VALUE);
    expect(formatNumber(Number.POSITIVE_INFINITY, 1)).toBe(NO_VALUE);
  });

  it('formats ratios as percentages with one decimal', () => {
    expect(formatPercent(0.8734)).toBe('87.3 %');
    expect(formatPercent(1)).toBe('100.0 %');
    expect(formatPercent(null)).toBe(NO_VALUE);
  });

  it('adds units, but not to the dash', () => {
    expect(withUnit('214.3', '°C')).toBe('214.3 °C');
    expect(withUnit(NO_VALUE, '°C')).toBe(NO_VALUE);
    expect(withUnit('3', '')).toBe('3');
  });

  it('formats point values by type', () => {
    expect(formatPointValue(214.345, { decimals: 1, type: 'float32' })).toBe('214.3');
    expect(formatPointValue(true, { decimals: 0, type: 'bool' })).toBe('Yes');
    expect(formatPointValue(false, { decimals: 0, type: 'bool' })).toBe('No');
    expect(formatPointValue('AB12', { decimals: 1, type: 'string' })).toBe('AB12');
    expect(formatPointValue('  ', { decimals: 1, type: 'string' })).toBe('(empty)');
    expect(formatPointValue(null, { decimals: 1, type: 'float32' })).toBe(NO_VALUE);
  });

  it('shows raw registers as hex words and bits as digits', () => {
    expect(formatRaw([0x43d6, 0x1], false)).toBe('0x43D6 0x0001');
    expect(formatRaw([1], true)).toBe('1');
    expect(formatRaw([], false)).toBe(NO_VALUE);
  });
});

describe('times', () => {
  it('says how long ago, in words an operator reads at once', () => {
    const now = 1_000_000_000;
    expect(formatAgo(now - 12_400, now)).toBe('12 s ago');
    expect(formatAgo(now - 5 * 60_000, now)).toBe('5 min ago');
    expect(formatAgo(now - (2 * 3600 + 5 * 60) * 1000, now)).toBe('2 h 5 min ago');
    expect(formatAgo(now - 3 * 86_400_000, now)).toBe('3 d ago');
    expect(formatAgo(now + 500, now)).toBe('0 s ago');
    expect(formatAgo(null, now)).toBe('never');
  });

  it('formats durations', () => {
    expect(formatDuration(12)).toBe('12 s');
    expect(formatDuration(245)).toBe('4 min 05 s');
    expect(formatDuration(7500)).toBe('2 h 05 min');
    expect(formatDuration(-1)).toBe(NO_VALUE);
  });

  it('shows wall-clock time in the plant zone, 24 h, with the zone name', () => {
    const t = Date.UTC(2025, 0, 15, 13, 4, 5); // winter: Berlin is UTC+1
    expect(formatClock(t, 'UTC')).toBe('13:04:05');
    expect(formatClock(t, 'Europe/Berlin')).toBe('14:04:05');
    expect(zoneAbbrev(t, 'UTC')).toBe('UTC');
    expect(zoneAbbrev(t, 'Europe/Berlin')).toMatch(/CET|GMT\+1/);
    expect(formatRange(Date.UTC(2025, 0, 15, 5), Date.UTC(2025, 0, 15, 13), 'Europe/Berlin')).toBe('06:00–14:00');
  });

  it('falls back to UTC for an unknown zone instead of throwing', () => {
    expect(formatClock(Date.UTC(2025, 0, 15, 13, 4, 5), 'Mars/Olympus')).toBe('13:04:05');
  });
});
