/**
 * Signing in, the same in the Electron window and in a browser: the store drives an AuthPort
 * (transport/auth-port.ts), which is the preload's bridge over IPC and /api plus the WebSocket
 * in web mode. Neither ever hands this code a session token.
 *
 * It asks who the window is before anything is shown, signs in and out, makes the API
 * transport act as the new identity (web: reconnect; IPC: reload every store), reports a
 * person's input so the session does not lock under them, and keeps why a session ended
 * until someone acknowledges it. When a session ends, nothing of it is kept: the stores that
 * hold a user's own state (writes and their Undo, join codes, audit pages) are cleared.
 */
import { create } from 'zustand';
import type { SessionView } from '../../../src-preload/contract';
import { startActivityReports } from '../transport/activity';
import { createWebAuthPort, type AuthPort, type FetchLike } from '../transport/auth-port';
import type { ClosableTransport } from '../transport/websocket';
import { useAuditStore } from './audit';
import { useRemoteStore } from './remote';
import { useWritesStore } from './writes';

export type { SessionView };

/** A refused sign-in: the message, and when another attempt may be made (null: now). */
export interface LoginError {
  code: string;
  message: string;
  retryAt: number | null;
}

export interface AuthState {
  mode: 'ipc' | 'web';
  /** The console has said who this window is. */
  checked: boolean;
  /** Nothing is shown without sign-in (access.localViewWithoutLogin false, or web mode beyond loopback). */
  loginRequired: boolean;
  session: SessionView | null;
  /** "Your session ended: …" after the console ended the session. */
  ended: string | null;
  /** Why, when the console said ('idle-lock', 'absolute-limit', …). */
  endedReason: string | null;
  /** Where the ended session was signed in: a local one locks the panel, a remote page is cut off. */
  endedOrigin: 'local' | 'remote' | null;
  /** The ended session's idle lock, for "Locked after 15 min without activity". */
  endedIdleLockMs: number | null;
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

const NOT_WIRED = async (): Promise<boolean> => false;
const NO_END = { ended: null, endedReason: null, endedOrigin: null, endedIdleLockMs: null } as const;

export const useAuthStore = create<AuthState>()((set) => ({
  mode: 'ipc',
  checked: false,
  loginRequired: false,
  session: null,
  ...NO_END,
  loginOpen: false,
  busy: false,
  error: null,
  actions: {
    openLogin: () => set({ loginOpen: true, error: null }),
    closeLogin: () => set({ loginOpen: false, error: null }),
    login: NOT_WIRED,
    logout: async () => {},
    dismissEnded: () => set({ ...NO_END }),
  },
}));

export const selectAuth = (s: AuthState): AuthState => s;
export const selectSession = (s: AuthState): SessionView | null => s.session;
export const selectAuthActions = (s: AuthState): AuthState['actions'] => s.actions;
/** True when this window could sign in but has not. */
export const selectCanSignIn = (s: AuthState): boolean => s.checked && s.session === null;
/**
 * The plant is not shown at all: a sign-in is required and missing, or a session ended that
 * either had to be signed in to see anything or was remote (its page is cut off). A local
 * panel that may be viewed without sign-in keeps showing the plant, as the viewer, behind
 * its lock screen.
 */
export const selectLoginBlocks = (s: AuthState): boolean =>
  s.checked && ((s.loginRequired && s.session === null) || (s.ended !== null && (s.loginRequired || s.endedOrigin !== 'local')));
/** The sign-in or lock screen covers the console: required and missing, asked for, or a session just ended. */
export const selectLoginShown = (s: AuthState): boolean =>
  s.checked && ((s.loginRequired && s.session === null) || s.loginOpen || s.ended !== null);
/** A session just ended: the lock screen rather than the plain sign-in. */
export const selectLocked = (s: AuthState): boolean => s.checked && s.ended !== null;

/** Clears what a signed-in user left in the window: their last change and its Undo, a join code, audit pages. */
export function forgetUserState(): void {
  useWritesStore.getState().actions.reset();
  useRemoteStore.setState({ joinCode: null, error: null, me: null });
  useAuditStore.setState({ records: [], points: {}, nextBeforeSeq: null, error: null });
}

/** Options of the sign-in store. */
export interface AuthOptions {
  now?: () => number;
  /** Report a person's input (default: when there is a window). */
  activity?: boolean;
}

/** Wires sign-in to `port`; returns the function that stops it. */
export function startAuthPort(port: AuthPort, opts: AuthOptions = {}): () => void {
  const now = opts.now ?? Date.now;
  const get = useAuthStore.getState;
  const set = useAuthStore.setState;
  let signingOut = false;
  set({ mode: port.kind });

  /** Asks who we are; lets the transport connect when that is allowed. */
  const check = async (connect: boolean): Promise<void> => {
    try {
      const s = await port.state();
      set({ checked: true, loginRequired: s.loginRequired, session: s.session });
      if (connect && (!s.loginRequired || s.session)) port.connect();
    } catch {
      // The console is not reachable yet: let the transport's own reconnecting show that.
      set({ checked: true });
      if (connect) port.connect();
    }
  };

  const actions: AuthState['actions'] = {
    ...get().actions,
    async login(name, password, joinCode) {
      set({ busy: true, error: null });
      try {
        const r = await port.login(name, password, joinCode);
        if (r.ok) {
          forgetUserState();
          set({ session: r.session, ...NO_END, loginOpen: false, error: null });
          port.connect();
          return true;
        }
        const throttled = r.code === 'LOCKED_OUT' || r.code === 'RATE_LIMITED';
        set({ error: { code: r.code, message: r.message, retryAt: throttled && r.retryAfterMs > 0 ? now() + r.retryAfterMs : null } });
        return false;
      } catch {
        set({
          error: { code: 'UNREACHABLE', message: 'The console does not answer: check the network connection and try again', retryAt: null },
        });
        return false;
      } finally {
        set({ busy: false });
      }
    },
    async logout() {
      signingOut = true;
      try {
        await port.logout();
        forgetUserState();
        set({ session: null, ...NO_END });
        await check(false);
        if (get().loginRequired) port.halt();
        else port.connect();
      } finally {
        signingOut = false;
      }
    },
    dismissEnded() {
      set({ ...NO_END, error: null });
      void check(true);
    },
  };
  set({ actions });

  const offEnded = port.onEnded((e) => {
    if (signingOut) return;
    const prev = get().session;
    forgetUserState();
    set({
      session: null,
      ended: e.message,
      endedReason: e.reason,
      endedOrigin: prev?.origin ?? null,
      endedIdleLockMs: prev?.idleLockMs ?? null,
      loginOpen: false,
    });
    // Behind a local panel's lock the plant stays in view, as the viewer, where that is allowed.
    if (!get().loginRequired && prev?.origin === 'local') port.connect();
  });

  const report = opts.activity ?? typeof window !== 'undefined';
  const offActivity = report
    ? startActivityReports({ target: window, report: () => port.activity(), enabled: () => get().session !== null })
    : () => undefined;

  // Over IPC the stores loaded at start already; web mode connects once it knows it may.
  void check(port.kind === 'web');
  return () => {
    offEnded();
    offActivity();
  };
}

/** Wires sign-in to the web transport (web mode); null: nothing to sign in to. Returns the function that stops it. */
export function startAuth(web: ClosableTransport | null, opts: AuthOptions & { fetch?: FetchLike } = {}): () => void {
  if (!web) {
    useAuthStore.setState({ mode: 'ipc', checked: true });
    return () => {};
  }
  return startAuthPort(createWebAuthPort(web, opts.fetch), opts);
}
