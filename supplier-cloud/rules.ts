/**
 * The reference cloud's tuning rule, shared by the demo's in-process cloud and
 * `supplier-cloud receive --propose`: *the cycle time runs above the ideal while a barrel (heater)
 * zone runs below its setpoint* → raise that zone's setpoint by a small step, inside the
 * profile's writable limits and largest step. A deliberately simple rule: it shows the loop
 * (sealed data in, signed recommendation out, outcome back), not process expertise.
 * Pure functions over samples; the proposer (proposer.ts) feeds them and sends.
 */
import type { Profile } from '../src-main/config/schema';
import type { RecoGuard, RecoKpi } from '../src-main/protocol';

/** What the rule needs to know of a machine model, taken from its profile. */
export interface RuleModel {
  model: string;
  idealCycleTimeS: number;
  /** The point with role cycleTime. */
  cyclePoint: string;
  /** Heater zones: a °C process value and the writable setpoint that drives it. */
  zones: { pv: string; sp: string; name: string; min: number; max: number; maxStep: number }[];
}

/** Thresholds and what a proposal carries; every field has a default (DEFAULT_RULE_OPTIONS). */
export interface RuleOptions {
  /** The samples looked at: the last this many ms before the newest one. */
  lookbackMs: number;
  /** The zone's process value is averaged over the last this many ms. */
  settleMs: number;
  /** At least this many cycle-time samples in the lookback. */
  minCycleSamples: number;
  /** The mean cycle time must exceed the ideal by this fraction (0.03 = 3 %). */
  cycleMargin: number;
  /** The zone must run at least this far below its setpoint, °C. */
  minOffsetC: number;
  /** The step proposed, °C (capped at the profile's maxStep and max). */
  raiseC: number;
  /** What the recommendation asks the plant to measure, and for how long. */
  windowS: number;
  validMs: number;
  expect: { kpi: RecoKpi; change: number };
  guards: RecoGuard[];
  autoRevert: boolean;
}

export const DEFAULT_RULE_OPTIONS: RuleOptions = {
  lookbackMs: 60_000,
  settleMs: 15_000,
  minCycleSamples: 3,
  cycleMargin: 0.03,
  minOffsetC: 1.5,
  raiseC: 3,
  windowS: 1800,
  validMs: 2 * 3_600_000,
  expect: { kpi: 'cycleTime', change: -0.02 },
  guards: [{ kpi: 'scrapRate', direction: 'rise', by: 0.02 }],
  autoRevert: false,
};

/** The rule's view of a profile: its ideal cycle, cycle-time point and heater zones; null when it has none. */
export function ruleModelFromProfile(profile: Profile): RuleModel | null {
  const cycle = profile.points.find((p) => p.role === 'cycleTime');
  if (!cycle) return null;
  const zones: RuleModel['zones'] = [];
  for (const sp of profile.points) {
    if (sp.role !== 'setpoint' || !sp.writable || !sp.id.endsWith('-sp')) continue;
    const pv = profile.points.find((p) => p.id === sp.id.slice(0, -3) && p.role === 'process');
    if (!pv || pv.unit !== '°C' || sp.unit !== '°C') continue;
    zones.push({ pv: pv.id, sp: sp.id, name: pv.name, min: sp.writable.min, max: sp.writable.max, maxStep: sp.writable.maxStep });
  }
  return zones.length ? { model: profile.model, idealCycleTimeS: profile.idealCycleTimeS, cyclePoint: cycle.id, zones } : null;
}

/** Samples by point id, `[t ms, value]`, oldest first (non-numbers are ignored). */
export type Samples = Record<string, readonly (readonly [number, unknown])[]>;

/** What the rule proposes: the body of a recommendation but its ids, plant, times and signature. */
export interface Proposal {
  changes: { point: string; expected: number; proposed: number }[];
  rationale: string;
  expect: RuleOptions['expect'];
  guards: RecoGuard[];
  windowS: number;
  validMs: number;
  autoRevert: boolean;
  /** For logs and tests: what the rule saw. */
  evidence: { meanCycleS: number; zone: string; pv: number; sp: number; offsetC: number };
}

function numeric(samples: readonly (readonly [number, unknown])[] | undefined, from: number): number[] {
  return (samples ?? [])
    .filter((s): s is readonly [number, number] => s[0] >= from && typeof s[1] === 'number' && Number.isFinite(s[1]))
    .map((s) => s[1]);
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x: number, step = 0.1): number => Math.round(x / step) * step;
const fmt = (x: number, d = 1): string => String(Number(x.toFixed(d)));

/**
 * Applies the rule to a machine's recent samples (`now`: the newest sample's time). Returns the
 * proposal for the zone furthest below its setpoint, or null when the rule does not fire.
 */
export function evaluateTuningRule(model: RuleModel, samples: Samples, now: number, options: Partial<RuleOptions> = {}): Proposal | null {
  const o = { ...DEFAULT_RULE_OPTIONS, ...options };
  const cycles = numeric(samples[model.cyclePoint], now - o.lookbackMs).filter((c) => c > 0);
  if (cycles.length < o.minCycleSamples) return null;
  const meanCycleS = mean(cycles);
  if (meanCycleS <= model.idealCycleTimeS * (1 + o.cycleMargin)) return null;

  let best: (Proposal['evidence'] & { z: RuleModel['zones'][number] }) | null = null;
  for (const z of model.zones) {
    const pvs = numeric(samples[z.pv], now - o.settleMs);
    const sps = numeric(samples[z.sp], now - o.lookbackMs);
    const sp = sps.at(-1);
    if (!pvs.length || sp === undefined) continue;
    const pv = mean(pvs);
    const offsetC = sp - pv;
    if (offsetC >= o.minOffsetC && (!best || offsetC > best.offsetC)) best = { meanCycleS, zone: z.sp, pv, sp, offsetC, z };
  }
  if (!best) return null;
  const { z, ...evidence } = best;
  const proposed = round(Math.min(evidence.sp + Math.min(o.raiseC, z.maxStep), z.max));
  if (!(proposed > evidence.sp) || proposed < z.min) return null;
  const slower = (meanCycleS / model.idealCycleTimeS - 1) * 100;
  return {
    changes: [{ point: z.sp, expected: evidence.sp, proposed }],
    rationale:
      `${z.name} runs ${fmt(evidence.offsetC)} °C below its setpoint (${fmt(evidence.pv)} °C against ${fmt(evidence.sp)} °C) ` +
      `while the cycle averages ${fmt(meanCycleS, 2)} s, ${fmt(slower)} % above the ideal ${fmt(model.idealCycleTimeS, 2)} s. ` +
      `Raising the setpoint to ${fmt(proposed)} °C brings the melt to temperature sooner; ` +
      `watch the scrap rate while the zone settles.`,
    expect: o.expect,
    guards: o.guards,
    windowS: o.windowS,
    validMs: o.validMs,
    autoRevert: o.autoRevert,
    evidence,
  };
}

/** A report on a sent recommendation, as far as the rule cares. */
export interface ReportSeen {
  kind: 'decision' | 'result' | 'outcome' | 'refused';
  at: number;
  decision?: { action: string };
  result?: { ok: boolean };
  outcome?: { state: string };
}

/**
 * Whether a sent recommendation is still open (the rule proposes nothing else for the machine):
 * until refused, rejected, reverted, failed to apply, measured (outcome no longer `measuring`),
 * or — never applied — past `validUntil`; once applied, until its window has ended plus `graceMs`.
 */
export function isOpen(
  sent: { validUntil: number; windowS: number },
  reports: readonly ReportSeen[],
  now: number,
  graceMs = 10 * 60_000,
): boolean {
  let appliedAt: number | null = null;
  for (const r of reports) {
    if (r.kind === 'refused') return false;
    if (r.kind === 'decision' && (r.decision?.action === 'reject' || r.decision?.action === 'revert')) return false;
    if (r.kind === 'result') {
      if (!r.result?.ok) return false;
      appliedAt = r.at;
    }
    if (r.kind === 'outcome' && r.outcome?.state !== 'measuring') return false;
  }
  return appliedAt === null ? now <= sent.validUntil : now <= appliedAt + sent.windowS * 1000 + graceMs;
}
