/**
 * The sign-in screen, the same in the Electron window and in a browser: big fields and
 * buttons for touch panels, the join code for supplier support (web mode only: they never
 * sign in at the plant's own window), errors in words with the wait counted down. It covers
 * the console when sign-in is required, and opens on request otherwise. `SignInForm` is also
 * the lock screen's (LockScreen.tsx).
 */
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { selectAuth, useAuthStore } from '../stores/auth';
import { selectPlantName, usePlantStore } from '../stores/plant';
import '../styles/auth.css';

/** Seconds until `at`, counted down once a second; 0 when it has passed or there is none. */
function useSecondsUntil(at: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (at === null) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [at]);
  return at === null ? 0 : Math.max(0, Math.ceil((at - now) / 1000));
}

interface FormProps {
  /** The dialog's heading. */
  title: ReactNode;
  /** Shown above the fields (why the last session ended). */
  notice?: ReactNode;
  /** The secondary button: Cancel, or Continue without signing in. */
  cancel?: { label: string; onClick(): void } | null;
  /** Below the buttons. */
  note?: ReactNode;
  /** Offer the join code field (web mode only; default there: yes). */
  joinCode?: boolean;
}

/** The sign-in card: name, password, (join code), Sign in. */
export function SignInForm({ title, notice, cancel, note, joinCode: offerJoinCode = true }: FormProps) {
  const auth = useAuthStore(selectAuth);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [joinCode, setJoinCode] = useState('');
  const nameRef = useRef<HTMLInputElement>(null);
  const titleId = useId();
  const wait = useSecondsUntil(auth.error?.retryAt ?? null);
  const { actions } = auth;

  useEffect(() => {
    nameRef.current?.focus();
  }, []);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (auth.busy || wait > 0 || name.trim() === '' || password === '') return;
    const ok = await actions.login(name.trim(), password, joinCode);
    if (ok) {
      setPassword('');
      setJoinCode('');
    }
  };

  const throttled = (auth.error?.retryAt ?? null) !== null;
  const errorText = auth.error
    ? throttled
      ? wait > 0
        ? `Too many attempts — try again in ${wait} s`
        : 'You may try again now'
      : auth.error.message
    : null;

  return (
    <form className="login-card" role="dialog" aria-modal="true" aria-labelledby={titleId} onSubmit={(e) => void submit(e)}>
      <h1 id={titleId} className="login-title">
        {title}
      </h1>
      {notice}
      <label className="login-field">
        <span>Name</span>
        <input
          ref={nameRef}
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          value={name}
          onChange={(e) => setName(e.target.value)}
          data-testid="login-name"
        />
      </label>
      <label className="login-field">
        <span>Password</span>
        <input
          type="password"
          name="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          data-testid="login-password"
        />
      </label>
      {auth.mode === 'web' && offerJoinCode && (
        <label className="login-field">
          <span>
            Join code <span className="muted">— supplier support only: the 8 digits the person on site reads out</span>
          </span>
          <input
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={12}
            value={joinCode}
            onChange={(e) => setJoinCode(e.target.value)}
            data-testid="login-join-code"
          />
        </label>
      )}
      {errorText && (
        <p className={`login-error ${throttled ? 'login-error-wait' : ''}`} role="alert" data-testid="login-error">
          {errorText}
        </p>
      )}
      <div className="login-actions">
        <button type="submit" className="btn login-submit" disabled={auth.busy || wait > 0} data-testid="login-submit">
          {auth.busy ? 'Signing in…' : 'Sign in'}
        </button>
        {cancel && (
          <button type="button" className="btn login-cancel" data-testid="login-cancel" onClick={cancel.onClick}>
            {cancel.label}
          </button>
        )}
      </div>
      {note}
    </form>
  );
}

/** The overlay; render it only when selectLoginShown holds and no session just ended (that is LockScreen's). */
export function LoginScreen() {
  const auth = useAuthStore(selectAuth);
  const plantName = usePlantStore(selectPlantName);
  const optional = !auth.loginRequired;
  return (
    <div className="login-backdrop" data-testid="login-screen">
      <SignInForm
        title={`Sign in${plantName ? ` — ${plantName}` : ''}`}
        cancel={optional ? { label: 'Cancel', onClick: () => auth.actions.closeLogin() } : null}
        note={optional && <p className="muted login-note">Viewing the plant needs no sign-in here; changing it does.</p>}
      />
    </div>
  );
}
