/**
 * After an apply: its result in words and steps (what was written, refused, put back), then
 * the outcome: a progress bar while the window is measured, and once done each KPI before →
 * after, whether the expected effect was reached and whether a guard was breached.
 */
import type { RecoKpiMeasure, RecoOutcome, Recommendation } from '../../../src-preload/contract';
import { formatClock, formatHm } from '../lib/format';
import {
  expectShort,
  guardShort,
  kpiDeltaText,
  kpiName,
  kpiValueText,
  measuredFraction,
  relativeText,
  stepOk,
  stepText,
  timeLeftText,
  windowText,
} from '../lib/reco';
import { AttentionIcon, ClockIcon, CrossIcon, TickIcon } from './RecoIcons';
import '../styles/reco-outcome.css';

/** The apply's summary and each step, ✓ or ⚠ with words. */
export function RecoApplyResult({ r }: { r: Recommendation }) {
  const a = r.apply;
  if (!a) return null;
  const nameOf = (pointId: string): string => r.changes.find((c) => c.pointId === pointId)?.name ?? pointId;
  return (
    <div className={`reco-result ${a.ok ? 'reco-tone-ok' : 'reco-tone-warn'}`} data-testid="reco-apply-result">
      <p className="reco-result-summary">
        {a.ok ? <TickIcon size={22} /> : <AttentionIcon size={22} />}
        <span data-testid="reco-apply-summary">{a.summary}</span>
      </p>
      {a.steps.length > 0 && (
        <ul className="reco-steps" data-testid="reco-apply-steps">
          {a.steps.map((s, i) => (
            <li key={`${s.pointId}-${s.action}-${i}`} className={stepOk(s) ? 'reco-step-ok' : 'reco-step-warn'}>
              <span className="reco-step-mark">{stepOk(s) ? '✓' : '⚠'}</span> {stepText(s, nameOf)}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** One KPI row: before → after, the change, and its verdict. */
function MeasureRow({
  m,
  label,
  verdict,
  testId,
}: {
  m: RecoKpiMeasure;
  label: string;
  verdict: { ok: boolean | null; word: string };
  testId: string;
}) {
  const rel = relativeText(m.relative);
  return (
    <tr className={verdict.ok === false ? 'reco-measure-bad' : undefined} data-testid={testId}>
      <th scope="row">
        <span className="reco-point">{kpiName(m.kpi)}</span>
        <span className="reco-limits">{label}</span>
      </th>
      <td className="num">{kpiValueText(m.kpi, m.before)}</td>
      <td className="num">
        <span aria-hidden="true">→ </span>
        {kpiValueText(m.kpi, m.after)}
      </td>
      <td className="num">
        {kpiDeltaText(m.kpi, m.delta)}
        {rel && m.kpi !== 'scrapRate' ? <span className="muted"> ({rel})</span> : null}
      </td>
      <td>
        <span
          className={`reco-verdict reco-verdict-${verdict.ok === null ? 'none' : verdict.ok ? 'ok' : 'bad'}`}
          data-testid="reco-verdict"
        >
          {verdict.ok === null ? null : verdict.ok ? <TickIcon size={18} /> : <AttentionIcon size={18} />}
          {verdict.word}
        </span>
      </td>
    </tr>
  );
}

/** The measured outcome: progress while measuring, before → after once done. */
export function RecoOutcomeView({ r, o, now, tz }: { r: Recommendation; o: RecoOutcome; now: number; tz: string }) {
  if (o.state === 'measuring') {
    const f = measuredFraction(o, now);
    const left = timeLeftText(o.until, now);
    return (
      <div className="reco-outcome" data-testid="reco-outcome-measuring">
        <p className="reco-outcome-title">
          <ClockIcon size={20} /> Measuring the effect: {Math.round(f * 100)} % of {windowText(o.windowS)} ·{' '}
          {left ? `result in ${left} (${o.windowS < 600 ? formatClock(o.until, tz) : formatHm(o.until, tz)})` : 'result any moment now'}
        </p>
        <div
          className="reco-progress"
          role="progressbar"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.round(f * 100)}
          aria-label="Observation window measured so far"
        >
          <div className="reco-progress-fill" style={{ width: `${f * 100}%` }} />
        </div>
      </div>
    );
  }
  if (o.state === 'no-data') {
    return (
      <div className="reco-outcome" data-testid="reco-outcome-no-data">
        <p className="reco-outcome-title">
          <CrossIcon size={20} /> No result: not enough production in the {windowText(o.windowS)} before or after the apply to compare (a
          window shorter than a few cycles, or the machine stopped or offline).
        </p>
      </div>
    );
  }
  const breached = o.guards.filter((g) => g.breached);
  // Seconds only matter for a short window (a test or a demo).
  const at = (ts: number): string => (o.windowS < 600 ? formatClock(ts, tz) : formatHm(ts, tz));
  return (
    <div className={`reco-outcome ${breached.length ? 'reco-outcome-breached' : ''}`} data-testid="reco-outcome-done">
      <p className="reco-outcome-title">
        Result over {windowText(o.windowS)} after the apply ({at(o.appliedAt)}–{at(o.until)}), against the {windowText(o.windowS)} before
      </p>
      <table className="reco-measures">
        <thead>
          <tr>
            <th scope="col">Effect and guards</th>
            <th scope="col" className="num">
              Before
            </th>
            <th scope="col" className="num">
              After
            </th>
            <th scope="col" className="num">
              Change
            </th>
            <th scope="col">Verdict</th>
          </tr>
        </thead>
        <tbody>
          {o.expected && (
            <MeasureRow
              m={o.expected}
              testId="reco-measure-expected"
              label={expectShort(r.expect)}
              verdict={{ ok: o.expectMet, word: o.expectMet === null ? 'not known' : o.expectMet ? 'MET' : 'NOT MET' }}
            />
          )}
          {o.guards.map((g) => {
            const guard = r.guards.find((x) => x.kpi === g.kpi);
            return (
              <MeasureRow
                key={`guard-${g.kpi}`}
                m={g}
                testId={`reco-measure-guard-${g.kpi}`}
                label={guard ? guardShort(guard) : 'guard'}
                verdict={{ ok: !g.breached, word: g.breached ? 'BREACHED' : 'KEPT' }}
              />
            );
          })}
        </tbody>
      </table>
      {o.autoReverted && (
        <p className="reco-note" data-testid="reco-auto-reverted">
          <AttentionIcon size={20} /> A guard was breached: the console put the old values back automatically.
        </p>
      )}
      {o.revertProposed && !o.autoReverted && r.status === 'applied' && (
        <p className="reco-note" data-testid="reco-revert-proposed">
          <AttentionIcon size={20} /> A guard was breached: putting the old values back is proposed.
        </p>
      )}
    </div>
  );
}
