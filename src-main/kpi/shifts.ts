/**
 * Shift calendar: shift start times are wall-clock HH:MM in the plant's time zone, each shift
 * ends where the next one starts (wrapping over midnight). Wall times are turned into epoch ms
 * with Intl.DateTimeFormat alone, so a night shift across a DST change is 7 h or 9 h long, as
 * the people working it experience it.
 */
import type { Shift } from '../../src-preload/contract';

/** A shift as configured: its name and its start as HH:MM local time. */
export interface ShiftDef {
  name: string;
  start: string;
}

const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock time in `timeZone` at the instant `ms`. */
export function wallTime(ms: number, timeZone: string): WallTime {
  const out: WallTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) {
    if (part.type in out) out[part.type as keyof WallTime] = Number(part.value);
  }
  // Some ICU versions still print midnight as 24 despite h23.
  if (out.hour === 24) out.hour = 0;
  return out;
}

/** Offset of `timeZone` from UTC at the instant `ms`, in ms (Europe/Berlin in summer: +7 200 000). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const w = wallTime(ms, timeZone);
  const wholeSecond = ms - (((ms % 1000) + 1000) % 1000);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - wholeSecond;
}

/**
 * The instant at which the wall clock in `timeZone` shows the given local time. In the autumn
 * fold (the hour that happens twice) the first occurrence wins; in the spring gap (a time
 * that never happens) the clock is read with the offset from before the change, which lands
 * as far after the gap as the time was into it (02:30 → 03:30 summer time).
 */
export function zonedTimeToEpoch(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): number {
  const local = Date.UTC(year, month - 1, day, hour, minute);
  const before = zoneOffsetMs(local - DAY_MS, timeZone);
  const after = zoneOffsetMs(local + DAY_MS, timeZone);
  const valid = [local - before, local - after].filter((t) => zoneOffsetMs(t, timeZone) === local - t);
  if (valid.length > 0) return Math.min(...valid);
  return local - before;
}

function parseHhmm(s: string): [number, number] {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s);
  if (!m) throw new RangeError(`Shift start "${s}" is not HH:MM`);
  return [Number(m[1]), Number(m[2])];
}

/** The shift that contains `nowMs`: its name, start and end (ms since epoch). */
export function currentShift(nowMs: number, shifts: readonly ShiftDef[], timeZone: string): Shift {
  if (shifts.length === 0) throw new RangeError('At least one shift is needed');
  const today = wallTime(nowMs, timeZone);
  const starts: { name: string; t: number }[] = [];
  // Yesterday, today and tomorrow always hold a start at or before now and one after it.
  for (const dayOffset of [-1, 0, 1]) {
    const d = new Date(Date.UTC(today.year, today.month - 1, today.day + dayOffset));
    for (const s of shifts) {
      const [hh, mm] = parseHhmm(s.start);
      starts.push({ name: s.name, t: zonedTimeToEpoch(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), hh, mm, timeZone) });
    }
  }
  starts.sort((a, b) => a.t - b.t);
  let i = starts.length - 1;
  while (i > 0 && (starts[i]?.t ?? Infinity) > nowMs) i--;
  const cur = starts[i];
  const next = starts.slice(i + 1).find((s) => cur !== undefined && s.t > cur.t);
  if (!cur || !next) throw new RangeError('Shift calendar has no shift around this time');
  return { name: cur.name, start: cur.t, end: next.t };
}

/** `currentShift` with the last answer cached until that shift ends (it is asked on every poll). */
export function shiftCalendar(shifts: readonly ShiftDef[], timeZone: string): (nowMs: number) => Shift {
  let cached: Shift | null = null;
  return (nowMs) => {
    if (cached && nowMs >= cached.start && nowMs < cached.end) return cached;
    cached = currentShift(nowMs, shifts, timeZone);
    return cached;
  };
}
