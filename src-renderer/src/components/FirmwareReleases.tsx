/**
 * The firmware releases the console holds (each checked on arrival: signatures, expiry, model,
 * image), with "Update…" for maintenance, and the bundles it refused with the reason in words;
 * a refused bundle never has a button.
 */
import { useState } from 'react';
import type { FirmwareRelease, ModulesState } from '../../../src-preload/contract';
import { formatDateTime } from '../lib/format';
import { FirmwareApproveDialog } from './FirmwareApproveDialog';
import { SignedIcon, ToneIcon } from './ModuleIcons';
import { expiryText, refusalTitle, signersText, sizeText, updateCandidates } from './ModuleWords';

interface Props {
  state: ModulesState;
  mayAct: boolean;
  needsPin: boolean;
  now: number;
  tz: string;
  moduleName(moduleId: string): string;
}

/** One release. */
function ReleaseRow({
  r,
  state,
  mayAct,
  now,
  tz,
  onUpdate,
}: Omit<Props, 'needsPin' | 'moduleName'> & { r: FirmwareRelease; onUpdate(): void }) {
  const exp = expiryText(r.expires, now, tz);
  const candidates = updateCandidates(r, state.modules);
  const open = candidates.filter((c) => c.blocked === null).length;
  return (
    <li className="mod-release" data-testid={`release-${r.id}`}>
      <div className="mod-release-head">
        <span className="mod-release-version" data-testid="release-version">
          <SignedIcon size={22} className="mod-signed-icon" />
          {r.version}
        </span>
        <span className="mod-release-models">for {r.models.join(', ')}</span>
        {mayAct && (
          <button
            type="button"
            className="btn mod-btn mod-btn-primary mod-release-update"
            disabled={exp.expired || open === 0}
            onClick={onUpdate}
            data-testid="release-update"
          >
            Update…
          </button>
        )}
      </div>
      <p className="mod-release-line" data-testid="release-signers">
        {signersText(r, state.root)}
        {r.signers.length > 0 && <span className="muted"> ({r.signers.join(', ')})</span>}
      </p>
      <p className="mod-release-line">
        {exp.expired ? (
          <span className="mod-warn-text">
            <ToneIcon tone="warn" size={14} className="mod-warn-icon" />
            {exp.text}
          </span>
        ) : (
          exp.text
        )}
        <span className="muted">
          {' '}
          · {sizeText(r.size)} · {r.source === 'file' ? 'imported from a file' : 'received from the supplier'} by {r.importedBy}
        </span>
      </p>
      {r.notes && (
        <p className="mod-notes mod-release-line" data-testid="release-notes">
          {r.notes}
        </p>
      )}
      {mayAct && !exp.expired && open === 0 && (
        <p className="mod-small muted" data-testid="release-no-candidates">
          {candidates.length === 0 ? 'No paired module of these models.' : 'Every module of these models runs it or is being updated.'}
        </p>
      )}
    </li>
  );
}

/** The releases and the refused bundles. */
export function FirmwareReleases({ state, mayAct, needsPin, now, tz, moduleName }: Props) {
  const [approving, setApproving] = useState<FirmwareRelease | null>(null);
  return (
    <>
      {state.releases.length === 0 ? (
        <p className="muted" data-testid="releases-empty">
          No firmware release yet. Releases arrive from the supplier or are imported from a file.
        </p>
      ) : (
        <ul className="mod-releases" data-testid="releases">
          {state.releases.map((r) => (
            <ReleaseRow key={r.id} r={r} state={state} mayAct={mayAct} now={now} tz={tz} onUpdate={() => setApproving(r)} />
          ))}
        </ul>
      )}
      {state.refused.length > 0 && (
        <div className="mod-refused" data-testid="refused">
          <h3 className="mod-subtitle">Refused ({state.refused.length})</h3>
          <ul className="mod-refused-list" data-testid="refused-list">
            {state.refused.map((x) => (
              <li key={x.ref} className="mod-refused-item" data-testid={`refused-${x.ref}`}>
                <span className="mod-refused-title">
                  <ToneIcon tone="warn" size={16} className="mod-warn-icon" />
                  <strong data-testid="refused-title">{refusalTitle(x.code)}</strong>
                </span>
                <span data-testid="refused-message">{x.message}</span>
                <span className="muted mod-small">
                  {x.fileName ?? 'from the supplier'} · {formatDateTime(x.at, tz)}
                </span>
              </li>
            ))}
          </ul>
        </div>
      )}
      {approving && (
        <FirmwareApproveDialog
          release={approving}
          state={state}
          needsPin={needsPin}
          moduleName={moduleName}
          onClose={() => setApproving(null)}
        />
      )}
    </>
  );
}
