/**
 * One recommendation: the machine, its status (word, shape and colour), what changes, the
 * machine's state and interlock, the expected effect and the guards in words, the supplier's
 * reason, the observation window and the time left; for maintenance the decisions, and after
 * an apply its result and the measured outcome.
 */
import { useCallback, useState } from 'react';
import type { Recommendation } from '../../../src-preload/contract';
import { formatHm } from '../lib/format';
import { decisionText, expectText, expiresText, guardText, isOpen, STATUS, windowSentence } from '../lib/reco';
import { pinRefusalText, selectRecoActions, selectRecoBusy, selectRecoNotices, useRecoStore } from '../stores/reco';
import { useTransport } from '../transport/context';
import { RecoChanges, RecoMachineState } from './RecoChanges';
import { RecoConfirmDialog, RecoDeferDialog, RecoRejectDialog } from './RecoDialogs';
import { AttentionIcon, RecoStatusIcon, TickIcon } from './RecoIcons';
import { RecoApplyResult, RecoOutcomeView } from './RecoOutcome';

interface Props {
  r: Recommendation;
  now: number;
  tz: string;
  shiftEnd: number | null;
  mayDecide: boolean;
  needsPin: boolean;
  autoRevertAllowed: boolean;
}

/** Apply or revert under way in its dialog: the PIN typed so far, why the last one was refused. */
interface Confirm {
  kind: 'apply' | 'revert';
  /** For a revert: the values before the apply, by point id. */
  before?: Record<string, number | null>;
  pin: string;
  pinError: string | null;
  /** The core asked for a PIN although the session said none (the dialog shows the keypad from then on). */
  pinAsked: boolean;
}

type Dialog = Confirm | { kind: 'reject' } | { kind: 'defer' } | null;

const confirmOf = (kind: Confirm['kind'], before?: Record<string, number | null>): Confirm => ({
  kind,
  ...(before ? { before } : {}),
  pin: '',
  pinError: null,
  pinAsked: false,
});

/** The status badge: word, shape and colour; deferred says until when. */
export function RecoStatusBadge({ r, tz }: { r: Recommendation; tz: string }) {
  const s = STATUS[r.status];
  const until = r.status === 'deferred' && r.decision?.deferredUntil ? ` until ${formatHm(r.decision.deferredUntil, tz)}` : '';
  return (
    <span className={`reco-status reco-status-${r.status} reco-tone-${s.tone}`} data-testid="reco-status">
      <RecoStatusIcon status={r.status} size={20} className="reco-status-icon" />
      {s.word}
      {until}
    </span>
  );
}

/** The supplier's expectation: effect, guards, window, and what happens on a breach. */
function Expectation({ r, autoRevertAllowed }: { r: Recommendation; autoRevertAllowed: boolean }) {
  return (
    <dl className="reco-facts">
      <dt>Expected</dt>
      <dd data-testid="reco-expect">{expectText(r.expect)}</dd>
      <dt>Why</dt>
      <dd className="reco-rationale" data-testid="reco-rationale">
        {r.rationale}
      </dd>
      <dt>Guards</dt>
      <dd>
        {r.guards.length === 0 ? (
          <span className="muted">none</span>
        ) : (
          <ul className="reco-guards" data-testid="reco-guards">
            {r.guards.map((g) => (
              <li key={`${g.kpi}-${g.direction}`}>{guardText(g)}</li>
            ))}
          </ul>
        )}
        {r.guards.length > 0 && (
          <span className="reco-small">
            {r.autoRevert && autoRevertAllowed
              ? 'If one is breached, the old values are put back automatically.'
              : 'If one is breached, putting the old values back is proposed.'}
          </span>
        )}
      </dd>
      <dt>Measured</dt>
      <dd>{windowSentence(r.windowS)}</dd>
    </dl>
  );
}

/** The card. */
export function RecoCard({ r, now, tz, shiftEnd, mayDecide, needsPin, autoRevertAllowed }: Props) {
  const transport = useTransport();
  const actions = useRecoStore(selectRecoActions);
  const busy = useRecoStore(selectRecoBusy);
  const last = useRecoStore(selectRecoNotices)[r.id];
  // An apply the core answered shows its result and steps on the card already: no second line.
  const notice = last && !(last.action === 'apply' && last.answered) ? last : undefined;
  const [dialog, setDialog] = useState<Dialog>(null);
  const close = useCallback(() => setDialog(null), []);
  const open = isOpen(r.status);
  const decidable = mayDecide && (r.status === 'pending' || r.status === 'deferred');
  const revertable = mayDecide && r.status === 'applied';
  const mine = busy?.id === r.id;
  const decision = decisionText(r, tz);

  const openRevert = (): void => {
    void actions.valuesBefore(transport, r).then((before) => setDialog(confirmOf('revert', before)));
  };

  /** Sends the apply or revert; a missing, wrong or locked PIN is said in the dialog, which stays open. */
  const confirm = async (d: Confirm): Promise<void> => {
    const pin = needsPin || d.pinAsked ? d.pin : undefined;
    const n = d.kind === 'apply' ? await actions.apply(transport, r.id, pin) : await actions.revert(transport, r.id, pin);
    const pinError = pinRefusalText(n);
    if (pinError !== null) {
      actions.dismiss(r.id);
      setDialog({ ...d, pin: '', pinError, pinAsked: true });
      return;
    }
    setDialog(null);
  };

  return (
    <article className={`card reco-card reco-card-${open ? 'open' : 'decided'}`} data-testid={`reco-${r.id}`} data-status={r.status}>
      <header className="reco-head">
        <h3 className="reco-machine-name" data-testid="reco-machine">
          {r.machineName}
        </h3>
        <RecoStatusBadge r={r} tz={tz} />
        <span className="reco-when">
          {open ? (
            <span data-testid="reco-expires">{expiresText(r.validUntil, now, tz)}</span>
          ) : (
            decision && <span data-testid="reco-decision">{decision}</span>
          )}
          <span className="muted"> · received {formatHm(r.receivedAt, tz)}</span>
        </span>
      </header>

      {open ? (
        <div className="reco-body">
          <div className="reco-col">
            <RecoChanges r={r} />
            <RecoMachineState r={r} />
          </div>
          <div className="reco-col">
            <Expectation r={r} autoRevertAllowed={autoRevertAllowed} />
          </div>
        </div>
      ) : (
        <div className={`reco-body reco-body-decided${r.outcome ? '' : ' reco-body-single'}`}>
          <div className="reco-col">
            <RecoChanges r={r} compact />
            <p className="reco-small">
              {expectText(r.expect)}
              {r.guards.length > 0 ? ` · ${r.guards.map(guardText).join(' · ')}` : ''}
            </p>
            <RecoApplyResult r={r} />
          </div>
          {r.outcome && (
            <div className="reco-col">
              <RecoOutcomeView r={r} o={r.outcome} now={now} tz={tz} />
            </div>
          )}
        </div>
      )}

      {notice && (
        <p className={`reco-notice reco-tone-${notice.tone}`} role="status" data-testid="reco-notice">
          {notice.tone === 'ok' ? <TickIcon size={20} /> : <AttentionIcon size={20} />}
          <span>{notice.text}</span>
          <button type="button" className="btn reco-notice-ok" onClick={() => actions.dismiss(r.id)}>
            OK
          </button>
        </p>
      )}

      {(decidable || revertable) && (
        <div className="reco-actions">
          {decidable && (
            <>
              <button
                type="button"
                className="btn reco-apply"
                disabled={busy !== null}
                onClick={() => setDialog(confirmOf('apply'))}
                data-testid="reco-apply"
              >
                Apply…
              </button>
              <button
                type="button"
                className="btn"
                disabled={busy !== null}
                onClick={() => setDialog({ kind: 'reject' })}
                data-testid="reco-reject"
              >
                Reject…
              </button>
              {r.status === 'pending' && (
                <button
                  type="button"
                  className="btn"
                  disabled={busy !== null}
                  onClick={() => setDialog({ kind: 'defer' })}
                  data-testid="reco-defer"
                >
                  Defer…
                </button>
              )}
            </>
          )}
          {revertable && (
            <button
              type="button"
              className={`btn ${r.outcome?.revertProposed ? 'reco-apply' : ''}`}
              disabled={busy !== null}
              onClick={openRevert}
              data-testid="reco-revert"
            >
              Put the old values back…
            </button>
          )}
        </div>
      )}

      {(dialog?.kind === 'apply' || dialog?.kind === 'revert') && (
        <RecoConfirmDialog
          r={r}
          mode={dialog.kind}
          {...(dialog.before ? { before: dialog.before } : {})}
          pin={
            needsPin || dialog.pinAsked
              ? { value: dialog.pin, error: dialog.pinError, onChange: (value) => setDialog({ ...dialog, pin: value, pinError: null }) }
              : null
          }
          busy={mine}
          onCancel={close}
          onConfirm={() => void confirm(dialog)}
        />
      )}
      {dialog?.kind === 'reject' && (
        <RecoRejectDialog
          r={r}
          busy={mine}
          onCancel={close}
          onConfirm={(reason) => void actions.reject(transport, r.id, reason).then(close)}
        />
      )}
      {dialog?.kind === 'defer' && (
        <RecoDeferDialog
          r={r}
          now={now}
          shiftEnd={shiftEnd}
          tz={tz}
          busy={mine}
          onCancel={close}
          onConfirm={(until) => void actions.defer(transport, r.id, until).then(close)}
        />
      )}
    </article>
  );
}
