/**
 * Sign-in in web mode: asks GET /api/session whether a sign-in is needed before the
 * WebSocket connects, signs in and out over /api/login|logout (the session cookie is
 * HttpOnly: this code never sees the token), and reconnects the transport so the new
 * connection carries the session. When the server closes the connection because the session
 * ended, the reason is kept and shown until someone acknowledges it. Over IPC (the Electron
 * window) there is nothing to do: the window is the local console.
 */
import { create } from 'zustand';
import type { Role } from '../../../src-preload/contract';
import { SESSION_ENDED_CLOSE, type ClosableTransport } from '../transport/websocket';

/** A session as /api/session and /api/login describe it. */
export interface SessionView {
  id: string;
  user: string;
  role: Role;
  origin: 'local' | 'remote';
  createdAt: number;
  expiresAt: number;
  idleExpiresAt: number | null;
}

/** A refused sign-in: the message, and when another attempt may be made (null: now). */
export interface LoginError {
  code: string;
  message: string;
  retryAt: number | null;
}

export interface AuthState {
  mode: 'ipc' | 'web';
  /** /api/session has answered (web mode). */
  checked: boolean;
  loginRequired: boolean;
  session: SessionView | null;
  /** "Your session ended: …" after the server closed the connection. */
  ended: string | null;
  /** The sign-in dialog is open (when sign-in is optional). */
  loginOpen: boolean;
  busy: boolean;
  error: LoginError | null;
  actions: {
    openLogin(): void;
    closeLogin(): void;
    login(name: string, password: string, joinCode?: string): Promise<boolean>;
    logout(): Promise<void>;
    /** Acknowledges an ended session: back to viewing (when allowed) or to the sign-in screen. */
    dismissEnded(): void;
  };
}

type FetchLike = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string; credentials?: 'same-origin' },
) => Promise<{
  status: number;
  json(): Promise<unknown>;
}>;

const NOT_WIRED = async (): Promise<boolean> => false;

export const useAuthStore = create<AuthState>()((set) => ({
  mode: 'ipc',
  checked: false,
  loginRequired: false,
  session: null,
  ended: null,
  loginOpen: false,
  busy: false,
  error: null,
  actions: {
    openLogin: () => set({ loginOpen: true, error: null }),
    closeLogin: () => set({ loginOpen: false, error: null }),
    login: NOT_WIRED,
    logout: async () => {},
    dismissEnded: () => set({ ended: null }),
  },
}));

export const selectAuth = (s: AuthState): AuthState => s;
export const selectSession = (s: AuthState): SessionView | null => s.session;
export const selectAuthActions = (s: AuthState): AuthState['actions'] => s.actions;
/** True when this window could sign in (web mode) but has not. */
export const selectCanSignIn = (s: AuthState): boolean => s.mode === 'web' && s.checked && s.session === null;
/** The plant is not shown at all: a sign-in is required and missing, or a session just ended (its page is cut off). */
export const selectLoginBlocks = (s: AuthState): boolean =>
  s.mode === 'web' && s.checked && ((s.loginRequired && s.session === null) || s.ended !== null);
/** The sign-in screen covers the console: required and missing, asked for, or a session just ended. */
export const selectLoginShown = (s: AuthState): boolean =>
  s.mode === 'web' && s.checked && ((s.loginRequired && s.session === null) || s.loginOpen || s.ended !== null);

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;

function asSession(x: unknown): SessionView | null {
  if (!isRecord(x) || typeof x.id !== 'string' || typeof x.user !== 'string' || typeof x.role !== 'string') return null;
  return x as unknown as SessionView;
}

/** Wires sign-in to the web transport (null over IPC); returns the function that stops it. */
export function startAuth(web: ClosableTransport | null, opts: { fetch?: FetchLike; now?: () => number } = {}): () => void {
  if (!web) {
    useAuthStore.setState({ mode: 'ipc', checked: true });
    return () => {};
  }
  const doFetch: FetchLike = opts.fetch ?? ((url, init) => fetch(url, init));
  const now = opts.now ?? Date.now;
  let signingOut = false;
  useAuthStore.setState({ mode: 'web' });

  /** Asks who we are; connects when that is allowed. */
  const check = async (connect: boolean): Promise<void> => {
    try {
      const res = await doFetch('/api/session', { credentials: 'same-origin' });
      const body = await res.json();
      const b = isRecord(body) ? body : {};
      const session = asSession(b.session);
      const loginRequired = b.loginRequired === true;
      useAuthStore.setState({ checked: true, loginRequired, session });
      if (connect && (!loginRequired || session)) web.open();
    } catch {
      // The console is not reachable yet: let the transport's own reconnecting show that.
      useAuthStore.setState({ checked: true });
      if (connect) web.open();
    }
  };

  const post = async (path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await doFetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    const parsed = await res.json().catch(() => ({}));
    return { status: res.status, body: isRecord(parsed) ? parsed : {} };
  };

  const actions: AuthState['actions'] = {
    ...useAuthStore.getState().actions,
    async login(name, password, joinCode) {
      useAuthStore.setState({ busy: true, error: null });
      try {
        const r = await post('/api/login', { name, password, ...(joinCode?.trim() ? { joinCode: joinCode.trim() } : {}) });
        const session = asSession(r.body.session);
        if (r.body.ok === true && session) {
          useAuthStore.setState({ session, ended: null, loginOpen: false, error: null });
          web.open();
          return true;
        }
        const code = typeof r.body.code === 'string' ? r.body.code : `HTTP_${r.status}`;
        const retryAfterMs = typeof r.body.retryAfterMs === 'number' ? r.body.retryAfterMs : 0;
        const throttled = code === 'LOCKED_OUT' || code === 'RATE_LIMITED';
        const message = typeof r.body.message === 'string' ? r.body.message : 'Sign-in failed';
        useAuthStore.setState({ error: { code, message, retryAt: throttled && retryAfterMs > 0 ? now() + retryAfterMs : null } });
        return false;
      } catch {
        useAuthStore.setState({
          error: { code: 'UNREACHABLE', message: 'The console does not answer: check the network connection and try again', retryAt: null },
        });
        return false;
      } finally {
        useAuthStore.setState({ busy: false });
      }
    },
    async logout() {
      signingOut = true;
      try {
        await post('/api/logout', {});
      } catch {
        // The cookie may be left, but the session is ended or will expire; the screen says signed out either way.
      }
      useAuthStore.setState({ session: null, ended: null });
      await check(false);
      const { loginRequired } = useAuthStore.getState();
      if (loginRequired) web.halt();
      else web.open();
      signingOut = false;
    },
    dismissEnded() {
      useAuthStore.setState({ ended: null, error: null });
      void check(true);
    },
  };
  useAuthStore.setState({ actions });

  const offClosed = web.onClosed((code, reason) => {
    if (code !== SESSION_ENDED_CLOSE || signingOut) return;
    useAuthStore.setState({ session: null, ended: reason || 'Your session ended', loginOpen: false });
  });
  void check(true);
  return offClosed;
}
