/**
 * Sign-in for web mode: POST /api/login, POST /api/logout, GET /api/session, and who each
 * WebSocket acts as.
 *
 * - The session token travels only in the `pc_session` cookie (HttpOnly, SameSite=Strict,
 *   Secure over TLS); POSTs must be JSON from this origin, which a cross-site form cannot send.
 * - Sign-in attempts are limited per source here (a token bucket, so Argon2id cannot be used to
 *   load the PC), on top of the AuthService's delays and lockouts per account and per source.
 * - Every WebSocket message re-checks its session (AuthService.resume, cached for a second), so
 *   idle lock and expiry apply to open connections; a session's messages share one rate limit.
 *   Checking never extends a session: only a person does — the page's `activity` message (sent
 *   on pointer, key and touch input) and commands that change something.
 * - On a loopback-bound console an unsigned loopback browser acts as `localCaller` (the
 *   read-only viewer) unless login is required (access.localViewWithoutLogin false).
 *   When a session ends for any reason, its sockets are closed at once with code 4401 and the
 *   reason in words, which the UI shows.
 * - A supplier-support account signs in only with a join code the site handed out (remote/).
 * - POST /api/setup (first start: the first admin account, from the console PC only) is
 *   setup-route.ts; GET /api/session says `setupNeeded` to a client that is offered it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import { SESSION_ENDED_CLOSE } from '../../src-preload/channels';
import type { Caller } from '../../src-preload/contract';
import { callerOf, type AuthService, type SessionEndReason, type SessionInfo } from '../auth/sessions';
import { sessionEndedWords, sessionView } from '../auth/session-types';
import type { Logger } from '../core/log';
import { clientAddress, cookieValue, isJson, isLoopbackAddress, readBody, sameOrigin, SESSION_COOKIE, sessionCookie } from './http-util';
import type { ConnectionIdentity } from './ws-adapter';
import { handleSetup, setupOfferedTo } from './setup-route';
import type { FirstStartSetup } from '../auth/setup';

export { SESSION_ENDED_CLOSE, sessionView };

/** Binds a just-opened supplier-support session to the grant its join code belongs to. */
export interface RemoteJoiner {
  join(session: SessionInfo, joinCode: string | undefined, source: string): { ok: true } | { ok: false; code: string; message: string };
  /** A more precise reason for the end of a remote session ("ended on site by …"), or null. */
  endMessage?(sessionId: string): string | null;
}

/** Options of WebAuth. */
export interface WebAuthOptions {
  auth: AuthService;
  /** No session, no API (always so beyond loopback). */
  loginRequired: boolean;
  tls: boolean;
  /** Loopback clients sign in as the local console (only when the server itself is bound to loopback). */
  localClients: boolean;
  /** Who a connection without a session acts as when login is not required. */
  localCaller: Caller;
  remote?: RemoteJoiner;
  /** First-start setup of a configured plant (POST /api/setup, setup-route.ts); none in the demo. */
  setup?: FirstStartSetup | null;
  log: Logger;
  now?: () => number;
  /** Sign-in requests per source (default 10 at once, then 10 a minute). */
  loginRate?: { perMinute: number; burst: number };
  /** Messages per session over all its connections (default 50/s, bursts of 200). */
  sessionRate?: { perS: number; burst: number };
  /** How long a session check holds for a connection (default 1000 ms). */
  resumeCacheMs?: number;
}

/** A token bucket that also says when the next token comes. */
export class Bucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perS: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes a token; false when there is none. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Ms until a token is there. */
  retryAfterMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perS) * 1000);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perS);
    this.last = t;
  }
}

/** "Your session ended: …", cut to what a WebSocket close frame carries (123 bytes). */
export function sessionEndedText(reason: SessionEndReason | string, idleLockMs?: number | null): string {
  let text = sessionEndedWords(reason, idleLockMs);
  while (Buffer.byteLength(text) > 123) text = text.slice(0, -1);
  return text;
}

const MAX_SOURCES = 10_000;

/** The sign-in routes and the per-connection identity of web mode. */
export class WebAuth {
  readonly loginRequired: boolean;
  private readonly now: () => number;
  private readonly scheme: 'http' | 'https';
  private readonly loginBuckets = new Map<string, Bucket>();
  private readonly sessionBuckets = new Map<string, Bucket>();
  private readonly sockets = new Map<string, Set<WebSocket>>();
  /** The idle lock of each session with live sockets, so its end can say "after 15 min". */
  private readonly idleLocks = new Map<string, number | null>();
  private readonly offEnded: () => void;

  constructor(private readonly opts: WebAuthOptions) {
    this.loginRequired = opts.loginRequired;
    this.now = opts.now ?? Date.now;
    this.scheme = opts.tls ? 'https' : 'http';
    this.offEnded = opts.auth.onSessionEnded((sessionId, _user, reason) => {
      this.sessionBuckets.delete(sessionId);
      const idleLockMs = this.idleLocks.get(sessionId) ?? null;
      this.idleLocks.delete(sessionId);
      const set = this.sockets.get(sessionId);
      if (!set) return;
      this.sockets.delete(sessionId);
      const text = sessionEndedText(this.opts.remote?.endMessage?.(sessionId) ?? reason, idleLockMs);
      for (const ws of set) ws.close(SESSION_ENDED_CLOSE, text);
      this.opts.log.log('info', 'Closed the live connections of an ended session', { sessionId, reason, connections: set.size });
    });
  }

  /** Answers /api/login, /api/logout, /api/session and /api/setup; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string, headers: Record<string, string>): boolean {
    const route = { '/api/login': 'POST', '/api/logout': 'POST', '/api/session': 'GET', '/api/setup': 'POST' }[pathname];
    if (route === undefined) return false;
    const json = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...extra });
      res.end(JSON.stringify(body));
    };
    if (req.method !== route) {
      json(405, { ok: false, code: 'METHOD', message: `Use ${route}` }, { Allow: route });
      return true;
    }
    if (route === 'POST') {
      // CSRF: a POST must come from this origin's pages, as JSON (a cross-site form cannot send that).
      if (!sameOrigin(req, this.scheme, false)) {
        this.opts.log.log('warn', 'Sign-in request refused: foreign origin', { origin: req.headers.origin, source: clientAddress(req) });
        json(403, { ok: false, code: 'FORBIDDEN', message: 'Requests from other sites are refused' });
        return true;
      }
      if (!isJson(req)) {
        json(415, { ok: false, code: 'BAD_REQUEST', message: 'Send JSON (Content-Type: application/json)' });
        return true;
      }
    }
    const done =
      pathname === '/api/setup'
        ? handleSetup(req, json, {
            setup: this.opts.setup,
            localClients: this.opts.localClients,
            take: () => this.takeLogin(req),
            log: this.opts.log,
          })
        : pathname === '/api/login'
          ? this.login(req, json)
          : pathname === '/api/logout'
            ? this.logout(req, json)
            : this.session(req, json);
    done.catch((err: unknown) => {
      this.opts.log.log('error', `${pathname} failed`, { error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent)
        json(500, { ok: false, code: 'INTERNAL', message: 'Sign-in failed inside the console; the details are in its log' });
    });
    return true;
  }

  /** Who a WebSocket upgrade acts as; null when login is required and there is no live session. */
  identify(req: IncomingMessage): ConnectionIdentity | null {
    const token = cookieValue(req, SESSION_COOKIE);
    // A (re)connect is no person at the page: it checks the session without extending it.
    const session = token ? this.opts.auth.resume(token) : null;
    if (!token || !session) {
      if (this.loginRequired) return null;
      const caller = this.opts.localCaller;
      return { current: () => ({ caller }) };
    }
    const sessionId = session.id;
    const idleLockMs = session.idleLockMs;
    let caller: Caller = callerOf(session);
    let checkedAt = this.now();
    const cacheMs = this.opts.resumeCacheMs ?? 1000;
    const rate = this.opts.sessionRate ?? { perS: 50, burst: 200 };
    return {
      sessionId,
      current: () => {
        const t = this.now();
        if (t - checkedAt >= cacheMs) {
          const s = this.opts.auth.resume(token);
          if (!s || s.id !== sessionId)
            return {
              close: {
                code: SESSION_ENDED_CLOSE,
                reason: sessionEndedText(this.opts.remote?.endMessage?.(sessionId) ?? 'idle-lock', idleLockMs),
              },
            };
          caller = callerOf(s);
          checkedAt = t;
        }
        return { caller };
      },
      take: () => {
        let b = this.sessionBuckets.get(sessionId);
        if (!b) {
          b = new Bucket(rate.perS, rate.burst, this.now);
          this.sessionBuckets.set(sessionId, b);
        }
        return b.take();
      },
      // A person at the page, or a change: the session stays open (and is checked right then).
      activity: () => {
        const s = this.opts.auth.activity(token);
        if (s && s.id === sessionId) {
          caller = callerOf(s);
          checkedAt = this.now();
        }
      },
      attach: (ws) => {
        this.idleLocks.set(sessionId, idleLockMs);
        let set = this.sockets.get(sessionId);
        if (!set) {
          set = new Set();
          this.sockets.set(sessionId, set);
        }
        set.add(ws);
        ws.once('close', () => {
          set.delete(ws);
          if (set.size === 0 && this.sockets.get(sessionId) === set) {
            this.sockets.delete(sessionId);
            this.idleLocks.delete(sessionId);
          }
        });
      },
    };
  }

  /**
   * Who a plain HTTP request acts as (GET /healthz): its live session's caller, else the local
   * caller when login is not required, else null. Like /api/session it never extends a session.
   */
  requestCaller(req: IncomingMessage): Caller | null {
    const token = cookieValue(req, SESSION_COOKIE);
    const s = token ? this.opts.auth.resume(token) : null;
    if (s) return callerOf(s);
    return this.loginRequired ? null : this.opts.localCaller;
  }

  /** A person did something through a plain HTTP request (a firmware upload): its session stays open. */
  requestActivity(req: IncomingMessage): void {
    const token = cookieValue(req, SESSION_COOKIE);
    if (token) this.opts.auth.activity(token);
  }

  /** Live connections per session (for tests and health). */
  connections(sessionId: string): number {
    return this.sockets.get(sessionId)?.size ?? 0;
  }

  /** Stops listening for ended sessions. */
  close(): void {
    this.offEnded();
  }

  private bucketFor(source: string): Bucket {
    let b = this.loginBuckets.get(source);
    if (!b) {
      const rate = this.opts.loginRate ?? { perMinute: 10, burst: 10 };
      b = new Bucket(rate.perMinute / 60, rate.burst, this.now);
      if (this.loginBuckets.size >= MAX_SOURCES) {
        const oldest = this.loginBuckets.keys().next().value;
        if (oldest !== undefined) this.loginBuckets.delete(oldest);
      }
      this.loginBuckets.set(source, b);
    }
    return b;
  }

  private async login(req: IncomingMessage, json: (status: number, body: unknown, extra?: Record<string, string>) => void): Promise<void> {
    const source = clientAddress(req);
    const bucket = this.bucketFor(source);
    if (!bucket.take()) {
      const retryAfterMs = bucket.retryAfterMs();
      const s = Math.max(1, Math.ceil(retryAfterMs / 1000));
      json(
        429,
        { ok: false, code: 'RATE_LIMITED', message: `Too many attempts — try again in ${s} s`, retryAfterMs },
        { 'Retry-After': String(s) },
      );
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, 8 * 1024));
    } catch {
      json(400, { ok: false, code: 'BAD_REQUEST', message: 'The sign-in request is not valid JSON' });
      return;
    }
    const b = body as { name?: unknown; password?: unknown; joinCode?: unknown } | null;
    const ok = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
    if (!b || !ok(b.name, 200) || !ok(b.password, 1024) || (b.joinCode !== undefined && !ok(b.joinCode, 32))) {
      json(400, { ok: false, code: 'BAD_REQUEST', message: 'Send {"name", "password"} (and "joinCode" for supplier support) as strings' });
      return;
    }
    const joinCode = typeof b.joinCode === 'string' && b.joinCode.trim() !== '' ? b.joinCode.trim() : undefined;
    // A join code marks a remote support login wherever it comes from; otherwise only a loopback client of a loopback-bound console is local.
    const origin = joinCode === undefined && this.opts.localClients && isLoopbackAddress(source) ? 'local' : 'remote';
    const r = await this.opts.auth.login(b.name, b.password, { key: source, origin });
    if (!r.ok) {
      const s = r.retryAfterMs ? Math.max(1, Math.ceil(r.retryAfterMs / 1000)) : 0;
      const extra: Record<string, string> = s > 0 && r.code === 'LOCKED_OUT' ? { 'Retry-After': String(s) } : {};
      json(r.code === 'LOCKED_OUT' ? 429 : 401, { ok: false, code: r.code, message: r.message, retryAfterMs: r.retryAfterMs ?? 0 }, extra);
      return;
    }
    if (r.session.role === 'supplier-support') {
      const joined = this.opts.remote?.join(r.session, joinCode, source) ?? {
        ok: false as const,
        code: 'NO_GRANT',
        message: 'Remote support is not available on this console',
      };
      if (!joined.ok) {
        this.opts.auth.endSession(r.session.id, 'logout');
        json(403, { ok: false, code: joined.code, message: joined.message });
        return;
      }
    }
    const maxAgeS = (r.session.expiresAt - this.now()) / 1000;
    json(200, { ok: true, session: sessionView(r.session) }, { 'Set-Cookie': sessionCookie(r.token, { secure: this.opts.tls, maxAgeS }) });
  }

  private async logout(req: IncomingMessage, json: (status: number, body: unknown, extra?: Record<string, string>) => void): Promise<void> {
    const token = cookieValue(req, SESSION_COOKIE);
    const ended = token ? this.opts.auth.logout(token) : false;
    json(200, { ok: true, ended }, { 'Set-Cookie': sessionCookie('', { secure: this.opts.tls, maxAgeS: 0 }) });
    return Promise.resolve();
  }

  private session(req: IncomingMessage, json: (status: number, body: unknown) => void): Promise<void> {
    const token = cookieValue(req, SESSION_COOKIE);
    // Asking who one is is no activity: it must not keep an idle session alive.
    const s = token ? this.opts.auth.resume(token) : null;
    const caller = s ? callerOf(s) : this.loginRequired ? null : this.opts.localCaller;
    const setupNeeded = setupOfferedTo(req, { setup: this.opts.setup, localClients: this.opts.localClients });
    json(200, { loginRequired: this.loginRequired, tls: this.opts.tls, session: s ? sessionView(s) : null, caller, setupNeeded });
    return Promise.resolve();
  }

  /** Takes a token of the source's sign-in bucket (first-start setup shares it). */
  private takeLogin(req: IncomingMessage): { ok: true } | { ok: false; retryAfterMs: number } {
    const bucket = this.bucketFor(clientAddress(req));
    return bucket.take() ? { ok: true } : { ok: false, retryAfterMs: bucket.retryAfterMs() };
  }
}
