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
 * Grants survive a restart when there is a store (grant-store.ts); support-types.ts has the
 * restart rule. Without a store (tests, tools) grants live in memory and `close` ends them all.
 *
 * The session layer knows nothing of sockets, so an outbound relay could carry the same
 * sessions later.
 */
import { randomBytes } from 'node:crypto';
import type { Caller, RemoteGrant, RemoteScope } from '../../src-preload/contract';
import { auditActor, type AuditActor } from '../audit/record';
import type { SessionEndReason, SessionInfo } from '../auth/session-types';
import { ConsoleError } from '../core/errors';
import { silentLogger, type Logger } from '../core/log';
import { systemClock, type Clock } from '../core/types';
import { JoinCodes } from './codes';
import type { RemotePersistence, StoredGrant } from './grant-store';
import { END_TEXT, INTERRUPT_TEXT, KEEP_ENDED, type GrantRec, type JoinResult, type RemoteSupportOptions } from './support-types';

export type { JoinResult, RemoteAccounts, RemoteAuth, RemoteSupportOptions } from './support-types';

const MIN = 60_000;

/** Grants, join codes and the live remote sessions. */
export class RemoteSupport {
  readonly defaultDurationMs: number;
  readonly maxDurationMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly codes: JoinCodes;
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
    this.codes = new JoinCodes(opts.store?.joinCodeKey());
    // A remote session ends with the login session behind it, whatever ended that.
    this.offEnded = opts.auth.onSessionEnded((sessionId, _user, reason) => {
      const g = [...this.grants.values()].find((x) => x.state === 'live' && x.sessionId === sessionId);
      if (!g) return;
      const why = reason === 'logout' ? 'signed-out' : reason === 'account-disabled' ? 'account-disabled' : 'session-ended';
      this.finish(g, why, {}, false);
    });
    if (opts.store) this.restore(opts.store);
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
      // A session cut off by a restart has nobody in it: granting again is how the person re-joins.
      if (g.state === 'live' && g.sessionId !== null)
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
    // A grant the console could not keep over a restart is not handed out.
    this.opts.store?.saveGrant(this.stored(g));
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
    if (!waiting) {
      const cut = [...this.grants.values()].find((g) => g.account === session.user && g.state === 'live' && g.sessionId === null);
      return refuse(
        'NO_GRANT',
        cut
          ? 'Your remote session was cut off when the console stopped: the person on site grants it again and reads you a new join code'
          : 'No remote session is granted to this account now: the person on site grants one and reads you its join code',
        cut?.id ?? null,
      );
    }
    if (joinCode === undefined) return refuse('JOIN_CODE_REQUIRED', 'Enter the join code the person on site read out to you', waiting.id);
    if (!this.codes.matches(waiting.codeHash!, joinCode)) {
      waiting.failures++;
      this.persist(waiting);
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
    this.persist(waiting);
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
      this.persist(g);
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

  /**
   * Console shutdown: stops the timer and cuts every live session off. With a store the grants
   * stay (the restart rule above); without one they end.
   */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const g of [...this.grants.values()]) {
      if (g.state === 'ended') continue;
      if (!this.opts.store) this.finish(g, 'session-ended', {}, true, 'shutdown');
      else if (g.state === 'live' && g.sessionId !== null) this.interrupt(g, 'console-stopped');
    }
    this.offEnded();
  }

  /** Brings the stored grants back at start (the restart rule above). */
  private restore(store: RemotePersistence): void {
    for (const s of store.loadGrants()) this.grants.set(s.grant.id, { ...s.grant, codeHash: s.codeHash, failures: s.failures });
    for (const g of [...this.grants.values()]) {
      if (g.state === 'ended') continue;
      // The CLI may have disabled the account while the console was down.
      const acc = this.opts.accounts.get(g.account);
      if (!acc || acc.disabled || acc.role !== 'supplier-support') this.finish(g, 'account-disabled', {}, true);
    }
    this.sweep();
    // Left live by a console that did not stop cleanly: the sign-in ends, the grant stays.
    for (const g of [...this.grants.values()]) if (g.state === 'live' && g.sessionId !== null) this.interrupt(g, 'console-restarted');
    this.trim();
  }

  /** Cuts a live session off without ending its grant: the sign-in ends, and that is audited. */
  private interrupt(g: GrantRec, why: keyof typeof INTERRUPT_TEXT): void {
    const sessionId = g.sessionId;
    const text = INTERRUPT_TEXT[why];
    // Cleared first: the session-ended handler must not take this for the end of the grant.
    g.sessionId = null;
    g.page = null;
    this.opts.audit?.record({
      kind: 'remote_action',
      sessionId,
      detail: { grantId: g.id, action: 'interrupted', account: g.account, reason: text, endsAt: g.endsAt },
    });
    this.log.log('info', `Remote support session of ${g.account} cut off: ${text}`, { grantId: g.id });
    if (sessionId !== null) {
      this.endTexts.set(sessionId, text);
      this.opts.auth.endSession(sessionId, 'shutdown');
    }
    this.persist(g);
    this.changed();
  }

  private finish(g: GrantRec, why: string, by: AuditActor, endLogin: boolean, loginReason?: SessionEndReason): void {
    if (g.state === 'ended') return;
    const now = this.clock.now();
    const wasLive = g.state === 'live';
    g.state = 'ended';
    g.codeHash = null;
    g.endedAt = now;
    g.endReason = END_TEXT[why] ?? why;
    this.persist(g);
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
    const drop = ended.slice(0, Math.max(0, ended.length - KEEP_ENDED));
    for (const g of drop) this.grants.delete(g.id);
    if (drop.length > 0 && this.opts.store) {
      try {
        this.opts.store.removeGrants(drop.map((g) => g.id));
      } catch (err) {
        this.log.log('warn', 'Old remote support grants could not be removed from the store', { error: String(err) });
      }
    }
  }

  /** Saves a grant's state; a failure is logged (the grant works on, but may come back wrong after a restart). */
  private persist(g: GrantRec): void {
    if (!this.opts.store) return;
    try {
      this.opts.store.saveGrant(this.stored(g));
    } catch (err) {
      this.log.log('error', 'A remote support grant could not be saved: after a restart it may come back as it was before', {
        grantId: g.id,
        state: g.state,
        error: String(err),
      });
    }
  }

  private stored(g: GrantRec): StoredGrant {
    return { grant: this.view(g), codeHash: g.codeHash, failures: g.failures };
  }

  private view(g: GrantRec): RemoteGrant {
    const { codeHash: _h, failures: _f, ...rest } = g;
    return { ...rest, machines: rest.machines ? [...rest.machines] : null };
  }
}
