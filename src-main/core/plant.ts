/**
 * The plant core: one machine model and one poller per configured device, the history store,
 * the minute tick (KPI samples, history retention), and typed events for the API layer.
 * Plain Node: no Electron, no transport; those sit on top.
 */
import { AlarmEngine } from '../alarms/engine';
import type { AuditSink } from '../audit/record';
import type { AlarmStore } from '../alarms/store';
import type {
  AlarmSummary,
  Caller,
  Health,
  MachineDetail,
  MachineSnapshot,
  MachineState,
  PlantInfo,
  PointMeta,
  PointValue,
  Shift,
} from '../../src-preload/contract';
import type { PlantConfig, ResolvedDevice } from '../config/schema';
import { shiftCalendar } from '../kpi/shifts';
import { ConsoleError, toErrorInfo } from './errors';
import { createMemoryHistory } from './history-memory';
import { silentLogger, type Logger } from './log';
import { LineQualityAlarms } from './line-alarm';
import { MachineModel } from './machine';
import { systemClock, type Clock, type HistoryStore, type Poller, type PollResult } from './types';
import type { WriteLogStore } from './write-log';
import { WriteService } from './writes';

export type CoreStatus = 'starting' | 'running' | 'stopping';

/** The payload of a core status change. */
export interface CoreStatusEvent {
  state: CoreStatus;
  ts: number;
}

/** Builds the poller of one device. */
export type PollerFactory = (device: ResolvedDevice) => Poller;

/** What the core is built from; everything but `config` has a production default. */
export interface PlantCoreOptions {
  config: PlantConfig;
  /** Default: the Modbus TCP poller, loaded when the core starts. */
  pollerFactory?: PollerFactory;
  history?: HistoryStore;
  clock?: Clock;
  log?: Logger;
  version?: string;
  /** Period of KPI samples and history trimming (default one minute). */
  tickMs?: number;
  /** History older than this is trimmed at each tick (default: config.history.retentionMin). */
  historyRetentionMs?: number;
  /**
   * How far back the value history answers, rollups included (default: historyRetentionMs). The
   * alarm journal keeps at least this long, and at least the current shift.
   */
  historySpanMs?: number;
  /** Where write results are kept (default: in memory). */
  writeLog?: WriteLogStore;
  /** Where alarms and their history are kept (default: in memory); saved alarms are continued. */
  alarmStore?: AlarmStore;
  /** The audit log: writes, reverts and (through the API) alarm acknowledgements are recorded in it. */
  audit?: AuditSink;
}

type Handler<T> = (payload: T) => void;

/** One poll of one machine as the uplink takes it: every sample, whatever the rate (no KPIs, no copy). */
export interface MachinePoll {
  id: string;
  ts: number;
  /** The machine's current values (replaced, never changed, by the next poll). */
  values: Readonly<Record<string, PointValue>>;
}

/** Machine events (snapshots, with KPIs) go out at most this often per machine: 10 Hz, whatever the poll rate. */
export const MACHINE_EVENT_MS = 100;

const DAY_MS = 86_400_000;

/**
 * How long a plant with the persistent store keeps its value history: raw samples for
 * `retentionDays` (what the core trims), and over that the one-minute rollups for
 * `rollupRetentionDays`, from which queries over older ranges are answered. The span is what
 * the alarm journal keeps at least, so every stretch of a trend still has its alarms.
 */
export function historyRetention(config: PlantConfig): { rawMs: number; spanMs: number } {
  const rawMs = config.history.retentionDays * DAY_MS;
  return { rawMs, spanMs: Math.max(rawMs, config.history.rollupRetentionDays * DAY_MS) };
}

/** Composes machines, pollers and history, and publishes machine and status events. */
export class PlantCore {
  private readonly historyRetentionMs: number | undefined;
  /** What loses or withholds data now (a full disk, undelivered batches), for health(): set by the bootstrap. */
  healthProblems: (() => Health['problems']) | null = null;
  readonly config: PlantConfig;
  readonly history: HistoryStore;
  readonly clock: Clock;
  readonly version: string;
  /** The one path for setpoint writes, reverts and the write log. */
  readonly writes: WriteService;
  /** Alarm rules of every machine's profile, in their ISA-18.2 states. */
  readonly alarms: AlarmEngine;
  /** Each machine's line-quality alarm, raised while its answers arrive spoiled. */
  private readonly lineAlarms: LineQualityAlarms;
  /** Where audited events go (undefined: not audited, as in tests without a store). */
  readonly audit: AuditSink | undefined;
  private readonly log: Logger;
  private readonly machines = new Map<string, MachineModel>();
  private readonly shiftOf: (nowMs: number) => Shift;
  private readonly pollerFactory: PollerFactory | undefined;
  private readonly tickMs: number;
  private readonly machineHandlers = new Set<Handler<MachineSnapshot>>();
  private readonly pollHandlers = new Set<Handler<MachinePoll>>();
  /** Per machine: when its last snapshot went out (the core's clock), and the timer of the next one when held back. */
  private readonly lastEvent = new Map<string, number>();
  private readonly heldEvent = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly statusHandlers = new Set<Handler<CoreStatusEvent>>();
  private pollers: Poller[] = [];
  private readonly pollerById = new Map<string, Poller>();
  private unsubscribers: (() => void)[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private currentStatus: CoreStatus = 'starting';
  private startPromise: Promise<void> | null = null;
  private stopped = false;
  private started = 0;

  constructor(opts: PlantCoreOptions) {
    this.config = opts.config;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.version = opts.version ?? '0.0.0';
    this.tickMs = opts.tickMs ?? 60_000;
    this.historyRetentionMs = opts.historyRetentionMs;
    this.audit = opts.audit;
    this.writes = new WriteService({ host: this, store: opts.writeLog, log: this.log, audit: opts.audit });
    this.pollerFactory = opts.pollerFactory;
    this.history = opts.history ?? createMemoryHistory({ retentionMs: this.config.history.retentionMin * 60_000, clock: this.clock });
    this.shiftOf = shiftCalendar(this.config.shifts, this.config.plant.timezone);
    this.started = this.clock.now();
    // An alarm journal keeps at least as long as the value history it explains (not the in-memory retentionMin).
    const alarmRetentionMs = opts.historySpanMs ?? opts.historyRetentionMs ?? this.config.history.retentionMin * 60_000;
    this.alarms = new AlarmEngine({
      machines: this.config.devices.map((d) => ({ id: d.id, profile: d.profileDef })),
      clock: this.clock,
      store: opts.alarmStore,
      log: this.log,
      // Alarm history keeps at least the current shift, and as much as the value history.
      keepFrom: (now) => Math.min(this.shiftOf(now).start, now - alarmRetentionMs),
    });
    this.lineAlarms = new LineQualityAlarms(this.alarms);
    for (const device of this.config.devices) {
      this.machines.set(
        device.id,
        new MachineModel({
          device,
          config: this.config,
          history: this.history,
          clock: this.clock,
          log: this.log,
          shiftOf: this.shiftOf,
        }),
      );
    }
  }

  /** When `start` was called (ms since epoch; construction time before that). */
  get startedAt(): number {
    return this.started;
  }

  /** Starts every poller and the minute tick; pollers run once the poller module is loaded (see `ready`). */
  start(): void {
    if (this.stopped) throw new ConsoleError('UNAVAILABLE', 'The plant core was stopped and cannot be started again');
    if (this.startPromise) return;
    this.started = this.clock.now();
    this.setStatus('starting');
    if (this.pollerFactory) {
      this.startPollers(this.pollerFactory);
      this.startPromise = Promise.resolve();
      return;
    }
    this.startPromise = this.resolveDefaultFactory().then(
      (factory) => this.startPollers(factory),
      (err: unknown) => {
        this.log.log('error', 'Cannot load the Modbus poller; no machine will be polled', { error: String(err) });
        const info = toErrorInfo(err);
        for (const m of this.machines.values())
          this.notPolled(m, { code: info.code, message: `not polled: the Modbus poller cannot be loaded (${info.message})` });
      },
    );
  }

  /** Resolves once `start` has created and started every poller. */
  ready(): Promise<void> {
    return this.startPromise ?? Promise.resolve();
  }

  /** Stops every poller and the tick; resolves when none of them holds a timer or socket. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.setStatus('stopping');
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const t of this.heldEvent.values()) clearTimeout(t);
    this.heldEvent.clear();
    this.alarms.stop();
    await this.startPromise;
    for (const off of this.unsubscribers) off();
    this.unsubscribers = [];
    const results = await Promise.allSettled(this.pollers.map((p) => p.stop()));
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        this.log.log('warn', 'A poller did not stop cleanly', { device: this.config.devices[i]?.id, error: String(r.reason) });
      }
    });
    this.pollers = [];
    this.pollerById.clear();
    this.log.log('info', 'Plant core stopped');
  }

  /** The lifecycle state of the core. */
  status(): CoreStatus {
    return this.currentStatus;
  }

  /** Ids of every configured machine, in configuration order. */
  machineIds(): string[] {
    return [...this.machines.keys()];
  }

  /** True when a machine with this id is configured. */
  hasMachine(id: string): boolean {
    return this.machines.has(id);
  }

  /** The machine's current state; undefined when it is not configured. */
  machineState(id: string): MachineState | undefined {
    return this.machines.get(id)?.state;
  }

  /** The poller of a machine's device (for writes); undefined before start or when unknown. */
  pollerFor(id: string): Poller | undefined {
    return this.pollerById.get(id);
  }

  /** Metadata of one point of one machine; undefined when either is unknown. */
  point(machineId: string, pointId: string): PointMeta | undefined {
    return this.machines.get(machineId)?.point(pointId);
  }

  /** The shift that is on now. */
  currentShift(now = this.clock.now()): Shift {
    return this.shiftOf(now);
  }

  /** Snapshots of every machine, in configuration order. */
  snapshots(): MachineSnapshot[] {
    const now = this.clock.now();
    return [...this.machines.values()].map((m) => this.withAlarms(m.snapshot(now)));
  }

  /** The snapshot of one machine; undefined when it is not configured. */
  snapshot(id: string): MachineSnapshot | undefined {
    const snap = this.machines.get(id)?.snapshot();
    return snap && this.withAlarms(snap);
  }

  /** Snapshot, point metadata and device address of one machine. */
  detail(id: string): MachineDetail | undefined {
    const detail = this.machines.get(id)?.detail();
    return detail && { ...detail, snapshot: this.withAlarms(detail.snapshot) };
  }

  /** Core state, each machine's state and link, and what loses or withholds data (the API adds the uplink's part when there is one). */
  health(): Health {
    let problems: Health['problems'] = [];
    try {
      problems = this.healthProblems?.() ?? [];
    } catch (err) {
      problems = [{ code: 'HEALTH_UNKNOWN', message: `The health check failed: ${String(err)}`, since: null }];
    }
    return {
      core: this.currentStatus,
      startedAt: this.started,
      simulated: this.config.simulated,
      machines: [...this.machines.values()].map((m) => ({ id: m.id, name: m.name, state: m.state, link: m.link })),
      status: problems.length > 0 ? 'degraded' : 'ok',
      problems,
    };
  }

  /** Plant name, zone, shift, machines, and the caller as the core sees it. */
  plantInfo(caller: Caller): PlantInfo {
    const now = this.clock.now();
    return {
      name: this.config.plant.name,
      timezone: this.config.plant.timezone,
      simulated: this.config.simulated,
      shift: this.shiftOf(now),
      machines: [...this.machines.values()].map((m) => ({ id: m.id, name: m.name, model: m.device.profileDef.model })),
      caller: { ...caller },
      version: this.version,
      serverTime: now,
      writesEnabled: this.config.writes.enabled,
    };
  }

  /**
   * Calls `handler` with a fresh snapshot when a machine's values change, at most every
   * MACHINE_EVENT_MS per machine (the latest is always delivered); returns the unsubscribe.
   */
  onMachine(handler: Handler<MachineSnapshot>): () => void {
    this.machineHandlers.add(handler);
    return () => void this.machineHandlers.delete(handler);
  }

  /** Calls `handler` after every poll result, with the machine's values (the uplink's every sample); returns the unsubscribe. */
  onPoll(handler: Handler<MachinePoll>): () => void {
    this.pollHandlers.add(handler);
    return () => void this.pollHandlers.delete(handler);
  }

  /** Calls `handler` with the plant's alarm summary whenever an alarm changed; returns the unsubscribe. */
  onAlarms(handler: Handler<AlarmSummary>): () => void {
    return this.alarms.onChange(handler);
  }

  /** Calls `handler` on every status change; returns the unsubscribe. */
  onStatus(handler: Handler<CoreStatusEvent>): () => void {
    this.statusHandlers.add(handler);
    return () => void this.statusHandlers.delete(handler);
  }

  /** Takes a KPI sample of every machine and trims history to the retention (the minute tick). */
  tick(now = this.clock.now()): void {
    for (const m of this.machines.values()) this.history.appendKpi(m.id, m.kpiSample(now));
    this.history.trim(now - (this.historyRetentionMs ?? this.config.history.retentionMin * 60_000));
  }

  private async resolveDefaultFactory(): Promise<PollerFactory> {
    // Loaded lazily so the core (and its tests) can run without the Modbus stack.
    const mod = await import('../modbus/poller');
    // One pool per core: units on the same port or gateway share its line and request queue.
    const pool = new mod.LinePool();
    return (device) =>
      mod.createPoller(device, { pool, clock: this.clock, onLog: (level, msg) => this.log.log(level, msg, { device: device.id }) });
  }

  private startPollers(factory: PollerFactory): void {
    if (this.stopped) return;
    for (const device of this.config.devices) {
      const machine = this.machines.get(device.id);
      if (!machine) continue;
      let poller: Poller;
      try {
        poller = factory(device);
      } catch (err) {
        this.log.log('error', `Cannot create the poller of ${device.id}`, { device: device.id, error: String(err) });
        const info = toErrorInfo(err);
        this.notPolled(machine, { code: info.code, message: `not polled: ${info.message}` });
        continue;
      }
      this.pollers.push(poller);
      this.pollerById.set(device.id, poller);
      this.unsubscribers.push(poller.onResult((r) => this.onResult(machine, r)));
    }
    for (const p of this.pollers) p.start();
    this.tick();
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref?.();
    this.setStatus('running');
    this.log.log('info', 'Plant core running', { machines: this.machineIds() });
  }

  /** A machine that will not be polled: its link says why, its link-loss alarm can rise, subscribers see it. */
  private notPolled(machine: MachineModel, error: { code: string; message: string }): void {
    const now = this.clock.now();
    machine.notPolled(error, now);
    try {
      this.alarms.update(machine.id, { ts: now, state: machine.state, link: machine.link, values: {} });
    } catch (err) {
      this.log.log('error', `Machine ${machine.id}: alarms could not be evaluated`, { error: String(err) });
    }
    this.emit(this.machineHandlers, this.withAlarms(machine.snapshot(now)), 'machine');
  }

  private onResult(machine: MachineModel, r: PollResult): void {
    try {
      machine.update(r);
    } catch (err) {
      this.log.log('error', `Machine ${machine.id}: a poll result could not be processed`, { error: String(err) });
      return;
    }
    try {
      this.alarms.update(machine.id, { ts: r.ts, state: machine.state, link: r.link, values: r.values });
      this.lineAlarms.update(machine.id, r.link);
    } catch (err) {
      this.log.log('error', `Machine ${machine.id}: alarms could not be evaluated`, { error: String(err) });
    }
    if (this.pollHandlers.size > 0) this.emit(this.pollHandlers, { id: machine.id, ts: r.ts, values: machine.currentValues }, 'poll');
    if (this.machineHandlers.size > 0) this.machineEvent(machine);
  }

  /** Sends the machine's snapshot now, or once MACHINE_EVENT_MS has passed since the last one (then with the latest values). */
  private machineEvent(machine: MachineModel): void {
    // At most one interval, also when an injected clock went back.
    const wait = Math.min(MACHINE_EVENT_MS, (this.lastEvent.get(machine.id) ?? -Infinity) + MACHINE_EVENT_MS - this.clock.now());
    const held = this.heldEvent.get(machine.id);
    const send = (): void => {
      this.heldEvent.delete(machine.id);
      this.lastEvent.set(machine.id, this.clock.now());
      if (this.stopped || this.machineHandlers.size === 0) return;
      this.emit(this.machineHandlers, this.withAlarms(machine.snapshot()), 'machine');
    };
    if (wait <= 0) {
      if (held) clearTimeout(held);
      send();
    } else if (!held) this.heldEvent.set(machine.id, setTimeout(send, wait));
  }

  /** The snapshot with the machine's alarm badge filled in. */
  private withAlarms(snap: MachineSnapshot): MachineSnapshot {
    return { ...snap, alarms: this.alarms.badge(snap.id) };
  }

  private setStatus(state: CoreStatus): void {
    if (this.currentStatus === state && state !== 'starting') return;
    this.currentStatus = state;
    this.emit(this.statusHandlers, { state, ts: this.clock.now() }, 'status');
  }

  private emit<T>(handlers: Set<Handler<T>>, payload: T, what: string): void {
    for (const h of [...handlers]) {
      try {
        h(payload);
      } catch (err) {
        // One failing subscriber (a closed socket) must not starve the others.
        this.log.log('warn', `A ${what} event handler threw`, { error: String(err) });
      }
    }
  }
}
