/**
 * The modal frame of the Modules page's decisions (pair, approve an update, stop a rollout):
 * what will happen in plain words, the PIN keypad beside it when the account has a PIN, big
 * buttons. Cancel has the focus, so a stray Enter decides nothing; Escape cancels unless busy.
 */
import { useCallback, useId, useRef, useState, type ReactNode } from 'react';
import { PinPad } from './PinPad';
import type { PinStep } from './SetpointDialog';
import '../styles/writes.css';
import '../styles/lock.css';
import { useModalKeys } from './hooks';

interface Props {
  title: string;
  testId: string;
  busy: boolean;
  /** Present when the decision is confirmed with the account's PIN. */
  pin?: PinStep | null;
  /** What the keypad's label says ("Your PIN confirms this update"). */
  pinLabel?: string;
  onCancel(): void;
  /** The confirming button(s); Cancel is added. */
  actions: ReactNode;
  children: ReactNode;
}

/** The dialog over the page. */
export function ModuleDialog({ title, testId, busy, pin = null, pinLabel = 'Your PIN confirms this', onCancel, actions, children }: Props) {
  const titleId = useId();
  const cancelRef = useRef<HTMLButtonElement>(null);
  useModalKeys(cancelRef, busy, onCancel);
  return (
    <div className="write-backdrop">
      <div
        className={`write-dialog mod-dialog ${pin ? 'write-dialog-pin' : ''}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        data-testid={testId}
      >
        <h2 id={titleId} className="write-dialog-title mod-dialog-title">
          {title}
        </h2>
        {pin ? (
          <div className="write-dialog-body">
            <div className="mod-dialog-about">{children}</div>
            <PinPad value={pin.value} onChange={pin.onChange} error={pin.error} disabled={busy} label={pinLabel} />
          </div>
        ) : (
          <div className="mod-dialog-about">{children}</div>
        )}
        <div className="write-actions">
          {actions}
          <button
            type="button"
            className="btn write-btn"
            data-testid="module-dialog-cancel"
            disabled={busy}
            ref={cancelRef}
            onClick={onCancel}
          >
            Cancel
          </button>
        </div>
      </div>
    </div>
  );
}

/** The PIN step of a decision: shown when the account has a PIN, or from the moment the core asked for one. */
export function usePinStep(needsPin: boolean): {
  step: PinStep | null;
  /** The PIN to send, or undefined when none is asked. */
  pin: string | undefined;
  /** The core refused the PIN (or wants one): clear it, say why, keep the keypad. */
  refused(text: string): void;
  reset(): void;
} {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [asked, setAsked] = useState(false);
  const shown = needsPin || asked;
  const refused = useCallback((text: string) => {
    setValue('');
    setError(text);
    setAsked(true);
  }, []);
  const reset = useCallback(() => {
    setValue('');
    setError(null);
    setAsked(false);
  }, []);
  return {
    step: shown ? { value, onChange: setValue, error } : null,
    pin: shown && value !== '' ? value : undefined,
    refused,
    reset,
  };
}
