/**
 * The machine model: turns a device's poll results into a machine state, KPIs, history and the
 * contract's MachineSnapshot / MachineDetail.
 *
 * The machine state, decided in this order:
 *   1. link not `online` (offline, or still connecting and never seen) → `offline`;
 *   2. the profile has no `state` point → `running` while the device delivers data
 *      (availability then measures reachability and performance carries the losses), but
 *      `unknown` when not one point could be read (every read answered with an exception, or
 *      every answer lost to line noise): bad data never looks healthy;
 *   3. the state point's quality is not good (bad or stale while the link is up) → `unknown`:
 *      we do not know the state, and unknown time must not count for or against the machine
 *      (the KPIs leave it out, as offline time); `stateReason` says why;
 *   4. the raw value is in the profile's `states` table → that state;
 *   5. a raw value not in the table → `fault` (the device says something we were not told
 *      about, which a person must look at), logged once per value.
 */
import type {
  ErrorInfo,
  KpiSample,
  Kpis,
  Link,
  MachineDetail,
  MachineSnapshot,
  MachineState,
  PointMeta,
  PointValue,
  Shift,
} from '../../src-preload/contract';
import { endpointOf, type PlantConfig, type PointDef, type Profile, type ResolvedDevice } from '../config/schema';
import { counterSpecFor, createKpiTracker, type KpiTracker } from '../kpi/engine';
import { shiftCalendar } from '../kpi/shifts';
import { registerCount } from '../modbus/codec';
import type { Logger } from './log';
import { recordingRule } from './recording';
import type { Clock, HistoryStore, PollResult, SeriesWriter } from './types';

/** The contract's description of a profile point. */
export function pointMeta(p: PointDef): PointMeta {
  return {
    id: p.id,
    name: p.name,
    function: p.function,
    address: p.address,
    type: p.type,
    registers: registerCount(p),
    wordOrder: p.wordOrder,
    byteOrder: p.byteOrder,
    scale: p.scale,
    offset: p.offset,
    unit: p.unit,
    decimals: p.decimals,
    sensitivity: p.sensitivity,
    role: p.role,
    key: p.key,
    normal: p.normal ?? null,
    writable: p.writable ?? null,
    interlock: p.interlock?.states ?? null,
  };
}

/** A link before the first poll result arrives. */
export function initialLink(now: number): Link {
  return {
    state: 'connecting',
    since: now,
    lastOkAt: null,
    lastError: null,
    consecutiveFailures: 0,
    pollsOk: 0,
    pollsFailed: 0,
    lastPollMs: null,
  };
}

/** The machine state and, when it is not simply read from the device, why. */
export interface DerivedState {
  state: MachineState;
  reason: string | null;
  /** The raw state value when it was not in the profile's table. */
  unknownRaw?: number;
}

/** The machine state from a link and the current point values (rules at the top of this file). */
export function deriveState(profile: Profile, link: Link, values: Readonly<Record<string, PointValue>>): DerivedState {
  if (link.state !== 'online') return { state: 'offline', reason: `link ${link.state}` };
  const point = profile.points.find((p) => p.role === 'state');
  if (!point) {
    if (profile.points.some((p) => values[p.id]?.quality === 'good')) return { state: 'running', reason: null };
    const first = profile.points.map((p) => values[p.id]).find((pv) => pv?.reason);
    return { state: 'unknown', reason: `no point could be read${first?.reason ? `: ${first.reason}` : ''}` };
  }
  const pv = values[point.id];
  if (!pv || pv.quality !== 'good' || pv.value === null || typeof pv.value === 'string') {
    const why = pv ? `${pv.quality === 'bad' ? 'unreadable' : 'not read this time'}${pv.reason ? `: ${pv.reason}` : ''}` : 'not read';
    return { state: 'unknown', reason: `state point "${point.id}" ${why}` };
  }
  const engineering = typeof pv.value === 'boolean' ? (pv.value ? 1 : 0) : pv.value;
  const raw = typeof pv.value === 'boolean' ? engineering : Math.round((engineering - point.offset) / point.scale);
  const mapped = point.states?.[String(raw)];
  if (mapped) return { state: mapped, reason: null };
  return { state: 'fault', reason: `state value ${raw} is not in the profile's table`, unknownRaw: raw };
}

/** What a machine model needs from its surroundings. */
export interface MachineOptions {
  device: ResolvedDevice;
  config: Pick<PlantConfig, 'shifts' | 'plant' | 'kpi' | 'simulated'>;
  history: HistoryStore;
  clock: Clock;
  log: Logger;
  /** Shared shift calendar; built from config when absent. */
  shiftOf?: (nowMs: number) => Shift;
}

/** How often the KPI tracker forgets what no window needs any more. */
const PRUNE_EVERY_MS = 10_000;

/** One machine: state, KPIs, values and history from its poll results. */
export class MachineModel {
  readonly id: string;
  readonly name: string;
  readonly device: ResolvedDevice;
  private readonly profile: Profile;
  private readonly tracker: KpiTracker;
  private readonly shiftOf: (nowMs: number) => Shift;
  private readonly rollingMs: number;
  private readonly metas: PointMeta[];
  /** One per numeric point: its series writer (resolved once) and whether its last sample was a gap. */
  private readonly recorders: { id: string; writer: SeriesWriter; gap: boolean }[];
  private readonly roles: { good?: PointDef; scrap?: PointDef; cycle?: PointDef };
  private values: Record<string, PointValue>;
  private currentLink: Link;
  private currentState: MachineState = 'offline';
  private since: number;
  private lastCycle: number | null = null;
  private lastReason: string | null = null;
  private readonly unknownLogged = new Set<number>();
  private lastPrune = -Infinity;
  /** KPI windows start no earlier than this: what happened before the console watched is unknown, not offline. */
  private readonly observedFrom: number;

  constructor(private readonly opts: MachineOptions) {
    const { device, clock } = opts;
    this.observedFrom = clock.now();
    this.id = device.id;
    this.name = device.name;
    this.device = device;
    this.profile = device.profileDef;
    const now = clock.now();
    this.since = now;
    this.currentLink = initialLink(now);
    this.shiftOf = opts.shiftOf ?? shiftCalendar(opts.config.shifts, opts.config.plant.timezone);
    this.rollingMs = opts.config.kpi.rollingWindowMin * 60_000;
    this.metas = this.profile.points.map(pointMeta);
    this.recorders = this.profile.points
      .filter((p) => p.type !== 'string')
      .map((p) => ({ id: p.id, writer: opts.history.series(device.id, p.id, p.record && recordingRule(p.record)), gap: false }));
    const byRole = (role: PointDef['role']): PointDef | undefined => this.profile.points.find((p) => p.role === role);
    this.roles = { good: byRole('goodCount'), scrap: byRole('scrapCount'), cycle: byRole('cycleTime') };
    const spec = (p: PointDef | undefined) => (p ? counterSpecFor(p.type, p.scale, p.offset) : null);
    this.tracker = createKpiTracker({
      idealCycleTimeS: this.profile.idealCycleTimeS,
      goodSpec: spec(this.roles.good),
      scrapSpec: spec(this.roles.scrap),
    });
    this.values = Object.fromEntries(
      this.profile.points.map((p) => [
        p.id,
        { value: null, raw: [], quality: 'bad', ts: 0, reason: 'not polled yet' } satisfies PointValue,
      ]),
    );
  }

  /** The current machine state. */
  get state(): MachineState {
    return this.currentState;
  }

  /** The current values (a new object after each poll; never changed in place). */
  get currentValues(): Readonly<Record<string, PointValue>> {
    return this.values;
  }

  /** The link as of the last poll result. */
  get link(): Link {
    return this.currentLink;
  }

  /** Metadata of one point, undefined when the profile has no such point. */
  point(pointId: string): PointMeta | undefined {
    return this.metas.find((m) => m.id === pointId);
  }

  /** Takes in one poll result: state, counters, history. */
  update(r: PollResult): void {
    const ts = r.ts;
    this.currentLink = r.link;
    // A poller's result covers every point: taken as it is (never changed later), not copied.
    let complete = true;
    for (const p of this.profile.points) if (!(p.id in r.values)) complete = false;
    this.values = complete ? r.values : { ...this.values, ...r.values };

    const derived = deriveState(this.profile, r.link, this.values);
    this.noteReason(derived);
    if (derived.state !== this.currentState) {
      this.opts.log.log('info', `Machine ${this.id}: ${this.currentState} → ${derived.state}`, {
        machine: this.id,
        reason: derived.reason,
      });
      this.currentState = derived.state;
      this.since = ts;
    }
    this.tracker.setState(derived.state, ts);

    const good = this.goodNumber(this.roles.good);
    if (good !== null) this.tracker.observe('good', ts, good);
    const scrap = this.goodNumber(this.roles.scrap);
    if (scrap !== null) this.tracker.observe('scrap', ts, scrap);
    this.lastCycle = this.goodNumber(this.roles.cycle);

    const values = this.values;
    for (const r of this.recorders) {
      const pv = values[r.id];
      const v = pv !== undefined && pv.quality === 'good' ? toNumber(pv.value) : null;
      if (v !== null) {
        r.writer.append(ts, v);
        r.gap = false;
      } else if (!r.gap) {
        // One null marks the gap; repeating it every poll while offline would only fill memory.
        r.writer.append(ts, null);
        r.gap = true;
      }
    }

    if (ts - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = ts;
      this.tracker.prune(Math.min(this.shiftOf(ts).start, ts - this.rollingMs));
    }
  }

  /**
   * The device cannot be polled at all (its poller could not be created): the link stays
   * offline with the reason, so the tile, /healthz and the link panel say why instead of
   * `connecting` forever.
   */
  notPolled(error: ErrorInfo, now = this.opts.clock.now()): void {
    this.currentLink = { ...initialLink(now), state: 'offline', lastError: { ...error } };
    this.tracker.setState('offline', now);
  }

  /** KPIs of the current shift up to `now`. */
  shiftKpis(now = this.opts.clock.now()): Kpis {
    return this.tracker.kpis(Math.min(now, Math.max(this.shiftOf(now).start, this.observedFrom)), now);
  }

  /** KPIs of the rolling window ending at `now`. */
  rollingKpis(now = this.opts.clock.now()): Kpis {
    return this.tracker.kpis(Math.min(now, Math.max(now - this.rollingMs, this.observedFrom)), now);
  }

  /** The contract's snapshot of this machine at `now`. */
  snapshot(now = this.opts.clock.now()): MachineSnapshot {
    return {
      id: this.id,
      name: this.name,
      model: this.profile.model,
      modelTitle: this.profile.title,
      simulated: this.opts.config.simulated,
      state: this.currentState,
      stateSince: this.since,
      link: this.currentLink,
      stateReason: this.stateReason(),
      shift: this.shiftKpis(now),
      rolling: this.rollingKpis(now),
      lastCycleTimeS: this.lastCycle,
      values: { ...this.values },
      ts: now,
    };
  }

  /** The contract's detail view: snapshot, every point's metadata, the device's address. */
  detail(now = this.opts.clock.now()): MachineDetail {
    const d = this.device;
    return {
      snapshot: this.snapshot(now),
      points: this.metas.map((m) => ({ ...m })),
      device: {
        transport: d.transport.type,
        address: endpointOf(d.transport),
        unitId: d.unitId,
        pollIntervalMs: d.pollIntervalMs,
      },
    };
  }

  /** One KPI sample for the trend: the shift-to-date figures, as the overview tile shows them. */
  kpiSample(now = this.opts.clock.now()): KpiSample {
    const k = this.shiftKpis(now);
    return {
      t: now,
      availability: k.availability,
      performance: k.performance,
      quality: k.quality,
      oee: k.oee,
      goodCount: k.goodCount,
      scrapCount: k.scrapCount,
    };
  }

  /** Segments and counter deltas the KPI tracker holds (memory checks). */
  trackerSize(): { segments: number; deltas: number } {
    return this.tracker.size();
  }

  /** Why the state is not simply read from the device: unknown, a value not in the table, or the link's last error. */
  private stateReason(): string | null {
    if (this.currentState === 'offline') return this.currentLink.lastError?.message ?? null;
    return this.lastReason;
  }

  private goodNumber(p: PointDef | undefined): number | null {
    if (!p) return null;
    const pv = this.values[p.id];
    return pv && pv.quality === 'good' ? toNumber(pv.value) : null;
  }

  private noteReason(d: DerivedState): void {
    if (d.unknownRaw !== undefined) {
      if (!this.unknownLogged.has(d.unknownRaw)) {
        this.unknownLogged.add(d.unknownRaw);
        this.opts.log.log('warn', `Machine ${this.id}: ${d.reason ?? 'unknown state'}; shown as fault`, {
          machine: this.id,
          raw: d.unknownRaw,
        });
      }
    } else if (d.reason !== null && d.reason !== this.lastReason && d.state === 'unknown') {
      this.opts.log.log('warn', `Machine ${this.id}: state unknown, KPIs not counted: ${d.reason}`, { machine: this.id });
    }
    this.lastReason = d.reason;
  }
}

function toNumber(v: PointValue['value']): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return null;
}
