/**
 * First start of a configured plant: "Create the administrator account", over everything
 * while the console has no admin (stores/setup.ts). Big fields and buttons for touch panels;
 * the password rules are shown as the person types, each with a mark and words (not colour
 * alone); the PIN is optional. After it the person is signed in, or asked to sign in.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { selectPlantName, usePlantStore } from '../stores/plant';
import { pinRuleProblem, selectSetup, setupRules, useSetupStore } from '../stores/setup';
import '../styles/auth.css';
import '../styles/setup.css';

/** Seconds until `at`, counted down; 0 when it has passed or there is none. */
function useSecondsUntil(at: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (at === null) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [at]);
  return at === null ? 0 : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The overlay; render it only when selectSetupShown holds. */
export function SetupScreen() {
  const setup = useSetupStore(selectSetup);
  const plantName = usePlantStore(selectPlantName);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [pin, setPin] = useState('');
  // The password the console last refused: its reason stays shown only while that password is in the field.
  const [sent, setSent] = useState<string | null>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  const titleId = useId();
  const rulesId = useId();
  const pinId = useId();
  const wait = useSecondsUntil(setup.error?.retryAt ?? null);
  const { actions } = setup;

  useEffect(() => {
    nameRef.current?.focus();
  }, []);

  if (setup.created && !setup.created.signedIn) {
    return (
      <div className="login-backdrop setup-backdrop" data-testid="setup-screen">
        <div className="login-card setup-card" role="dialog" aria-modal="true" aria-labelledby={titleId}>
          <h1 id={titleId} className="login-title">
            Administrator account created
          </h1>
          <p className="setup-done" data-testid="setup-created">
            The account “{setup.created.name}” is ready. Sign in with it to add the other accounts.
          </p>
          <div className="login-actions">
            <button type="button" className="btn login-submit" onClick={() => actions.finish()} data-testid="setup-continue">
              Sign in
            </button>
          </div>
        </div>
      </div>
    );
  }

  const rules = setupRules(name, password, again);
  const pinProblem = pinRuleProblem(pin);
  const ready = rules.every((r) => r.ok) && pinProblem === null;

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!ready || setup.busy || wait > 0) return;
    setSent(password);
    const ok = await actions.create({ name, password, ...(pin ? { pin } : {}) });
    if (ok) {
      setPassword('');
      setAgain('');
      setPin('');
    }
  };

  const errorText = setup.error
    ? setup.error.retryAt !== null && wait > 0
      ? `Too many attempts — try again in ${wait} s`
      : sent === password
        ? setup.error.message
        : null
    : null;

  return (
    <div className="login-backdrop" data-testid="setup-screen">
      <form className="login-card setup-card" role="dialog" aria-modal="true" aria-labelledby={titleId} onSubmit={(e) => void submit(e)}>
        <h1 id={titleId} className="login-title">
          Create the administrator account
        </h1>
        <p className="setup-intro">
          {plantName ? `${plantName} has` : 'This console has'} no administrator yet. The administrator adds the other accounts (operators,
          maintenance, supplier support). Only the console PC itself can do this.
        </p>
        <div className="setup-row">
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
              data-testid="setup-name"
            />
          </label>
          <label className="login-field">
            <span>
              PIN <span className="muted">— optional, 4 to 12 digits</span>
            </span>
            <input
              type="password"
              inputMode="numeric"
              autoComplete="off"
              maxLength={12}
              aria-describedby={pinId}
              value={pin}
              onChange={(e) => setPin(e.target.value)}
              data-testid="setup-pin"
            />
          </label>
        </div>
        <div className="setup-row">
          <label className="login-field">
            <span>Password</span>
            <input
              type="password"
              name="new-password"
              autoComplete="new-password"
              aria-describedby={rulesId}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              data-testid="setup-password"
            />
          </label>
          <label className="login-field">
            <span>The same password again</span>
            <input
              type="password"
              name="new-password-again"
              autoComplete="new-password"
              value={again}
              onChange={(e) => setAgain(e.target.value)}
              data-testid="setup-password-again"
            />
          </label>
        </div>
        <ul className="setup-rules" id={rulesId} aria-live="polite">
          {rules.map((r) => (
            <li key={r.id} className={r.ok ? 'setup-rule setup-rule-ok' : 'setup-rule'} data-testid={`setup-rule-${r.id}`} data-ok={r.ok}>
              <span className="setup-rule-mark" aria-hidden="true">
                {r.ok ? '✓' : '○'}
              </span>
              <span>
                {r.text}
                <span className="sr-only">{r.ok ? ' (done)' : ' (not yet)'}</span>
              </span>
            </li>
          ))}
        </ul>
        <p
          id={pinId}
          className={pinProblem ? 'setup-pin-problem' : 'muted setup-pin-note'}
          data-testid={pinProblem ? 'setup-pin-problem' : undefined}
        >
          {pinProblem ?? 'The PIN confirms changes quickly on the touch panel; without one, the password does.'}
        </p>
        {errorText && (
          <p className="login-error" role="alert" data-testid="setup-error">
            {errorText}
          </p>
        )}
        <div className="login-actions">
          <button type="submit" className="btn login-submit" disabled={!ready || setup.busy || wait > 0} data-testid="setup-submit">
            {setup.busy ? 'Creating…' : 'Create and sign in'}
          </button>
        </div>
        <p className="muted login-note">On a PC without a screen, run “plant-console user add --role admin” instead.</p>
      </form>
    </div>
  );
}
