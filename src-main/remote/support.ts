/**
 * Remote support sessions, only with the plant's consent (IEC 62443-3-3 SR 1.13, 4-2 CR 2.6).
 *
 * Someone on site grants a session to one supplier-support account: scope, optionally the
 * machines, and a duration (default 1 h, at most the configured maximum). The grant yields a
 * one-time join code (codes.ts) that is void after 10 minutes or 5 wrong tries. The support
 * person signs in with password and code; from then on their login session *is* the remote
 * session: when either ends (on site, time up, sign-out, idle lock, account disabled) the
 * other ends too, and the transports close its sockets at once.
 *
 * Grants live in memory: a restart of the console ends every remote session (supplier
 * sessions left in the store find no grant and are refused). The session layer knows nothing
 * of sockets, so an outbound relay could carry the same sessions later.
 */
import { randomBytes } from 'node:crypto';
import type { Caller, RemoteGrant, RemoteScope } from '../../src-preload/contract';
import { auditActor, type AuditActor, type AuditSink } from '../audit/record';
import type { SessionEndReason, SessionInfo } from '../auth/session-types';
import { ConsoleError } from '../core/errors';
import { silentLogger, type Logger } from '../core/log';
import { systemClock, type Clock } from '../core/types';
import { JoinCodes } from './codes';

/** What remote support needs of the AuthService. */
export interface RemoteAuth {
  endSession(sessionId: string, reason: SessionEndReason, by?: AuditActor): boolean;
  onSessionEnded(handler: (sessionId: string, user: string, reason: SessionEndReason) => void): () => void;
}

/** What remote support needs of the accounts. */
export interface RemoteAccounts {
  get(name: string): { name: string; role: string; disabled: boolean; hasPin: boolean } | undefined;
}

/** Options of RemoteSupport; durations in ms. */
export interface RemoteSupportOptions {
  auth: RemoteAuth;
  accounts: RemoteAccounts;
  /** Machines a grant may name. */
  hasMachine: (id: string) => boolean;
  audit?: AuditSink;
  clock?: Clock;
  log?: Logger;
  defaultDurationMs?: number;
  maxDurationMs?: number;
  codeTtlMs?: number;
  maxJoinFailures?: number;
  /** Check expiries on a timer (default true; tests call `sweep`). */
  timers?: boolean;
  sweepMs?: number;
}

/** A grant with what only the service sees. */
interface GrantRec extends RemoteGrant {
  codeHash: Buffer | null;
  failures: number;
}

/** The outcome of a join attempt (web-auth.ts answers the login with it). */
export type JoinResult =
  { ok: true; grant: RemoteGrant } | { ok: false; code: 'NO_GRANT' | 'JOIN_CODE_REQUIRED' | 'BAD_JOIN_CODE'; message: string };

const MIN = 60_000;
/** Ended grants kept for the list and the summary export. */
const KEEP_ENDED = 50;

const END_TEXT: Record<string, string> = {
  'ended-on-site': 'ended on site',
  'time-up': 'the granted time is over',
  'signed-out': 'the support person signed out',
  'account-disabled': 'the support account was disabled',
  'code-expired': 'the join code expired unused',
  'too-many-codes': 'too many wrong join codes',
  replaced: 'replaced by a new grant',
  'session-ended': 'the sign-in session ended',
};

/** Grants, join codes and the live remote sessions. */
export class RemoteSupport {
  readonly defaultDurationMs: number;
  readonly maxDurationMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly codes = new JoinCodes();
  private readonly grants = new Map<string, GrantRec>();
  private readonly handlers = new Set<() => void>();
  private readonly endTexts = new Map<string, string>();
  private readonly endHandlers = new Set<(grant: RemoteGrant) => void>();
  private readonly offEnded: () => void;
  private readonly timer: ReturnType<typeof setInterval> | null;

  constructor(private readonly opts: RemoteSupportOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.defaultDurationMs = opts.defaultDurationMs ?? 60 * MIN;
    this.maxDurationMs = opts.maxDurationMs ?? 4 * 60 * MIN;
    // A remote session ends with the login session behind it, whatever ended that.
    this.offEnded = opts.auth.onSessionEnded((sessionId, _user, reason) => {
      const g = [...this.grants.values()].find((x) => x.state === 'live' && x.sessionId === sessionId);
      if (!g) return;
      const why = reason === 'logout' ? 'signed-out' : reason === 'account-disabled' ? 'account-disabled' : 'session-ended';
      this.finish(g, why, {}, false);
    });
    if (opts.timers !== false) {
      this.timer = setInterval(() => this.sweep(), opts.sweepMs ?? 250);
      this.timer.unref?.();
    } else this.timer = null;
  }

  /** Grants a session to a supplier-support account; returns the grant and its join code (shown once, never stored). */
  grant(
    by: Caller,
    req: { account: string; scope: RemoteScope; machines?: string[]; durationMin?: number },
  ): { grant: RemoteGrant; joinCode: string } {
    const account = this.opts.accounts.get(req.account.trim().toLowerCase());
    if (!account || account.role !== 'supplier-support')
      throw new ConsoleError('BAD_REQUEST', `"${req.account}" is not a supplier-support account of this console`);
    if (account.disabled) throw new ConsoleError('BAD_REQUEST', `The account "${account.name}" is disabled`);
    const durationMs = req.durationMin === undefined ? this.defaultDurationMs : req.durationMin * MIN;
    if (durationMs > this.maxDurationMs) {
      throw new ConsoleError(
        'BAD_REQUEST',
        `A session may last at most ${Math.round(this.maxDurationMs / MIN)} min on this plant (asked: ${req.durationMin ?? 0} min)`,
      );
    }
    const machines = req.machines ? [...new Set(req.machines)] : null;
    for (const m of machines ?? []) if (!this.opts.hasMachine(m)) throw new ConsoleError('BAD_REQUEST', `No machine "${m}" in this plant`);
    for (const g of this.grants.values()) {
      if (g.account !== account.name || g.state === 'ended') continue;
      if (g.state === 'live')
        throw new ConsoleError('BAD_REQUEST', `${account.name} is in a live session already: end it before granting another`);
      this.finish(g, 'replaced', auditActor(by), true);
    }
    const now = this.clock.now();
    const joinCode = this.codes.create();
    const g: GrantRec = {
      id: randomBytes(8).toString('hex'),
      account: account.name,
      scope: req.scope,
      machines,
      durationMs,
      createdAt: now,
      createdBy: by.user,
      codeExpiresAt: now + (this.opts.codeTtlMs ?? 10 * MIN),
      state: 'waiting',
      sessionId: null,
      joinedAt: null,
      endsAt: null,
      page: null,
      endedAt: null,
      endReason: null,
      codeHash: this.codes.hash(joinCode),
      failures: 0,
    };
    this.grants.set(g.id, g);
    this.opts.audit?.record({
      kind: 'remote_grant',
      ...auditActor(by),
      detail: { grantId: g.id, account: g.account, scope: g.scope, machines: g.machines, durationMs, codeExpiresAt: g.codeExpiresAt },
    });
    this.log.log('info', `Remote support granted to ${g.account} (${g.scope}, ${Math.round(durationMs / MIN)} min) by ${by.user}`, {
      grantId: g.id,
    });
    this.changed();
    return { grant: this.view(g), joinCode };
  }

  /** Binds a supplier-support login to its waiting grant when the join code matches. */
  join(session: SessionInfo, joinCode: string | undefined, source: string): JoinResult {
    const now = this.clock.now();
    this.sweep();
    const waiting = [...this.grants.values()].find((g) => g.account === session.user && g.state === 'waiting' && g.codeHash !== null);
    const actor: AuditActor = { user: session.user, role: session.role, origin: session.origin, sessionId: session.id };
    const refuse = (code: 'NO_GRANT' | 'JOIN_CODE_REQUIRED' | 'BAD_JOIN_CODE', message: string, grantId: string | null): JoinResult => {
      this.opts.audit?.record({ kind: 'remote_join', ...actor, detail: { ok: false, reason: code, grantId, source } });
      return { ok: false, code, message };
    };
    if (!waiting)
      return refuse(
        'NO_GRANT',
        'No remote session is granted to this account now: the person on site grants one and reads you its join code',
        null,
      );
    if (joinCode === undefined) return refuse('JOIN_CODE_REQUIRED', 'Enter the join code the person on site read out to you', waiting.id);
    if (!this.codes.matches(waiting.codeHash!, joinCode)) {
      waiting.failures++;
      if (waiting.failures >= (this.opts.maxJoinFailures ?? 5)) {
        this.finish(waiting, 'too-many-codes', actor, true);
        return refuse('BAD_JOIN_CODE', 'Wrong join code, too often: the grant is void. Ask the person on site for a new one', waiting.id);
      }
      return refuse('BAD_JOIN_CODE', 'Wrong join code', waiting.id);
    }
    waiting.codeHash = null;
    waiting.state = 'live';
    waiting.sessionId = session.id;
    waiting.joinedAt = now;
    waiting.endsAt = Math.min(now + waiting.durationMs, session.expiresAt);
    this.opts.audit?.record({
      kind: 'remote_join',
      ...actor,
      detail: { ok: true, grantId: waiting.id, scope: waiting.scope, source, endsAt: waiting.endsAt },
    });
    this.log.log('info', `Remote support session started: ${session.user} (${waiting.scope})`, {
      grantId: waiting.id,
      sessionId: session.id,
    });
    this.changed();
    return { ok: true, grant: this.view(waiting) };
  }

  /** Ends a grant (waiting or live) by someone on site; NOT_FOUND for an unknown one. */
  end(grantId: string, by: Caller): RemoteGrant {
    const g = this.grants.get(grantId);
    if (!g) throw new ConsoleError('NOT_FOUND', `No remote session "${grantId}"`);
    if (g.state !== 'ended') this.finish(g, 'ended-on-site', auditActor(by), true);
    return this.view(g);
  }

  /** The live grant of a supplier-support caller, or undefined. */
  liveGrantOf(caller: { sessionId?: string | undefined }): RemoteGrant | undefined {
    if (!caller.sessionId) return undefined;
    const g = [...this.grants.values()].find((x) => x.state === 'live' && x.sessionId === caller.sessionId);
    return g && this.view(g);
  }

  /** One grant by id. */
  get(grantId: string): RemoteGrant | undefined {
    const g = this.grants.get(grantId);
    return g && this.view(g);
  }

  /** Every grant, newest first. */
  list(): RemoteGrant[] {
    return [...this.grants.values()].sort((a, b) => b.createdAt - a.createdAt).map((g) => this.view(g));
  }

  /** Records the page the remote person has open (audited when it changes). */
  reportPage(caller: Caller, page: string): string {
    const g = [...this.grants.values()].find((x) => x.state === 'live' && x.sessionId === caller.sessionId);
    if (!g) throw new ConsoleError('FORBIDDEN', 'No live remote session');
    if (g.page !== page) {
      g.page = page;
      this.opts.audit?.record({ kind: 'remote_action', ...auditActor(caller), detail: { grantId: g.id, action: 'view', page } });
      this.changed();
    }
    return page;
  }

  /** Why a remote session ended, for the socket's close reason; null when it is not one. */
  endMessage(sessionId: string): string | null {
    return this.endTexts.get(sessionId) ?? null;
  }

  /** Calls `handler` after every change of a grant; returns the unsubscribe. */
  onChange(handler: () => void): () => void {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  /** Calls `handler` when a grant ends (requests.ts expires its pending requests). */
  onEnd(handler: (grant: RemoteGrant) => void): () => void {
    this.endHandlers.add(handler);
    return () => void this.endHandlers.delete(handler);
  }

  /** Tells listeners something changed (requests.ts shares the update stream). */
  changed(): void {
    for (const h of [...this.handlers]) {
      try {
        h();
      } catch (err) {
        this.log.log('warn', 'A remote update handler threw', { error: String(err) });
      }
    }
  }

  /** Ends grants whose code or time ran out; returns how many ended. */
  sweep(): number {
    const now = this.clock.now();
    let n = 0;
    for (const g of [...this.grants.values()]) {
      if (g.state === 'waiting' && now >= g.codeExpiresAt) {
        this.finish(g, 'code-expired', {}, true);
        n++;
      } else if (g.state === 'live' && g.endsAt !== null && now >= g.endsAt) {
        this.finish(g, 'time-up', {}, true);
        n++;
      }
    }
    return n;
  }

  /** Ends every live session (console shutdown) and stops the timer. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const g of [...this.grants.values()]) if (g.state !== 'ended') this.finish(g, 'session-ended', {}, true, 'shutdown');
    this.offEnded();
  }

  private finish(g: GrantRec, why: string, by: AuditActor, endLogin: boolean, loginReason?: SessionEndReason): void {
    if (g.state === 'ended') return;
    const now = this.clock.now();
    const wasLive = g.state === 'live';
    g.state = 'ended';
    g.codeHash = null;
    g.endedAt = now;
    g.endReason = END_TEXT[why] ?? why;
    const text = by.user ? `${g.endReason} by ${by.user}` : g.endReason;
    this.opts.audit?.record({
      kind: 'remote_end',
      ...by,
      // The remote session's id, so the session's records group together; who ended it is `user`.
      sessionId: g.sessionId,
      detail: {
        grantId: g.id,
        account: g.account,
        reason: why,
        wasLive,
        durationMs: g.joinedAt === null ? 0 : now - g.joinedAt,
        ...(by.sessionId ? { bySession: by.sessionId } : {}),
      },
    });
    this.log.log('info', `Remote support ${wasLive ? 'session' : 'grant'} of ${g.account} ended: ${text}`, { grantId: g.id });
    if (wasLive && g.sessionId !== null) {
      this.endTexts.set(g.sessionId, text);
      if (this.endTexts.size > KEEP_ENDED) this.endTexts.delete(this.endTexts.keys().next().value!);
      if (endLogin) this.opts.auth.endSession(g.sessionId, loginReason ?? (why === 'time-up' ? 'absolute-limit' : 'ended-by-site'), by);
    }
    for (const h of [...this.endHandlers]) h(this.view(g));
    this.trim();
    this.changed();
  }

  private trim(): void {
    const ended = [...this.grants.values()].filter((g) => g.state === 'ended').sort((a, b) => a.createdAt - b.createdAt);
    for (const g of ended.slice(0, Math.max(0, ended.length - KEEP_ENDED))) this.grants.delete(g.id);
  }

  private view(g: GrantRec): RemoteGrant {
    const { codeHash: _h, failures: _f, ...rest } = g;
    return { ...rest, machines: rest.machines ? [...rest.machines] : null };
  }
}
