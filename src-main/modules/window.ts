/**
 * The plant's maintenance window: weekdays and a wall-clock span in the plant's time zone (as
 * shifts are, src-main/kpi/shifts.ts, so a window across a DST change is as long as people on
 * site experience it). A span whose end is before its start runs past midnight into the next
 * day, and belongs to the day it starts on ("Sat 22:00–02:00" is open early on Sunday too).
 */
import { wallTime, zonedTimeToEpoch } from '../kpi/shifts';
import { WEEKDAYS, type MaintenanceWindow, type Weekday } from './config';

const TITLE: Record<Weekday, string> = { sun: 'Sun', mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat' };

function minutes(hhmm: string): [number, number] {
  const [h, m] = hhmm.split(':').map(Number);
  return [h ?? 0, m ?? 0];
}

/** The openings of the window that start on the days around `now` (yesterday to tomorrow), as epoch ms. */
function spansAround(now: number, w: Exclude<MaintenanceWindow, 'always'>, timeZone: string): { start: number; end: number }[] {
  const today = wallTime(now, timeZone);
  const [sh, sm] = minutes(w.start);
  const [eh, em] = minutes(w.end);
  const overnight = eh * 60 + em <= sh * 60 + sm;
  const spans: { start: number; end: number }[] = [];
  for (let offset = -1; offset <= 7; offset++) {
    const d = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    const day = WEEKDAYS[d.getUTCDay()]!;
    if (!w.days.includes(day)) continue;
    const y = d.getUTCFullYear();
    const mo = d.getUTCMonth() + 1;
    const da = d.getUTCDate();
    const start = zonedTimeToEpoch(y, mo, da, sh, sm, timeZone);
    const e = overnight ? new Date(Date.UTC(y, mo - 1, da + 1)) : d;
    const end = zonedTimeToEpoch(e.getUTCFullYear(), e.getUTCMonth() + 1, e.getUTCDate(), eh, em, timeZone);
    if (end > start) spans.push({ start, end });
  }
  return spans;
}

/** Whether the window is open at `now`, and when it next opens or closes (null: never changes). */
export function windowAt(
  now: number,
  w: MaintenanceWindow,
  timeZone: string,
): { open: boolean; until: number | null; nextOpen: number | null } {
  if (w === 'always') return { open: true, until: null, nextOpen: null };
  const spans = spansAround(now, w, timeZone);
  const current = spans.find((s) => now >= s.start && now < s.end);
  if (current) return { open: true, until: current.end, nextOpen: null };
  const next = spans.filter((s) => s.start > now).sort((a, b) => a.start - b.start)[0];
  return { open: false, until: null, nextOpen: next?.start ?? null };
}

/** The window in words: "always", "Sat 06:00–14:00", "Mon–Fri 22:00–02:00", "Tue, Thu 12:00–13:00". */
export function windowText(w: MaintenanceWindow): string {
  if (w === 'always') return 'always (no maintenance window set)';
  // Monday first (0), as plants plan their weeks.
  const order = w.days.map((d) => (WEEKDAYS.indexOf(d) + 6) % 7).sort((a, b) => a - b);
  const runs: number[][] = [];
  for (const i of order) {
    const last = runs.at(-1);
    if (last && last.at(-1) === i - 1) last.push(i);
    else runs.push([i]);
  }
  const name = (i: number): string => TITLE[WEEKDAYS[(i + 1) % 7]!];
  const days = runs.map((r) => (r.length >= 3 ? `${name(r[0]!)}–${name(r.at(-1)!)}` : r.map(name).join(', '))).join(', ');
  return `${order.length === 7 ? 'daily' : days} ${w.start}–${w.end}`;
}
