/**
 * Signing in and sessions (IEC 62443-4-2 CR 1.1, 1.11, 2.5, 2.6).
 *
 * - Tokens are 32 random bytes (base64url) handed to the client once; the store keeps only
 *   BLAKE2b-256("plant-console/session-token/v1\0" ‖ token). A session also has a public id
 *   (hex), which is what the audit log and the transports name.
 * - A session ends on logout, after `idleLockMs` without activity (per origin; default 15 min),
 *   at its absolute limit (default 12 h), when its account is disabled, its password reset or
 *   its role changed, or when someone ends it. `onSessionEnded` tells transports at once, so
 *   they can close live sockets; `sweep` (on a timer) finds the idle and expired ones.
 * - Activity means a person: input reported by the UI (`activity`), or a command that changes
 *   something (session-types.ts isActivityCommand). Checking a session (`resume`) never
 *   extends it, so trend refreshes and event streams cannot keep an abandoned panel open.
 * - Unsuccessful logins are throttled per source and account name (known or not, so a lockout
 *   says nothing about which names exist), per source, and per account over the network, with
 *   lockouts kept in the store and lifted by an admin (sign-in-guard.ts); an unknown name costs
 *   the same Argon2id verification as a known one. Attempts refused while a lockout runs are not
 *   checked and not audited one by one (a brute force would flood the log); every checked
 *   failure, every lockout and every lifted lockout is.
 */
import type { Role } from '../../src-preload/contract';
import type { AuditActor, AuditSink } from '../audit/record';
import { silentLogger, type Logger } from '../core/log';
import { systemClock, type Clock } from '../core/types';
import { randomBytes } from '../protocol/sodium';
import type { StoreDb } from '../store/schema';
import { normalizeUserName, userNameProblem, type AccountStore } from './accounts';
import { dummyVerify, needsRehash, verifySecret } from './passwords';
import { SessionTable, type StoredSession } from './session-table';
import {
  sessionTokenHash,
  TOKEN_BYTES,
  type LoginResult,
  type LoginSource,
  type PinResult,
  type SessionEndedHandler,
  type SessionEndReason,
  type SessionInfo,
} from './session-types';
import { guardPolicy, lockedWords, SignInGuard, type Lockout } from './sign-in-guard';
import type { ThrottleTable } from './throttle';
import { SqlThrottleTable } from './throttle-sql';

/** Options of the AuthService; every duration in ms. */
export interface AuthServiceOptions {
  audit?: AuditSink;
  clock?: Clock;
  log?: Logger;
  /** Inactivity that ends a session, per origin (default 15 min each; null: never). */
  idleLockMs?: { local?: number | null; remote?: number | null };
  /** The longest any session lives (default 12 h). */
  absoluteMs?: number;
  /** Failures from one source that lock an account name there (default 5); also the PIN's limit. */
  maxFailures?: number;
  /** Failures that lock a remote source, whatever names it tries (default 5). */
  maxSourceFailures?: number;
  /** Failures of one account from all network sources together that lock it for the network, never locally (default 20). */
  maxNetworkFailures?: number;
  /** How long a lockout lasts, and how long failures are remembered (default 15 min). */
  lockoutMs?: number;
  /** Delay after the first failure, doubling (default 1 s), up to `maxDelayMs` (default 60 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * Lock the local console's source too (default false): a mistyping operator must not lock
   * every account out of the panel beside the machines; accounts still lock, sources delay.
   */
  lockLocalSource?: boolean;
  /** Where failure counters and lockouts live (default: the store's login_throttle table). */
  throttleTable?: ThrottleTable;
  /** How a failed attempt's answer waits (tests advance a fake clock). */
  sleep?: (ms: number) => Promise<void>;
  /** Sweep for idle and expired sessions on a timer (default true; tests call `sweep`). */
  timers?: boolean;
  sweepMs?: number;
}

export { callerOf, isActivityCommand, sessionTokenHash } from './session-types';
export type { LoginResult, LoginSource, PinResult, SessionEndedHandler, SessionEndReason, SessionInfo } from './session-types';
export type { Lockout } from './sign-in-guard';

const MIN = 60_000;
/** Names longer than any account name are cut for counting and audit. */
const MAX_NAME = 64;

/** Accounts signing in, their sessions, and the throttling of failures. */
export class AuthService {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly audit: AuditSink | undefined;
  private readonly idle: { local: number | null; remote: number | null };
  private readonly absoluteMs: number;
  private readonly guard: SignInGuard;
  private readonly table: SessionTable;
  private readonly handlers = new Set<SessionEndedHandler>();
  private readonly timer: ReturnType<typeof setInterval> | null;
  private readonly offAccounts: () => void;
  private refused = 0;

  constructor(
    db: StoreDb,
    private readonly accounts: AccountStore,
    opts: AuthServiceOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.audit = opts.audit;
    this.idle = {
      local: opts.idleLockMs?.local === undefined ? 15 * MIN : opts.idleLockMs.local,
      remote: opts.idleLockMs?.remote === undefined ? 15 * MIN : opts.idleLockMs.remote,
    };
    this.absoluteMs = opts.absoluteMs ?? 12 * 60 * MIN;
    this.guard = new SignInGuard(
      opts.throttleTable ?? new SqlThrottleTable(db),
      guardPolicy({
        maxFailures: opts.maxFailures,
        maxSourceFailures: opts.maxSourceFailures,
        maxNetworkFailures: opts.maxNetworkFailures,
        lockoutMs: opts.lockoutMs,
        baseDelayMs: opts.baseDelayMs,
        maxDelayMs: opts.maxDelayMs,
        lockLocalSource: opts.lockLocalSource,
      }),
      { clock: this.clock, audit: this.audit, log: this.log, ...(opts.sleep ? { sleep: opts.sleep } : {}) },
    );
    this.table = new SessionTable(db, this.clock);
    this.offAccounts = accounts.onChange((c) => {
      if (c.kind === 'disabled') this.endSessionsOf(c.name, 'account-disabled');
      if (c.kind === 'password-reset') this.endSessionsOf(c.name, 'password-reset');
    });
    if (opts.timers !== false) {
      this.timer = setInterval(() => this.sweep(), opts.sweepMs ?? 5000);
      this.timer.unref?.();
    } else this.timer = null;
  }

  /**
   * Checks a name and password from `source`; on success opens a session and returns its token
   * (shown once). A failure is answered no sooner than its delay after the request arrived.
   */
  async login(name: string, password: string, source: LoginSource): Promise<LoginResult> {
    const requestAt = this.clock.now();
    const user = normalizeUserName(name).slice(0, MAX_NAME);
    const turn = await this.guard.turn(this.guard.queueOf(source), () => this.loginNow(user, password, source, requestAt));
    if (turn.ran) return turn.value;
    this.refused++;
    return {
      ok: false,
      code: 'LOCKED_OUT',
      message: 'Too many sign-ins at once from here: try again in a few seconds',
      retryAfterMs: 2000,
    };
  }

  private async loginNow(user: string, password: string, source: LoginSource, requestAt: number): Promise<LoginResult> {
    const lockedMs = this.guard.lockedFor(user, source);
    if (lockedMs > 0) {
      this.refused++;
      return { ok: false, code: 'LOCKED_OUT', message: lockedWords('sign-ins', lockedMs), retryAfterMs: lockedMs };
    }
    const secrets = this.accounts.secrets(user);
    const good = secrets ? await verifySecret(secrets.passwordHash, password) : await dummyVerify(password, this.accounts.hashParams);
    if (good && secrets && !secrets.account.disabled) {
      this.guard.succeeded(user, source);
      const { token, info } = this.open(secrets.account.name, secrets.account.role, source);
      this.audit?.record({
        kind: 'login',
        user: info.user,
        role: info.role,
        origin: info.origin,
        sessionId: info.id,
        detail: { source: source.key },
      });
      if (needsRehash(secrets.passwordHash, this.accounts.hashParams)) {
        void this.accounts.upgradeHash(user, secrets.passwordHash, password).catch((err: unknown) => {
          this.log.log('warn', 'A password hash could not be upgraded to the current cost', { user, error: String(err) });
        });
      }
      return { ok: true, token, session: info };
    }

    const disabled = good && secrets !== undefined;
    const reason = !secrets ? 'unknown-user' : disabled ? 'disabled' : 'bad-password';
    // An unknown name is recorded only when it could be a name: a password typed into the name field must not land in the log.
    const auditName = secrets || userNameProblem(user) === null ? user : null;
    const failure = this.guard.failed(user, auditName, source);
    this.audit?.record({
      kind: 'login_failed',
      user: auditName,
      origin: source.origin,
      detail: { source: source.key, reason, failures: failure.failures },
    });
    // The delay counts from the request: the password check's own time is part of it, not added to it.
    await this.guard.hold(requestAt, failure.delayMs);
    if (failure.locked.length > 0) {
      const until = Math.max(...failure.locked.map((l) => l.until));
      const retryAfterMs = Math.max(0, until - this.clock.now());
      return { ok: false, code: 'LOCKED_OUT', message: lockedWords('sign-ins', retryAfterMs), retryAfterMs };
    }
    if (disabled) return { ok: false, code: 'DISABLED', message: 'This account is disabled: ask an administrator', retryAfterMs: 0 };
    return { ok: false, code: 'BAD_CREDENTIALS', message: 'Wrong name or password', retryAfterMs: 0 };
  }

  /**
   * The session of a token, or null when it is unknown, ended, idle or expired. Only a check:
   * `touch: true` (or `activity`) also counts it as a person's activity.
   */
  resume(token: string, opts: { touch?: boolean } = {}): SessionInfo | null {
    const hash = sessionTokenHash(token);
    const s = hash === null ? undefined : this.table.byTokenHash(hash);
    if (!s || this.endIfInvalid(s)) return null;
    if (opts.touch === true) this.table.touch(s, this.clock.now());
    return this.info(s);
  }

  /** A person used the console with this session (input, or a change): it stays open; null when it already ended. */
  activity(token: string): SessionInfo | null {
    return this.resume(token, { touch: true });
  }

  /** A live session by id without touching it (for transports and the site's session list). */
  get(sessionId: string): SessionInfo | null {
    const s = this.table.byId(sessionId);
    return s && !this.endIfInvalid(s) ? this.info(s) : null;
  }

  /** Every live session. */
  list(): SessionInfo[] {
    this.sweep();
    return this.table.all().map((s) => this.info(s));
  }

  /** Ends the token's session; false when there was none. */
  logout(token: string): boolean {
    const hash = sessionTokenHash(token);
    const s = hash === null ? undefined : this.table.byTokenHash(hash);
    if (!s) return false;
    this.end(s, 'logout');
    return true;
  }

  /** Ends one session by id (the site's "End session now"); false when it was not live. */
  endSession(sessionId: string, reason: SessionEndReason, by: AuditActor = {}): boolean {
    const s = this.table.byId(sessionId);
    if (!s) return false;
    this.end(s, reason, by);
    return true;
  }

  /** Ends every session of `user`; returns how many. */
  endSessionsOf(user: string, reason: SessionEndReason, by: AuditActor = {}): number {
    const list = this.table.all().filter((s) => s.user === user);
    for (const s of list) this.end(s, reason, by);
    return list.length;
  }

  /** Calls `handler` whenever a session ends; returns the unsubscribe. */
  onSessionEnded(handler: SessionEndedHandler): () => void {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  /** Checks the PIN of `user` for a confirmation; failures count, delay and lock like passwords (separately). */
  async verifyPin(user: string, pin: string): Promise<PinResult> {
    const requestAt = this.clock.now();
    const turn = await this.guard.turn(this.guard.pinQueue(user), () => this.verifyPinNow(user, pin, requestAt));
    return turn.ran
      ? turn.value
      : { ok: false, code: 'LOCKED_OUT', message: 'A PIN check for this account is still running', retryAfterMs: 1000 };
  }

  private async verifyPinNow(user: string, pin: string, requestAt: number): Promise<PinResult> {
    const lockedMs = this.guard.pinLockedFor(user);
    if (lockedMs > 0) return { ok: false, code: 'LOCKED_OUT', message: lockedWords('wrong PINs', lockedMs), retryAfterMs: lockedMs };
    const secrets = this.accounts.secrets(user);
    if (secrets && !secrets.pinHash)
      return { ok: false, code: 'NO_PIN', message: 'No PIN is set for this account: confirm with the password' };
    if (secrets?.account.disabled) return { ok: false, code: 'DISABLED', message: 'This account is disabled' };
    const good = secrets?.pinHash ? await verifySecret(secrets.pinHash, pin) : await dummyVerify(pin, this.accounts.hashParams);
    if (good) {
      this.guard.pinSucceeded(user);
      return { ok: true };
    }
    const failure = this.guard.pinFailed(user);
    this.audit?.record({
      kind: 'login_failed',
      user: secrets ? user : null,
      detail: { method: 'pin', reason: 'bad-pin', failures: failure.failures },
    });
    await this.guard.hold(requestAt, failure.delayMs);
    const lock = failure.locked[0];
    if (lock) {
      return {
        ok: false,
        code: 'LOCKED_OUT',
        message: 'Too many wrong PINs: the PIN is locked for now',
        retryAfterMs: Math.max(0, lock.until - this.clock.now()),
      };
    }
    return { ok: false, code: 'BAD_PIN', message: 'Wrong PIN', retryAfterMs: 0 };
  }

  /** Sign-in lockouts in force (an admin's list). */
  lockouts(): Lockout[] {
    return this.guard.lockouts();
  }

  /** Lifts one lockout by its id (an admin's decision, audited); null when none was in force. */
  unlock(id: string, by: AuditActor = {}): Lockout | null {
    return this.guard.unlock(id, by);
  }

  /** Lifts every lockout of an account (all sources, its PIN) or of a source (audited); returns those lifted. */
  unlockWhere(match: { user?: string; source?: string }, by: AuditActor = {}): Lockout[] {
    return this.guard.unlockWhere(match, by);
  }

  /** Ends idle, expired and no longer valid sessions; returns how many ended. */
  sweep(): number {
    let n = 0;
    for (const s of this.table.all()) if (this.endIfInvalid(s)) n++;
    return n;
  }

  /** Attempts refused without a check (delay or lockout running) since start. */
  stats(): { sessions: number; refusedAttempts: number } {
    return { sessions: this.table.all().length, refusedAttempts: this.refused };
  }

  /** Stops the timer and saves activity times; sessions stay valid across a restart. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.offAccounts();
    this.table.flush();
  }

  private open(user: string, role: Role, source: LoginSource): { token: string; info: SessionInfo } {
    const now = this.clock.now();
    const tokenBytes = randomBytes(TOKEN_BYTES);
    const token = tokenBytes.toString('base64url');
    const hash = sessionTokenHash(token);
    tokenBytes.fill(0);
    if (hash === null) throw new Error('unreachable: a fresh token always hashes');
    const s = this.table.insert({
      id: randomBytes(16).toString('hex'),
      tokenHash: hash,
      user,
      role,
      origin: source.origin,
      source: source.key,
      createdAt: now,
      lastSeen: now,
      idleMs: this.idle[source.origin],
      expiresAt: now + this.absoluteMs,
    });
    return { token, info: this.info(s) };
  }

  /** Ends `s` when it may no longer be used; true when it ended. */
  private endIfInvalid(s: StoredSession): boolean {
    const reason = this.invalidReason(s, this.clock.now());
    if (reason === null) return false;
    this.end(s, reason);
    return true;
  }

  /** Why `s` may no longer be used, or null. Reads the account each time: the CLI may have changed it. */
  private invalidReason(s: StoredSession, now: number): SessionEndReason | null {
    if (now >= s.expiresAt) return 'absolute-limit';
    if (s.idleMs !== null && now - s.lastSeen >= s.idleMs) return 'idle-lock';
    const acc = this.accounts.get(s.user);
    if (!acc || acc.disabled) return 'account-disabled';
    if (acc.passwordChangedAt > s.createdAt) return 'password-reset';
    if (acc.role !== s.role) return 'role-changed';
    return null;
  }

  private end(s: StoredSession, reason: SessionEndReason, by: AuditActor = {}): void {
    if (!this.table.remove(s)) return;
    const expired = reason === 'idle-lock' || reason === 'absolute-limit';
    this.audit?.record({
      kind: expired ? 'session_expired' : 'logout',
      user: s.user,
      role: s.role,
      origin: s.origin,
      sessionId: s.id,
      detail: { reason, ...(by.user ? { by: by.user } : {}) },
    });
    for (const h of [...this.handlers]) {
      try {
        h(s.id, s.user, reason);
      } catch (err) {
        this.log.log('warn', 'A session-ended handler threw', { sessionId: s.id, error: String(err) });
      }
    }
  }

  private info(s: StoredSession): SessionInfo {
    return {
      id: s.id,
      user: s.user,
      role: s.role,
      origin: s.origin,
      source: s.source,
      createdAt: s.createdAt,
      lastSeen: s.lastSeen,
      expiresAt: s.expiresAt,
      idleLockMs: s.idleMs,
      idleExpiresAt: s.idleMs === null ? null : Math.min(s.expiresAt, s.lastSeen + s.idleMs),
    };
  }
}
