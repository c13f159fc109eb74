/**
 * Signing in, behind one small interface for both transports, so the sign-in screen, the
 * session chip, the lock screen and the activity reports are the same code in the Electron
 * window and in a browser:
 * - IPC: the preload's `auth` bridge; the main process keeps the token.
 * - Web mode: /api/session, /api/login, /api/logout (the cookie is HttpOnly: never seen
 *   here), activity as a WebSocket message, and the end of a session as a close with 4401.
 */
import type { AuthBridge, AuthStateReply, LoginReply, SessionView } from '../../../src-preload/contract';
import type { IpcTransport } from './ipc';
import { SESSION_ENDED_CLOSE, type ClosableTransport } from './websocket';

/** Why a session ended, as the lock screen shows it. `reason` is null when the transport did not say. */
export interface EndedInfo {
  reason: string | null;
  message: string;
}

/** Sign-in as the auth store drives it. */
export interface AuthPort {
  readonly kind: 'ipc' | 'web';
  /** Who this window is; throws when the console does not answer. */
  state(): Promise<AuthStateReply>;
  /** Signs in; throws when the console does not answer. */
  login(name: string, password: string, joinCode?: string): Promise<LoginReply>;
  /** Signs out (the session is gone, or will expire, even if the console does not answer). */
  logout(): Promise<void>;
  /** A person is using the window. */
  activity(): void;
  /** The session ended without this window asking: idle lock, time limit, ended on site… */
  onEnded(handler: (ended: EndedInfo) => void): () => void;
  /** Makes the API transport act as the new identity: reconnect (web) or reload every store (IPC). */
  connect(): void;
  /** Nothing may be shown now (sign-in required and missing): stop the API transport. */
  halt(): void;
}

/** A fetch good enough for /api (tests pass a fake). */
export type FetchLike = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string; credentials?: 'same-origin' },
) => Promise<{
  status: number;
  json(): Promise<unknown>;
}>;

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;

/** A session as a reply carries it, or null when it does not look like one. */
export function asSession(x: unknown): SessionView | null {
  if (!isRecord(x) || typeof x.id !== 'string' || typeof x.user !== 'string' || typeof x.role !== 'string') return null;
  return x as unknown as SessionView;
}

/** An AuthStateReply from whatever arrived (a refusal or an older server answers less). */
function asState(x: unknown): AuthStateReply {
  const b = isRecord(x) ? x : {};
  return {
    loginRequired: b.loginRequired === true,
    session: asSession(b.session),
    caller: isRecord(b.caller) ? (b.caller as unknown as AuthStateReply['caller']) : null,
  };
}

/** A LoginReply from a reply body and its HTTP status. */
function asLogin(body: unknown, status: number): LoginReply {
  const b = isRecord(body) ? body : {};
  const session = asSession(b.session);
  if (b.ok === true && session) return { ok: true, session };
  return {
    ok: false,
    code: typeof b.code === 'string' ? b.code : status > 0 ? `HTTP_${status}` : 'SIGN_IN_FAILED',
    message: typeof b.message === 'string' ? b.message : 'Sign-in failed',
    retryAfterMs: typeof b.retryAfterMs === 'number' ? b.retryAfterMs : 0,
  };
}

/** The idle-lock words of web mode's close reason (web-auth.ts sessionEndedText). */
const IDLE_LOCK_WORDS = /locked after .*without activity/;

/** Sign-in of web mode over /api and the WebSocket transport. */
export function createWebAuthPort(web: ClosableTransport, fetchLike?: FetchLike): AuthPort {
  const doFetch: FetchLike = fetchLike ?? ((url, init) => fetch(url, init));
  const post = async (path: string, body: unknown): Promise<{ status: number; body: unknown }> => {
    const res = await doFetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    return { status: res.status, body: await res.json().catch(() => ({})) };
  };
  return {
    kind: 'web',
    async state() {
      const res = await doFetch('/api/session', { credentials: 'same-origin' });
      return asState(await res.json());
    },
    async login(name, password, joinCode) {
      const code = joinCode?.trim();
      const r = await post('/api/login', { name, password, ...(code ? { joinCode: code } : {}) });
      return asLogin(r.body, r.status);
    },
    async logout() {
      try {
        await post('/api/logout', {});
      } catch {
        // The cookie may be left, but the session is ended or will expire; the screen says signed out either way.
      }
    },
    activity: () => web.activity(),
    onEnded: (handler) =>
      web.onClosed((code, reason) => {
        if (code !== SESSION_ENDED_CLOSE) return;
        handler({ reason: IDLE_LOCK_WORDS.test(reason) ? 'idle-lock' : null, message: reason || 'Your session ended' });
      }),
    connect: () => web.open(),
    halt: () => web.halt(),
  };
}

/** Sign-in of the Electron window over the preload's bridge. */
export function createIpcAuthPort(bridge: AuthBridge, transport: IpcTransport): AuthPort {
  return {
    kind: 'ipc',
    async state() {
      return asState(await bridge.session());
    },
    async login(name, password, joinCode) {
      const code = joinCode?.trim();
      const r: unknown = await bridge.login({ name, password, ...(code ? { joinCode: code } : {}) });
      return asLogin(r, 0);
    },
    async logout() {
      try {
        await bridge.logout();
      } catch {
        // Main forgets the session whatever this window hears back.
      }
    },
    activity: () => {
      bridge.activity().catch(() => undefined);
    },
    onEnded: (handler) =>
      bridge.onEnded((e) => {
        const b: Record<string, unknown> = isRecord(e) ? e : {};
        handler({
          reason: typeof b.reason === 'string' ? b.reason : null,
          message: typeof b.message === 'string' ? b.message : 'Your session ended',
        });
      }),
    connect: () => transport.refresh(),
    // Main sends a window without the right to see nothing: there is no connection to stop.
    halt: () => undefined,
  };
}
