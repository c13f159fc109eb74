/**
 * Setpoints of one machine: each writable point with its value, limits and interlock, − / +
 * and a numeric input, "Set…" through a confirmation that names the change, the outcome as
 * read back from the device, Undo for the last change, and the machine's write log. Read-only,
 * with the reason in words, when the plant or the caller's role does not allow changes. A
 * signed-in account with a PIN confirms each change with it (session.info says whether it has
 * one; the core asks again with PIN_REQUIRED should it have been set since).
 */
import { useCallback, useEffect, useState } from 'react';
import type { MachineSnapshot, MachineState, PlantInfo, PointMeta, WriteResult } from '../../../src-preload/contract';
import { valueLiveness } from '../lib/liveness';
import {
  WRITE_LOG_ROLES,
  WRITE_ROLES,
  confirmSentence,
  interlockMet,
  interlockText,
  limitsText,
  nudge,
  outcomeText,
  pointValueText,
  previewProblems,
  readOnlyReason,
  stateWords,
  stepIncrement,
} from '../lib/setpoints';
import type { MachineMeta } from '../stores/machines';
import { PIN_CODES, selectWritesActions, useWritesStore, writesOf, type WriteOutcome } from '../stores/writes';
import { selectAuthActions, selectCanSignIn, useAuthStore } from '../stores/auth';
import { selectMe, useRemoteStore } from '../stores/remote';
import { useTransport } from '../transport/context';
import { RemoteRequestPanel } from './RemoteRequestPanel';
import { SetpointDialog } from './SetpointDialog';
import { WriteLog } from './WriteLog';
import '../styles/writes.css';

type Value = number | boolean;

/** How often the log is refreshed while the page is open (changes made elsewhere). */
const LOG_REFRESH_MS = 10_000;

interface Pending {
  point: PointMeta;
  from: Value | null;
  to: Value;
  /** Set for Undo: the write to revert. */
  revertId?: string;
  /** The PIN typed so far, and why the last one was refused. */
  pin: string;
  pinError: string | null;
  /** The core asked for a PIN that session.info did not announce. */
  pinAsked?: boolean;
}

/** ✓ for a confirmed change, ⚠ for anything that needs a look. */
function OutcomeIcon({ ok }: { ok: boolean }) {
  return (
    <svg className="write-outcome-icon" width={26} height={26} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      {ok ? (
        <path d="M4 12.5 L9.5 18 L20 6.5" fill="none" stroke="currentColor" strokeWidth="3" />
      ) : (
        <g>
          <path d="M12 2.5 L23 21.5 H1 Z" fill="currentColor" />
          <rect x="10.8" y="9" width="2.4" height="7" fill="var(--amber)" />
          <rect x="10.8" y="17.5" width="2.4" height="2.4" fill="var(--amber)" />
        </g>
      )}
    </svg>
  );
}

/** A padlock, closed when the interlock is not met now. */
function LockIcon({ open }: { open: boolean }) {
  return (
    <svg className="sp-lock-icon" width={18} height={18} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <rect x="4" y="11" width="16" height="11" rx="2" fill="currentColor" />
      <path d={open ? 'M8 11 V7 a4 4 0 0 1 8 0' : 'M8 11 V7 a4 4 0 0 1 8 0 V11'} fill="none" stroke="currentColor" strokeWidth="2.5" />
    </svg>
  );
}

interface RowProps {
  point: PointMeta;
  current: Value | null;
  /** Why the current value is not shown, when it is not live. */
  staleReason: string | null;
  state: MachineState;
  canWrite: boolean;
  busy: boolean;
  onSet(point: PointMeta, from: Value | null, to: Value): void;
}

/** One writable point. */
function SetpointRow({ point: p, current, staleReason, state, canWrite, busy, onSet }: RowProps) {
  const [draft, setDraft] = useState<string | null>(null);
  const isBool = p.type === 'bool';
  const shown = draft ?? (typeof current === 'number' ? current.toFixed(p.decimals) : '');
  const parsed = shown.trim() === '' ? Number.NaN : Number(shown);
  const lock = interlockText(p.interlock);
  const met = interlockMet(p.interlock, state);
  const base = Number.isFinite(parsed) ? parsed : typeof current === 'number' ? current : null;
  const step = (dir: 1 | -1): void => {
    if (base !== null) setDraft(nudge(base, dir, p).toFixed(p.decimals));
  };
  const target: Value | null = isBool ? (typeof current === 'boolean' ? !current : null) : Number.isFinite(parsed) ? parsed : null;
  const unchanged =
    target !== null && typeof current === 'number' && typeof target === 'number' && Math.abs(target - current) < 10 ** -p.decimals / 2;
  const disabled = !canWrite || busy || current === null || target === null || unchanged;
  const delta = typeof target === 'number' && typeof current === 'number' && !unchanged ? target - current : null;
  // The pending change next to Set…, so the size of a typed change shows before the dialog.
  // Without a live value the reason already shows under "Now".
  const hint =
    current === null
      ? null
      : target === null
        ? 'Enter a number'
        : delta !== null
          ? `${delta > 0 ? '+' : '−'}${pointValueText(Math.abs(delta), p)}`
          : null;
  return (
    <div className="sp-row" data-testid={`setpoint-${p.id}`}>
      <div className="sp-about">
        <span className="sp-name">{p.name}</span>
        <span className="sp-limits">{limitsText(p)}</span>
        <span className={`sp-lock ${met ? 'sp-lock-met' : 'sp-lock-unmet'}`} data-testid={`setpoint-interlock-${p.id}`}>
          <LockIcon open={met} />
          {lock
            ? `${lock[0]!.toUpperCase()}${lock.slice(1)} — ${met ? 'met' : 'NOT MET'}: the machine is ${stateWords(state)}`
            : 'In any machine state'}
        </span>
      </div>
      <div className="sp-now">
        <span className="sp-label">Now</span>
        <span className="sp-value" data-testid={`setpoint-value-${p.id}`} title={staleReason ?? undefined}>
          {current === null ? '—' : pointValueText(current, p)}
        </span>
        {staleReason && <span className="q-reason">{staleReason}</span>}
      </div>
      {canWrite && (
        <div className="sp-controls">
          {!isBool && (
            <>
              <button
                type="button"
                className="btn sp-step"
                aria-label={`Lower by ${pointValueText(stepIncrement(p), p)}`}
                disabled={base === null || busy}
                onClick={() => step(-1)}
              >
                −
              </button>
              <label className="sp-input-wrap">
                <span className="sr-only">
                  New value for {p.name}
                  {p.unit ? ` in ${p.unit}` : ''}
                </span>
                <input
                  className="sp-input"
                  type="number"
                  inputMode="decimal"
                  step={stepIncrement(p)}
                  data-testid={`setpoint-input-${p.id}`}
                  value={shown}
                  disabled={busy}
                  onChange={(e) => setDraft(e.target.value)}
                />
                <span className="sp-unit">{p.unit}</span>
              </label>
              <button
                type="button"
                className="btn sp-step"
                aria-label={`Raise by ${pointValueText(stepIncrement(p), p)}`}
                disabled={base === null || busy}
                onClick={() => step(1)}
              >
                +
              </button>
            </>
          )}
          <button
            type="button"
            className="btn sp-set"
            data-testid={`setpoint-set-${p.id}`}
            disabled={disabled}
            title={hint ?? undefined}
            onClick={() => target !== null && onSet(p, current, target)}
          >
            {isBool && target !== null ? `Switch ${target ? 'on' : 'off'}…` : 'Set…'}
          </button>
          {hint && <span className="sp-hint muted">{hint}</span>}
        </div>
      )}
    </div>
  );
}

/** The outcome line, in words and with a shape, plus Undo for the last change. */
function OutcomeBar({
  outcome,
  undoable,
  pointById,
  canUndo,
  busy,
  onUndo,
}: {
  outcome: WriteOutcome | null;
  undoable: WriteResult | null;
  pointById: Record<string, PointMeta>;
  canUndo: boolean;
  busy: boolean;
  onUndo(): void;
}) {
  if (!outcome && !undoable) return null;
  const shown =
    outcome?.kind === 'result'
      ? outcomeText(outcome.result, pointById[outcome.result.pointId])
      : outcome
        ? { tone: 'warn' as const, text: `Not done: ${outcome.message}` }
        : null;
  const u = undoable ? pointById[undoable.pointId] : undefined;
  return (
    <div className={`write-outcome-bar ${shown ? `write-tone-${shown.tone}` : ''}`}>
      {shown && (
        <p className="write-outcome" data-testid="write-outcome" role="status">
          <OutcomeIcon ok={shown.tone === 'ok'} />
          <span>{shown.text}</span>
        </p>
      )}
      {undoable && canUndo && (
        <button type="button" className="btn write-undo" data-testid="undo-write" disabled={busy} onClick={onUndo}>
          Undo: {u?.name ?? undoable.pointId} back to {pointValueText(undoable.before, u ?? { decimals: 1, unit: undoable.unit })}
        </button>
      )}
    </div>
  );
}

interface Props {
  machine: MachineSnapshot;
  meta: MachineMeta | undefined;
  info: PlantInfo | null;
  live: boolean;
  now: number;
  tz: string;
}

/** The panel; nothing when the machine has no writable point. */
export function SetpointPanel({ machine, meta, info, live, now, tz }: Props) {
  const transport = useTransport();
  const w = useWritesStore(writesOf(machine.id));
  const actions = useWritesStore(selectWritesActions);
  const [pending, setPending] = useState<Pending | null>(null);
  const machineId = machine.id;
  const mayReadLog = info !== null && WRITE_LOG_ROLES.includes(info.caller.role);
  const canSignIn = useAuthStore(selectCanSignIn);
  const auth = useAuthStore(selectAuthActions);
  const hasPin = useRemoteStore(selectMe)?.session?.hasPin === true;

  useEffect(() => {
    if (!live || !mayReadLog) return undefined;
    void actions.loadLog(transport, machineId);
    const timer = setInterval(() => void actions.loadLog(transport, machineId), LOG_REFRESH_MS);
    return () => clearInterval(timer);
  }, [live, mayReadLog, actions, transport, machineId]);

  const cancel = useCallback(() => setPending(null), []);
  const writable = meta?.points.filter((p) => p.writable) ?? [];
  if (!meta || writable.length === 0) return null;
  // Supplier support asks; someone on site confirms (remote support sessions).
  if (info?.caller.role === 'supplier-support') return <RemoteRequestPanel machine={machine} meta={meta} />;

  const reason = readOnlyReason(info, live);
  const canWrite = reason === null;
  const busy = w.busy !== null;
  const lastChange = w.outcome?.kind === 'result' ? w.outcome.result.id : '';

  const needsPin = pending !== null && (hasPin || pending.pinAsked === true);
  const confirm = async (): Promise<void> => {
    if (!pending) return;
    const pin = needsPin ? pending.pin : undefined;
    const outcome = pending.revertId
      ? await actions.revert(transport, machineId, pending.revertId, pin)
      : await actions.write(transport, machineId, pending.point.id, pending.to, pin);
    // A missing, wrong or locked PIN is said in the dialog, which stays open for another try.
    if (outcome.kind === 'error' && outcome.code !== undefined && (PIN_CODES.has(outcome.code) || outcome.code === 'LOCKED_OUT')) {
      actions.dismiss(machineId);
      const message = outcome.code === 'PIN_REQUIRED' ? 'Enter your PIN to confirm the change' : outcome.message.replace(/^[A-Z_]+: /, '');
      setPending({ ...pending, pin: '', pinError: message, pinAsked: true });
      return;
    }
    setPending(null);
  };
  const undo = (): void => {
    const u = w.undoable;
    const point = u ? meta.pointById[u.pointId] : undefined;
    if (!u || !point || u.before === null) return;
    const pv = machine.values[u.pointId];
    const from = typeof pv?.value === 'number' || typeof pv?.value === 'boolean' ? pv.value : u.readback;
    setPending({ point, from, to: u.before, revertId: u.id, pin: '', pinError: null });
  };

  return (
    <section className="card setpoint-card" aria-labelledby="setpoints-title" data-testid="setpoint-panel">
      <h2 id="setpoints-title" className="card-title">
        Setpoints{' '}
        <span className="muted">
          {canWrite ? '· every change is confirmed, checked against its limits, read back from the device and logged' : '· read-only'}
        </span>
      </h2>
      {reason && (
        <p className="write-readonly" data-testid="setpoint-readonly">
          {reason}
          {canSignIn && info?.writesEnabled === true && !WRITE_ROLES.includes(info.caller.role) && (
            <>
              {' '}
              <button type="button" className="btn" data-testid="setpoint-sign-in" onClick={() => auth.openLogin()}>
                Sign in to change setpoints
              </button>
            </>
          )}
        </p>
      )}
      <OutcomeBar outcome={w.outcome} undoable={w.undoable} pointById={meta.pointById} canUndo={canWrite} busy={busy} onUndo={undo} />
      <div className="sp-list">
        {writable.map((p) => {
          const pv = machine.values[p.id];
          const lv = valueLiveness(pv, machine, live, now, meta.device.pollIntervalMs);
          const current = lv.live && (typeof pv?.value === 'number' || typeof pv?.value === 'boolean') ? pv.value : null;
          return (
            <SetpointRow
              // A finished change resets the row's draft, so the input follows the device again.
              key={`${p.id}:${lastChange}`}
              point={p}
              current={current}
              staleReason={lv.live ? null : lv.reason}
              state={machine.state}
              canWrite={canWrite}
              busy={busy}
              onSet={(point, from, to) => setPending({ point, from, to, pin: '', pinError: null })}
            />
          );
        })}
      </div>
      {mayReadLog && <WriteLog entries={w.log} error={w.logError} pointById={meta.pointById} tz={tz} now={now} />}
      {pending && (
        <SetpointDialog
          sentence={confirmSentence(pending.point, pending.from, pending.to, pending.revertId !== undefined)}
          context={`${machine.name} · the console checks ${limitsText(pending.point)}${pending.point.interlock ? `, ${interlockText(pending.point.interlock) ?? ''}` : ''}, writes, then reads the value back from the device.`}
          problems={previewProblems(pending.point, pending.from, pending.to, machine.state)}
          busy={busy}
          pin={
            needsPin
              ? { value: pending.pin, error: pending.pinError, onChange: (value) => setPending({ ...pending, pin: value, pinError: null }) }
              : null
          }
          onConfirm={() => void confirm()}
          onCancel={cancel}
        />
      )}
    </section>
  );
}
