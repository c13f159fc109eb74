/**
 * What a recommendation changes, per point: the value now → the proposed value with its unit
 * and the size of the change, the limits, a warning when the value now is not what the
 * supplier expected or when the console would refuse the change; and, for an open one, the
 * machine's state and interlock as they are now.
 */
import type { MachineState, Recommendation } from '../../../src-preload/contract';
import { changeDelta, changeLimits, changeProblems, changeValue, currentDiffers, liveChange } from '../lib/reco';
import { useMachinesStore } from '../stores/machines';
import { AttentionIcon, LockIcon } from './RecoIcons';
import { StateBadge } from './StateBadge';

const MACHINE_STATES: readonly string[] = ['running', 'idle', 'fault', 'offline', 'unknown'];

/** The changes as rows: name and limits, now, proposed, change. */
export function RecoChanges({ r, compact = false }: { r: Recommendation; compact?: boolean }) {
  const values = useMachinesStore((s) => s.byId[r.machineId]?.values);
  return (
    <table className={`reco-changes${compact ? ' reco-changes-compact' : ''}`} data-testid="reco-changes">
      <thead>
        <tr>
          <th scope="col">What changes</th>
          {compact ? (
            <>
              <th scope="col" className="num">
                Proposed
              </th>
              <th scope="col" className="num">
                Value now
              </th>
            </>
          ) : (
            <>
              <th scope="col" className="num">
                Now
              </th>
              <th scope="col" className="num">
                Proposed
              </th>
              <th scope="col" className="num">
                Change
              </th>
            </>
          )}
        </tr>
      </thead>
      {r.changes.map((inbox) => {
        const c = liveChange(inbox, values?.[inbox.pointId]);
        const differs = !compact && currentDiffers(c);
        const problems = compact ? [] : changeProblems(c);
        return (
          // One body per change, so its warnings can span the whole width below it.
          <tbody key={c.pointId} data-testid={`reco-change-${c.pointId}`}>
            <tr>
              <th scope="row">
                <span className="reco-point">{c.name}</span>
                {!compact && <span className="reco-limits">Limits {changeLimits(c)}</span>}
              </th>
              {compact ? (
                <>
                  <td className="num reco-proposed" data-testid="reco-change-proposed">
                    {changeValue(c, c.proposed)}
                  </td>
                  <td className="num reco-now" data-testid="reco-change-now">
                    {changeValue(c, c.current)}
                  </td>
                </>
              ) : (
                <>
                  <td className="num reco-now" data-testid="reco-change-now">
                    {changeValue(c, c.current)}
                  </td>
                  <td className="num reco-proposed" data-testid="reco-change-proposed">
                    <span className="reco-arrow" aria-hidden="true">
                      →{' '}
                    </span>
                    {changeValue(c, c.proposed)}
                  </td>
                  <td className="num reco-delta">{changeDelta(c)}</td>
                </>
              )}
            </tr>
            {(differs || problems.length > 0) && (
              <tr className="reco-warn-row">
                <td colSpan={4}>
                  {differs && (
                    <span className="reco-warn" data-testid="reco-expected-differs">
                      <AttentionIcon size={18} className="reco-warn-icon" />
                      The supplier expected {changeValue(c, c.expected)} now; the machine reads {changeValue(c, c.current)}
                    </span>
                  )}
                  {problems.map((p) => (
                    <span key={p} className="reco-warn" data-testid="reco-change-problem">
                      <AttentionIcon size={18} className="reco-warn-icon" />
                      The console will refuse this: {p}
                    </span>
                  ))}
                </td>
              </tr>
            )}
          </tbody>
        );
      })}
    </table>
  );
}

/** The machine's state and the interlock now: an apply while it blocks is refused by the console. */
export function RecoMachineState({ r }: { r: Recommendation }) {
  const state = MACHINE_STATES.includes(r.machineState) ? (r.machineState as MachineState) : null;
  const ok = r.interlock.ok;
  return (
    <div className="reco-machine" data-testid="reco-machine-state">
      <span className="reco-label">Machine now</span>
      {state ? <StateBadge state={state} /> : <span className="reco-state-text">{r.machineState.toUpperCase()}</span>}
      <span className={`reco-lock ${ok ? 'reco-lock-ok' : 'reco-lock-blocked'}`} data-testid="reco-interlock">
        <LockIcon open={ok} size={20} className="reco-lock-icon" />
        {ok
          ? `Interlock clear${r.interlock.message ? `: ${r.interlock.message}` : ': changes allowed now'}`
          : `Interlock BLOCKS changes now${r.interlock.message ? `: ${r.interlock.message}` : ''}. Apply is refused until it clears.`}
      </span>
    </div>
  );
}
