/**
 * Words of the recommendations inbox: KPIs with their units, the expected effect and the
 * guards as sentences, the observation window, time left, each status and refusal, a change
 * and an apply step, so maintenance reads a recommendation without knowing its wire format.
 */
import type {
  PointValue,
  RecoApplyStep,
  RecoChangeView,
  RecoInbox,
  RecoKpi,
  RecoRefusalCode,
  RecoStatus,
  Recommendation,
  CallerRole,
} from '../../../src-preload/contract';
import { formatHm, formatNumber, formatPercent, withUnit } from './format';
import { limitsText } from './setpoints';

/**
 * Roles that may decide (reco.apply / reject / defer / revert) and read (reco.list). Kept here
 * rather than read from the contract's COMMANDS, whose schemas would pull zod into the
 * renderer; a unit test keeps them equal.
 */
export const RECO_DECIDE_ROLES: readonly CallerRole[] = ['maintenance', 'admin'];
export const RECO_READ_ROLES: readonly CallerRole[] = ['operator', 'maintenance', 'admin', 'viewer'];

type KpiKind = 'ratio' | 'seconds' | 'rate';

const KPI: Record<RecoKpi, { name: string; kind: KpiKind }> = {
  cycleTime: { name: 'Cycle time', kind: 'seconds' },
  scrapRate: { name: 'Scrap rate', kind: 'ratio' },
  oee: { name: 'OEE', kind: 'ratio' },
  availability: { name: 'Availability', kind: 'ratio' },
  performance: { name: 'Performance', kind: 'ratio' },
  quality: { name: 'Quality', kind: 'ratio' },
  throughput: { name: 'Throughput', kind: 'rate' },
};

const MINUS = '\u2212';

/** "Cycle time", "Scrap rate", "OEE". */
export function kpiName(kpi: RecoKpi): string {
  return KPI[kpi].name;
}

/** A number with at most one decimal and no trailing ".0": 4 → "4", 2.5 → "2.5". */
function short(v: number): string {
  const r = Math.round(v * 10) / 10;
  return formatNumber(r, Number.isInteger(r) ? 0 : 1);
}

/** A KPI value with its unit: "87.3 %", "18.4 s", "187 pcs/h"; "—" when unknown. */
export function kpiValueText(kpi: RecoKpi, v: number | null): string {
  switch (KPI[kpi].kind) {
    case 'ratio':
      return formatPercent(v);
    case 'seconds':
      return withUnit(formatNumber(v, 1), 's');
    case 'rate':
      return withUnit(formatNumber(v, 0), 'pcs/h');
  }
}

/** A size in KPI units without sign: ratios in points ("1 point", "0.5 points"), seconds, pieces per hour. */
function kpiAmount(kpi: RecoKpi, by: number): string {
  const a = Math.abs(by);
  switch (KPI[kpi].kind) {
    case 'ratio': {
      const pts = short(a * 100);
      return `${pts} ${pts === '1' ? 'point' : 'points'}`;
    }
    case 'seconds':
      return `${short(a)} s`;
    case 'rate':
      return `${formatNumber(a, 0)} pcs/h`;
  }
}

/** A KPI difference with its sign: "+0.2 points", "−0.8 s", "+12 pcs/h"; "—" when unknown. */
export function kpiDeltaText(kpi: RecoKpi, delta: number | null): string {
  if (delta === null || !Number.isFinite(delta)) return '—';
  const amount = kpiAmount(kpi, delta);
  if (/^0(\.0)? /.test(amount)) return `±${amount}`;
  return `${delta < 0 ? MINUS : '+'}${amount}`;
}

/** A relative change with its sign: "−4 %", "+2.5 %"; null when unknown. */
export function relativeText(relative: number | null): string | null {
  if (relative === null || !Number.isFinite(relative)) return null;
  const p = short(Math.abs(relative) * 100);
  if (p === '0') return '±0 %';
  return `${relative < 0 ? MINUS : '+'}${p} %`;
}

/** "Cycle time expected 4 % lower". */
export function expectText(e: Recommendation['expect']): string {
  const p = short(Math.abs(e.change) * 100);
  if (p === '0') return `${kpiName(e.kpi)} expected unchanged`;
  return `${kpiName(e.kpi)} expected ${p} % ${e.change < 0 ? 'lower' : 'higher'}`;
}

/** "expected 4 % lower": the effect without the KPI's name, for the outcome table. */
export function expectShort(e: Recommendation['expect']): string {
  return expectText(e).slice(kpiName(e.kpi).length + 1);
}

/** "must not rise by more than 1 point": the guard without the KPI's name, for the outcome table. */
export function guardShort(g: Recommendation['guards'][number]): string {
  return guardText(g).slice(kpiName(g.kpi).length + 1);
}

/** "Scrap rate must not rise by more than 1 point". */
export function guardText(g: Recommendation['guards'][number]): string {
  return `${kpiName(g.kpi)} must not ${g.direction} by more than ${kpiAmount(g.kpi, g.by)}`;
}

/** An observation window: "10 s", "15 min", "1 h", "1 h 30 min", "2 d". */
export function windowText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d) parts.push(`${d} d`);
  if (h) parts.push(`${h} h`);
  if (m) parts.push(`${m} min`);
  if (sec || parts.length === 0) parts.push(`${sec} s`);
  return parts.slice(0, 2).join(' ');
}

/** "Measured over 1 h after applying, against the 1 h before". */
export function windowSentence(windowS: number): string {
  const w = windowText(windowS);
  return `Measured over ${w} after applying, against the ${w} before`;
}

/** Time left until `until`: "1 h 20 min", "12 min", "less than a minute", "2 d 3 h"; null once passed. */
export function timeLeftText(until: number, now: number): string | null {
  const ms = until - now;
  if (ms <= 0) return null;
  if (ms < 60_000) return 'less than a minute';
  const min = Math.floor(ms / 60_000);
  if (min < 60) return `${min} min`;
  if (min < 24 * 60) return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`;
  return `${Math.floor(min / 1440)} d ${Math.floor((min % 1440) / 60)} h`;
}

/** "Expires in 1 h 20 min (15:20)" or "Expired at 15:20". */
export function expiresText(validUntil: number, now: number, tz: string): string {
  const left = timeLeftText(validUntil, now);
  const at = formatHm(validUntil, tz);
  return left === null ? `Expired at ${at}` : `Expires in ${left} (${at})`;
}

/** A change value with the point's decimals and unit. */
export function changeValue(c: Pick<RecoChangeView, 'decimals' | 'unit'>, v: number | null): string {
  return withUnit(formatNumber(v, c.decimals), c.unit);
}

/** "+6.0 °C" from the current (or, unknown, the expected) value to the proposed one. */
export function changeDelta(c: RecoChangeView): string {
  const from = c.current ?? c.expected;
  const d = c.proposed - from;
  const text = changeValue(c, Math.abs(d));
  return `${d < 0 ? MINUS : '+'}${text}`;
}

/** The current value differs from what the supplier expected (by at least half the last decimal). */
export function currentDiffers(c: RecoChangeView): boolean {
  return c.current !== null && Math.abs(c.current - c.expected) >= 10 ** -c.decimals / 2;
}

/** "180–240 °C, steps of at most 5 °C", worded as on the machine page. */
export function changeLimits(c: RecoChangeView): string {
  return limitsText({ type: 'float64', decimals: c.decimals, unit: c.unit, writable: c.limits });
}

/** What the console will refuse about this change now, in words (empty when nothing). */
export function changeProblems(c: RecoChangeView): string[] {
  const out: string[] = [];
  if (c.proposed < c.limits.min) out.push(`${changeValue(c, c.proposed)} is below the minimum ${changeValue(c, c.limits.min)}`);
  if (c.proposed > c.limits.max) out.push(`${changeValue(c, c.proposed)} is above the maximum ${changeValue(c, c.limits.max)}`);
  if (c.current !== null && Math.abs(c.proposed - c.current) > c.limits.maxStep + 1e-9)
    out.push(
      `a change of ${changeValue(c, Math.abs(c.proposed - c.current))} is larger than the largest allowed step of ${changeValue(c, c.limits.maxStep)}`,
    );
  return out;
}

/** "Set Zone 2 setpoint from 212.0 °C to 218.0 °C". */
export function applySentence(c: RecoChangeView): string {
  if (c.current === null) return `Set ${c.name} to ${changeValue(c, c.proposed)} (its value now cannot be read)`;
  return `Set ${c.name} from ${changeValue(c, c.current)} to ${changeValue(c, c.proposed)}`;
}

/** "Set Zone 2 setpoint from 218.0 °C back to 212.0 °C" (`before` unknown: "back to its value before the apply"). */
export function revertSentence(c: RecoChangeView, before: number | null): string {
  const now = c.current === null ? '' : ` from ${changeValue(c, c.current)}`;
  return `Set ${c.name}${now} back to ${before === null ? 'its value before the apply' : changeValue(c, before)}`;
}

export type RecoTone = 'open' | 'ok' | 'warn' | 'quiet';

/** A status as a word, the tone of its badge and icon. */
export const STATUS: Record<RecoStatus, { word: string; tone: RecoTone }> = {
  pending: { word: 'WAITING FOR A DECISION', tone: 'open' },
  deferred: { word: 'DEFERRED', tone: 'quiet' },
  applying: { word: 'APPLYING', tone: 'open' },
  applied: { word: 'APPLIED', tone: 'ok' },
  'apply-failed': { word: 'NOT APPLIED', tone: 'warn' },
  rejected: { word: 'REJECTED', tone: 'quiet' },
  expired: { word: 'EXPIRED', tone: 'quiet' },
  reverted: { word: 'PUT BACK', tone: 'quiet' },
};

/** Waiting for a person or running: the "Open" section. */
export function isOpen(status: RecoStatus): boolean {
  return status === 'pending' || status === 'deferred' || status === 'applying';
}

/** Recommendations still to be decided now (the header's badge). */
export function pendingCount(inbox: RecoInbox | null): number {
  return inbox?.items.filter((r) => r.status === 'pending').length ?? 0;
}

/** Who decided what and when, in words: "Rejected by anna at 14:05: not during the trial run". */
export function decisionText(r: Recommendation, tz: string): string | null {
  const d = r.decision;
  if (!d) return null;
  const verb = { apply: 'Applied', reject: 'Rejected', defer: 'Deferred', revert: 'Put back' }[d.action];
  const until = d.action === 'defer' && d.deferredUntil !== null ? ` until ${formatHm(d.deferredUntil, tz)}` : '';
  return `${verb} by ${d.user} at ${formatHm(d.at, tz)}${until}${d.reason ? `: ${d.reason}` : ''}`;
}

/** One apply step in words, with the point's name: "Zone 2 setpoint written and read back". */
export function stepText(s: RecoApplyStep, nameOf: (pointId: string) => string): string {
  const name = nameOf(s.pointId);
  const why = s.message ?? s.code;
  const tail = why ? `: ${why}` : '';
  if (s.action === 'revert') {
    switch (s.outcome) {
      case 'written':
        return `${name} put back to its value before`;
      case 'skipped':
        return `${name} not put back (nothing to undo)`;
      default:
        return `${name} could NOT be put back${tail}`;
    }
  }
  switch (s.outcome) {
    case 'written':
      return `${name} written and read back`;
    case 'refused':
      return `${name} refused${tail}`;
    case 'readback-mismatch':
      return `${name} written, but the device reports another value${tail}`;
    case 'failed':
      return `${name} failed${tail}`;
    case 'skipped':
      return `${name} not written (an earlier change failed)`;
  }
}

/** A step went as it should (written, or not needed). */
export function stepOk(s: RecoApplyStep): boolean {
  return s.outcome === 'written' || (s.action === 'revert' && s.outcome === 'skipped');
}

const REFUSAL: Record<RecoRefusalCode, string> = {
  malformed: 'Not a readable recommendation',
  bad_signature: 'Signature does not verify',
  unknown_key: 'Signed by a key this plant does not trust',
  undecryptable: 'Cannot be decrypted by this plant',
  wrong_plant: 'Meant for another plant',
  expired: 'Expired before it arrived',
  not_yet_valid: 'Not valid yet',
  replayed: 'Already received once (replayed)',
  unknown_machine: 'Names a machine this plant does not have',
  unknown_point: 'Names a point the machine does not have',
  not_writable: 'Asks to change a point that cannot be written',
  out_of_limits: 'Proposes a value outside the limits',
  step_too_large: 'Proposes a change larger than the allowed step',
};

/** Why a recommendation was refused, as a short title. */
export function refusalTitle(code: RecoRefusalCode): string {
  return REFUSAL[code];
}

/** Fraction (0..1) of the observation window measured so far. */
export function measuredFraction(o: { appliedAt: number; until: number }, now: number): number {
  const span = o.until - o.appliedAt;
  if (span <= 0) return 1;
  return Math.min(1, Math.max(0, (now - o.appliedAt) / span));
}

/** Why this caller cannot decide, in words; null when they can. */
export function decideBlockedReason(role: CallerRole | undefined): string | null {
  if (role === undefined) return 'Loading…';
  if (RECO_DECIDE_ROLES.includes(role)) return null;
  return 'Read only: maintenance decides whether a recommendation is applied, rejected or deferred.';
}

/**
 * The value now from the live machine data (the inbox's own copy is as of its last change): a
 * value that is not good shows as unknown rather than as its last number.
 */
export function liveChange(c: RecoChangeView, live: PointValue | undefined): RecoChangeView {
  if (!live) return c;
  return { ...c, current: live.quality === 'good' && typeof live.value === 'number' ? live.value : null };
}
