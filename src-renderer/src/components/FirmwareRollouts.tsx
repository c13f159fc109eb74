/**
 * The approved updates (staged rollouts): which release to which modules, who approved it,
 * its state in words, and for maintenance Stop with a required reason (modules not yet
 * updated keep their firmware; stopping is always safe).
 */
import { useCallback, useState } from 'react';
import type { Rollout } from '../../../src-preload/contract';
import { formatHm } from '../lib/format';
import { selectModulesActions, selectModulesBusy, selectModulesNotice, useModulesStore } from '../stores/modules';
import { useTransport } from '../transport/context';
import { ModuleDialog } from './ModuleDialog';
import { ToneIcon } from './ModuleIcons';
import { rolloutStateText } from './ModuleWords';

interface Props {
  rollouts: readonly Rollout[];
  mayAct: boolean;
  tz: string;
  moduleName(moduleId: string): string;
}

/** Stop with a reason. */
function StopDialog({ r, onClose }: { r: Rollout; onClose(): void }) {
  const transport = useTransport();
  const actions = useModulesStore(selectModulesActions);
  const busy = useModulesStore(selectModulesBusy);
  const notice = useModulesStore(selectModulesNotice);
  const [reason, setReason] = useState('');
  const refused = notice?.action === 'stop' && notice.subject === r.id && notice.code !== null ? notice.text : null;
  const mine = busy?.action === 'stop' && busy.subject === r.id;
  const confirm = async (): Promise<void> => {
    const n = await actions.stop(transport, r.id, reason);
    if (n.code === null) onClose();
  };
  return (
    <ModuleDialog
      title={`Stop the update to ${r.version}?`}
      testId="rollout-stop-dialog"
      busy={mine}
      onCancel={onClose}
      actions={
        <button
          type="button"
          className="btn write-btn write-confirm"
          disabled={mine || reason.trim() === ''}
          onClick={() => void confirm()}
          data-testid="rollout-stop-confirm"
        >
          Stop the update
        </button>
      }
    >
      <p className="mod-dialog-text">
        Modules not yet updated keep the firmware they run. A module in the middle of its update finishes or goes back to its old firmware
        on its own.
      </p>
      <label className="mod-reason">
        <span>Why (required, kept in the audit log)</span>
        <textarea value={reason} maxLength={500} rows={3} onChange={(e) => setReason(e.target.value)} data-testid="rollout-stop-reason" />
      </label>
      {refused && (
        <p className="mod-dialog-error" role="alert" data-testid="rollout-stop-error">
          {refused}
        </p>
      )}
    </ModuleDialog>
  );
}

/** The rollouts, newest first as the console lists them. */
export function FirmwareRollouts({ rollouts, mayAct, tz, moduleName }: Props) {
  const [stopping, setStopping] = useState<Rollout | null>(null);
  const close = useCallback(() => setStopping(null), []);
  if (rollouts.length === 0) return <p className="muted">No update approved yet.</p>;
  return (
    <>
      <ul className="mod-rollouts" data-testid="rollouts">
        {rollouts.map((r) => {
          const s = rolloutStateText(r, moduleName);
          return (
            <li
              key={r.id}
              className={`mod-rollout mod-rollout-${s.active ? 'active' : 'over'}`}
              data-testid={`rollout-${r.id}`}
              data-state={r.state}
            >
              <div className="mod-rollout-head">
                <strong className="mod-rollout-version">Update to {r.version}</strong>
                <span className="muted">
                  approved by {r.approvedBy} at {formatHm(r.approvedAt, tz)}
                </span>
                {mayAct && s.active && (
                  <button type="button" className="btn mod-btn mod-rollout-stop" onClick={() => setStopping(r)} data-testid="rollout-stop">
                    Stop…
                  </button>
                )}
              </div>
              <p className={`mod-rollout-state mod-update-${s.tone}`} data-testid="rollout-state">
                {s.tone === 'warn' && <ToneIcon tone="warn" size={16} className="mod-warn-icon" />}
                {s.text}
              </p>
              <p className="mod-small muted">{r.moduleIds.map(moduleName).join(' → ')}</p>
            </li>
          );
        })}
      </ul>
      {stopping && <StopDialog r={stopping} onClose={close} />}
    </>
  );
}
