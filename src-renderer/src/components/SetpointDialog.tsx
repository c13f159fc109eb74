/**
 * The confirmation step of a setpoint change: the change in one plain sentence (old → new with
 * unit), what the console will check that the value already misses, and big Confirm / Cancel.
 * Cancel has the focus, so a stray Enter changes nothing on the machine. When the signed-in
 * account has a PIN, the change is confirmed with it on a big keypad (PinPad): a panel left
 * signed in does not let the next person change the plant.
 */
import { useId, useRef } from 'react';
import { PinPad } from './PinPad';
import { useModalKeys } from './hooks';

/** The PIN step, when the signed-in account has a PIN. */
export interface PinStep {
  value: string;
  onChange(value: string): void;
  /** Why the last PIN was refused (wrong, locked for now). */
  error: string | null;
}

interface Props {
  /** "Set Zone 1 setpoint from 212.0 °C to 214.0 °C?" */
  sentence: string;
  /** Machine name and where the value will be read back from. */
  context: string;
  /** Rules the value misses (the console will refuse it); empty when none. */
  problems: readonly string[];
  busy: boolean;
  /** Present when the change is confirmed with the account's PIN. */
  pin?: PinStep | null;
  onConfirm(): void;
  onCancel(): void;
}

/** A modal dialog over the page. */
export function SetpointDialog({ sentence, context, problems, busy, pin = null, onConfirm, onCancel }: Props) {
  const titleId = useId();
  const cancelRef = useRef<HTMLButtonElement>(null);

  useModalKeys(cancelRef, busy, onCancel);

  const about = (
    <div className="write-about">
      <p className="write-sentence" data-testid="write-sentence">
        {sentence}
      </p>
      <p className="muted write-context">{context}</p>
      {problems.length > 0 && (
        <div className="write-problems" data-testid="write-problems">
          <strong>The console will refuse this change:</strong>
          <ul>
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      )}
      {busy && (
        <p className="write-busy" role="status">
          Writing, then reading back from the device…
        </p>
      )}
    </div>
  );

  return (
    <div className="write-backdrop">
      <div
        className={`write-dialog ${pin ? 'write-dialog-pin' : ''}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        data-testid="write-dialog"
      >
        <h2 id={titleId} className="write-dialog-title">
          Confirm setpoint change
        </h2>
        {pin ? (
          <div className="write-dialog-body">
            {about}
            <PinPad value={pin.value} onChange={pin.onChange} error={pin.error} disabled={busy} label="Your PIN confirms this change" />
          </div>
        ) : (
          about
        )}
        <div className="write-actions">
          <button
            type="button"
            className="btn write-btn write-confirm"
            data-testid="confirm-write"
            disabled={busy || (pin !== null && pin.value === '')}
            onClick={onConfirm}
          >
            Confirm
          </button>
          <button type="button" className="btn write-btn" data-testid="cancel-write" disabled={busy} ref={cancelRef} onClick={onCancel}>
            Cancel
          </button>
        </div>
      </div>
    </div>
  );
}
