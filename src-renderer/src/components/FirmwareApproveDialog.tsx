/**
 * Approving an update: which modules (only paired ones of a model the release is made for,
 * each with its current → new version, or why it cannot be chosen), how it will go in plain
 * words (one module first, the others after it has run healthy; only inside the maintenance
 * window and while the machine is idle), the PIN when the account has one, and Approve.
 */
import { useCallback, useState } from 'react';
import type { FirmwareRelease, ModulesState } from '../../../src-preload/contract';
import { modulePinText, selectModulesActions, selectModulesBusy, useModulesStore } from '../stores/modules';
import { useTransport } from '../transport/context';
import { ModuleDialog, usePinStep } from './ModuleDialog';
import { rolloutPlanText, signersText, updateCandidates } from './ModuleWords';

interface Props {
  release: FirmwareRelease;
  state: ModulesState;
  needsPin: boolean;
  moduleName(moduleId: string): string;
  onClose(): void;
}

/** The soak time the console uses (its setting, else as its last rollout reports it); null when it has not said. */
function soakOf(state: ModulesState): number | null {
  return state.soakS ?? state.rollouts[0]?.soakS ?? null;
}

/** The dialog. */
export function FirmwareApproveDialog({ release, state, needsPin, moduleName, onClose }: Props) {
  const transport = useTransport();
  const actions = useModulesStore(selectModulesActions);
  const busy = useModulesStore(selectModulesBusy);
  // Fixed when the dialog opens, so the list does not move under a finger while heartbeats arrive.
  const [candidates] = useState(() => updateCandidates(release, state.modules));
  const [chosen, setChosen] = useState<string[]>(() => candidates.filter((c) => c.blocked === null).map((c) => c.module.id));
  const pin = usePinStep(needsPin);
  const { reset } = pin;
  const mine = busy?.action === 'approve' && busy.subject === release.id;
  const close = useCallback(() => {
    reset();
    onClose();
  }, [reset, onClose]);
  const others = state.modules.filter((m) => m.pairing === 'paired' && !release.models.includes(m.model)).length;
  // The order of the list decides which module goes first.
  const ordered = candidates.filter((c) => chosen.includes(c.module.id)).map((c) => c.module.id);

  const toggle = (id: string): void => setChosen((cur) => (cur.includes(id) ? cur.filter((x) => x !== id) : [...cur, id]));

  const confirm = async (): Promise<void> => {
    const n = await actions.approve(transport, release.id, ordered, pin.pin);
    const pinError = modulePinText(n);
    if (pinError !== null) {
      actions.dismiss();
      pin.refused(pinError);
      return;
    }
    close();
  };

  return (
    <ModuleDialog
      title={`Update modules to firmware ${release.version}`}
      testId="firmware-approve-dialog"
      busy={mine}
      pin={pin.step}
      pinLabel="Your PIN approves the update"
      onCancel={close}
      actions={
        <button
          type="button"
          className="btn write-btn write-confirm"
          disabled={mine || ordered.length === 0 || (pin.step !== null && pin.step.value === '')}
          onClick={() => void confirm()}
          data-testid="firmware-approve"
        >
          {ordered.length <= 1 ? 'Approve' : `Approve for ${ordered.length} modules`}
        </button>
      }
    >
      <p className="mod-dialog-text muted">
        {release.version} for {release.models.join(', ')} · {signersText(release, state.root)}
      </p>
      {candidates.length === 0 ? (
        <p className="mod-dialog-text" data-testid="firmware-approve-none">
          No paired module of {release.models.join(', ')}.
        </p>
      ) : (
        <fieldset className="mod-choose">
          <legend className="mod-label">Modules to update</legend>
          {candidates.map((c) => (
            <label
              key={c.module.id}
              className={`mod-choice ${c.blocked ? 'mod-choice-blocked' : ''}`}
              data-testid={`approve-module-${c.module.id}`}
            >
              <input
                type="checkbox"
                checked={chosen.includes(c.module.id)}
                disabled={c.blocked !== null || mine}
                onChange={() => toggle(c.module.id)}
              />
              <span className="mod-choice-name">{moduleName(c.module.id)}</span>
              <span className="mod-choice-change">{c.blocked ?? c.change}</span>
              {ordered[0] === c.module.id && ordered.length > 1 && <span className="mod-choice-first">first</span>}
            </label>
          ))}
          {others > 0 && (
            <p className="mod-small muted">
              {others} {others === 1 ? 'module of another model is' : 'modules of other models are'} not listed.
            </p>
          )}
        </fieldset>
      )}
      <p className="mod-plan" data-testid="firmware-approve-plan">
        {rolloutPlanText(ordered.length, soakOf(state), state.maintenanceWindow)}
      </p>
      <p className="mod-small">
        Each module checks the signatures again itself, and goes back to its old firmware if the new one is not healthy.
      </p>
      {mine && (
        <p className="write-busy" role="status">
          Waiting for the console…
        </p>
      )}
    </ModuleDialog>
  );
}
