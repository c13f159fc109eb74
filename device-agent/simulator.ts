/**
 * The simulated machine behind a device agent: a seeded, deterministic model of one machine
 * (cycles, good and scrap parts, process values, faults and idle periods) that yields an
 * engineering value for every point of its profile. What is specific to a model is one entry
 * of MODELS; a model without an entry runs as a generic machine whose process values wander
 * inside their normal bands.
 */
import type { PointDef, Profile } from '../src-main/config/schema';
import { ConsoleError } from '../src-main/core/errors';
import { GENERIC, MODELS, type Ctx } from './models';

export type SimValue = number | boolean | string;
export type SimState = 'running' | 'idle' | 'fault';

/** One simulated machine; time only moves when `step` is called. */
export interface Simulator {
  readonly profile: Profile;
  /** Advances the simulation to `nowMs` (earlier times are ignored). */
  step(nowMs: number): void;
  /** Engineering values of every point of the profile, as the device would hold them. */
  values(): Record<string, SimValue>;
  /** A write from Modbus (or a test): setpoints change the dynamics, coils toggle, counters jump. */
  setPoint(pointId: string, value: SimValue): void;
  /** Holds the machine in a state until released with `null`. */
  forceState(state: SimState | null): void;
  state(): SimState;
  /** The active fault code, 0 when there is none. */
  faultCode(): number;
}

/**
 * What a firmware image can tune in the simulated machine; 1 everywhere is the machine as it
 * always ran (multiplying by 1 keeps every run bit-identical to one without tuning).
 */
export interface SimTuning {
  /** Multiplies the nominal cycle duration (> 1: slower machine, visible in cycle time and OEE). */
  cycleTimeFactor: number;
  /** Multiplies the probability that a part is scrap. */
  scrapFactor: number;
  /** Divides the time constants of controlled values (barrel zones, oil, line speed): > 1 settles faster. */
  controlGain: number;
}

export const NEUTRAL_TUNING: SimTuning = { cycleTimeFactor: 1, scrapFactor: 1, controlGain: 1 };

/** mulberry32: a tiny seeded PRNG, so a run repeats exactly for the same seed and step times. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const U32 = 2 ** 32;
const SUBSTEP_MS = 100;
// A host that slept for hours catches up at most this much; the rest of the gap is skipped.
const MAX_CATCHUP_MS = 15 * 60_000;
const INT_RANGES: Partial<Record<PointDef['type'], [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};

/** Keeps a value inside what the point's register type can hold, as a PLC's conversion saturates. */
function clampToPoint(p: PointDef, v: number): number {
  const r = INT_RANGES[p.type];
  if (!r) return v;
  const a = r[0] * p.scale + p.offset;
  const b = r[1] * p.scale + p.offset;
  return Math.min(Math.max(v, Math.min(a, b)), Math.max(a, b));
}

/** The smallest raw code the profile's states table maps to each state. */
function stateCodes(p: PointDef | undefined): Partial<Record<SimState, number>> {
  const out: Partial<Record<SimState, number>> = {};
  const entries = Object.entries(p?.states ?? {}).sort((x, y) => Number(x[0]) - Number(y[0]));
  for (const [raw, st] of entries) if (out[st] === undefined) out[st] = Number(raw);
  return out;
}

/** Creates a simulated machine for `profile`, deterministic for `seed`. */
export function createSimulator(profile: Profile, opts: { seed: number; startMs: number; tuning?: SimTuning }): Simulator {
  const tune = opts.tuning ?? NEUTRAL_TUNING;
  const rand = mulberry32(opts.seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * rand();
  const expo = (mean: number): number => (Number.isFinite(mean) ? -mean * Math.log(1 - rand()) : Infinity);

  const spec = MODELS[profile.model] ?? GENERIC;
  const ideal = profile.idealCycleTimeS;
  const byId = new Map(profile.points.map((p) => [p.id, p]));
  const statePoint = profile.points.find((p) => p.role === 'state');
  const codes = stateCodes(statePoint);
  // Extra codes only count when the profile maps them to the state they stand for.
  const busy = spec.busyCode && statePoint?.states?.[String(spec.busyCode.raw)] === 'running' ? spec.busyCode : undefined;
  const changeoverCode =
    spec.changeoverCode !== undefined && statePoint?.states?.[String(spec.changeoverCode)] === 'idle' ? spec.changeoverCode : undefined;

  let t = opts.startMs;
  let state: SimState = 'running';
  let forced: SimState | null = null;
  let until = Infinity;
  let idleCode = codes.idle ?? 0;
  let faultCode = 0;
  let faultStart = t;
  let nextFaultAt = Infinity;
  let nextIdleAt = Infinity;
  let enabled = true;
  let phase = 0;
  let cycleDurS = ideal;
  let cycleElapsedS = 0;
  let cycleNoise = 0;
  let firstAfterStop = false;

  const digits = String(Math.floor(rand() * 1e9)).padStart(9, '0');
  let good = 40_000 + Math.floor(rand() * 900_000);
  let scrap = Math.floor(good * uniform(0.015, 0.03));
  let lastCycleS = ideal * (1 + spec.slowdown);
  let partsSinceChangeover = spec.changeoverAfterParts ? Math.floor(rand() * spec.changeoverAfterParts * 0.5) : 0;

  const sp = new Map<string, number>();
  const inner = new Map<string, number>(); // lagged states and meters, before noise
  const out = new Map<string, number>(); // what the device shows
  const texts = new Map<string, string>();
  const coils = new Map<string, boolean>();
  const overrides = new Map<string, SimValue>();

  const ctx: Ctx = {
    get state() {
      return state;
    },
    get phase() {
      return state === 'running' ? phase : 0;
    },
    get cycleNoise() {
      return cycleNoise;
    },
    get faultCode() {
      return faultCode;
    },
    get faultElapsedS() {
      return state === 'fault' ? (t - faultStart) / 1000 : 0;
    },
    get partsSinceChangeover() {
      return partsSinceChangeover;
    },
    sp: (id, fallback) => sp.get(id) ?? fallback,
    pv: (id, fallback) => out.get(id) ?? fallback,
  };

  for (const p of profile.points) {
    if (p.type === 'string') {
      const make = spec.identity[p.id] ?? ((d: string) => `${profile.model.toUpperCase()}-${d}`);
      texts.set(p.id, make(digits).slice(0, (p.length ?? 1) * 2));
    } else if (p.role === 'setpoint' && p.type !== 'bool') {
      const w = p.writable;
      const guess = w ? (w.min + w.max) / 2 : p.normal ? (p.normal.low + p.normal.high) / 2 : 0;
      sp.set(p.id, spec.setpoints[p.id] ?? guess);
    }
  }
  for (const p of profile.points) {
    const b = spec.process[p.id];
    if (b?.kind === 'lag') inner.set(p.id, b.target(ctx) + (b.startOffset ?? 0));
    else if (b?.kind === 'energy') inner.set(p.id, uniform(b.start[0], b.start[1]));
    else if (!b && p.role === 'process' && p.type !== 'bool' && p.type !== 'string') {
      const n = p.normal ?? { low: 0, high: 100 };
      inner.set(p.id, uniform(n.low, n.high) * 0.5 + ((n.low + n.high) / 2) * 0.5);
    }
  }

  function startCycle(carryS: number): void {
    cycleNoise = normal();
    const nominal = (spec.cycleS ? spec.cycleS(ctx, ideal) : ideal * (1 + spec.slowdown)) * tune.cycleTimeFactor;
    cycleDurS = Math.min(Math.max(nominal * (1 + spec.jitter * cycleNoise), ideal), ideal * 20);
    cycleElapsedS = carryS;
    phase = carryS / cycleDurS;
    for (const p of profile.points) {
      const b = spec.process[p.id];
      if (b?.kind === 'perCycle') out.set(p.id, b.value(ctx));
    }
  }

  function enter(next: SimState, reason: 'auto' | 'manual' | 'changeover' = 'auto'): void {
    state = next;
    if (next === 'running') {
      until = Infinity;
      faultCode = 0;
      nextFaultAt = t + expo(spec.mtbfS) * 1000;
      nextIdleAt = t + expo(spec.mtbIdleS) * 1000;
      firstAfterStop = true;
      startCycle(0);
    } else if (next === 'fault') {
      faultCode = spec.faultCodes[Math.floor(rand() * spec.faultCodes.length)] ?? 1;
      faultStart = t;
      until = t + uniform(spec.faultS[0], spec.faultS[1]) * 1000;
    } else {
      faultCode = 0;
      idleCode = reason === 'changeover' && changeoverCode !== undefined ? changeoverCode : (codes.idle ?? 0);
      const span = reason === 'changeover' ? (spec.changeoverS ?? spec.idleS) : spec.idleS;
      until = reason === 'manual' ? Infinity : t + uniform(span[0], span[1]) * 1000;
      if (reason === 'changeover') partsSinceChangeover = 0;
    }
    if (next !== 'running') phase = 0;
  }

  function updateState(): void {
    if (forced) {
      if (state !== forced) enter(forced);
      return;
    }
    if (state === 'fault' && t >= until) enter(enabled ? 'running' : 'idle', enabled ? 'auto' : 'manual');
    else if (state === 'idle' && t >= until && enabled) enter('running');
    else if (state === 'idle' && until === Infinity && enabled) enter('running');
    else if (state === 'running') {
      if (!enabled) enter('idle', 'manual');
      else if (t >= nextFaultAt) enter('fault');
      else if (t >= nextIdleAt) enter('idle');
      else if (spec.changeoverAfterParts && partsSinceChangeover >= spec.changeoverAfterParts) enter('idle', 'changeover');
    }
  }

  function finishPart(): void {
    const p = Math.min(Math.max(spec.scrap(ctx) * tune.scrapFactor + (firstAfterStop ? 0.15 : 0), 0), 1);
    if (rand() < p) scrap = (scrap + 1) % U32;
    else good = (good + 1) % U32;
    firstAfterStop = false;
    partsSinceChangeover++;
  }

  function tick(dtS: number): void {
    updateState();
    if (state === 'running') {
      cycleElapsedS += dtS;
      phase += dtS / cycleDurS;
      // Bounded: a cycle is never shorter than the ideal, and a sub-step is 0.1 s.
      for (let i = 0; i < 100 && phase >= 1; i++) {
        const overshootS = (phase - 1) * cycleDurS;
        lastCycleS = cycleElapsedS - overshootS;
        finishPart();
        startCycle(overshootS);
      }
    }
    for (const p of profile.points) {
      const b = spec.process[p.id];
      if (b?.kind === 'lag') {
        const x = inner.get(p.id) ?? 0;
        const y = x + (b.target(ctx) - x) * (1 - Math.exp(-dtS / (b.tauS / tune.controlGain)));
        inner.set(p.id, y);
        out.set(p.id, y + b.noise * normal());
      } else if (b?.kind === 'cycle') {
        out.set(p.id, b.value(ctx) + b.noise * normal());
      } else if (b?.kind === 'energy') {
        const e = (inner.get(p.id) ?? 0) + (b.kW(ctx) * dtS) / 3600;
        inner.set(p.id, e);
        out.set(p.id, e);
      } else if (!b && inner.has(p.id)) {
        // Mean-reverting walk that stays inside the normal band.
        const n = p.normal ?? { low: 0, high: 100 };
        const mid = (n.low + n.high) / 2;
        const theta = 1 / 60;
        const sigma = ((n.high - n.low) / 8) * Math.sqrt(2 * theta);
        const x = inner.get(p.id) ?? mid;
        const y = Math.min(Math.max(x + theta * (mid - x) * dtS + sigma * Math.sqrt(dtS) * normal(), n.low), n.high);
        inner.set(p.id, y);
        out.set(p.id, y);
      }
    }
  }

  function valueOf(p: PointDef): SimValue {
    const o = overrides.get(p.id);
    if (o !== undefined) return o;
    if (p.role === 'state') {
      const raw =
        state === 'fault'
          ? codes.fault
          : state === 'idle'
            ? idleCode
            : busy && phase >= busy.from && phase < busy.to
              ? busy.raw
              : codes.running;
      return (raw ?? 0) * p.scale + p.offset;
    }
    if (p.role === 'goodCount') return good;
    if (p.role === 'scrapCount') return scrap;
    if (p.role === 'cycleTime') return lastCycleS;
    if (p.id === spec.faultCodePoint) return faultCode;
    if (p.id === spec.enableCoil) return enabled && state !== 'fault';
    const s = sp.get(p.id);
    if (s !== undefined) return s;
    const bit = spec.bits[p.id];
    if (bit) return bit(ctx);
    if (p.type === 'bool') return coils.get(p.id) ?? false;
    if (p.type === 'string') return texts.get(p.id) ?? '';
    return out.get(p.id) ?? inner.get(p.id) ?? 0;
  }

  // Fills the outputs before the first cycle starts, since a cycle can depend on them (line speed).
  tick(0);
  enter('running');

  return {
    profile,
    step(nowMs) {
      if (!(nowMs > t)) return;
      if (nowMs - t > MAX_CATCHUP_MS) t = nowMs - MAX_CATCHUP_MS;
      while (t < nowMs) {
        const dt = Math.min(SUBSTEP_MS, nowMs - t);
        t += dt;
        tick(dt / 1000);
      }
    },
    values() {
      const res: Record<string, SimValue> = {};
      for (const p of profile.points) {
        const v = valueOf(p);
        res[p.id] = typeof v === 'number' ? clampToPoint(p, v) : v;
      }
      return res;
    },
    setPoint(pointId, value) {
      const p = byId.get(pointId);
      if (!p) throw new ConsoleError('NOT_FOUND', `No point "${pointId}" in profile ${profile.model}`);
      const kind = p.type === 'bool' ? 'boolean' : p.type === 'string' ? 'string' : 'number';
      const v = kind === 'boolean' && (value === 0 || value === 1) ? value === 1 : value;
      if (typeof v !== kind || (typeof v === 'number' && !Number.isFinite(v))) {
        throw new ConsoleError('BAD_REQUEST', `Point "${pointId}" takes a ${kind}, not ${JSON.stringify(value)}`);
      }
      if (p.role === 'state') throw new ConsoleError('BAD_REQUEST', 'The machine state follows the simulation; use forceState');
      if (typeof v === 'number' && (p.role === 'goodCount' || p.role === 'scrapCount')) {
        const n = ((Math.floor(v) % U32) + U32) % U32;
        if (p.role === 'goodCount') good = n;
        else scrap = n;
      } else if (typeof v === 'number' && p.role === 'cycleTime') lastCycleS = v;
      else if (typeof v === 'boolean' && p.id === spec.enableCoil) enabled = v;
      else if (typeof v === 'boolean' && !spec.bits[p.id]) coils.set(p.id, v);
      else if (typeof v === 'string') texts.set(p.id, v.slice(0, (p.length ?? 1) * 2));
      else if (typeof v === 'number' && sp.has(p.id)) sp.set(p.id, v);
      else if (typeof v === 'number' && (inner.has(p.id) || out.has(p.id))) {
        // The dynamics go on from the new value (a lag relaxes back, a per-cycle value is resampled).
        if (inner.has(p.id)) inner.set(p.id, v);
        out.set(p.id, v);
      } else overrides.set(p.id, v); // no dynamics to disturb: the value stays pinned
    },
    forceState(s) {
      forced = s;
      if (s) enter(s);
      else if (state !== 'running') enter('running');
      else {
        // Faults and pauses due while forced would all fire at once on release: draw new ones.
        nextFaultAt = t + expo(spec.mtbfS) * 1000;
        nextIdleAt = t + expo(spec.mtbIdleS) * 1000;
      }
    },
    state: () => state,
    faultCode: () => faultCode,
  };
}
