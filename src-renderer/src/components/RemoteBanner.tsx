/**
 * The remote support banner. On site: fixed at the top of every screen for as long as a
 * remote session is live, not dismissible — who, scope, machines, time left, the page they
 * are on, and "End session now"; their change requests under it. In the remote window: which
 * session this is and how long it still runs.
 */
import { useTransport } from '../transport/context';
import { machinesWords, pageWords, REMOTE_END_ROLES, SCOPE_WORDS, timeLeft } from '../lib/remote';
import { selectNow, selectPlantInfo, usePlantStore } from '../stores/plant';
import { liveGrants, selectMe, selectRemoteActions, selectRemoteBusy, selectRemoteState, useRemoteStore } from '../stores/remote';
import { RemoteRequests } from './RemoteRequests';
import '../styles/remote.css';

/** Two people at a screen: the shape that goes with the colour and the words. */
function RemoteIcon({ size = 24 }: { size?: number }) {
  return (
    <svg className="banner-icon" width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <circle cx="8" cy="7" r="3" fill="currentColor" />
      <path d="M2 19 a6 6 0 0 1 12 0 Z" fill="currentColor" />
      <rect x="14" y="5" width="8" height="6" rx="1" fill="none" stroke="currentColor" strokeWidth="2" />
      <path d="M16 15 h4 M18 11 v4" stroke="currentColor" strokeWidth="2" />
    </svg>
  );
}

/** The banner(s) for live remote sessions, and the requests waiting on site. */
export function RemoteBanner() {
  const transport = useTransport();
  const state = useRemoteStore(selectRemoteState);
  const me = useRemoteStore(selectMe);
  const busy = useRemoteStore(selectRemoteBusy);
  const actions = useRemoteStore(selectRemoteActions);
  const info = usePlantStore(selectPlantInfo);
  const now = usePlantStore(selectNow);
  const nameOf = (id: string): string | undefined => info?.machines.find((m) => m.id === id)?.name;

  if (me?.caller.role === 'supplier-support') {
    const g = me.remote ?? liveGrants(state)[0];
    if (!g) return null;
    const own = state?.grants.find((x) => x.id === g.id) ?? g;
    return (
      <div className="banner banner-remote" role="status" data-testid="banner-remote-self">
        <RemoteIcon />
        <strong>REMOTE SUPPORT SESSION</strong>
        <span>
          {SCOPE_WORDS[own.scope]} · {machinesWords(own, nameOf)} · {timeLeft(own.endsAt, now)} · granted by {own.createdBy} · everything is
          recorded
        </span>
      </div>
    );
  }

  const live = liveGrants(state);
  if (live.length === 0) return null;
  const mayEnd = info !== null && REMOTE_END_ROLES.includes(info.caller.role);
  return (
    <>
      {live.map((g) => (
        <div key={g.id} className="banner banner-remote" role="alert" data-testid="banner-remote">
          <RemoteIcon />
          <div className="remote-banner-text">
            <strong>REMOTE SUPPORT LIVE: {g.account}</strong>
            <span data-testid="banner-remote-detail">
              {SCOPE_WORDS[g.scope]} · {machinesWords(g, nameOf)} · <span data-testid="banner-remote-left">{timeLeft(g.endsAt, now)}</span>{' '}
              ·{' '}
              {g.sessionId === null ? (
                // After a console restart the grant stays, but its remote person was signed out.
                <span data-testid="banner-remote-page">nobody connected (the console restarted): a new grant is needed to rejoin</span>
              ) : (
                <>
                  on <span data-testid="banner-remote-page">{pageWords(g.page, nameOf)}</span>
                </>
              )}
            </span>
          </div>
          {mayEnd && (
            <button
              type="button"
              className="btn banner-end"
              data-testid="remote-end-now"
              disabled={busy === g.id}
              onClick={() => void actions.end(transport, g.id)}
            >
              End session now
            </button>
          )}
        </div>
      ))}
      <RemoteRequests grants={live} />
    </>
  );
}
