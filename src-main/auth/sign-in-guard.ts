/**
 * What stands between a guess and a password check (IEC 62443-4-2 CR 1.11, NIST SP 800-63B
 * §5.2.2), for AuthService:
 *
 * - Locks are per source **and** account: five wrong passwords for `admin` from 10.0.0.7 lock
 *   `admin` from 10.0.0.7 only, so the panel beside the machines (source `local`) stays usable
 *   for the admin while a network source is locked out. A remote source is also locked as a
 *   whole after `maxSourceFailures` (it tries many names); the local console's source only
 *   delays unless `lockLocalSource`. An account tried from many network sources locks for the
 *   network after `maxNetworkFailures`, never at the local panel.
 * - The delay is real: the answer to the f-th consecutive failure leaves no sooner than
 *   1, 2, 4, 8… s after its request arrived, whatever the password check took.
 * - Attempts from one source run one at a time (a short queue; more at once are refused), so
 *   parallel guesses wait for each other's delay, and two correct sign-ins at the same moment
 *   both succeed: nothing counts as a failure before it has failed.
 * - Counters and lockouts live in the store (throttle-sql.ts): a restart keeps them; an admin
 *   lists and lifts them (`auth.lockouts`, `auth.unlock`, `plant-console user unlock`), audited
 *   as `lockout` and `lockout_lifted`.
 */
import type { AuditActor, AuditSink } from '../audit/record';
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import type { LoginSource } from './session-types';
import { isExpired, Throttle, type ThrottleEntry, type ThrottleLabels, type ThrottleScope, type ThrottleTable } from './throttle';

/** How long failures count and locks last, the delays, and the limits of each scope. */
export interface SignInGuardPolicy {
  maxFailures: number;
  maxSourceFailures: number;
  maxNetworkFailures: number;
  lockoutMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  lockLocalSource: boolean;
  /** Attempts from one source waiting for their turn before more are refused. */
  maxQueued: number;
}

/** The defaults: 5 failures lock, for 15 min; delays 1, 2, 4… s up to a minute; 20 from the network lock an account there. */
export const DEFAULT_GUARD_POLICY: SignInGuardPolicy = Object.freeze({
  maxFailures: 5,
  maxSourceFailures: 5,
  maxNetworkFailures: 20,
  lockoutMs: 15 * 60_000,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  lockLocalSource: false,
  maxQueued: 8,
});

/** The defaults with the options that are given. */
export function guardPolicy(opts: { [K in keyof SignInGuardPolicy]?: SignInGuardPolicy[K] | undefined }): SignInGuardPolicy {
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_GUARD_POLICY, ...given };
}

/** "Too many failed sign-ins: try again in 40 s" (or in minutes, for a lockout). */
export function lockedWords(what: 'sign-ins' | 'wrong PINs', ms: number): string {
  const head = what === 'sign-ins' ? 'Too many failed sign-ins' : 'Too many wrong PINs';
  return ms > 90_000 ? `${head}: locked for ${Math.ceil(ms / 60_000)} min` : `${head}: try again in ${Math.ceil(ms / 1000)} s`;
}

/** A lockout as an admin sees it. */
export interface Lockout {
  /** What `unlock` takes. */
  id: string;
  scope: ThrottleScope;
  user: string | null;
  source: string | null;
  origin: 'local' | 'remote' | null;
  failures: number;
  lockedAt: number;
  lockedUntil: number;
}

/** What a failed attempt did. */
export interface GuardFailure {
  failures: number;
  delayMs: number;
  /** The scopes it locked now, with their end. */
  locked: { scope: ThrottleScope; until: number }[];
}

/** The outcome of waiting for one's turn: the turn ran, or too many were queued. */
export type Turn<T> = { ran: true; value: T } | { ran: false };

const keys = {
  account: (s: LoginSource, user: string) => `account|${s.origin}|${s.key}|${user}`,
  source: (s: LoginSource) => `source|${s.origin}|${s.key}`,
  network: (user: string) => `network|${user}`,
  pin: (user: string) => `pin|${user}`,
};

/** Sign-in throttling with persisted lockouts. */
export class SignInGuard {
  private readonly account: Throttle;
  private readonly source: Throttle;
  private readonly network: Throttle;
  private readonly pin: Throttle;
  private readonly queues = new Map<string, { tail: Promise<unknown>; waiting: number }>();

  constructor(
    private readonly table: ThrottleTable,
    private readonly policy: SignInGuardPolicy,
    private readonly o: { clock: Clock; audit?: AuditSink | undefined; log: Logger; sleep?: (ms: number) => Promise<void> },
  ) {
    const delays = { baseDelayMs: policy.baseDelayMs, maxDelayMs: policy.maxDelayMs, lockoutMs: policy.lockoutMs };
    this.account = new Throttle({ ...delays, maxFailures: policy.maxFailures }, o.clock, table);
    this.source = new Throttle({ ...delays, maxFailures: policy.maxSourceFailures }, o.clock, table);
    // Distributed guessing only locks; delaying every network source for it would slow the plant's own people.
    this.network = new Throttle({ ...delays, baseDelayMs: 0, maxFailures: policy.maxNetworkFailures }, o.clock, table);
    this.pin = new Throttle({ ...delays, maxFailures: policy.maxFailures }, o.clock, table);
  }

  /** Runs `fn` when earlier attempts of `queue` are done; refuses when too many wait already. */
  async turn<T>(queue: string, fn: () => Promise<T>): Promise<Turn<T>> {
    const q = this.queues.get(queue) ?? { tail: Promise.resolve(), waiting: 0 };
    if (q.waiting >= this.policy.maxQueued) return { ran: false };
    q.waiting++;
    this.queues.set(queue, q);
    const run = q.tail.then(fn, fn);
    q.tail = run.catch(() => undefined);
    try {
      return { ran: true, value: await run };
    } finally {
      q.waiting--;
      if (q.waiting === 0 && this.queues.get(queue) === q) this.queues.delete(queue);
    }
  }

  /** The queue a sign-in from `source` waits in. */
  queueOf(source: LoginSource): string {
    return keys.source(source);
  }

  /** Ms until `user` may sign in from `source` again, or 0 when nothing is locked. */
  lockedFor(user: string, source: LoginSource): number {
    const until = [
      this.account.lockedUntil(keys.account(source, user)),
      this.source.lockedUntil(keys.source(source)),
      source.origin === 'remote' ? this.network.lockedUntil(keys.network(user)) : null,
    ].filter((t): t is number => t !== null);
    return until.length === 0 ? 0 : Math.max(...until) - this.o.clock.now();
  }

  /** Counts a failed sign-in of `user` (as typed; `auditName` as it may be logged) from `source`; audits lockouts it starts. */
  failed(user: string, auditName: string | null, source: LoginSource): GuardFailure {
    const labels = (scope: ThrottleScope): ThrottleLabels => ({
      scope,
      user: scope === 'source' ? null : auditName,
      source: scope === 'network' ? null : source.key,
      origin: source.origin,
    });
    const a = this.account.fail(keys.account(source, user), labels('account'));
    const s = this.source.fail(keys.source(source), labels('source'), source.origin === 'remote' || this.policy.lockLocalSource);
    const n = source.origin === 'remote' ? this.network.fail(keys.network(user), labels('network')) : null;
    const locked: GuardFailure['locked'] = [];
    for (const [scope, f] of [
      ['account', a],
      ['source', s],
      ['network', n],
    ] as const) {
      const until = f?.lockedUntil ?? null;
      if (until === null) continue;
      locked.push({ scope, until });
      this.o.audit?.record({
        kind: 'lockout',
        user: scope === 'source' ? null : auditName,
        origin: source.origin,
        detail: { scope, source: scope === 'network' ? null : source.key, until, failures: f?.failures ?? 0 },
      });
      this.o.log.log('warn', `Sign-in locked for the ${scope} after repeated failures`, {
        scope,
        source: source.key,
        until: new Date(until).toISOString(),
      });
    }
    return { failures: Math.max(a.failures, s.failures), delayMs: Math.max(a.delayMs, s.delayMs), locked };
  }

  /** A good sign-in: the account's and the source's failures are forgotten. */
  succeeded(user: string, source: LoginSource): void {
    this.account.succeeded(keys.account(source, user));
    this.source.succeeded(keys.source(source));
  }

  /** The queue and lock of `user`'s PIN. */
  pinQueue(user: string): string {
    return keys.pin(user);
  }

  pinLockedFor(user: string): number {
    const until = this.pin.lockedUntil(keys.pin(user));
    return until === null ? 0 : until - this.o.clock.now();
  }

  /** Counts a wrong PIN; audits the lockout it starts. */
  pinFailed(user: string): GuardFailure {
    const f = this.pin.fail(keys.pin(user), { scope: 'pin', user, source: null, origin: null });
    if (f.lockedUntil !== null)
      this.o.audit?.record({ kind: 'lockout', user, detail: { scope: 'pin', until: f.lockedUntil, failures: f.failures } });
    return { failures: f.failures, delayMs: f.delayMs, locked: f.lockedUntil === null ? [] : [{ scope: 'pin', until: f.lockedUntil }] };
  }

  pinSucceeded(user: string): void {
    this.pin.succeeded(keys.pin(user));
  }

  /** Holds an answer until `delayMs` after its request arrived (a check that took longer waits no more). */
  async hold(requestAt: number, delayMs: number): Promise<void> {
    const wait = requestAt + delayMs - this.o.clock.now();
    if (wait <= 0) return;
    await (this.o.sleep ?? defaultSleep)(wait);
  }

  /** Every lockout in force, soonest end first. */
  lockouts(): Lockout[] {
    const now = this.o.clock.now();
    return this.table
      .all()
      .filter((e) => e.lockedUntil !== null && !isExpired(e, now, this.policy.lockoutMs))
      .map(lockoutOf)
      .sort((a, b) => a.lockedUntil - b.lockedUntil);
  }

  /** Lifts one lockout by id, audited with who did it; null when it was not in force. */
  unlock(id: string, by: AuditActor): Lockout | null {
    const found = this.lockouts().find((l) => l.id === id) ?? null;
    if (found && this.table.delete(id)) this.lifted(found, by);
    return found;
  }

  /** Lifts every lockout of an account (from every source, its PIN included), or of a source; returns those lifted. */
  unlockWhere(match: { user?: string; source?: string }, by: AuditActor): Lockout[] {
    const lifted = this.lockouts().filter(
      (l) => (match.user === undefined || l.user === match.user) && (match.source === undefined || l.source === match.source),
    );
    for (const l of lifted) if (this.table.delete(l.id)) this.lifted(l, by);
    return lifted;
  }

  private lifted(l: Lockout, by: AuditActor): void {
    this.o.audit?.record({
      kind: 'lockout_lifted',
      ...by,
      detail: { scope: l.scope, account: l.user, source: l.source, lockedAt: l.lockedAt, until: l.lockedUntil },
    });
    this.o.log.log('info', `Sign-in lockout lifted (${l.scope})`, { account: l.user, source: l.source, by: by.user ?? null });
  }
}

function lockoutOf(e: ThrottleEntry): Lockout {
  return {
    id: e.key,
    scope: e.scope,
    user: e.user,
    source: e.source,
    origin: e.origin,
    failures: e.failures,
    lockedAt: e.lockedAt ?? e.lastFailureAt,
    lockedUntil: e.lockedUntil ?? 0,
  };
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
