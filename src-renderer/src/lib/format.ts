/**
 * Number, unit and time formatting for operator screens: fixed precision from the profile,
 * units always, percentages with one decimal, times in the plant's zone and relative.
 */
import type { PointMeta, PointValue } from '../../../src-preload/contract';

/** Shown instead of a number that is not live or not known. */
export const NO_VALUE = '—';

const numberFormats = new Map<number, Intl.NumberFormat>();

function numberFormat(decimals: number): Intl.NumberFormat {
  let f = numberFormats.get(decimals);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals, useGrouping: true });
    numberFormats.set(decimals, f);
  }
  return f;
}

/** A number with fixed decimals and thin-space thousands grouping (unambiguous in any locale), or "—". */
export function formatNumber(v: number | null | undefined, decimals: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return NO_VALUE;
  const d = Math.max(0, Math.min(6, Math.trunc(decimals)));
  const text = numberFormat(d).format(v);
  // Avoid "-0.0": a reading that rounds to zero is zero.
  return text.replace(/,/g, '\u202f').replace(/^-(0(?:\.0*)?)$/, '$1');
}

/** A 0..1 ratio as a percentage with one decimal: "87.3 %", or "—". */
export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return NO_VALUE;
  return `${formatNumber(ratio * 100, 1)} %`;
}

/** A number followed by its unit ("214.3 °C"); the unit is left off with the "—". */
export function withUnit(text: string, unit: string): string {
  return text === NO_VALUE || unit === '' ? text : `${text} ${unit}`;
}

/** The point's value as text without unit, using the profile's decimals; booleans as words. */
export function formatPointValue(value: PointValue['value'] | undefined, meta: Pick<PointMeta, 'decimals' | 'type'> | undefined): string {
  if (value === null || value === undefined) return NO_VALUE;
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (typeof value === 'string') return value.trim() === '' ? '(empty)' : value;
  return formatNumber(value, meta?.decimals ?? 1);
}

/** Raw registers (or bits) as hexadecimal words: "0x00D6 0x4C3A". */
export function formatRaw(raw: readonly number[], bits: boolean): string {
  if (raw.length === 0) return NO_VALUE;
  if (bits) return raw.map((b) => String(b)).join(' ');
  return raw.map((r) => `0x${(r & 0xffff).toString(16).toUpperCase().padStart(4, '0')}`).join(' ');
}

/** A duration in seconds as "12 s", "4 min 05 s", "2 h 05 min", "3 d 4 h". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return NO_VALUE;
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** How long ago `ts` was, seen from `now`: "12 s ago", "4 min ago", "2 h 5 min ago". */
export function formatAgo(ts: number | null | undefined, now: number): string {
  if (ts === null || ts === undefined || !Number.isFinite(ts) || ts <= 0) return 'never';
  const s = Math.max(0, Math.floor((now - ts) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

const dateFormats = new Map<string, Intl.DateTimeFormat>();

function dateFormat(timeZone: string, kind: 'time' | 'hm' | 'datetime' | 'zone'): Intl.DateTimeFormat {
  const key = `${timeZone}|${kind}`;
  let f = dateFormats.get(key);
  if (!f) {
    const base: Intl.DateTimeFormatOptions = { timeZone, hourCycle: 'h23' };
    const opts: Intl.DateTimeFormatOptions =
      kind === 'time'
        ? { ...base, hour: '2-digit', minute: '2-digit', second: '2-digit' }
        : kind === 'hm'
          ? { ...base, hour: '2-digit', minute: '2-digit' }
          : kind === 'datetime'
            ? { ...base, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }
            : { ...base, timeZoneName: 'short' };
    try {
      f = new Intl.DateTimeFormat('en-GB', opts);
    } catch {
      // An unknown zone from the core must not blank the screen: fall back to UTC, visibly.
      f = new Intl.DateTimeFormat('en-GB', { ...opts, timeZone: 'UTC' });
    }
    dateFormats.set(key, f);
  }
  return f;
}

/** Wall-clock time "14:03:12" in the plant's zone. */
export function formatClock(ts: number, timeZone: string): string {
  return dateFormat(timeZone, 'time').format(ts);
}

/** Hours and minutes "14:03" in the plant's zone. */
export function formatHm(ts: number, timeZone: string): string {
  return dateFormat(timeZone, 'hm').format(ts);
}

/** Date and time "26/11/2025, 14:03:12" in the plant's zone. */
export function formatDateTime(ts: number, timeZone: string): string {
  return dateFormat(timeZone, 'datetime').format(ts);
}

/** Short zone name at that instant ("CET", "GMT+1", "UTC"). */
export function zoneAbbrev(ts: number, timeZone: string): string {
  const part = dateFormat(timeZone, 'zone')
    .formatToParts(ts)
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? timeZone;
}

/** A shift's span "06:00–14:00" in the plant's zone. */
export function formatRange(start: number, end: number, timeZone: string): string {
  return `${formatHm(start, timeZone)}–${formatHm(end, timeZone)}`;
}
