/**
 * The alarm records the engine writes and what it shows of them: a raised alarm built from its
 * rule, the event of a transition, ISA-18.2 state tests, the order people read alarms in, and
 * the counts of the summary and of a tile's badge. Pure functions over alarms.
 */
import type { Alarm, AlarmEvent, AlarmPriority, AlarmState, AlarmSummary } from '../../src-preload/contract';
import { priorityRank, type RuntimeRule } from './rules';

/** Per-machine alarm figures for the overview tile's badge. */
export interface AlarmBadge {
  active: number;
  unacknowledged: number;
  highest: AlarmPriority | null;
}

export const isActive = (s: AlarmState | undefined): boolean => s === 'active-unacked' || s === 'active-acked';
export const isUnacked = (s: AlarmState | undefined): boolean => s === 'active-unacked' || s === 'cleared-unacked';

/** Sorts alarms for people: unacknowledged first, then by priority, then the newest first. */
export function compareAlarms(a: Alarm, b: Alarm): number {
  const ua = isUnacked(a.state) ? 0 : 1;
  const ub = isUnacked(b.state) ? 0 : 1;
  if (ua !== ub) return ua - ub;
  const p = priorityRank(a.priority) - priorityRank(b.priority);
  if (p !== 0) return p;
  return b.raisedAt - a.raisedAt || a.id.localeCompare(b.id);
}

/** A newly raised alarm of `rule`, as the rule words it now. */
export function raisedAlarm(id: string, machineId: string, rule: RuntimeRule, at: number, value: number | null): Alarm {
  return {
    id,
    machineId,
    ruleId: rule.id,
    kind: rule.kind,
    pointId: rule.pointId,
    priority: rule.priority,
    message: rule.message,
    state: 'active-unacked',
    value,
    limit: rule.limit,
    unit: rule.unit,
    raisedAt: at,
    clearedAt: null,
    ackedAt: null,
    ackedBy: null,
  };
}

/** The event of a transition that led `a` to its state. */
export function alarmEvent(a: Alarm, event: AlarmEvent['event'], at: number, user: string | null, value: number | null): AlarmEvent {
  return {
    at,
    alarmId: a.id,
    machineId: a.machineId,
    event,
    state: a.state,
    priority: a.priority,
    message: a.message,
    user,
    value,
    unit: a.unit,
  };
}

/** The contract's summary of current alarms (already sorted) and their counts. */
export function summaryOf(alarms: Alarm[]): AlarmSummary {
  return {
    alarms,
    counts: {
      active: alarms.filter((a) => isActive(a.state)).length,
      unacknowledged: alarms.filter((a) => isUnacked(a.state)).length,
    },
  };
}

/** Counts and the most urgent priority of some current alarms (one machine's). */
export function badgeOf(alarms: Iterable<Alarm>): AlarmBadge {
  let active = 0;
  let unacknowledged = 0;
  let highest: AlarmPriority | null = null;
  for (const a of alarms) {
    if (isActive(a.state)) active++;
    if (isUnacked(a.state)) unacknowledged++;
    if (highest === null || priorityRank(a.priority) < priorityRank(highest)) highest = a.priority;
  }
  return { active, unacknowledged, highest };
}
