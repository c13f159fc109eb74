/**
 * How alarms read on screen: priority words, the ISA-18.2 state in words, the list order,
 * counts and test ids. Pure functions, shared by the header, tiles, lists and tests.
 */
import type { Alarm, AlarmEvent, AlarmPriority, AlarmState } from '../../../src-preload/contract';
import { formatHm } from './format';

export const PRIORITIES: readonly AlarmPriority[] = ['critical', 'high', 'medium', 'low'];

export const PRIORITY_WORD: Record<AlarmPriority, string> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  medium: 'MEDIUM',
  low: 'LOW',
};

/** Priority as a number people can read next to the shape (1 = most urgent). */
export const PRIORITY_NUMBER: Record<AlarmPriority, number> = { critical: 1, high: 2, medium: 3, low: 4 };

/** True for the states that still need a person's acknowledgement. */
export function isUnacked(state: AlarmState): boolean {
  return state === 'active-unacked' || state === 'cleared-unacked';
}

/** True while the alarm's condition is present. */
export function isActive(state: AlarmState): boolean {
  return state === 'active-unacked' || state === 'active-acked';
}

/** The state in words: "ACTIVE · NOT ACKNOWLEDGED", "ACTIVE · acknowledged by anna 02:31"… */
export function stateText(a: Pick<Alarm, 'state' | 'ackedBy' | 'ackedAt'>, timeZone: string): string {
  switch (a.state) {
    case 'active-unacked':
      return 'ACTIVE · NOT ACKNOWLEDGED';
    case 'cleared-unacked':
      return 'CLEARED · NOT ACKNOWLEDGED';
    case 'active-acked':
      return `ACTIVE · acknowledged${a.ackedBy ? ` by ${a.ackedBy}` : ''}${a.ackedAt ? ` ${formatHm(a.ackedAt, timeZone)}` : ''}`;
    case 'normal':
      return 'NORMAL';
    default: {
      const never: never = a.state;
      return String(never);
    }
  }
}

const EVENT_WORD: Record<AlarmEvent['event'], string> = {
  raised: 'Raised',
  acknowledged: 'Acknowledged',
  cleared: 'Cleared',
  normal: 'Reset (rule removed)',
};

/** What an event did, in words, with the state it led to. */
export function eventText(e: Pick<AlarmEvent, 'event' | 'state'>): string {
  const to = e.state === 'normal' ? 'normal' : e.state.replace('-unacked', ', not acknowledged').replace('-acked', ', acknowledged');
  return `${EVENT_WORD[e.event]} → ${to}`;
}

/** A test id part from an alarm id: "im-1/zone1-high" → "im-1-zone1-high". */
export function alarmKey(alarmId: string): string {
  return alarmId.replace(/\//g, '-');
}

const RANK: Record<AlarmPriority, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/** List order: unacknowledged first, then priority, then the newest first (as the core sorts). */
export function compareAlarms(a: Alarm, b: Alarm): number {
  const ua = isUnacked(a.state) ? 0 : 1;
  const ub = isUnacked(b.state) ? 0 : 1;
  if (ua !== ub) return ua - ub;
  const p = RANK[a.priority] - RANK[b.priority];
  if (p !== 0) return p;
  return b.raisedAt - a.raisedAt || a.id.localeCompare(b.id);
}

/** The most urgent priority among `alarms`, or null. */
export function highestPriority(alarms: readonly Pick<Alarm, 'priority'>[]): AlarmPriority | null {
  let best: AlarmPriority | null = null;
  for (const a of alarms) if (best === null || RANK[a.priority] < RANK[best]) best = a.priority;
  return best;
}

/** Counts for a header or badge. */
export interface AlarmCounts {
  total: number;
  active: number;
  unacknowledged: number;
  /** Most urgent priority among the unacknowledged alarms. */
  highestUnacked: AlarmPriority | null;
  /** Most urgent priority among all current alarms. */
  highest: AlarmPriority | null;
}

/** Counts of a set of current alarms. */
export function countAlarms(alarms: readonly Alarm[]): AlarmCounts {
  const unacked = alarms.filter((a) => isUnacked(a.state));
  return {
    total: alarms.length,
    active: alarms.filter((a) => isActive(a.state)).length,
    unacknowledged: unacked.length,
    highestUnacked: highestPriority(unacked),
    highest: highestPriority(alarms),
  };
}

/** "No alarms", "1 alarm · 1 unacknowledged", "3 alarms · all acknowledged". */
export function countText(c: Pick<AlarmCounts, 'total' | 'unacknowledged'>): string {
  if (c.total === 0) return 'No alarms';
  const n = `${c.total} alarm${c.total === 1 ? '' : 's'}`;
  return c.unacknowledged > 0 ? `${n} · ${c.unacknowledged} unacknowledged` : `${n} · all acknowledged`;
}
