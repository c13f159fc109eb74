/**
 * Who is signed in, in the header of every screen, the same in the Electron window and in a
 * browser: the name and role with a Sign out button, or Sign in when the console is viewed
 * without a session (read-only).
 */
import { selectAuth, useAuthStore } from '../stores/auth';
import '../styles/auth.css';

const ROLE_WORD: Record<string, string> = {
  operator: 'operator',
  maintenance: 'maintenance',
  admin: 'administrator',
  'supplier-support': 'supplier support',
};

/** The header's session chip. */
export function SessionControls() {
  const auth = useAuthStore(selectAuth);
  if (!auth.checked) return null;
  if (!auth.session) {
    return (
      <button type="button" className="nav-btn nav-btn-compact hdr-signin" data-testid="sign-in" onClick={() => auth.actions.openLogin()}>
        Sign in
      </button>
    );
  }
  return (
    <div className="hdr-session" data-testid="session-user">
      <span className="hdr-label">Signed in</span>
      <span className="hdr-session-name" title={`Signed in as ${auth.session.user} (${ROLE_WORD[auth.session.role] ?? auth.session.role})`}>
        {auth.session.user}
        {/* The demo accounts are named after their roles: no need to say it twice. */}
        {auth.session.user !== auth.session.role && (
          <span className="hdr-session-role"> · {ROLE_WORD[auth.session.role] ?? auth.session.role}</span>
        )}
      </span>
      <button
        type="button"
        className="nav-btn nav-btn-compact hdr-signout"
        data-testid="sign-out"
        onClick={() => void auth.actions.logout()}
      >
        Sign out
      </button>
    </div>
  );
}
