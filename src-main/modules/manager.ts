/**
 * The module manager: the console's side of its IoT modules (issue #8). It holds the modules
 * (registry.ts), the firmware library (library.ts), the staged rollouts (rollout.ts) and the
 * events (events.ts), answers the module channel (intake.ts), and implements the modules.* and
 * firmware.* commands (ModulesApi). A timer checks every second for missed heartbeats,
 * advances rollouts (window, idle machine, soak, timeouts) and judges setpoint changes.
 */
import { networkInterfaces } from 'node:os';
import type {
  Caller,
  FirmwareRelease,
  MachineSnapshot,
  MachineState,
  ModulesState,
  ModuleView,
  Rollout,
  WriteResult,
} from '../../src-preload/contract';
import type { ExternalAlarm } from '../alarms/engine';
import type { ModulesApi } from '../api/service';
import { auditActor, type AuditSink } from '../audit/record';
import type { ConfirmGate } from '../auth/confirm-gate';
import type { ResolvedDevice } from '../config/schema';
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import type { InstalledFirmware } from '../firmware';
import { missedAfterMs, type ModulesConfig } from './config';
import type { ChannelHandlers } from './channel';
import { ModuleEvents, type HealthQueue } from './events';
import { channelHandlers } from './intake';
import { FirmwareLibrary } from './library';
import { ModuleRegistry } from './registry';
import { checkForModule } from './releases';
import type { PinnedRoot } from './root';
import { Rollouts } from './rollout';
import { rolloutHost } from './rollout-host';
import { SetpointWatch } from './setpoint-watch';
import type { ModuleStore } from './store';
import type { RolloutRecord, Target } from './types';
import { moduleView } from './view';
import { windowAt, windowText } from './window';

/** Where an oversized upload was refused, and where larger bundles go instead. */
const UPLOAD_WHERE = ' from the console\'s pages; larger bundles go with "plant-console firmware import FILE" on the console PC';

/** What the manager needs of the plant core (PlantCore provides it). */
export interface ModuleHost {
  readonly clock: Clock;
  readonly config: { readonly plant: { readonly timezone: string }; readonly devices: readonly ResolvedDevice[] };
  readonly alarms: {
    raiseExternal(a: ExternalAlarm, at?: number): boolean;
    clearExternal(machineId: string, ruleId: string, at?: number): boolean;
    alarms(machineId?: string): { id: string; state: string }[];
  };
  readonly writes: { log(q: { machineId?: string; limit?: number }): WriteResult[] };
  machineState(id: string): MachineState | undefined;
  snapshot(id: string): MachineSnapshot | undefined;
  onMachine(handler: (s: MachineSnapshot) => void): () => void;
}

export interface ModuleManagerOptions {
  config: ModulesConfig;
  host: ModuleHost;
  store: ModuleStore;
  root: PinnedRoot;
  audit?: AuditSink | undefined;
  confirm?: ConfirmGate | undefined;
  health?: HealthQueue | null;
  log: Logger;
  /** Addresses the console polls from (default: its interfaces', or config.consoleAddresses). */
  consoleAddresses?: ReadonlySet<string>;
  /** Run the one-second timer (default true; unit tests call `tick`). */
  timers?: boolean;
}

/** The console's own addresses: any other Modbus client on a module is foreign. */
export function ownAddresses(configured?: readonly string[]): Set<string> {
  if (configured) return new Set(configured);
  const out = new Set(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return out;
}

export class ModuleManager implements ModulesApi {
  readonly registry: ModuleRegistry;
  readonly library: FirmwareLibrary;
  readonly events: ModuleEvents;
  readonly rollouts: Rollouts;
  readonly handlers: ChannelHandlers;
  private readonly watch: SetpointWatch;
  private readonly o: ModuleManagerOptions;
  private readonly assigned: Map<string, string>;
  private readonly handlersOnUpdate = new Set<() => void>();
  private readonly offs: (() => void)[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private root: PinnedRoot;
  /** When this process started watching: a console that was down does not blame the modules for it. */
  private readonly startedAt: number;

  constructor(o: ModuleManagerOptions) {
    this.o = o;
    this.root = o.root;
    this.startedAt = o.host.clock.now();
    this.assigned = new Map(o.config.assignments.map((a) => [a.moduleId, a.machineId]));
    const now = (): number => o.host.clock.now();
    const changed = (): void => this.changed();
    this.registry = new ModuleRegistry(o.store, { now, maxSkewMs: o.config.maxClockSkewS * 1000, log: o.log });
    this.library = new FirmwareLibrary({
      store: o.store,
      audit: o.audit,
      log: o.log,
      now,
      root: () => this.root.root,
      models: () => this.models(),
      installed: (model) => this.installed(model),
      changed,
    });
    this.events = new ModuleEvents({
      store: o.store,
      alarms: o.host.alarms,
      audit: o.audit,
      health: o.health ?? null,
      machineOf: (id) => this.machineOf(id),
      now,
      log: o.log,
      changed,
    });
    this.rollouts = new Rollouts(
      rolloutHost({
        ...o,
        registry: this.registry,
        library: this.library,
        machineOf: (id) => this.machineOf(id),
        changed,
        startedAt: this.startedAt,
      }),
      o.store.rollouts(),
    );
    const machines = new Set(this.assigned.values());
    this.watch = new SetpointWatch({
      devices: o.host.config.devices,
      machines,
      writes: (machineId) => o.host.writes.log({ machineId, limit: 100 }),
      graceMs: 5_000,
    });
    this.handlers = channelHandlers({
      registry: this.registry,
      events: this.events,
      rollouts: this.rollouts,
      library: this.library,
      watch: this.watch,
      root: () => this.root,
      machineOf: (id) => this.machineOf(id),
      readSince: (id, since) => this.readSince(id, since),
      now,
      consoleAddresses: o.consoleAddresses ?? ownAddresses(o.config.consoleAddresses),
      log: o.log,
      changed,
    });
  }

  /** Starts watching setpoints and the one-second timer. */
  start(): void {
    this.offs.push(this.o.host.onMachine((snap) => this.outside(this.watch.observe(snap, this.o.host.clock.now()))));
    if (this.o.timers === false || this.timer) return;
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref?.();
  }

  stop(caller: Caller, req: { rolloutId: string; reason: string }): Rollout {
    const r = this.rollouts.stop(req.rolloutId, `stopped by ${caller.user}: ${req.reason}`);
    this.o.audit?.record({
      kind: 'firmware_update',
      ...auditActor(caller),
      detail: { rollout: r.rollout.id, release: r.rollout.releaseId, outcome: 'stop-requested', reason: req.reason },
    });
    return r.rollout;
  }

  /** Stops the timer and the setpoint watch. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const off of this.offs.splice(0)) off();
  }

  /** Missed heartbeats, rollout steps, setpoint changes whose grace ended. */
  tick(now = this.o.host.clock.now()): void {
    const missedMs = missedAfterMs(this.o.config);
    for (const m of this.registry.list()) {
      if (m.pairing !== 'paired') continue;
      const since = Math.max(m.lastAt ?? m.decidedAt ?? now, this.startedAt);
      if (now - since > missedMs)
        this.events.raise(
          m.id,
          'heartbeat-missed',
          `no heartbeat for ${Math.round((now - since) / 1000)} s (expected every ${this.o.config.heartbeatS} s)`,
        );
    }
    this.rollouts.step();
    this.outside(this.watch.judge(now));
  }

  /** A newer root pinned while running (not used by the console itself: roots rotate at start). */
  setRoot(root: PinnedRoot): void {
    this.root = root;
  }

  // --- ModulesApi ---

  state(_caller: Caller): ModulesState {
    const now = this.o.host.clock.now();
    const w = this.o.config.maintenanceWindow;
    const r = this.root.root;
    return {
      modules: this.registry.list().map((m) => this.view(m.id, now)),
      releases: this.library.list(),
      refused: this.library.refused(),
      rollouts: this.rollouts.list().map((x) => x.rollout),
      maintenanceWindow: { text: windowText(w), openNow: windowAt(now, w, this.o.host.config.plant.timezone).open },
      root: { version: r.version, threshold: r.threshold, keys: r.keys.map((k) => k.name) },
      soakS: this.o.config.soakS,
    };
  }

  async pair(caller: Caller, req: { moduleId: string; approve: boolean; pin?: string | undefined }): Promise<ModuleView> {
    if (!this.registry.get(req.moduleId)) throw new ConsoleError('NOT_FOUND', `No module "${req.moduleId}" has asked to be paired`);
    await this.o.confirm?.(caller, req.pin);
    const m = this.registry.decide(req.moduleId, req.approve, caller.user);
    this.o.audit?.record({
      kind: 'module_paired',
      ...auditActor(caller),
      machineId: this.machineOf(m.id),
      detail: { module: m.id, model: m.model, approve: req.approve, fingerprint: m.fingerprint, kid: m.kid },
    });
    this.o.log.log('info', `Module ${m.id} ${req.approve ? 'paired' : 'rejected'} by ${caller.user}`, { fingerprint: m.fingerprint });
    this.changed();
    return this.view(m.id, this.o.host.clock.now());
  }

  // async: a refusal reaches the caller as a rejection, as the API's other commands do.
  async importBundle(caller: Caller, req: { fileName: string; dataBase64: string }): Promise<FirmwareRelease> {
    return this.importBytes(Buffer.from(req.dataBase64, 'base64'), { source: 'file', fileName: req.fileName, caller });
  }

  async importFile(caller: Caller, req: { fileName: string; bytes: Uint8Array }): Promise<FirmwareRelease> {
    return this.importBytes(req.bytes, { source: 'file', fileName: req.fileName, caller });
  }

  async refuseOversize(caller: Caller, req: { fileName: string; size: number | null; limit: number }): Promise<never> {
    const err = this.library.refuseTooLarge(req.size, { source: 'file', fileName: req.fileName, caller }, req.limit, UPLOAD_WHERE);
    throw new ConsoleError('BAD_REQUEST', `Refused: ${err.message}`, { cause: err });
  }

  /** Imports a bundle; a refusal is a BAD_REQUEST naming its reason (and is kept in the refused list). */
  importBytes(bytes: Uint8Array, from: Parameters<FirmwareLibrary['import']>[1]): FirmwareRelease {
    try {
      return this.library.import(bytes, from);
    } catch (err) {
      if (err instanceof ConsoleError && err.code === 'FIRMWARE_REFUSED')
        throw new ConsoleError('BAD_REQUEST', `Refused: ${err.message}`, { cause: err });
      throw err;
    }
  }

  async approve(caller: Caller, req: { releaseId: string; moduleIds: string[]; pin?: string | undefined }): Promise<Rollout> {
    const rel = this.library.get(req.releaseId);
    if (!rel) throw new ConsoleError('NOT_FOUND', `No firmware release "${req.releaseId}" on this console`);
    if (new Set(req.moduleIds).size !== req.moduleIds.length) throw new ConsoleError('BAD_REQUEST', 'A module is listed twice');
    const now = this.o.host.clock.now();
    for (const id of req.moduleIds) {
      const m = this.registry.get(id);
      if (!m || m.pairing !== 'paired') throw new ConsoleError('BAD_REQUEST', `Module ${id} is not paired`);
      if (!m.last) throw new ConsoleError('BAD_REQUEST', `Module ${id} has not reported what it runs yet`);
      const c = checkForModule(rel, this.root.root, { now, model: m.model, installed: this.installedOf(m.last.firmware) });
      if (!c.ok) throw new ConsoleError('BAD_REQUEST', `Firmware ${rel.info.version} cannot go on module ${id}: ${c.message}`);
    }
    await this.o.confirm?.(caller, req.pin);
    const r = this.rollouts.create({
      releaseId: rel.info.id,
      version: rel.info.version,
      moduleIds: req.moduleIds,
      approvedBy: caller.user,
    });
    this.o.audit?.record({
      kind: 'firmware_approved',
      ...auditActor(caller),
      detail: { rollout: r.rollout.id, release: rel.info.id, version: rel.info.version, modules: req.moduleIds, soakS: r.rollout.soakS },
    });
    this.changed();
    return r.rollout;
  }

  onUpdate(handler: () => void): () => void {
    this.handlersOnUpdate.add(handler);
    return () => void this.handlersOnUpdate.delete(handler);
  }

  // --- helpers ---

  /** The machine a module sits on (config), or null. */
  machineOf(moduleId: string): string | null {
    return this.assigned.get(moduleId) ?? null;
  }

  private view(id: string, now: number): ModuleView {
    const m = this.registry.get(id)!;
    const found = this.rollouts.targetOf(id) ?? this.lastTarget(id);
    return moduleView({
      record: m,
      machineId: this.machineOf(id),
      events: this.o.store.events(id),
      knownImage: (h) => this.library.knownImage(h),
      rollout: found,
      now,
    });
  }

  private lastTarget(id: string): { r: RolloutRecord; t: Target } | undefined {
    for (const r of this.rollouts.list()) {
      const t = r.targets.find((x) => x.moduleId === id);
      if (t) return { r, t };
    }
    return undefined;
  }

  private models(): Set<string> {
    const out = new Set<string>();
    for (const m of this.registry.list()) if (m.pairing === 'paired') out.add(m.model);
    for (const machineId of this.assigned.values()) {
      const d = this.o.host.config.devices.find((x) => x.id === machineId);
      if (d) out.add(d.profileDef.model);
    }
    return out;
  }

  private installedOf(fw: { version: string; blake2b512: string; state: string }): InstalledFirmware {
    // Heartbeats carry no security counter: it is the one of the signed release with that image, if known.
    const counter = this.library.byImage(fw.blake2b512)?.info.securityCounter ?? 0;
    return { version: fw.version, securityCounter: counter, ...(fw.state === 'factory' ? {} : { blake2b512: fw.blake2b512 }) };
  }

  private installed(model: string): InstalledFirmware[] {
    return this.registry
      .list()
      .filter((m) => m.pairing === 'paired' && m.model === model && m.last)
      .map((m) => this.installedOf(m.last!.firmware));
  }

  /** True when the console polled the module's machine successfully after `since` (a module on no machine: always). */
  private readSince(moduleId: string, since: number): boolean {
    const machine = this.machineOf(moduleId);
    if (!machine) return true;
    const link = this.o.host.snapshot(machine)?.link;
    return link?.state === 'online' && link.lastOkAt !== null && link.lastOkAt > since;
  }

  private outside(changes: readonly { machineId: string; message: string }[]): void {
    for (const c of changes) {
      for (const [moduleId, machineId] of this.assigned) {
        if (machineId === c.machineId && this.registry.get(moduleId)?.pairing === 'paired')
          this.events.momentary(moduleId, 'setpoint-changed-outside', c.message);
      }
    }
  }

  private changed(): void {
    for (const h of [...this.handlersOnUpdate]) {
      try {
        h();
      } catch (err) {
        this.o.log.log('warn', 'A modules.update handler threw', { error: String(err) });
      }
    }
  }
}
