/**
 * "Import from file": a bundle from a USB stick (at most 32 MiB), uploaded to the console with its
 * progress in bytes and percent (web mode; the Electron window hands it over IPC), and the
 * console's verification shown in words: the version, the
 * models it is made for, who signed it ("signed by 2 of 3 supplier release keys"), until when it
 * is valid and the release notes; or why it was refused.
 */
import { useRef } from 'react';
import type { ModulesState } from '../../../src-preload/contract';
import { selectImportResult, selectModulesActions, selectModulesBusy, selectUpload, useModulesStore } from '../stores/modules';
import { useTransport } from '../transport/context';
import { ProgressBar, SignedIcon, ToneIcon } from './ModuleIcons';
import { expiryText, signersText, sizeText, uploadPercent, uploadText } from './ModuleWords';

interface Props {
  root: ModulesState['root'];
  mayAct: boolean;
  now: number;
  tz: string;
}

/** The import button and the last import's result. */
export function FirmwareImport({ root, mayAct, now, tz }: Props) {
  const transport = useTransport();
  const actions = useModulesStore(selectModulesActions);
  const busy = useModulesStore(selectModulesBusy);
  const result = useModulesStore(selectImportResult);
  const upload = useModulesStore(selectUpload);
  const input = useRef<HTMLInputElement>(null);
  const importing = busy?.action === 'import';

  const onFile = (file: File | undefined): void => {
    if (!file) return;
    void actions.importFile(transport, file).finally(() => {
      // The same file may be chosen again (after fixing the stick, or to see the refusal again).
      if (input.current) input.current.value = '';
    });
  };

  return (
    <div className="mod-import" data-testid="firmware-import">
      {mayAct && (
        <label className={`btn mod-btn mod-import-btn ${busy !== null ? 'mod-btn-disabled' : ''}`}>
          <input
            ref={input}
            className="sr-only"
            type="file"
            accept=".pcfw"
            disabled={busy !== null}
            onChange={(e) => onFile(e.target.files?.[0])}
            data-testid="firmware-file"
          />
          Import from file…
        </label>
      )}
      {mayAct && !result && !importing && (
        <p className="mod-small muted">A release bundle (.pcfw) from the supplier, for example on a USB stick.</p>
      )}
      {importing && upload && (
        <div className="mod-upload" data-testid="firmware-upload" data-percent={uploadPercent(upload)}>
          <p className="mod-small" role="status" data-testid="firmware-upload-text">
            {uploadText(upload)}
          </p>
          <ProgressBar
            label="Upload"
            percent={uploadPercent(upload)}
            valueText={`${sizeText(upload.sent)} of ${sizeText(upload.total)}`}
            testId="firmware-upload-progress"
          />
        </div>
      )}
      {importing && !upload && (
        <p className="mod-small" role="status" data-testid="firmware-import-busy">
          Checking {busy.subject}: signatures, expiry, model, size and image…
        </p>
      )}
      {result?.kind === 'accepted' && (
        <div className="mod-result mod-result-ok" role="status" data-testid="firmware-import-result" data-result="accepted">
          <p className="mod-result-title">
            <SignedIcon size={22} className="mod-signed-icon" />
            Accepted: firmware {result.release.version}
            <span className="muted"> from {result.fileName}</span>
          </p>
          <dl className="mod-release-facts">
            <dt>Made for</dt>
            <dd data-testid="firmware-import-models">{result.release.models.join(', ')}</dd>
            <dt>Signatures</dt>
            <dd data-testid="firmware-import-signers">{signersText(result.release, root)}</dd>
            <dt>Valid</dt>
            <dd>{expiryText(result.release.expires, now, tz).text}</dd>
            <dt>Image</dt>
            <dd>{sizeText(result.release.size)}</dd>
            <dt>Notes</dt>
            <dd className="mod-notes">{result.release.notes || '—'}</dd>
          </dl>
          <button type="button" className="btn mod-btn" onClick={() => actions.dismissImport()} data-testid="firmware-import-dismiss">
            OK
          </button>
        </div>
      )}
      {result?.kind === 'refused' && (
        <div className="mod-result mod-result-refused" role="alert" data-testid="firmware-import-result" data-result="refused">
          <p className="mod-result-title">
            <ToneIcon tone="warn" size={20} className="mod-warn-icon" />
            Refused: <span data-testid="firmware-import-refusal">{result.title}</span>
          </p>
          <p className="mod-small" data-testid="firmware-import-reason">
            {result.fileName}: {result.text}
          </p>
          <p className="mod-small">Nothing was installed. Ask the supplier for a correctly signed, current release.</p>
          <button type="button" className="btn mod-btn" onClick={() => actions.dismissImport()} data-testid="firmware-import-dismiss">
            OK
          </button>
        </div>
      )}
    </div>
  );
}
