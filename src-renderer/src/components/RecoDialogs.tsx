/**
 * The decisions on a recommendation, each in a modal that says in plain words what will
 * happen: Apply (every change old → new, written as one, with the PIN when the account has
 * one), Put the old values back (the same, new → old), Reject (a reason is required) and
 * Defer (for an hour, to the end of the shift, or to tomorrow). Cancel has the focus, so a
 * stray Enter changes nothing on the machine.
 */
import { useId, useRef, useState, type ReactNode, type RefObject } from 'react';
import type { Recommendation } from '../../../src-preload/contract';
import { formatHm } from '../lib/format';
import { applySentence, changeProblems, revertSentence } from '../lib/reco';
import { PinPad } from './PinPad';
import type { PinStep } from './SetpointDialog';
import '../styles/writes.css';
import '../styles/reco-dialogs.css';
import { useModalKeys } from './hooks';

interface FrameProps {
  title: string;
  testId: string;
  /** Extra class of the dialog (the PIN layout). */
  className?: string;
  busy: boolean;
  onCancel(): void;
  children: ReactNode;
  actions: ReactNode;
  cancelRef: RefObject<HTMLButtonElement | null>;
}

/** The modal frame: title, body, big buttons; Escape cancels unless busy. */
function Frame({ title, testId, className = '', busy, onCancel, children, actions, cancelRef }: FrameProps) {
  const titleId = useId();
  useModalKeys(cancelRef, busy, onCancel);
  return (
    <div className="write-backdrop">
      <div
        className={`write-dialog reco-dialog ${className}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        data-testid={testId}
      >
        <h2 id={titleId} className="write-dialog-title">
          {title}
        </h2>
        {children}
        <div className="write-actions">
          {actions}
          <button type="button" className="btn write-btn" data-testid="reco-cancel" disabled={busy} ref={cancelRef} onClick={onCancel}>
            Cancel
          </button>
        </div>
      </div>
    </div>
  );
}

interface ConfirmProps {
  r: Recommendation;
  mode: 'apply' | 'revert';
  /** For a revert: the values before the apply, by point id (null: unknown). */
  before?: Record<string, number | null>;
  /** Present when the change is confirmed with the account's PIN (the shared keypad). */
  pin: PinStep | null;
  busy: boolean;
  onConfirm(): void;
  onCancel(): void;
}

/** Apply, or put the old values back: every change in a sentence, one unit, PIN when needed. */
export function RecoConfirmDialog({ r, mode, before, pin, busy, onConfirm, onCancel }: ConfirmProps) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  const problems = mode === 'apply' ? r.changes.flatMap((c) => changeProblems(c).map((p) => `${c.name}: ${p}`)) : [];
  if (mode === 'apply' && !r.interlock.ok)
    problems.unshift(`the interlock blocks changes now${r.interlock.message ? `: ${r.interlock.message}` : ''}`);
  const n = r.changes.length;
  const about = (
    <div className="write-about">
      <ul className="reco-sentences" data-testid="reco-confirm-changes">
        {r.changes.map((c) => (
          <li key={c.pointId} className="write-sentence">
            {mode === 'apply' ? applySentence(c) : revertSentence(c, before?.[c.pointId] ?? null)}
          </li>
        ))}
      </ul>
      <p className="reco-one-unit" data-testid="reco-one-unit">
        {n > 1
          ? 'All changes are written as one: if one fails, the others are put back.'
          : 'The change is written, then read back from the machine; if that fails, the old value is put back.'}
      </p>
      {problems.length > 0 && (
        <div className="write-problems" data-testid="reco-confirm-problems">
          <strong>The console will refuse this now:</strong>
          <ul>
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      )}
      {busy && (
        <p className="write-busy" role="status">
          Writing, then reading back from the machine…
        </p>
      )}
    </div>
  );
  return (
    <Frame
      title={mode === 'apply' ? `Apply this recommendation to ${r.machineName}?` : `Put the old values back on ${r.machineName}?`}
      testId="reco-confirm-dialog"
      className={pin ? 'write-dialog-pin' : ''}
      busy={busy}
      onCancel={onCancel}
      cancelRef={cancelRef}
      actions={
        <button
          type="button"
          className="btn write-btn write-confirm"
          data-testid="reco-confirm"
          disabled={busy || (pin !== null && pin.value === '')}
          onClick={onConfirm}
        >
          {mode === 'apply' ? `Apply ${n === 1 ? 'the change' : `all ${n} changes`}` : 'Put them back'}
        </button>
      }
    >
      {/* The changes and what will be refused, beside the keypad when a PIN is asked. */}
      {pin ? (
        <div className="write-dialog-body">
          {about}
          <PinPad value={pin.value} onChange={pin.onChange} error={pin.error} disabled={busy} label="Your PIN confirms this" />
        </div>
      ) : (
        about
      )}
    </Frame>
  );
}

/** Reject with a reason (required: the supplier reads it). */
export function RecoRejectDialog({
  r,
  busy,
  onConfirm,
  onCancel,
}: {
  r: Recommendation;
  busy: boolean;
  onConfirm(reason: string): void;
  onCancel(): void;
}) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  const [reason, setReason] = useState('');
  return (
    <Frame
      title={`Reject the recommendation for ${r.machineName}?`}
      testId="reco-reject-dialog"
      busy={busy}
      onCancel={onCancel}
      cancelRef={cancelRef}
      actions={
        <button
          type="button"
          className="btn write-btn write-confirm"
          data-testid="reco-reject-confirm"
          disabled={busy || reason.trim() === ''}
          onClick={() => onConfirm(reason.trim())}
        >
          Reject
        </button>
      }
    >
      <p className="write-context">Nothing is changed on the machine. The reason is sent back to the supplier.</p>
      <label className="reco-reason">
        <span>Why (required)</span>
        <textarea value={reason} maxLength={500} rows={3} onChange={(e) => setReason(e.target.value)} data-testid="reco-reject-reason" />
      </label>
    </Frame>
  );
}

export interface DeferChoice {
  key: 'hour' | 'shift' | 'tomorrow';
  label: string;
  until: number;
}

/** The three ways to defer, seen from `now`; the end of the shift only while it is ahead. */
export function deferChoices(now: number, shiftEnd: number | null): DeferChoice[] {
  const out: DeferChoice[] = [{ key: 'hour', label: 'For 1 hour', until: now + 3_600_000 }];
  if (shiftEnd !== null && shiftEnd > now + 60_000) out.push({ key: 'shift', label: 'To the end of the shift', until: shiftEnd });
  out.push({ key: 'tomorrow', label: 'To tomorrow, same time', until: now + 86_400_000 });
  return out;
}

/** Defer: until when, and a note that it expires first when it does. */
export function RecoDeferDialog({
  r,
  now,
  shiftEnd,
  tz,
  busy,
  onConfirm,
  onCancel,
}: {
  r: Recommendation;
  now: number;
  shiftEnd: number | null;
  tz: string;
  busy: boolean;
  onConfirm(untilMs: number): void;
  onCancel(): void;
}) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  // Fixed when the dialog opens, so the times on the buttons do not move while they are read.
  const [choices] = useState(() => deferChoices(now, shiftEnd));
  return (
    <Frame
      title={`Defer the recommendation for ${r.machineName}`}
      testId="reco-defer-dialog"
      busy={busy}
      onCancel={onCancel}
      cancelRef={cancelRef}
      actions={null}
    >
      <p className="write-context">Nothing is changed on the machine. It comes back for a decision at the time chosen.</p>
      <div className="reco-defer-choices">
        {choices.map((c) => {
          const late = c.until >= r.validUntil;
          return (
            <button
              key={c.key}
              type="button"
              className="btn reco-defer-choice"
              disabled={busy || late}
              onClick={() => onConfirm(c.until)}
              data-testid={`reco-defer-${c.key}`}
            >
              <span>{c.label}</span>
              <span className="reco-defer-until">
                {late ? `it expires before then (${formatHm(r.validUntil, tz)})` : `until ${formatHm(c.until, tz)}`}
              </span>
            </button>
          );
        })}
      </div>
    </Frame>
  );
}
