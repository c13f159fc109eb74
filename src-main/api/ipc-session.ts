/**
 * Signing in the Electron window, bound to that window. Plain Node over an ipcMain-like
 * interface (like ipc-adapter.ts), so it runs and is tested without Electron.
 *
 * - The session token stays here, in the main process: the window asks to sign in and out and
 *   who it is; no reply ever carries the token, so nothing in the page can leak or replay it.
 * - Every command's caller is resolved here: the session's when one is signed in and still
 *   valid, else the read-only viewer when the plant allows viewing without sign-in
 *   (access.localViewWithoutLogin), else the command is refused with UNAUTHENTICATED. Event
 *   streams reach the window on the same condition.
 * - Checking the session for a command never extends it: only a person does (the window's
 *   `activity` reports, and commands that change something). When the session ends — idle lock,
 *   absolute limit, disabled account, logout elsewhere — the window is told at once with the
 *   reason (`AUTH_CHANNELS.ended`), so it can cover itself with the lock screen.
 * - Only the console's own window and page may call (`isTrustedSender`); sign-in failures are
 *   throttled by the AuthService under the source `local-window`.
 */
import { AUTH_CHANNELS } from '../../src-preload/channels';
import { LoginRequestSchema, type AuthStateReply, type Caller, type LoginReply, type SessionEnded } from '../../src-preload/contract';
import { callerOf, isActivityCommand, sessionEndedWords, sessionView } from '../auth/session-types';
import type { LoginResult, LoginSource, SessionEndReason, SessionInfo } from '../auth/session-types';
import type { Logger } from '../core/log';
import type { IpcMainLike, IpcSender } from './ipc-adapter';
import { LOCAL_VIEWER } from './service';

/** Where the window's sign-ins come from, for the throttle and the audit log. */
export const WINDOW_SOURCE: LoginSource = Object.freeze({ key: 'local-window', origin: 'local' });

/** What the window's sign-in needs of the AuthService (auth/sessions.ts). */
export interface WindowAuth {
  login(name: string, password: string, source: LoginSource): Promise<LoginResult>;
  resume(token: string): SessionInfo | null;
  activity(token: string): SessionInfo | null;
  logout(token: string): boolean;
  endSession(sessionId: string, reason: SessionEndReason): boolean;
  onSessionEnded(handler: (sessionId: string, user: string, reason: SessionEndReason) => void): () => void;
}

/** Options of the window's sign-in. */
export interface IpcSessionOptions {
  ipcMain: IpcMainLike;
  auth: WindowAuth;
  log: Logger;
  /** True when the message comes from the console's own window and page. */
  isTrustedSender(sender: IpcSender): boolean;
  /** Sends an event to the console window. */
  emit(channel: string, payload: unknown): void;
  /** access.localViewWithoutLogin: the unsigned window sees the plant as the viewer. */
  viewWithoutLogin: boolean;
}

/** Who a command acts as, or why it is refused. */
export type CallerResolution = { caller: Caller } | { error: { code: 'UNAUTHENTICATED'; message: string } };

const UNTRUSTED = { ok: false, code: 'FORBIDDEN', message: 'Calls are only accepted from the console window' } as const;
const SIGN_IN_FIRST = 'Sign in first: this console shows nothing without sign-in';

/** The window's one session: sign-in channels, the caller of each command, the end of the session. */
export class IpcSession {
  private token: string | null = null;
  private current: SessionInfo | null = null;
  private readonly offEnded: () => void;

  constructor(private readonly opts: IpcSessionOptions) {
    const route = (channel: string, run: (request: unknown) => Promise<unknown> | unknown): void => {
      opts.ipcMain.handle(channel, async (event, request) => {
        if (!opts.isTrustedSender(event.sender)) {
          opts.log.log('warn', 'IPC sign-in call refused: untrusted sender', { channel, frame: event.sender.frameUrl });
          return UNTRUSTED;
        }
        return run(request);
      });
    };
    route(AUTH_CHANNELS.login, (request) => this.login(request));
    route(AUTH_CHANNELS.logout, () => this.logout());
    route(AUTH_CHANNELS.session, () => this.state());
    route(AUTH_CHANNELS.activity, () => this.activity());
    this.offEnded = opts.auth.onSessionEnded((sessionId, _user, reason) => {
      if (this.current?.id !== sessionId) return;
      this.ended(reason);
    });
  }

  /** Who the window's next `command` acts as; a command that changes something is also activity. */
  callerFor(command: string): CallerResolution {
    const token = this.token;
    if (token !== null) {
      const s = isActivityCommand(command) ? this.opts.auth.activity(token) : this.opts.auth.resume(token);
      if (s) {
        this.current = s;
        return { caller: callerOf(s) };
      }
      // Ending it told the window already (onSessionEnded); a session gone without a word is told here.
      if (this.token === token) this.ended('idle-lock');
    }
    if (this.opts.viewWithoutLogin) return { caller: LOCAL_VIEWER };
    return { error: { code: 'UNAUTHENTICATED', message: SIGN_IN_FIRST } };
  }

  /**
   * Who the window receives events as now: its session's caller, else the viewer when viewing
   * is allowed without sign-in, else null (no events). Read from memory on every event, so it
   * never touches the store: a session that ends is forgotten here at once (onSessionEnded).
   */
  eventCaller(): Caller | null {
    if (this.token !== null && this.current) return callerOf(this.current);
    return this.opts.viewWithoutLogin ? LOCAL_VIEWER : null;
  }

  /** True when event streams may reach the window now (signed in, or viewing allowed without). */
  mayReceiveEvents(): boolean {
    return this.eventCaller() !== null;
  }

  /** Unregisters the channels and ends the window's session (the app is closing). */
  close(): void {
    for (const channel of [AUTH_CHANNELS.login, AUTH_CHANNELS.logout, AUTH_CHANNELS.session, AUTH_CHANNELS.activity]) {
      this.opts.ipcMain.removeHandler(channel);
    }
    this.offEnded();
    const s = this.current;
    this.forget();
    if (s) this.opts.auth.endSession(s.id, 'shutdown');
  }

  private async login(request: unknown): Promise<LoginReply> {
    const parsed = LoginRequestSchema.safeParse(request);
    if (!parsed.success) return { ok: false, code: 'BAD_REQUEST', message: 'Send a name and a password as strings', retryAfterMs: 0 };
    if (parsed.data.joinCode !== undefined && parsed.data.joinCode.trim() !== '') {
      return {
        ok: false,
        code: 'NO_GRANT',
        message: 'A join code is for supplier support signing in from outside, not at this console',
        retryAfterMs: 0,
      };
    }
    const r = await this.opts.auth.login(parsed.data.name, parsed.data.password, WINDOW_SOURCE);
    if (!r.ok) return { ok: false, code: r.code, message: r.message, retryAfterMs: r.retryAfterMs ?? 0 };
    if (r.session.role === 'supplier-support') {
      this.opts.auth.endSession(r.session.id, 'logout');
      return {
        ok: false,
        code: 'NO_GRANT',
        message: 'Supplier support signs in from outside with a join code, not at the plant console',
        retryAfterMs: 0,
      };
    }
    // One session per window: whoever signed in before is signed out, without a lock screen for it.
    const previous = this.current;
    this.token = r.token;
    this.current = r.session;
    if (previous && previous.id !== r.session.id) this.opts.auth.endSession(previous.id, 'logout');
    this.opts.log.log('info', 'Signed in at the console window', { user: r.session.user, role: r.session.role, sessionId: r.session.id });
    return { ok: true, session: sessionView(r.session) };
  }

  private logout(): { ok: true; ended: boolean } {
    const token = this.token;
    // Forgotten first: the window asked for this, it needs no "session ended" for it.
    this.forget();
    return { ok: true, ended: token !== null && this.opts.auth.logout(token) };
  }

  private state(): AuthStateReply {
    const s = this.token !== null ? this.opts.auth.resume(this.token) : null;
    if (s) this.current = s;
    const caller = s ? callerOf(s) : this.opts.viewWithoutLogin ? LOCAL_VIEWER : null;
    return { loginRequired: !this.opts.viewWithoutLogin, session: s ? sessionView(s) : null, caller };
  }

  private activity(): { ok: boolean } {
    if (this.token === null) return { ok: false };
    const s = this.opts.auth.activity(this.token);
    if (s) this.current = s;
    return { ok: s !== null };
  }

  private ended(reason: SessionEndReason): void {
    const idleLockMs = this.current?.idleLockMs ?? null;
    const user = this.current?.user;
    this.forget();
    const payload: SessionEnded = { reason, message: sessionEndedWords(reason, idleLockMs) };
    this.opts.log.log('info', 'The console window session ended', { user, reason });
    this.opts.emit(AUTH_CHANNELS.ended, payload);
  }

  private forget(): void {
    this.token = null;
    this.current = null;
  }
}
