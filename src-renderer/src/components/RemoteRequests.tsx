/**
 * Change requests of live remote sessions, on site: old → new in one sentence, Confirm (with
 * the PIN when the signed-in account has one) or Reject for maintenance and admin, and the
 * outcome as read back from the device once decided. Anyone else is told who can confirm.
 */
import { useState } from 'react';
import type { RemoteGrant } from '../../../src-preload/contract';
import { REMOTE_DECIDE_ROLES, requestSentence, requestStateWords } from '../lib/remote';
import { selectCanSignIn, selectAuthActions, useAuthStore } from '../stores/auth';
import { selectNow, selectPlantInfo, usePlantStore } from '../stores/plant';
import { selectMe, selectRemoteActions, selectRemoteBusy, selectRemoteError, selectRemoteState, useRemoteStore } from '../stores/remote';
import { useTransport } from '../transport/context';

/** Decided requests stay in view this long, so both sides see the outcome. */
const SHOW_DECIDED_MS = 5 * 60_000;

/** The request rows of `grants`. */
export function RemoteRequests({ grants }: { grants: RemoteGrant[] }) {
  const transport = useTransport();
  const state = useRemoteStore(selectRemoteState);
  const me = useRemoteStore(selectMe);
  const busy = useRemoteStore(selectRemoteBusy);
  const error = useRemoteStore(selectRemoteError);
  const actions = useRemoteStore(selectRemoteActions);
  const info = usePlantStore(selectPlantInfo);
  const canSignIn = useAuthStore(selectCanSignIn);
  const auth = useAuthStore(selectAuthActions);
  const [pins, setPins] = useState<Record<string, string>>({});
  const ids = new Set(grants.map((g) => g.id));
  const now = usePlantStore(selectNow);
  const rows = (state?.requests ?? []).filter(
    (r) =>
      ids.has(r.grantId) &&
      (r.state === 'pending' || r.state === 'applying' || (r.decidedAt !== null && now - r.decidedAt < SHOW_DECIDED_MS)),
  );
  if (rows.length === 0) return null;
  const mayDecide = info !== null && REMOTE_DECIDE_ROLES.includes(info.caller.role);
  const needsPin = me?.session?.hasPin === true;

  return (
    <div className="remote-requests" data-testid="remote-requests">
      {error && (
        <p className="remote-error" role="alert" data-testid="remote-error">
          {error}
        </p>
      )}
      {rows.map((r) => {
        const open = r.state === 'pending';
        return (
          <div key={r.id} className={`remote-request remote-request-${r.state}`} data-testid={`remote-request-${r.state}`}>
            <div className="remote-request-text">
              <strong data-testid="remote-request-sentence">
                {r.requestedBy} {r.kind === 'change' ? 'asks' : 'proposes'}: {requestSentence(r)}
              </strong>
              <span className="remote-request-state" data-testid="remote-request-state">
                {requestStateWords(r)}
              </span>
            </div>
            {open && mayDecide && (
              <div className="remote-request-actions">
                {needsPin && (
                  <label className="remote-pin">
                    <span>Your PIN</span>
                    <input
                      type="password"
                      inputMode="numeric"
                      autoComplete="off"
                      maxLength={12}
                      value={pins[r.id] ?? ''}
                      onChange={(e) => setPins({ ...pins, [r.id]: e.target.value })}
                      data-testid="remote-confirm-pin"
                    />
                  </label>
                )}
                <button
                  type="button"
                  className="btn remote-confirm"
                  data-testid="remote-confirm"
                  disabled={busy !== null || (needsPin && !(pins[r.id] ?? '').trim())}
                  onClick={() => {
                    void actions.confirm(transport, r.id, needsPin ? pins[r.id] : undefined).then(() => setPins({ ...pins, [r.id]: '' }));
                  }}
                >
                  {r.kind === 'change' ? 'Confirm and write' : 'Adopt and write'}
                </button>
                <button
                  type="button"
                  className="btn"
                  data-testid="remote-reject"
                  disabled={busy !== null}
                  onClick={() => void actions.reject(transport, r.id)}
                >
                  Reject
                </button>
              </div>
            )}
            {open && !mayDecide && (
              <div className="remote-request-actions">
                <span>A signed-in maintenance user confirms this here.</span>
                {canSignIn && (
                  <button type="button" className="btn" data-testid="remote-sign-in" onClick={() => auth.openLogin()}>
                    Sign in to confirm
                  </button>
                )}
              </div>
            )}
          </div>
        );
      })}
    </div>
  );
}
