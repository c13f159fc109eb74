/**
 * Sign-in lockouts, for administrators (auth.lockouts, auth.unlock): who is locked out, from
 * where, since and until when, and a button that lifts one after a plain-word confirmation.
 * Refreshed every 15 s while shown; the console audits every lift.
 */
import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { LockoutView } from '../../../src-preload/contract';
import { liftQuestion, lockoutWhen, lockoutWhere, lockoutWho } from '../lib/lockouts';
import { selectLockouts, useLockoutsStore } from '../stores/lockouts';
import { useTransport } from '../transport/context';
import '../styles/lockouts.css';

const REFRESH_MS = 15_000;

/** The admin's list of lockouts; render it for admins only (the console refuses everyone else). */
export function LockoutPanel({ now, tz }: { now: number; tz: string }) {
  const transport = useTransport();
  const { list, error, notice, busy, actions } = useLockoutsStore(useShallow(selectLockouts));
  const [asking, setAsking] = useState<string | null>(null);

  useEffect(() => {
    void actions.load(transport);
    const timer = setInterval(() => void actions.load(transport), REFRESH_MS);
    return () => clearInterval(timer);
  }, [transport, actions]);

  const lift = async (l: LockoutView): Promise<void> => {
    await actions.lift(transport, l);
    setAsking(null);
  };

  return (
    <section className="lockouts" aria-labelledby="lockouts-title" data-testid="lockout-panel">
      <h2 id="lockouts-title">Sign-in lockouts</h2>
      {error && (
        <p className="lockouts-error" role="alert">
          {error}
        </p>
      )}
      {notice && (
        <p className="lockouts-notice" role="status" data-testid="lockout-notice">
          {notice}
        </p>
      )}
      {list !== null && list.length === 0 && (
        <p className="muted" data-testid="lockouts-none">
          No sign-in is locked out. Five failed attempts lock an account from where they came, for 15 minutes.
        </p>
      )}
      {list !== null && list.length > 0 && (
        <ul className="lockouts-list">
          {list.map((l) => (
            <li key={l.id} className="lockout" data-testid="lockout" data-scope={l.scope}>
              <span className="lockout-mark" aria-hidden="true">
                ⊘
              </span>
              <div className="lockout-text">
                <p className="lockout-who">
                  <strong>{lockoutWho(l)}</strong> {lockoutWhere(l)}
                </p>
                <p className="lockout-when muted">{lockoutWhen(l, now, tz)}</p>
                {asking === l.id && (
                  <div className="lockout-confirm" role="alertdialog" aria-label="Lift the lockout">
                    <p data-testid="lockout-question">{liftQuestion(l)}</p>
                    <div className="lockout-actions">
                      <button
                        type="button"
                        className="btn lockout-yes"
                        disabled={busy}
                        onClick={() => void lift(l)}
                        data-testid="lockout-confirm"
                      >
                        Yes, lift it
                      </button>
                      <button type="button" className="btn" disabled={busy} onClick={() => setAsking(null)} data-testid="lockout-cancel">
                        Cancel
                      </button>
                    </div>
                  </div>
                )}
              </div>
              {asking !== l.id && (
                <button
                  type="button"
                  className="btn"
                  onClick={() => {
                    actions.clearNotice();
                    setAsking(l.id);
                  }}
                  data-testid="lockout-lift"
                >
                  Lift lockout
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
