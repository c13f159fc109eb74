/**
 * Alarm rules as the engine runs them, and the condition each one watches.
 *
 * Conditions are three-valued: `on`, `off`, or `unknown`. Unknown is what a value of bad or
 * stale quality gives a high/low rule, and what a machine state the console does not know
 * (`offline`: link down; `unknown`: state point unreadable) gives a state rule. An unknown condition neither raises nor
 * clears an alarm and restarts a running delay: the last good number must not keep an alarm
 * up as if it were live, nor may a dead sensor silently clear it. Losing the link is what
 * the link-loss rule is for.
 */
import type { AlarmPriority, Link, MachineState, PointValue } from '../../src-preload/contract';
import type { Profile } from '../config/schema';

/** `module`: raised from outside the profile's rules, by the IoT module manager (AlarmEngine.raiseExternal). */
export type AlarmKind = 'high' | 'low' | 'state' | 'link' | 'module' | 'uplink' | 'line' | 'audit' | 'history' | 'storage';

/** A profile's alarm rule, resolved for the engine (units looked up, delay in ms). */
export interface RuntimeRule {
  id: string;
  kind: AlarmKind;
  pointId: string | null;
  limit: number | null;
  deadband: number;
  delayMs: number;
  state: Exclude<MachineState, 'offline' | 'unknown'> | null;
  priority: AlarmPriority;
  message: string;
  unit: string;
  /** True for the link-loss rule the engine adds when the profile has none. */
  implicit: boolean;
}

/** What the engine sees of a machine at one poll. */
export interface AlarmInput {
  /** When the poll finished (ms since epoch). */
  ts: number;
  state: MachineState;
  link: Pick<Link, 'state'>;
  values: Readonly<Record<string, PointValue>>;
}

export type Condition = 'on' | 'off' | 'unknown';

/** The implicit link-loss rule: five seconds without a connection is worth a person's look. */
export const IMPLICIT_LINK_RULE = {
  id: 'link-loss',
  priority: 'high',
  delayMs: 5_000,
  message: 'No connection to the machine',
} as const;

/** The engine's rules for a profile: its own, plus the implicit link-loss rule unless it has a `link` rule. */
export function rulesFor(profile: Profile): RuntimeRule[] {
  const unitOf = (pointId: string | undefined): string => profile.points.find((p) => p.id === pointId)?.unit ?? '';
  const rules: RuntimeRule[] = profile.alarms.map((r) => ({
    id: r.id,
    kind: r.kind,
    pointId: r.kind === 'high' || r.kind === 'low' ? (r.point ?? null) : null,
    limit: r.kind === 'high' || r.kind === 'low' ? (r.limit ?? null) : null,
    deadband: r.deadband,
    delayMs: Math.round(r.delayS * 1000),
    state: r.kind === 'state' ? (r.state ?? null) : null,
    priority: r.priority,
    message: r.message,
    unit: r.kind === 'high' || r.kind === 'low' ? unitOf(r.point) : '',
    implicit: false,
  }));
  if (!rules.some((r) => r.kind === 'link')) {
    const taken = new Set(rules.map((r) => r.id));
    let id: string = IMPLICIT_LINK_RULE.id;
    // A profile may already use the id for another rule; the implicit one then steps aside.
    for (let i = 2; taken.has(id) && i < 100; i++) id = `${IMPLICIT_LINK_RULE.id}-${i}`;
    rules.push({
      id,
      kind: 'link',
      pointId: null,
      limit: null,
      deadband: 0,
      delayMs: IMPLICIT_LINK_RULE.delayMs,
      state: null,
      priority: IMPLICIT_LINK_RULE.priority,
      message: IMPLICIT_LINK_RULE.message,
      unit: '',
      implicit: true,
    });
  }
  return rules;
}

/**
 * The machine id of plant-level external alarms (an IoT module assigned to no machine). Device
 * ids are slugs starting with a letter or digit, so no configured machine can have it.
 */
export const PLANT_ALARM_MACHINE = '_plant';

/** The kinds of alarm raised from outside the profile's rules (`line`: the plant core, for a noisy Modbus line; `audit`: the syslog forwarding; `history`: trend data not saved; `storage`: the console's own disk). */
export type ExternalKind = 'module' | 'uplink' | 'line' | 'audit' | 'history' | 'storage';

/** An alarm raised from outside the profile's rules: the IoT module manager's health and threat events, the uplink's outbox, the history store. */
export interface ExternalAlarm {
  /** Who raises it (default 'module'). */
  kind?: ExternalKind;
  /** A configured machine, or PLANT_ALARM_MACHINE. */
  machineId: string;
  /** Unique per machine; must not collide with a profile rule's id (the module manager prefixes `module:`). */
  ruleId: string;
  priority: AlarmPriority;
  message: string;
}

/** The rule of an external alarm: never evaluated from polls, raised and cleared by its owner. */
export function externalRule(id: string, priority: AlarmPriority, message: string, kind: ExternalKind = 'module'): RuntimeRule {
  return {
    id,
    kind,
    pointId: null,
    limit: null,
    deadband: 0,
    delayMs: 0,
    state: null,
    priority,
    message,
    unit: '',
    implicit: false,
  };
}

/** The numeric value of a point when its quality is good, else null. */
export function goodNumber(pv: PointValue | undefined): number | null {
  if (!pv || pv.quality !== 'good') return null;
  if (typeof pv.value === 'number') return Number.isFinite(pv.value) ? pv.value : null;
  if (typeof pv.value === 'boolean') return pv.value ? 1 : 0;
  return null;
}

/**
 * Whether the rule's condition holds. `active` is whether the alarm currently stands for
 * its condition (active-unacked or active-acked): a standing high alarm holds until the value
 * falls below limit − deadband, so a value wobbling around the limit does not chatter.
 */
export function evaluate(rule: RuntimeRule, input: AlarmInput, active: boolean): Condition {
  switch (rule.kind) {
    case 'high':
    case 'low': {
      const v = rule.pointId === null ? null : goodNumber(input.values[rule.pointId]);
      if (v === null || rule.limit === null) return 'unknown';
      if (rule.kind === 'high') return (active ? v >= rule.limit - rule.deadband : v > rule.limit) ? 'on' : 'off';
      return (active ? v <= rule.limit + rule.deadband : v < rule.limit) ? 'on' : 'off';
    }
    case 'state':
      if (input.state === 'offline' || input.state === 'unknown') return 'unknown';
      return input.state === rule.state ? 'on' : 'off';
    case 'link':
      // `connecting` counts as lost too: a device never reached is not connected.
      return input.link.state === 'online' ? 'off' : 'on';
    case 'module':
    case 'uplink':
    case 'line':
    case 'audit':
    case 'history':
    case 'storage':
      // Raised and cleared by whoever owns it, never by a poll.
      return 'unknown';
    default: {
      const never: never = rule.kind;
      throw new Error(`unknown alarm kind ${String(never)}`);
    }
  }
}

/** The rule's watched value in this input (for events and the alarm's `value`), or null. */
export function valueOf(rule: RuntimeRule, input: AlarmInput): number | null {
  return rule.pointId === null ? null : goodNumber(input.values[rule.pointId]);
}

const RANK: Record<AlarmPriority, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/** Orders priorities from the most urgent (critical) to the least (low). */
export function priorityRank(p: AlarmPriority): number {
  return RANK[p];
}
