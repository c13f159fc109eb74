/**
 * Reads the two windows of an outcome from the history store and compares them (outcome.ts):
 * the samples of the machine's role points (state, good, scrap, cycle time), raw, with a little
 * history before each window so the state and the counters are known at its start.
 */
import type { RecoOutcome } from '../../src-preload/contract';
import type { ResolvedDevice } from '../config/schema';
import type { HistoryStore } from '../core/types';
import { compareWindows, windowKpis, type KpiPoints, type Sample, type WindowSeries } from './outcome';
import type { RecoBody } from './types';

/** Samples asked of the history per series: every raw sample of any realistic window (it downsamples beyond). */
const MAX_SAMPLES = 500_000;

interface RolePoints {
  points: KpiPoints;
  ids: { state?: string; good?: string; scrap?: string; cycle?: string };
}

/** The role points of a device's profile and how long one of its samples may hold. */
export function rolePoints(device: ResolvedDevice): RolePoints {
  const byRole = (role: string) => device.profileDef.points.find((p) => p.role === role);
  const state = byRole('state');
  const good = byRole('goodCount');
  const scrap = byRole('scrapCount');
  const cycle = byRole('cycleTime');
  return {
    points: {
      state,
      good,
      scrap,
      idealCycleTimeS: device.profileDef.idealCycleTimeS,
      // Three missed polls (or ten seconds) without a sample: the console was not watching. A point
      // recorded by exception may hold its value up to its maximum interval without a sample.
      maxHoldMs: Math.max(
        10_000,
        3 * device.pollIntervalMs,
        ...[state, good, scrap, cycle].map((p) => (p?.record ? p.record.maxIntervalS * 1000 + 2 * device.pollIntervalMs : 0)),
      ),
    },
    ids: { state: state?.id, good: good?.id, scrap: scrap?.id, cycle: cycle?.id },
  };
}

function samples(history: HistoryStore, machineId: string, pointId: string | undefined, from: number, to: number): Sample[] {
  if (pointId === undefined) return [];
  const s = history.query(machineId, pointId, from, to, MAX_SAMPLES);
  return s.t.map((t, i) => [t, s.v[i] ?? null] as const);
}

/** The role points' samples of [from − lookback, to]. */
export function readSeries(history: HistoryStore, machineId: string, role: RolePoints, from: number, to: number): WindowSeries {
  const start = from - Math.max(role.points.maxHoldMs, 60_000);
  return {
    state: samples(history, machineId, role.ids.state, start, to),
    good: samples(history, machineId, role.ids.good, start, to),
    scrap: samples(history, machineId, role.ids.scrap, start, to),
    cycle: samples(history, machineId, role.ids.cycle, start, to),
  };
}

/** The outcome of a recommendation applied at `appliedAt`, measured now from the history. */
export function measureFromHistory(
  history: HistoryStore,
  device: ResolvedDevice,
  body: Pick<RecoBody, 'expect' | 'guards' | 'windowS'>,
  appliedAt: number,
): RecoOutcome {
  const role = rolePoints(device);
  const w = body.windowS * 1000;
  const before = windowKpis(readSeries(history, device.id, role, appliedAt - w, appliedAt), role.points, appliedAt - w, appliedAt);
  const after = windowKpis(readSeries(history, device.id, role, appliedAt, appliedAt + w), role.points, appliedAt, appliedAt + w);
  return compareWindows(body, before, after);
}
