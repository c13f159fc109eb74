/**
 * The arguments of `supplier-cloud recommend`, parsed and checked one by one: every bad one
 * becomes a BAD_REQUEST (exit code 2) naming the flag, what was given and what it needs.
 */
import { ConsoleError } from '../src-main/core/errors';
import { POINT_ID, RECO_ID, RECO_LIMITS, type RecoGuard, type RecoKpi } from '../src-main/protocol';
import { RecoKpiSchema } from '../src-preload/contract/recommendations';
import { parseDuration } from './rotate';

const KPIS = RecoKpiSchema.options;
/** KPIs measured as ratios: their guards are given in points (1 = 0.01). */
const RATIO_KPIS = new Set<RecoKpi>(['scrapRate', 'oee', 'availability', 'performance', 'quality']);
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

function bad(message: string): ConsoleError {
  return new ConsoleError('BAD_REQUEST', message);
}

function kpi(text: string, flag: string, given: string): RecoKpi {
  const k = KPIS.find((x) => x === text);
  if (!k) throw bad(`${flag} ${given}: "${text}" is not a KPI; use one of ${KPIS.join(', ')}`);
  return k;
}

/** One `--set POINT=VALUE` or `--set POINT=OLD:NEW` (OLD: the value the plant should hold now). */
export function parseSet(text: string): { point: string; expected?: number; proposed: number } {
  const eq = text.indexOf('=');
  if (eq < 0) throw bad(`--set ${text}: write POINT=VALUE, or POINT=OLD:NEW when the cloud has no value of the point yet`);
  const point = text.slice(0, eq);
  if (!POINT_ID.test(point)) throw bad(`--set ${text}: "${point}" is not a point id (1–64 characters of A–Z a–z 0–9 _ . : -)`);
  const values = text.slice(eq + 1).split(':');
  if (values.length > 2 || values.some((v) => !NUMBER.test(v)))
    throw bad(`--set ${text}: "${text.slice(eq + 1)}" is not a number (or OLD:NEW, two numbers)`);
  const nums = values.map(Number);
  if (nums.some((n) => !Number.isFinite(n))) throw bad(`--set ${text}: values must be finite numbers`);
  return nums.length === 2 ? { point, expected: nums[0]!, proposed: nums[1]! } : { point, proposed: nums[0]! };
}

/** All `--set` flags: 1–8, each point once. */
export function parseSets(texts: readonly string[] | undefined): ReturnType<typeof parseSet>[] {
  if (!texts?.length) throw bad('--set POINT=VALUE is required (one per change, at most 8)');
  if (texts.length > RECO_LIMITS.changes)
    throw bad(`${texts.length} --set flags: a recommendation has at most ${RECO_LIMITS.changes} changes`);
  const sets = texts.map(parseSet);
  const twice = sets.find((s, i) => sets.findIndex((x) => x.point === s.point) !== i);
  if (twice) throw bad(`--set names point ${twice.point} twice: one change per point`);
  return sets;
}

/** `--expect KPI:±N%`: the expected relative change (cycleTime:-4% → −0.04). */
export function parseExpect(text: string | undefined): { kpi: RecoKpi; change: number } {
  if (text === undefined) return { kpi: 'cycleTime', change: 0 };
  const m = /^([A-Za-z]+):([+-]?[\d.]+)%$/.exec(text);
  if (!m) throw bad(`--expect ${text}: write KPI:±N%, e.g. cycleTime:-4% or oee:+2%`);
  const change = Number(m[2]) / 100;
  if (!Number.isFinite(change) || Math.abs(change) > 1) throw bad(`--expect ${text}: the change must be between -100% and +100%`);
  return { kpi: kpi(m[1]!, '--expect', text), change: Math.round(change * 1e6) / 1e6 };
}

/**
 * `--guard KPI:±N`: the KPI must not rise (+) or fall (−) by more than N — points for ratios
 * (scrapRate:+1 → 0.01), seconds for cycleTime, parts per hour for throughput.
 */
export function parseGuard(text: string): RecoGuard {
  const m = /^([A-Za-z]+):([+-])([\d.]+(?:e[+-]?\d+)?)$/i.exec(text);
  if (!m)
    throw bad(`--guard ${text}: write KPI:+N (must not rise by more than N) or KPI:-N (must not fall by more than N), e.g. scrapRate:+1`);
  const k = kpi(m[1]!, '--guard', text);
  const n = Number(m[3]);
  if (!NUMBER.test(m[3]!) || !Number.isFinite(n) || n <= 0) throw bad(`--guard ${text}: N must be a number above 0`);
  const by = RATIO_KPIS.has(k) ? Math.round(n * 1e4) / 1e6 : n;
  if (RATIO_KPIS.has(k) && n > 100) throw bad(`--guard ${text}: ${k} is a ratio, given in points (0–100)`);
  return { kpi: k, direction: m[2] === '+' ? 'rise' : 'fall', by };
}

/** All `--guard` flags (at most 4). */
export function parseGuards(texts: readonly string[] | undefined): RecoGuard[] {
  const list = texts ?? [];
  if (list.length > RECO_LIMITS.guards) throw bad(`${list.length} --guard flags: a recommendation has at most ${RECO_LIMITS.guards}`);
  return list.map(parseGuard);
}

function duration(text: string, flag: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw bad(`${flag} ${text}: not a duration; use e.g. 90s, 30m, 2h or 7d`);
  }
}

/** `--valid 2h` (default 2 h; at most 30 days). */
export function parseValid(text: string | undefined): number {
  const ms = duration(text ?? '2h', '--valid');
  if (ms <= 0 || ms > RECO_LIMITS.validityMs) throw bad(`--valid ${text}: give a duration above 0 and at most 30d`);
  return ms;
}

/** `--window 30m` (default 30 min): whole seconds, 10 s … 7 d. */
export function parseWindow(text: string | undefined): number {
  const ms = duration(text ?? '30m', '--window');
  const { min, max } = RECO_LIMITS.windowS;
  if (ms % 1000 !== 0 || ms / 1000 < min || ms / 1000 > max) throw bad(`--window ${text}: give whole seconds between ${min}s and 7d`);
  return ms / 1000;
}

/** `--id ID`: 1–64 characters A–Z a–z 0–9 . _ - */
export function parseId(text: string): string {
  if (!RECO_ID.test(text)) throw bad(`--id ${text}: use 1–64 characters of A–Z a–z 0–9 . _ -`);
  return text;
}

/** `--why TEXT`: 1–2000 characters. */
export function parseWhy(text: string | undefined): string {
  if (text === undefined || text.trim() === '') throw bad("--why TEXT is required: the rationale the plant's maintenance staff read");
  if (text.length > RECO_LIMITS.rationale) throw bad(`--why is ${text.length} characters: at most ${RECO_LIMITS.rationale}`);
  return text;
}

/** How a guard reads for people. */
export function guardText(g: RecoGuard): string {
  const size = RATIO_KPIS.has(g.kpi)
    ? `${Number((g.by * 100).toFixed(4))} point(s)`
    : g.kpi === 'cycleTime'
      ? `${g.by} s`
      : `${g.by} per hour`;
  return `${g.kpi} must not ${g.direction} by more than ${size}`;
}
