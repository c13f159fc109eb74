/**
 * A module waiting for pairing: its key fingerprint in groups of four, to compare with what
 * the module itself shows (`device-agent identity`), and for maintenance Approve / Reject,
 * each confirmed in a dialog that says what it means, with the PIN when the account has one.
 */
import { useCallback, useState } from 'react';
import type { ModuleView } from '../../../src-preload/contract';
import { modulePinText, selectModulesActions, selectModulesBusy, useModulesStore } from '../stores/modules';
import { useTransport } from '../transport/context';
import { ModuleDialog, usePinStep } from './ModuleDialog';
import { PairingBadge } from './ModuleIcons';
import { fingerprintGroups } from './ModuleWords';

/** The fingerprint, large, four characters a group. */
export function Fingerprint({ fp, large = false }: { fp: string; large?: boolean }) {
  return (
    <span
      className={`mod-fingerprint ${large ? 'mod-fingerprint-large' : ''}`}
      data-testid="module-fingerprint"
      aria-label={`Fingerprint ${fp}`}
    >
      {fingerprintGroups(fp).map((g, i) => (
        <span key={i} className="mod-fp-group">
          {g}
        </span>
      ))}
    </span>
  );
}

interface Props {
  m: ModuleView;
  /** "Moulding 1", or null when the module is on no configured machine. */
  machineName: string | null;
  mayAct: boolean;
  needsPin: boolean;
}

/** The card of a module waiting for pairing. */
export function PendingModuleCard({ m, machineName, mayAct, needsPin }: Props) {
  const transport = useTransport();
  const actions = useModulesStore(selectModulesActions);
  const busy = useModulesStore(selectModulesBusy);
  const [mode, setMode] = useState<'approve' | 'reject' | null>(null);
  const pin = usePinStep(needsPin);
  const { reset } = pin;
  const close = useCallback(() => {
    setMode(null);
    reset();
  }, [reset]);
  const mine = busy !== null && busy.subject === m.id;

  const confirm = async (approve: boolean): Promise<void> => {
    const n = await actions.pair(transport, m.id, approve, pin.pin);
    const pinError = modulePinText(n);
    if (pinError !== null) {
      actions.dismiss();
      pin.refused(pinError);
      return;
    }
    close();
  };

  return (
    <article className="card mod-card mod-card-pending" data-testid={`module-${m.id}`} data-pairing="pending">
      <header className="mod-head">
        <h3 className="mod-name" data-testid="module-name">
          {machineName ?? 'Module not on a configured machine'}
        </h3>
        <span className="mod-id muted">
          module {m.id} · {m.model}
        </span>
        <PairingBadge />
      </header>
      <div className="mod-pair-body">
        <div className="mod-pair-fp">
          <span className="mod-label">Its key fingerprint</span>
          <Fingerprint fp={m.fingerprint} large />
          <p className="mod-pair-how" data-testid="module-pair-how">
            Compare with the fingerprint the module shows, then approve.
            <span className="muted mod-small"> (On the module: device-agent identity)</span>
          </p>
        </div>
        {mayAct ? (
          <div className="mod-actions">
            <button
              type="button"
              className="btn mod-btn mod-btn-primary"
              disabled={busy !== null}
              onClick={() => setMode('approve')}
              data-testid="module-approve"
            >
              Approve…
            </button>
            <button
              type="button"
              className="btn mod-btn"
              disabled={busy !== null}
              onClick={() => setMode('reject')}
              data-testid="module-reject"
            >
              Reject…
            </button>
          </div>
        ) : (
          <p className="muted mod-small">Maintenance approves or rejects the pairing.</p>
        )}
      </div>
      {mode && (
        <ModuleDialog
          title={mode === 'approve' ? `Pair module ${m.id} with this console?` : `Reject module ${m.id}?`}
          testId="module-pair-dialog"
          busy={mine}
          pin={pin.step}
          pinLabel={mode === 'approve' ? 'Your PIN confirms the pairing' : 'Your PIN confirms this'}
          onCancel={close}
          actions={
            <button
              type="button"
              className="btn write-btn write-confirm"
              disabled={mine || (pin.step !== null && pin.step.value === '')}
              onClick={() => void confirm(mode === 'approve')}
              data-testid="module-pair-confirm"
            >
              {mode === 'approve' ? 'Approve pairing' : 'Reject'}
            </button>
          }
        >
          <Fingerprint fp={m.fingerprint} large />
          {mode === 'approve' ? (
            <p className="mod-dialog-text">
              Approve only if the module shows exactly this fingerprint. From then on the console trusts heartbeats signed with this key,
              and may send the module firmware updates.
            </p>
          ) : (
            <p className="mod-dialog-text">The module is not trusted: its heartbeats are ignored and it gets no updates.</p>
          )}
          {mine && (
            <p className="write-busy" role="status">
              Waiting for the console…
            </p>
          )}
        </ModuleDialog>
      )}
    </article>
  );
}
