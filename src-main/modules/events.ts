/**
 * Where a module's health and threat events go, each of them to all four places: the module's
 * event list in the store (the Modules page), an ISA-18.2 alarm on the machine the module sits
 * on (or a plant-level alarm for a module on none: alarm page, header count, tile badge), the
 * audit log (`module_event`), and a sealed health event to the supplier cloud through the
 * uplink outbox (protocol/module-health.ts) when the plant has an uplink.
 *
 * Conditions (tamper, missed heartbeats, …) raise once and clear once. Momentary events (a
 * restart, a rollback, a wrong key) raise and clear at once, so the alarm waits for an
 * acknowledgement; one repeating while its alarm still waits only counts up, so a module
 * flooding wrong-key heartbeats cannot flood the alarm list, the audit log or the uplink.
 */
import { randomUUID } from 'node:crypto';
import type { AlarmPriority, ModuleEventKind } from '../../src-preload/contract';
import { PLANT_ALARM_MACHINE, type ExternalAlarm } from '../alarms/engine';
import type { AuditSink } from '../audit/record';
import type { Logger } from '../core/log';
import type { ReportKeys } from '../uplink/service';
import { sealHealthEvent, type HealthEventBody } from '../protocol/module-health';
import type { ModuleStore } from './store';
import type { StoredEvent } from './types';

/** How urgent each event is. */
export const EVENT_PRIORITY: Record<ModuleEventKind, AlarmPriority> = {
  'bad-heartbeat-signature': 'critical',
  'unknown-firmware': 'critical',
  tamper: 'high',
  'foreign-modbus-client': 'high',
  'setpoint-changed-outside': 'high',
  rollback: 'medium',
  'unexpected-restart': 'medium',
  'heartbeat-missed': 'medium',
  'clock-skew': 'low',
};

/** Plain words for each kind (the alarm's title). */
export const EVENT_TITLE: Record<ModuleEventKind, string> = {
  'heartbeat-missed': 'No heartbeat',
  'unknown-firmware': 'Unknown firmware',
  'unexpected-restart': 'Unexpected restart',
  rollback: 'Firmware rolled back',
  tamper: 'Enclosure opened',
  'foreign-modbus-client': 'Foreign Modbus client',
  'setpoint-changed-outside': 'Setpoint changed outside the console',
  'bad-heartbeat-signature': 'Heartbeat signed by a wrong key',
  'clock-skew': 'Clock skew',
};

/** Events that happen once rather than hold. */
export const MOMENTARY: readonly ModuleEventKind[] = [
  'unexpected-restart',
  'rollback',
  'bad-heartbeat-signature',
  'setpoint-changed-outside',
];

/** A momentary event repeating within this time while its alarm still waits only counts up. */
export const REPEAT_QUIET_MS = 10 * 60_000;

/** What the uplink offers for health events (UplinkService.queueReports with kind `health`). */
export interface HealthQueue {
  readonly plant: { pseudonym: string };
  pseudonyms(): Map<string, string>;
  queueReports(
    reports: readonly { machine: string; at: number; seal(keys: ReportKeys, seq: number): Uint8Array }[],
    within?: () => void,
    kind?: 'reco' | 'health',
  ): { seqs: number[]; refused: number };
}

export interface ModuleEventsOptions {
  store: ModuleStore;
  alarms: {
    raiseExternal(a: ExternalAlarm, at?: number): boolean;
    clearExternal(machineId: string, ruleId: string, at?: number): boolean;
    alarms(machineId?: string): { id: string; state: string }[];
  };
  audit?: AuditSink | undefined;
  health: HealthQueue | null;
  /** The machine a module sits on (config), or null. */
  machineOf(moduleId: string): string | null;
  now(): number;
  log: Logger;
  changed(): void;
}

/** A module's events and their alarms, audit records and health reports. */
export class ModuleEvents {
  /** `module/kind` → the standing condition or the last momentary event. */
  private readonly current = new Map<string, StoredEvent>();

  constructor(private readonly o: ModuleEventsOptions) {
    for (const e of o.store.activeEvents()) this.current.set(`${e.moduleId}/${e.kind}`, e);
  }

  /** Kinds active for a module now. */
  active(moduleId: string): ModuleEventKind[] {
    return [...this.current.values()].filter((e) => e.moduleId === moduleId && e.active).map((e) => e.kind);
  }

  /** A condition holds: raised once (its words updated while it stands). */
  raise(moduleId: string, kind: ModuleEventKind, message: string): void {
    const key = `${moduleId}/${kind}`;
    const cur = this.current.get(key);
    if (cur?.active) {
      if (cur.message !== message) {
        cur.message = message;
        this.o.store.updateEvent(cur);
        this.o.changed();
      }
      return;
    }
    const e = this.record(moduleId, kind, message, true);
    this.current.set(key, e);
    this.alarm(e);
    this.report(e);
  }

  /** A condition ended. */
  clear(moduleId: string, kind: ModuleEventKind, message?: string): void {
    const key = `${moduleId}/${kind}`;
    const cur = this.current.get(key);
    if (!cur?.active) return;
    cur.active = false;
    this.o.store.updateEvent(cur);
    const at = this.o.now();
    const machine = this.o.machineOf(moduleId) ?? PLANT_ALARM_MACHINE;
    this.safely(() => this.o.alarms.clearExternal(machine, ruleId(moduleId, kind), at));
    const ended = { ...cur, at, message: message ?? `${EVENT_TITLE[kind]}: ended` };
    this.audit(ended, false);
    this.send(ended, false);
    this.o.changed();
  }

  /** Something happened once: raised and cleared at once, its alarm waits for an acknowledgement. */
  momentary(moduleId: string, kind: ModuleEventKind, message: string): void {
    const key = `${moduleId}/${kind}`;
    const cur = this.current.get(key);
    const machine = this.o.machineOf(moduleId) ?? PLANT_ALARM_MACHINE;
    const standing = this.o.alarms.alarms().some((a) => a.id === `${machine}/${ruleId(moduleId, kind)}` && a.state !== 'normal');
    if (cur && !cur.active && standing && this.o.now() - cur.at < REPEAT_QUIET_MS) {
      cur.count += 1;
      cur.message = message;
      this.o.store.updateEvent(cur);
      this.o.changed();
      return;
    }
    const e = this.record(moduleId, kind, message, false);
    this.current.set(key, e);
    this.alarm(e);
    this.safely(() => this.o.alarms.clearExternal(machine, ruleId(moduleId, kind), e.at));
    this.report(e);
  }

  private record(moduleId: string, kind: ModuleEventKind, message: string, active: boolean): StoredEvent {
    const e: StoredEvent = {
      id: randomUUID(),
      moduleId,
      machineId: this.o.machineOf(moduleId),
      kind,
      at: this.o.now(),
      message,
      active,
      count: 1,
    };
    this.o.store.addEvent(e);
    this.o.log.log('warn', `Module ${moduleId}: ${EVENT_TITLE[kind]} — ${message}`, { module: moduleId, event: kind });
    this.o.changed();
    return e;
  }

  private alarm(e: StoredEvent): void {
    const machineId = e.machineId ?? PLANT_ALARM_MACHINE;
    this.safely(() =>
      this.o.alarms.raiseExternal(
        {
          machineId,
          ruleId: ruleId(e.moduleId, e.kind),
          priority: EVENT_PRIORITY[e.kind],
          message: `Module ${e.moduleId}: ${EVENT_TITLE[e.kind]} — ${e.message}`,
        },
        e.at,
      ),
    );
  }

  /** A raise (a condition began, or something happened once): `active` in the record and the report. */
  private report(e: StoredEvent): void {
    this.audit(e, true);
    this.send(e, true);
  }

  private audit(e: StoredEvent, active: boolean): void {
    this.o.audit?.record({
      kind: 'module_event',
      machineId: e.machineId,
      at: e.at,
      detail: { module: e.moduleId, event: e.kind, active, momentary: MOMENTARY.includes(e.kind), message: e.message },
    });
  }

  private send(e: StoredEvent, active: boolean): void {
    const h = this.o.health;
    if (!h) return;
    try {
      const body: Omit<HealthEventBody, 'seq'> = {
        v: 1,
        plant: h.plant.pseudonym,
        machine: e.machineId ? (h.pseudonyms().get(e.machineId) ?? '') : '',
        module: e.moduleId,
        kind: e.kind,
        at: e.at,
        active,
        message: `${EVENT_TITLE[e.kind]}: ${e.message}`,
      };
      const done = h.queueReports(
        [{ machine: body.machine, at: e.at, seal: (keys, seq) => sealHealthEvent({ ...body, seq }, keys) }],
        undefined,
        'health',
      );
      if (done.refused > 0)
        this.o.log.log('error', 'A module health event was not recorded: the uplink outbox is full', { module: e.moduleId, event: e.kind });
    } catch (err) {
      this.o.log.log('error', 'A module health event could not be queued for the cloud', {
        module: e.moduleId,
        event: e.kind,
        error: String(err),
      });
    }
  }

  private safely(fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      this.o.log.log('error', 'A module alarm could not be raised or cleared', { error: String(err) });
    }
  }
}

/** The alarm rule id of a module's event kind. */
export function ruleId(moduleId: string, kind: ModuleEventKind): string {
  return `module:${moduleId}:${kind}`;
}
