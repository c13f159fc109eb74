/**
 * The measured outcome of an applied recommendation, as pure functions over history samples.
 *
 * The KPIs of a window [from, to] come from the stored samples of the profile's role points,
 * with the KPI engine's definitions (kpi/engine.ts):
 *   - machine state: each sample of the `state` point holds until the next one (at most
 *     `maxHoldMs`: a console that stopped left no gap marker); a null sample is a gap (offline);
 *     without a state point the machine counts as running wherever the counters were read;
 *   - good and scrap: deltas of the cumulative counters booked at the later reading in
 *     (from, to], with the engine's rollover and reset-plausibility rule (productionBetween);
 *   - cycleTime: the mean of the cycle-time samples in (from, to];
 *   - availability, performance, quality, oee, throughput (good per hour of planned time) and
 *     scrapRate (scrap / (good + scrap)) exactly as computeKpis defines them.
 *
 * The comparison: `after` is [appliedAt, appliedAt + window], `before` the same length right
 * before appliedAt. A window in which the console saw the machine for less than half the time,
 * or in which the expected KPI cannot be computed, makes the outcome `no-data`.
 *   expectMet: moved in the expected direction by at least half the expected relative size.
 *   a guard is breached when its KPI moved the bad way by more than `by` (KPI units).
 */
import type { MachineState, RecoKpi, RecoKpiMeasure, RecoOutcome } from '../../src-preload/contract';
import type { PointDef } from '../config/schema';
import { computeKpis, counterSpecFor, productionBetween, stateDurations, type CounterObservation, type StateSegment } from '../kpi/engine';
import type { RecoBody } from './types';

/** One history sample: time and value (null: a gap). */
export type Sample = readonly [t: number, v: number | null];

/** The samples of one window (and a little before it) of the role points. */
export interface WindowSeries {
  state: readonly Sample[];
  good: readonly Sample[];
  scrap: readonly Sample[];
  cycle: readonly Sample[];
}

type CounterPoint = Pick<PointDef, 'type' | 'scale' | 'offset'>;

/** What the computation needs of the machine's profile. */
export interface KpiPoints {
  state?: Pick<PointDef, 'scale' | 'offset' | 'states'> | undefined;
  good?: CounterPoint | undefined;
  scrap?: CounterPoint | undefined;
  idealCycleTimeS: number;
  /** A sample holds at most this long when no later one follows. */
  maxHoldMs: number;
}

/** The KPIs of one window, and the share of it the console saw the machine. */
export interface WindowKpis {
  from: number;
  to: number;
  values: Record<RecoKpi, number | null>;
  /** Planned busy time / window length (0…1). */
  coverage: number;
}

/** Below this share of a window seen, the window says too little. */
export const MIN_COVERAGE = 0.5;

/** The machine state a stored sample of the state point stands for (machine.ts deriveState, steps 4–5). */
export function stateOfSample(point: Pick<PointDef, 'scale' | 'offset' | 'states'>, v: number | null): MachineState {
  if (v === null) return 'offline';
  const raw = Math.round((v - point.offset) / point.scale);
  return point.states?.[String(raw)] ?? 'fault';
}

/** State segments from samples in time order: each holds until the next sample, at most `maxHoldMs`. */
export function segmentsOf(samples: readonly Sample[], stateOf: (v: number | null) => MachineState, maxHoldMs: number): StateSegment[] {
  const out: StateSegment[] = [];
  for (let i = 0; i < samples.length; i++) {
    const [t, v] = samples[i]!;
    const next = samples[i + 1]?.[0] ?? Infinity;
    out.push({ state: stateOf(v), start: t, end: Math.min(next, t + maxHoldMs) });
  }
  return out;
}

function observations(samples: readonly Sample[]): CounterObservation[] {
  const out: CounterObservation[] = [];
  for (const [ts, v] of samples) if (v !== null && Number.isFinite(v)) out.push({ ts, value: v });
  return out;
}

function meanIn(samples: readonly Sample[], from: number, to: number): number | null {
  let sum = 0;
  let n = 0;
  for (const [t, v] of samples) {
    if (t <= from || t > to || v === null || !Number.isFinite(v)) continue;
    sum += v;
    n++;
  }
  return n > 0 ? sum / n : null;
}

/** The KPIs of [from, to] from the samples of the role points (definitions at the top of this file). */
export function windowKpis(series: WindowSeries, points: KpiPoints, from: number, to: number): WindowKpis {
  const statePoint = points.state;
  const segments = statePoint
    ? segmentsOf(series.state, (v) => stateOfSample(statePoint, v), points.maxHoldMs)
    : // Without a state point the machine runs whenever the console reads it.
      segmentsOf(series.good.length > 0 ? series.good : series.cycle, (v) => (v === null ? 'offline' : 'running'), points.maxHoldMs);
  const spec = (p: CounterPoint | undefined) => (p ? counterSpecFor(p.type, p.scale, p.offset) : null);
  const good = points.good ? productionBetween(observations(series.good), from, to, spec(points.good), points.idealCycleTimeS) : 0;
  const scrap = points.scrap ? productionBetween(observations(series.scrap), from, to, spec(points.scrap), points.idealCycleTimeS) : 0;
  const k = computeKpis({ from, to, durations: stateDurations(segments, from, to), good, scrap, idealCycleTimeS: points.idealCycleTimeS });
  const windowS = (to - from) / 1000;
  const counted = points.good !== undefined;
  return {
    from,
    to,
    values: {
      cycleTime: meanIn(series.cycle, from, to),
      scrapRate: counted ? k.scrapRate : null,
      oee: counted ? k.oee : null,
      availability: k.availability,
      performance: counted ? k.performance : null,
      quality: counted ? k.quality : null,
      throughput: counted ? k.throughputPerHour : null,
    },
    coverage: windowS > 0 ? k.plannedTimeS / windowS : 0,
  };
}

/** Before, after, their difference and the relative change of one KPI. */
export function kpiMeasure(kpi: RecoKpi, before: WindowKpis, after: WindowKpis): RecoKpiMeasure {
  const b = before.values[kpi];
  const a = after.values[kpi];
  const delta = a !== null && b !== null ? a - b : null;
  return { kpi, before: b, after: a, delta, relative: delta !== null && b !== null && b !== 0 ? delta / b : null };
}

/** True when `relative` went the way of `change` by at least half of it; null when unknown. */
export function expectReached(change: number, relative: number | null): boolean | null {
  if (relative === null) return null;
  if (change === 0) return Math.abs(relative) < 1e-12;
  return Math.sign(relative) === Math.sign(change) && Math.abs(relative) >= Math.abs(change) / 2 - 1e-12;
}

/** True when `delta` went the bad way by more than `by`. */
export function guardBreached(direction: 'rise' | 'fall', by: number, delta: number | null): boolean {
  if (delta === null) return false;
  const bad = direction === 'rise' ? delta : -delta;
  return bad > by + 1e-12 * Math.max(1, Math.abs(by));
}

/** The outcome while the window runs. */
export function measuringOutcome(windowS: number, appliedAt: number): RecoOutcome {
  return {
    state: 'measuring',
    windowS,
    beforeFrom: appliedAt - windowS * 1000,
    appliedAt,
    until: appliedAt + windowS * 1000,
    expected: null,
    expectMet: null,
    guards: [],
    revertProposed: false,
    autoReverted: false,
  };
}

/** The outcome from the two windows (autoReverted stays false: the caller performs the revert). */
export function compareWindows(body: Pick<RecoBody, 'expect' | 'guards' | 'windowS'>, before: WindowKpis, after: WindowKpis): RecoOutcome {
  const base = measuringOutcome(body.windowS, after.from);
  const seen = before.coverage >= MIN_COVERAGE && after.coverage >= MIN_COVERAGE;
  const expected = kpiMeasure(body.expect.kpi, before, after);
  // Guards of a window the console barely saw prove nothing: none is breached then.
  const guards = body.guards.map((g) => {
    const m = kpiMeasure(g.kpi, before, after);
    return { ...m, limit: g.by, breached: seen && guardBreached(g.direction, g.by, m.delta) };
  });
  const revertProposed = guards.some((g) => g.breached);
  if (!seen || expected.before === null || expected.after === null) return { ...base, state: 'no-data', expected, guards, revertProposed };
  return { ...base, state: 'done', expected, expectMet: expectReached(body.expect.change, expected.relative), guards, revertProposed };
}
