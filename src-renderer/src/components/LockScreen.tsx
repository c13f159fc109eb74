/**
 * The lock screen: covers the whole window when a session ended — locked after a time
 * without activity, its time limit, signed out elsewhere, ended on site — says why, and asks
 * to sign in again. Nothing of the ended session stays behind it (stores/auth.ts clears what
 * the user left). Where the local console may be viewed without sign-in, the plant shows
 * through it, live and read-only, and "Continue without signing in" puts the lock away;
 * elsewhere there is nothing behind it until someone signs in.
 */
import { selectAuth, useAuthStore } from '../stores/auth';
import { selectPlantName, usePlantStore } from '../stores/plant';
import { SignInForm } from './LoginScreen';
import '../styles/auth.css';
import '../styles/lock.css';

/** A closed padlock. */
function PadlockIcon() {
  return (
    <svg className="lock-icon" width={34} height={34} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <rect x="4" y="11" width="16" height="11" rx="2" fill="currentColor" />
      <path d="M8 11 V7 a4 4 0 0 1 8 0 V11" fill="none" stroke="currentColor" strokeWidth="2.5" />
    </svg>
  );
}

/** "Locked after 15 min without activity", or what else ended the session. */
export function lockHeading(reason: string | null, idleLockMs: number | null, origin: 'local' | 'remote' | null): string {
  if (reason === 'idle-lock') {
    const min = idleLockMs !== null && idleLockMs >= 60_000 ? Math.round(idleLockMs / 60_000) : null;
    return min !== null ? `Locked after ${min} min without activity` : 'Locked after a time without activity';
  }
  return origin === 'remote' ? 'Session ended' : 'Signed out';
}

/** The overlay; render it only when selectLocked holds. */
export function LockScreen() {
  const auth = useAuthStore(selectAuth);
  const plantName = usePlantStore(selectPlantName);
  const showsPlant = !auth.loginRequired && auth.endedOrigin === 'local';
  const heading = lockHeading(auth.endedReason, auth.endedIdleLockMs, auth.endedOrigin);
  return (
    <div className={`login-backdrop lock-backdrop ${showsPlant ? 'lock-over-plant' : 'lock-opaque'}`} data-testid="lock-screen">
      <SignInForm
        // A local panel's lock is no place for supplier support's join code.
        joinCode={auth.endedOrigin !== 'local'}
        title={
          <span className="lock-title" data-testid="lock-heading">
            <PadlockIcon />
            {heading}
          </span>
        }
        notice={
          <p className="login-ended" role="alert" data-testid="session-ended">
            {auth.ended}
          </p>
        }
        cancel={
          auth.loginRequired
            ? null
            : {
                label: showsPlant ? 'Continue without signing in (view only)' : 'Continue without signing in',
                onClick: () => {
                  auth.actions.closeLogin();
                  auth.actions.dismissEnded();
                },
              }
        }
        note={
          <p className="muted login-note">
            {plantName ? `${plantName}: sign in again to change anything.` : 'Sign in again to change anything.'}
          </p>
        }
      />
    </div>
  );
}
