/**
 * Remote support, on site: the web address and its certificate fingerprint to read out, the
 * grant (who, scope, machines, how long) that yields a one-time join code, and every session
 * with End and the summary export (who, when, pages viewed, changes asked for and done).
 */
import { useEffect, useState } from 'react';
import type { RemoteGrant, RemoteScope } from '../../../src-preload/contract';
import { formatClock } from '../lib/format';
import { joinCodeText, machinesWords, pageWords, REMOTE_DECIDE_ROLES, REMOTE_END_ROLES, SCOPE_WORDS, timeLeft } from '../lib/remote';
import { selectAuthActions, selectCanSignIn, useAuthStore } from '../stores/auth';
import { selectNow, selectPlantInfo, selectTimezone, usePlantStore } from '../stores/plant';
import {
  selectJoinCode,
  selectRemoteActions,
  selectRemoteBusy,
  selectRemoteError,
  selectRemoteState,
  useRemoteStore,
} from '../stores/remote';
import { useTransport } from '../transport/context';
import '../styles/remote.css';

const SCOPES: RemoteScope[] = ['view', 'propose', 'apply'];
const DURATIONS_MIN = [15, 30, 60, 120, 240, 480];

function GrantForm({ maxMin, defaultMin }: { maxMin: number; defaultMin: number }) {
  const transport = useTransport();
  const info = usePlantStore(selectPlantInfo);
  const actions = useRemoteStore(selectRemoteActions);
  const busy = useRemoteStore(selectRemoteBusy);
  const [account, setAccount] = useState('');
  const [scope, setScope] = useState<RemoteScope>('view');
  const [machines, setMachines] = useState<string[]>([]);
  const [minutes, setMinutes] = useState(defaultMin);
  const choices = [...new Set([...DURATIONS_MIN, defaultMin])].filter((m) => m <= maxMin).sort((a, b) => a - b);
  const toggle = (id: string): void => setMachines(machines.includes(id) ? machines.filter((m) => m !== id) : [...machines, id]);
  return (
    <form
      className="remote-grant"
      data-testid="remote-grant-form"
      onSubmit={(e) => {
        e.preventDefault();
        void actions.grant(transport, {
          account: account.trim(),
          scope,
          durationMin: minutes,
          ...(machines.length > 0 ? { machines } : {}),
        });
      }}
    >
      <label className="login-field">
        <span>Supplier-support account</span>
        <input
          value={account}
          onChange={(e) => setAccount(e.target.value)}
          autoCapitalize="none"
          spellCheck={false}
          data-testid="grant-account"
        />
      </label>
      <fieldset className="remote-choices">
        <legend>What they may do</legend>
        {SCOPES.map((s) => (
          <label key={s} className={`remote-choice ${scope === s ? 'remote-choice-on' : ''}`}>
            <input
              type="radio"
              name="scope"
              value={s}
              checked={scope === s}
              onChange={() => setScope(s)}
              data-testid={`grant-scope-${s}`}
            />
            {SCOPE_WORDS[s]}
          </label>
        ))}
      </fieldset>
      <fieldset className="remote-choices">
        <legend>Machines (none ticked: all)</legend>
        {(info?.machines ?? []).map((m) => (
          <label key={m.id} className={`remote-choice ${machines.includes(m.id) ? 'remote-choice-on' : ''}`}>
            <input type="checkbox" checked={machines.includes(m.id)} onChange={() => toggle(m.id)} data-testid={`grant-machine-${m.id}`} />
            {m.name}
          </label>
        ))}
      </fieldset>
      <label className="login-field remote-duration">
        <span>For</span>
        <select value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} data-testid="grant-duration">
          {choices.map((m) => (
            <option key={m} value={m}>
              {m < 60 ? `${m} min` : `${m / 60} h`}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="btn remote-grant-btn" disabled={busy !== null || account.trim() === ''} data-testid="grant-submit">
        Grant session and show the join code
      </button>
    </form>
  );
}

function downloadJson(name: string, data: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function GrantRow({ g, mayEnd, mayExport }: { g: RemoteGrant; mayEnd: boolean; mayExport: boolean }) {
  const transport = useTransport();
  const actions = useRemoteStore(selectRemoteActions);
  const busy = useRemoteStore(selectRemoteBusy);
  const info = usePlantStore(selectPlantInfo);
  const tz = usePlantStore(selectTimezone);
  const now = usePlantStore(selectNow);
  const nameOf = (id: string): string | undefined => info?.machines.find((m) => m.id === id)?.name;
  const when =
    g.state === 'waiting'
      ? `join code valid until ${formatClock(g.codeExpiresAt, tz)}`
      : g.state === 'live'
        ? `joined ${formatClock(g.joinedAt ?? 0, tz)} · ${timeLeft(g.endsAt, now)} · on ${pageWords(g.page, nameOf)}`
        : `ended ${formatClock(g.endedAt ?? 0, tz)}: ${g.endReason ?? ''}`;
  return (
    <tr data-testid={`grant-${g.state}`}>
      <td>
        <strong>{g.account}</strong>
        <div className="muted">granted by {g.createdBy}</div>
      </td>
      <td>
        {SCOPE_WORDS[g.scope]}
        <div className="muted">{machinesWords(g, nameOf)}</div>
      </td>
      <td>
        <span className={`remote-state remote-state-${g.state}`}>{g.state.toUpperCase()}</span> {when}
      </td>
      <td className="remote-row-actions">
        {g.state !== 'ended' && mayEnd && (
          <button
            type="button"
            className="btn"
            disabled={busy === g.id}
            onClick={() => void actions.end(transport, g.id)}
            data-testid="grant-end"
          >
            {g.state === 'live' ? 'End session now' : 'Withdraw'}
          </button>
        )}
        {mayExport && g.state !== 'waiting' && (
          <button
            type="button"
            className="btn"
            data-testid="grant-export"
            onClick={() =>
              void actions.summary(transport, g.id).then((s) => s && downloadJson(`remote-session-${g.account}-${g.id}.json`, s))
            }
          >
            Export summary
          </button>
        )}
      </td>
    </tr>
  );
}

/** The remote support page. */
export function RemotePage() {
  const transport = useTransport();
  const state = useRemoteStore(selectRemoteState);
  const code = useRemoteStore(selectJoinCode);
  const error = useRemoteStore(selectRemoteError);
  const actions = useRemoteStore(selectRemoteActions);
  const info = usePlantStore(selectPlantInfo);
  const tz = usePlantStore(selectTimezone);
  const canSignIn = useAuthStore(selectCanSignIn);
  const auth = useAuthStore(selectAuthActions);
  const role = info?.caller.role;
  const mayGrant = role !== undefined && REMOTE_DECIDE_ROLES.includes(role);
  const mayEnd = role !== undefined && REMOTE_END_ROLES.includes(role);
  const codeGrant = code ? state?.grants.find((g) => g.id === code.grantId) : undefined;

  useEffect(() => {
    document.title = 'Remote support — Plant Console';
    void actions.load(transport);
    return () => {
      document.title = 'Plant Console';
    };
  }, [actions, transport]);

  return (
    <main className="page page-remote" data-testid="remote-page">
      <section className="card">
        <h2 className="card-title">Web access</h2>
        {info?.webUrl ? (
          <p className="remote-web">
            Address <strong>{info.webUrl}</strong>
            {info.webFingerprint ? (
              <>
                <br />
                Certificate SHA-256 fingerprint (read it out; the browser of the remote person must show the same):
                <code className="remote-fingerprint" data-testid="web-fingerprint">
                  {info.webFingerprint}
                </code>
              </>
            ) : (
              <span className="muted"> · in clear on this machine only (no certificate)</span>
            )}
          </p>
        ) : (
          <p className="muted">Web mode is not running on this console.</p>
        )}
      </section>
      {error && (
        <p className="remote-error" role="alert" data-testid="remote-error">
          {error}{' '}
          <button type="button" className="btn" onClick={() => actions.clearError()}>
            OK
          </button>
        </p>
      )}
      {code && (
        <section className="card remote-code-card" data-testid="join-code-card">
          <h2 className="card-title">Join code for {codeGrant?.account ?? 'the support person'}</h2>
          <p className="remote-code" data-testid="join-code">
            {joinCodeText(code.code)}
          </p>
          <p>
            Read it out by phone. It is shown only now, works once, and expires at{' '}
            {codeGrant ? formatClock(codeGrant.codeExpiresAt, tz) : 'in 10 minutes'} unless used.
          </p>
          <button type="button" className="btn" onClick={() => actions.dismissCode()} data-testid="join-code-done">
            Done — hide the code
          </button>
        </section>
      )}
      <section className="card">
        <h2 className="card-title">Grant a remote support session</h2>
        {mayGrant ? (
          <GrantForm
            maxMin={Math.round((state?.maxDurationMs ?? 4 * 3_600_000) / 60_000)}
            defaultMin={Math.round((state?.defaultDurationMs ?? 3_600_000) / 60_000)}
          />
        ) : (
          <p className="write-readonly">
            Maintenance or an administrator grants sessions.{' '}
            {canSignIn && (
              <button type="button" className="btn" onClick={() => auth.openLogin()} data-testid="remote-page-sign-in">
                Sign in to grant a session
              </button>
            )}
          </p>
        )}
      </section>
      <section className="card">
        <h2 className="card-title">Sessions</h2>
        {state && state.grants.length > 0 ? (
          <table className="remote-table">
            <tbody>
              {state.grants.map((g) => (
                <GrantRow key={g.id} g={g} mayEnd={mayEnd} mayExport={mayGrant} />
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted">No remote session has been granted since the console started.</p>
        )}
      </section>
    </main>
  );
}
