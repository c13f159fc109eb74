/**
 * The machine models the simulator knows: what is specific to each (cycle, scrap, faults,
 * process dynamics, identity strings) as one table entry, so a new model is a small addition.
 */
import type { SimState } from './simulator';

/** What a model's formulas can see of the machine at one moment. */
export interface Ctx {
  readonly state: SimState;
  /** Progress through the current cycle, 0–1 (0 while stopped). */
  readonly phase: number;
  /** One standard-normal draw per cycle, for per-cycle variation. */
  readonly cycleNoise: number;
  readonly faultCode: number;
  readonly faultElapsedS: number;
  readonly partsSinceChangeover: number;
  sp(id: string, fallback: number): number;
  pv(id: string, fallback: number): number;
}

export type Behavior =
  /** First-order lag towards a target (heating, hydraulics), plus measurement noise. */
  | { kind: 'lag'; target: (c: Ctx) => number; tauS: number; noise: number; startOffset?: number }
  /** Sampled once per cycle and held (peak pressure or force of the last cycle). */
  | { kind: 'perCycle'; value: (c: Ctx) => number }
  /** Follows the cycle continuously (positions, ripple). */
  | { kind: 'cycle'; value: (c: Ctx) => number; noise: number }
  /** Integrates a power in kW into an energy meter in kWh. */
  | { kind: 'energy'; kW: (c: Ctx) => number; start: [number, number] };

export interface ModelSpec {
  /** Mean extra cycle time over the ideal, and its relative spread. */
  slowdown: number;
  jitter: number;
  /** Nominal cycle duration when the process sets it (a line's speed), before jitter. */
  cycleS?: (c: Ctx, idealS: number) => number;
  /** Probability that a finished part is scrap. */
  scrap: (c: Ctx) => number;
  mtbfS: number;
  faultS: [number, number];
  faultCodes: number[];
  mtbIdleS: number;
  idleS: [number, number];
  /** A changeover (film reel, material) after this many parts, in the `changeover` state code. */
  changeoverAfterParts?: number;
  changeoverS?: [number, number];
  /** Extra raw state codes: a running sub-state during part of the cycle, a changeover idle code. */
  busyCode?: { raw: number; from: number; to: number };
  changeoverCode?: number;
  faultCodePoint?: string;
  /** A coil that must be on for the machine to run (automatic mode, pump); off during faults. */
  enableCoil?: string;
  setpoints: Record<string, number>;
  process: Record<string, Behavior>;
  bits: Record<string, (c: Ctx) => boolean>;
  identity: Record<string, (digits: string) => string>;
}

export const running = (c: Ctx): boolean => c.state === 'running';
export const smooth = (x: number): number => (x <= 0 ? 0 : x >= 1 ? 1 : x * x * (3 - 2 * x));

export const GENERIC: ModelSpec = {
  slowdown: 0.05,
  jitter: 0.02,
  scrap: () => 0.01,
  mtbfS: Infinity,
  faultS: [20, 90],
  faultCodes: [],
  mtbIdleS: Infinity,
  idleS: [60, 240],
  setpoints: {},
  process: {},
  bits: {},
  identity: {},
};

export const PK60_REEL = 3500;

export const MODELS: Record<string, ModelSpec> = {
  im250: {
    slowdown: 0.06,
    // A cold barrel melts slower: every °C a zone runs below its optimum (219 / 224 °C) costs
    // 0.75 % of cycle time, so at the factory setpoints (215 / 220 °C) the machine runs 6 % over
    // its ideal, and a warmer zone (the reference cloud's recommendation) makes it faster.
    cycleS: (c, idealS) => idealS * (1 + 0.0075 * (Math.max(0, 219 - c.pv('zone1', 215)) + Math.max(0, 224 - c.pv('zone2', 220)))),
    jitter: 0.03,
    // Holding pressure away from the optimum gives sink marks or flash; cold barrels give short shots.
    scrap: (c) =>
      0.02 + 0.06 * ((c.sp('hold-sp', 600) - 650) / 300) ** 2 + (Math.abs(c.pv('zone1', 215) - c.sp('zone1-sp', 215)) > 8 ? 0.1 : 0),
    // 101 barrel temperature deviation, 204 mould protection, 310 oil too hot, 412 ejector, 900 emergency stop.
    mtbfS: 600,
    faultS: [20, 90],
    faultCodes: [101, 204, 310, 412, 900],
    mtbIdleS: 1800,
    idleS: [60, 240],
    faultCodePoint: 'fault-code',
    enableCoil: 'auto',
    setpoints: { 'zone1-sp': 215, 'zone2-sp': 220, 'hold-sp': 600 },
    process: {
      zone1: { kind: 'lag', target: (c) => c.sp('zone1-sp', 215), tauS: 90, noise: 0.3, startOffset: -8 },
      zone2: { kind: 'lag', target: (c) => c.sp('zone2-sp', 220), tauS: 90, noise: 0.3, startOffset: -8 },
      mould: { kind: 'lag', target: (c) => (running(c) ? 55 : 50), tauS: 400, noise: 0.3 },
      pressure: { kind: 'perCycle', value: (c) => 950 + 0.4 * c.sp('hold-sp', 600) + 15 * c.cycleNoise },
      energy: { kind: 'energy', kW: (c) => (running(c) ? 38 : c.state === 'idle' ? 14 : 9), start: [5_000, 60_000] },
    },
    bits: {
      door: (c) => !(c.state === 'fault' && (c.faultCode === 204 || c.faultCode === 412) && c.faultElapsedS > 5),
      estop: (c) => !(c.state === 'fault' && c.faultCode === 900),
    },
    identity: { serial: (d) => `IM250-${d.slice(0, 6)}`, recipe: () => 'PP-CAP-38MM' },
  },
  hp200: {
    slowdown: 0.05,
    jitter: 0.02,
    scrap: (c) => 0.015 + 0.05 * ((c.sp('force-sp', 1700) - 1750) / 400) ** 2,
    // 12 oil pressure low, 31 light curtain interrupted, 47 die protection, 58 oil too hot.
    mtbfS: 600,
    faultS: [20, 90],
    faultCodes: [12, 31, 47, 58],
    mtbIdleS: 2400,
    idleS: [60, 300],
    busyCode: { raw: 2, from: 0.35, to: 0.6 },
    faultCodePoint: 'fault-code',
    enableCoil: 'pump',
    setpoints: { 'force-sp': 1700 },
    process: {
      force: { kind: 'perCycle', value: (c) => c.sp('force-sp', 1700) * (0.996 + 0.004 * c.cycleNoise) },
      'oil-temp': { kind: 'lag', target: (c) => (running(c) ? 47 : c.state === 'idle' ? 42 : 40), tauS: 900, noise: 0.2 },
      'oil-pressure': {
        kind: 'lag',
        tauS: 0.4,
        noise: 1,
        target: (c) =>
          c.state === 'fault' ? 0 : !running(c) ? 183 : c.phase >= 0.35 && c.phase < 0.6 ? 190 + 0.02 * c.sp('force-sp', 1700) : 186,
      },
      stroke: {
        kind: 'cycle',
        noise: 0.05,
        value: (c) =>
          c.phase < 0.35
            ? 180 * smooth(c.phase / 0.35)
            : c.phase < 0.6
              ? 180 + 4 * Math.sin((Math.PI * (c.phase - 0.35)) / 0.25)
              : 180 * (1 - smooth((c.phase - 0.6) / 0.4)),
      },
    },
    bits: { guard: (c) => !(c.state === 'fault' && c.faultCode === 31) },
    identity: { customer: () => 'Nordwerk Metall GmbH' },
  },
  pk60: {
    slowdown: 0,
    jitter: 0.01,
    // The line's cycle is its speed; the speed setpoint cannot beat the ideal rate.
    cycleS: (c) => 60 / Math.max(c.pv('speed', 0), 6),
    scrap: (c) => 0.01 + 0.05 * ((c.sp('jaw-sp', 160) - 162) / 20) ** 2 + 0.002 * Math.max(0, c.pv('speed', 0) - 58),
    // 3 film break, 7 jaw temperature, 15 product jam, 21 print mark lost.
    mtbfS: 600,
    faultS: [20, 90],
    faultCodes: [3, 7, 15, 21],
    faultCodePoint: 'fault-code',
    mtbIdleS: 2400,
    idleS: [30, 120],
    // A film reel lasts PK60_REEL packs; the reel change is the changeover state (3).
    changeoverAfterParts: PK60_REEL,
    changeoverS: [90, 240],
    changeoverCode: 3,
    setpoints: { 'jaw-sp': 160, 'speed-sp': 57 },
    process: {
      speed: { kind: 'lag', target: (c) => (running(c) ? Math.min(c.sp('speed-sp', 57), 60) * 0.97 : 0), tauS: 4, noise: 0.3 },
      'jaw-temp': { kind: 'lag', target: (c) => c.sp('jaw-sp', 160), tauS: 45, noise: 0.4, startOffset: -3 },
      tension: { kind: 'cycle', noise: 0.2, value: (c) => (running(c) ? 22 + 1.5 * Math.sin(2 * Math.PI * c.phase) : 20) },
    },
    bits: { 'film-low': (c) => c.partsSinceChangeover > PK60_REEL - 250 },
    identity: { batch: (d) => `B${d.slice(0, 4)}-${d.slice(4, 6)}` },
  },
};
