/**
 * The alarm engine: evaluates each machine's alarm rules on every poll and keeps every alarm
 * in its ISA-18.2 state, writing each change through the alarm store.
 *
 *   normal ──condition (after delay)──▶ active-unacked ──ack──▶ active-acked ──clears──▶ normal
 *                                          │    ▲
 *                                   clears │    │ condition returns (after delay)
 *                                          ▼    │
 *                                      cleared-unacked ──ack──▶ normal
 *
 * Every transition is one AlarmEvent: `raised`, `acknowledged` (by a user) or `cleared`,
 * carrying the state it led to (an acknowledged cleared alarm and a cleared acknowledged one
 * both end in `normal`). `normal` as an event is used only when an alarm is reset without its
 * condition or a person: its rule or machine no longer exists after a restart.
 *
 * Time comes from the poll results and the injected clock, so tests drive delays by feeding
 * inputs and calling `advance`; in the core a single timer calls `advance` when the next
 * delay expires, so a link-loss alarm is raised on time even while polls back off.
 */
import type { Alarm, AlarmEvent, AlarmPriority, AlarmState, AlarmSummary } from '../../src-preload/contract';
import type { Profile } from '../config/schema';
import { ConsoleError } from '../core/errors';
import { silentLogger, type Logger } from '../core/log';
import type { Clock } from '../core/types';
import {
  evaluate,
  externalRule,
  PLANT_ALARM_MACHINE,
  rulesFor,
  valueOf,
  type AlarmInput,
  type ExternalAlarm,
  type ExternalKind,
  type RuntimeRule,
} from './rules';

export { PLANT_ALARM_MACHINE, type ExternalAlarm } from './rules';
import { alarmEvent, badgeOf, compareAlarms, isActive, isUnacked, raisedAlarm, summaryOf, type AlarmBadge } from './records';
import { createMemoryAlarmStore, type AlarmHistoryQuery, type AlarmStore } from './store';

export { compareAlarms, type AlarmBadge } from './records';

/** A machine as the engine knows it: its id and the profile its rules come from. */
export interface AlarmMachine {
  id: string;
  profile: Profile;
}

/** What the engine is built from. */
export interface AlarmEngineOptions {
  machines: readonly AlarmMachine[];
  clock: Clock;
  /** Default: a fresh in-memory store. A store with saved alarms continues where it left off. */
  store?: AlarmStore;
  log?: Logger;
  /** Arm a timer for the next expiring delay (default true; unit tests call `advance`). */
  timers?: boolean;
  /** History older than this may be forgotten (default: keep everything the store's cap allows). */
  keepFrom?: (nowMs: number) => number;
}

/** Outcome of an acknowledge request. */
export interface AckResult {
  acknowledged: string[];
  unknown: string[];
}

interface Slot {
  readonly id: string;
  readonly machineId: string;
  /** Replaced by each raise of an external alarm (its priority and words may change). */
  rule: RuntimeRule;
  /** The alarm, or null while it is normal. */
  alarm: Alarm | null;
  /** Since when the condition has held while the alarm waits for its delay. */
  pendingSince: number | null;
  /** The last good value of the watched point (events of acks and delayed raises). */
  lastValue: number | null;
}

const isExternalKind = (k: string): k is ExternalKind =>
  k === 'module' || k === 'uplink' || k === 'line' || k === 'audit' || k === 'history';

/** Keeps every machine's alarms in their ISA-18.2 states. */
export class AlarmEngine {
  private readonly clock: Clock;
  private readonly store: AlarmStore;
  private readonly log: Logger;
  private readonly timers: boolean;
  private readonly keepFrom: ((nowMs: number) => number) | undefined;
  private readonly slots = new Map<string, Slot>();
  private readonly byMachine = new Map<string, Slot[]>();
  private readonly lastInput = new Map<string, AlarmInput>();
  private readonly handlers = new Set<(summary: AlarmSummary) => void>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerDueAt: number | null = null;
  private stopped = false;

  constructor(opts: AlarmEngineOptions) {
    this.clock = opts.clock;
    this.store = opts.store ?? createMemoryAlarmStore();
    this.log = opts.log ?? silentLogger;
    this.timers = opts.timers ?? true;
    this.keepFrom = opts.keepFrom;
    for (const m of opts.machines) {
      const list: Slot[] = [];
      for (const rule of rulesFor(m.profile)) {
        const slot: Slot = { id: `${m.id}/${rule.id}`, machineId: m.id, rule, alarm: null, pendingSince: null, lastValue: null };
        this.slots.set(slot.id, slot);
        list.push(slot);
      }
      this.byMachine.set(m.id, list);
    }
    this.restore();
  }

  /** Feeds one poll of one machine; returns true when any alarm changed. */
  update(machineId: string, input: AlarmInput): boolean {
    const slots = this.byMachine.get(machineId);
    if (!slots || this.stopped) return false;
    this.lastInput.set(machineId, input);
    let changed = false;
    for (const slot of slots) changed = this.step(slot, input, input.ts) || changed;
    this.afterChange(changed);
    return changed;
  }

  /** Raises alarms whose delay has expired by `now` while their condition held; true when any changed. */
  advance(now = this.clock.now()): boolean {
    if (this.stopped) return false;
    let changed = false;
    for (const slot of this.slots.values()) {
      if (slot.pendingSince === null || isActive(slot.alarm?.state)) continue;
      const input = this.lastInput.get(slot.machineId);
      if (!input || now - slot.pendingSince < slot.rule.delayMs) continue;
      changed = this.step(slot, input, Math.max(now, input.ts)) || changed;
    }
    this.afterChange(changed);
    return changed;
  }

  /**
   * Raises an external alarm (or raises it again after it cleared); an alarm already active
   * stays as it is. Acknowledged and cleared like any other; returns true when it changed.
   */
  raiseExternal(a: ExternalAlarm, at = this.clock.now()): boolean {
    if (this.stopped) return false;
    const slot = this.externalSlot(a.machineId, a.ruleId, a.priority, a.message, a.kind);
    slot.rule = { ...slot.rule, priority: a.priority, message: a.message };
    if (isActive(slot.alarm?.state)) return false;
    const raised = raisedAlarm(slot.id, slot.machineId, slot.rule, at, null);
    this.transition(slot, raised, 'raised', at, null, null);
    this.afterChange(true);
    return true;
  }

  /** Clears an external alarm whose condition ended (it stays until acknowledged, as any alarm); true when it changed. */
  clearExternal(machineId: string, ruleId: string, at = this.clock.now()): boolean {
    const slot = this.slots.get(`${machineId}/${ruleId}`);
    const a = slot?.alarm;
    if (this.stopped || !slot || !a || !isActive(a.state)) return false;
    const next: AlarmState = a.state === 'active-unacked' ? 'cleared-unacked' : 'normal';
    this.transition(slot, { ...a, state: next, clearedAt: at }, 'cleared', at, null, null);
    this.afterChange(true);
    return true;
  }

  /** The slot of an external alarm, made on first use. */
  private externalSlot(
    machineId: string,
    ruleId: string,
    priority: AlarmPriority = 'high',
    message = '',
    kind: ExternalKind = 'module',
  ): Slot {
    const id = `${machineId}/${ruleId}`;
    const found = this.slots.get(id);
    if (found) {
      if (found.rule.kind !== kind)
        throw new ConsoleError(
          'BAD_REQUEST',
          `Alarm ${id} belongs to ${isExternalKind(found.rule.kind) ? `the ${found.rule.kind}` : "the machine's profile"}`,
        );
      return found;
    }
    if (machineId !== PLANT_ALARM_MACHINE && !this.byMachine.has(machineId))
      throw new ConsoleError('NOT_FOUND', `No machine "${machineId}" for alarm ${ruleId}`);
    const slot: Slot = {
      id,
      machineId,
      rule: externalRule(ruleId, priority, message, kind),
      alarm: null,
      pendingSince: null,
      lastValue: null,
    };
    this.slots.set(id, slot);
    const list = this.byMachine.get(machineId) ?? [];
    list.push(slot);
    this.byMachine.set(machineId, list);
    return slot;
  }

  /** Acknowledges alarms for `user`; acking one that needs no ack is a no-op, not an error. */
  acknowledge(ids: readonly string[], user: string, now = this.clock.now()): AckResult {
    const acknowledged: string[] = [];
    const unknown: string[] = [];
    let changed = false;
    for (const id of new Set(ids)) {
      const slot = this.slots.get(id);
      if (!slot) {
        unknown.push(id);
        continue;
      }
      acknowledged.push(id);
      const a = slot.alarm;
      if (!a || !isUnacked(a.state)) continue;
      const next: AlarmState = a.state === 'active-unacked' ? 'active-acked' : 'normal';
      this.transition(slot, { ...a, state: next, ackedAt: now, ackedBy: user }, 'acknowledged', now, user, slot.lastValue);
      changed = true;
    }
    this.afterChange(changed);
    return { acknowledged, unknown };
  }

  /** Current alarms (not normal), of one machine or the plant, sorted for people. */
  alarms(machineId?: string): Alarm[] {
    const out: Alarm[] = [];
    for (const slot of this.slots.values()) {
      if (slot.alarm && (machineId === undefined || slot.machineId === machineId)) out.push({ ...slot.alarm });
    }
    return out.sort(compareAlarms);
  }

  /** The contract's summary: current alarms and their counts. */
  summary(machineId?: string): AlarmSummary {
    return summaryOf(this.alarms(machineId));
  }

  /** Counts and the most urgent priority of one machine's current alarms. */
  badge(machineId: string): AlarmBadge {
    return badgeOf((this.byMachine.get(machineId) ?? []).flatMap((slot) => (slot.alarm ? [slot.alarm] : [])));
  }

  /** True when an alarm (current or not) with this id can exist: `machineId/ruleId` of a configured rule. */
  has(alarmId: string): boolean {
    return this.slots.has(alarmId);
  }

  /** Alarm events, newest first. */
  history(query: AlarmHistoryQuery = {}): AlarmEvent[] {
    return this.store.history(query);
  }

  /** Calls `handler` with the plant's summary after every change; returns the unsubscribe. */
  onChange(handler: (summary: AlarmSummary) => void): () => void {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  /** When the next pending delay expires (ms since epoch), or null when none is pending. */
  nextDueAt(): number | null {
    let due: number | null = null;
    for (const slot of this.slots.values()) {
      if (slot.pendingSince === null || isActive(slot.alarm?.state)) continue;
      const t = slot.pendingSince + slot.rule.delayMs;
      if (due === null || t < due) due = t;
    }
    return due;
  }

  /** Stops the delay timer; the engine then ignores further input. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerDueAt = null;
  }

  /** Picks up the store's saved alarms (a restart); alarms whose rule is gone return to normal. */
  private restore(): void {
    const now = this.clock.now();
    for (const saved of this.store.current()) {
      // An external alarm has no rule in a profile: its slot comes back from the saved alarm.
      const kind = saved.kind;
      const external = isExternalKind(kind) && (saved.machineId === PLANT_ALARM_MACHINE || this.byMachine.has(saved.machineId));
      const slot =
        this.slots.get(saved.id) ??
        (external && isExternalKind(kind)
          ? this.externalSlot(saved.machineId, saved.ruleId, saved.priority, saved.message, kind)
          : undefined);
      if (!slot) {
        this.log.log('warn', `Alarm ${saved.id}: its rule no longer exists; returned to normal`, { alarm: saved.id });
        const gone: Alarm = { ...saved, state: 'normal', clearedAt: saved.clearedAt ?? now };
        this.store.commit(gone, alarmEvent(gone, 'normal', now, null, null));
        continue;
      }
      // The rule may have been edited since: its current priority, message and limit apply.
      const r = slot.rule;
      slot.alarm = { ...saved, priority: r.priority, message: r.message, limit: r.limit, unit: r.unit, kind: r.kind, pointId: r.pointId };
      slot.lastValue = saved.value;
    }
  }

  /** Runs one rule against one input at time `at`; true when its alarm changed. */
  private step(slot: Slot, input: AlarmInput, at: number): boolean {
    const rule = slot.rule;
    const a = slot.alarm;
    const active = isActive(a?.state);
    const cond = evaluate(rule, input, active);
    const value = valueOf(rule, input);
    if (value !== null) slot.lastValue = value;
    if (cond === 'unknown') {
      // Quality is part of the value: an unknown condition neither raises nor clears, and a
      // delay must be served by known values only.
      slot.pendingSince = null;
      return false;
    }
    if (active && a) {
      if (cond === 'on') return false;
      const next: AlarmState = a.state === 'active-unacked' ? 'cleared-unacked' : 'normal';
      this.transition(slot, { ...a, state: next, clearedAt: at }, 'cleared', at, null, value);
      return true;
    }
    if (cond === 'off') {
      slot.pendingSince = null;
      return false;
    }
    slot.pendingSince ??= input.ts;
    if (at - slot.pendingSince < rule.delayMs) return false;
    slot.pendingSince = null;
    const raised = raisedAlarm(slot.id, slot.machineId, rule, at, value ?? slot.lastValue);
    this.transition(slot, raised, 'raised', at, null, raised.value);
    return true;
  }

  private transition(slot: Slot, next: Alarm, event: AlarmEvent['event'], at: number, user: string | null, value: number | null): void {
    // Through the store first: if it throws, the engine has not moved either.
    this.store.commit(next, alarmEvent(next, event, at, user, value));
    slot.alarm = next.state === 'normal' ? null : next;
    this.log.log(event === 'raised' ? 'warn' : 'info', `Alarm ${slot.id} ${event} → ${next.state}`, {
      alarm: slot.id,
      priority: next.priority,
      ...(user ? { user } : {}),
      ...(value !== null ? { value } : {}),
    });
  }

  private afterChange(changed: boolean): void {
    if (changed) {
      if (this.keepFrom) this.store.trim(this.keepFrom(this.clock.now()));
      const summary = this.summary();
      for (const h of [...this.handlers]) {
        try {
          h(summary);
        } catch (err) {
          // One failing subscriber (a closed socket) must not starve the others.
          this.log.log('warn', 'An alarm event handler threw', { error: String(err) });
        }
      }
    }
    this.schedule();
  }

  private schedule(): void {
    if (!this.timers || this.stopped) return;
    const due = this.nextDueAt();
    if (due === this.timerDueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerDueAt = due;
    if (due === null) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerDueAt = null;
        this.advance();
      },
      Math.max(0, due - this.clock.now()),
    );
    this.timer.unref?.();
  }
}
