/**
 * First start of a configured plant: while the console has no administrator account, the
 * setup screen covers everything and creates one (the console decides when). Over
 * IPC the preload's `auth.setupStatus/setup` ask main; in web mode GET /api/session says
 * `setupNeeded` (only to a browser on the console PC) and POST /api/setup creates it. Creating
 * the account does not sign in: the store then signs in with it through the auth store, like
 * any sign-in, and when that fails it asks the person to sign in.
 *
 * The rules the screen shows as the person types are the console's password shape rules
 * (src-preload/contract/password-rules.ts) and account-name rule; the console checks again,
 * also against its list of common and breached passwords, and its refusal says why.
 */
import { create } from 'zustand';
import { BRIDGE_KEY } from '../../../src-preload/channels';
import type { AuthBridge } from '../../../src-preload/contract';
import {
  MAX_PASSWORD_BYTES,
  MIN_PASSWORD_LENGTH,
  passwordShapeProblem,
  type PasswordRuleCode,
} from '../../../src-preload/contract/password-rules';
import type { FetchLike } from '../transport/auth-port';
import { useAuthStore } from './auth';

/** What the screen sends. */
export interface SetupInput {
  name: string;
  password: string;
  pin?: string;
}

/** The outcome of creating the account. */
export type SetupReply = { ok: true; name: string } | { ok: false; code: string; message: string; retryAfterMs: number };

/** First-start setup behind one interface for both transports. */
export interface SetupPort {
  /** True while no administrator account exists (and this window may create one); throws when the console does not answer. */
  status(): Promise<boolean>;
  create(input: SetupInput): Promise<SetupReply>;
}

/** One rule of the form, kept or not yet. */
export interface SetupRule {
  id: string;
  text: string;
  ok: boolean;
}

export interface SetupState {
  /** The console has said whether setup is needed. */
  checked: boolean;
  needed: boolean;
  busy: boolean;
  error: { code: string; message: string; retryAt: number | null } | null;
  /** The account made here; `signedIn` false: the person is asked to sign in with it. */
  created: { name: string; signedIn: boolean } | null;
  actions: {
    create(input: SetupInput): Promise<boolean>;
    /** Leaves the "account created" note for the sign-in screen. */
    finish(): void;
  };
}

const NAME = /^[a-z][a-z0-9._-]{1,63}$/;

/** The account name as the console stores it (trimmed, lowercase). */
export function normalizeName(name: string): string {
  return name.trim().toLowerCase();
}

/** The name rule, the password rules and the repeat, each kept or not. */
export function setupRules(name: string, password: string, again: string): SetupRule[] {
  const n = normalizeName(name);
  const bytes = new TextEncoder().encode(password).length;
  // The shape rules the console applies; the list of common passwords it checks itself and says so in the error.
  const shape = password === '' ? null : passwordShapeProblem(password, n);
  const kept = (codes: readonly PasswordRuleCode[]): boolean => password !== '' && (shape === null || !codes.includes(shape.code));
  return [
    {
      id: 'name',
      text: 'Name: 2–64 lowercase letters, digits, ".", "_" or "-", starting with a letter',
      ok: NAME.test(n) && !n.startsWith('local-'),
    },
    {
      id: 'length',
      text: `Password: at least ${MIN_PASSWORD_LENGTH} characters`,
      ok: [...password].length >= MIN_PASSWORD_LENGTH && bytes <= MAX_PASSWORD_BYTES,
    },
    { id: 'spaces', text: 'Password: no spaces at the start or end', ok: password !== '' && password.trim() === password },
    { id: 'not-name', text: 'Password: not the name, nor the name with digits added', ok: kept(['account-name']) },
    {
      id: 'not-pattern',
      text: 'Password: no repeated or sequential characters ("aaaa…", "1234…", "qwerty…")',
      ok: kept(['repetitive', 'sequential']),
    },
    { id: 'again', text: 'The password typed the same twice', ok: password !== '' && password === again },
  ];
}

/** Why a PIN is refused, or null (an empty PIN means none). */
export function pinRuleProblem(pin: string): string | null {
  if (pin === '') return null;
  if (!/^[0-9]+$/.test(pin)) return 'A PIN is digits only';
  if (pin.length < 4 || pin.length > 12) return 'A PIN has 4 to 12 digits';
  if (/^(\d)\1+$/.test(pin)) return 'A PIN may not repeat one digit';
  return null;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;

function refusal(body: unknown, status: number): SetupReply {
  const b = isRecord(body) ? body : {};
  return {
    ok: false,
    code: typeof b.code === 'string' ? b.code : `HTTP_${status}`,
    message: typeof b.message === 'string' ? b.message : 'Setup failed',
    retryAfterMs: typeof b.retryAfterMs === 'number' ? b.retryAfterMs : 0,
  };
}

/** Web mode: GET /api/session, POST /api/setup. */
export function createWebSetupPort(doFetch: FetchLike = (url, init) => fetch(url, init)): SetupPort {
  return {
    async status() {
      const res = await doFetch('/api/session', { credentials: 'same-origin' });
      const body = await res.json();
      return isRecord(body) && body.setupNeeded === true;
    },
    async create(input) {
      const res = await doFetch('/api/setup', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(input),
        credentials: 'same-origin',
      });
      const body = await res.json().catch(() => ({}));
      const account = isRecord(body) && isRecord(body.account) ? body.account : null;
      if (isRecord(body) && body.ok === true && account && typeof account.name === 'string') return { ok: true, name: account.name };
      return refusal(body, res.status);
    },
  };
}

/** The Electron window: the preload's `auth.setupStatus/setup`; null when this bridge has none. */
export function createIpcSetupPort(auth: Partial<AuthBridge> | undefined): SetupPort | null {
  const statusFn = auth?.setupStatus;
  const setupFn = auth?.setup;
  if (typeof statusFn !== 'function' || typeof setupFn !== 'function') return null;
  return {
    async status() {
      const r = await statusFn();
      return r.ok && r.value.setupNeeded;
    },
    async create(input) {
      const r = await setupFn(input);
      return r.ok ? { ok: true, name: r.value.name } : { ok: false, code: r.error.code, message: r.error.message, retryAfterMs: 0 };
    },
  };
}

let port: SetupPort | null = null;

export const useSetupStore = create<SetupState>()((set, get) => ({
  checked: false,
  needed: false,
  busy: false,
  error: null,
  created: null,
  actions: {
    async create(input) {
      if (!port || get().busy) return false;
      set({ busy: true, error: null });
      try {
        const pin = input.pin?.trim() ? input.pin.trim() : undefined;
        const r = await port.create({ name: normalizeName(input.name), password: input.password, ...(pin ? { pin } : {}) });
        if (!r.ok) {
          if (r.code === 'SETUP_DONE') {
            // Someone was quicker (another screen, the CLI): there is an admin; sign in instead.
            set({ needed: false, created: null });
            useAuthStore.getState().actions.openLogin();
            return false;
          }
          const throttled = r.code === 'RATE_LIMITED' && r.retryAfterMs > 0;
          set({ error: { code: r.code, message: r.message, retryAt: throttled ? Date.now() + r.retryAfterMs : null } });
          return false;
        }
        const signedIn = await useAuthStore.getState().actions.login(r.name, input.password);
        set({ needed: false, created: { name: r.name, signedIn } });
        return true;
      } catch {
        set({
          error: { code: 'UNREACHABLE', message: 'The console does not answer: check that it is running and try again', retryAt: null },
        });
        return false;
      } finally {
        set({ busy: false });
      }
    },
    finish() {
      set({ created: null });
      if (useAuthStore.getState().session === null) useAuthStore.getState().actions.openLogin();
    },
  },
}));

export const selectSetup = (s: SetupState): SetupState => s;
/** The setup screen covers everything: no admin yet, or the account was made but its sign-in did not follow. */
export const selectSetupShown = (s: SetupState): boolean => s.checked && (s.needed || (s.created !== null && !s.created.signedIn));

/** The setup port of this window: the bridge's over IPC, /api in web mode. */
export function setupPortFor(
  kind: 'ipc' | 'websocket',
  win: Window | undefined = typeof window === 'undefined' ? undefined : window,
): SetupPort | null {
  if (kind === 'websocket') return createWebSetupPort();
  const bridge = win ? (win as unknown as Record<string, { auth?: Partial<AuthBridge> } | undefined>)[BRIDGE_KEY] : undefined;
  return createIpcSetupPort(bridge?.auth);
}

/** Asks once whether setup is needed and wires `create` to `p`; returns the function that stops it. */
export function startSetup(p: SetupPort | null): () => void {
  port = p;
  let live = true;
  if (!p) {
    useSetupStore.setState({ checked: true, needed: false });
    return () => {
      live = false;
    };
  }
  p.status().then(
    (needed) => {
      if (live && port === p) useSetupStore.setState({ checked: true, needed });
    },
    () => {
      // Not reachable yet: the rest of the screen says so; setup is asked again on the next start of the page.
      if (live && port === p) useSetupStore.setState({ checked: true, needed: false });
    },
  );
  return () => {
    live = false;
    if (port === p) port = null;
  };
}
