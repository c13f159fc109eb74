/**
 * Unsuccessful-login counters for one kind of key (a source and account, a source, an account
 * from anywhere on the network, a PIN): after f failures the answer to the failing attempt is
 * held until base·2^(f−1) after its request arrived (1, 2, 4, 8… s, at most `maxDelayMs`:
 * AuthService serves the delay), and `maxFailures` failures lock the key for `lockoutMs`.
 * Failures are forgotten after `lockoutMs` without one, and on success.
 *
 * The counters live in a ThrottleTable: the store's `login_throttle` table in the console
 * (throttle-sql.ts), so a restart keeps lockouts and `plant-console user unlock` lifts them
 * from another process; in memory for tests. Rows are bounded: a flood of invented names
 * cannot fill the disk, and the oldest unlocked entries give way first.
 */
import type { Clock } from '../core/types';

/** The rules of one throttle. */
export interface ThrottlePolicy {
  /** Failures that lock the key (Infinity: never locks, only delays). */
  maxFailures: number;
  lockoutMs: number;
  /** Delay after the first failure; doubles with each further one (0: none). */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** What a key counts: a source and account, a whole source, an account from anywhere remote, or a PIN. */
export type ThrottleScope = 'account' | 'source' | 'network' | 'pin';

/** What a key is about, for the admin's list and the audit log. */
export interface ThrottleLabels {
  scope: ThrottleScope;
  /** The account name tried (null for a source). */
  user: string | null;
  /** The source key: a client address, or 'local' for the console window (null: every source). */
  source: string | null;
  origin: 'local' | 'remote' | null;
}

/** One key's counters. */
export interface ThrottleEntry extends ThrottleLabels {
  key: string;
  failures: number;
  lastFailureAt: number;
  lockedAt: number | null;
  lockedUntil: number | null;
}

/** Where counters are kept. */
export interface ThrottleTable {
  get(key: string): ThrottleEntry | undefined;
  put(entry: ThrottleEntry): void;
  delete(key: string): boolean;
  all(): ThrottleEntry[];
  /** Deletes the oldest unlocked entries beyond `max`. */
  prune(max: number): void;
}

/** Counters in memory (tests, and tools without a store). */
export class MemoryThrottleTable implements ThrottleTable {
  private readonly entries = new Map<string, ThrottleEntry>();

  get(key: string): ThrottleEntry | undefined {
    const e = this.entries.get(key);
    return e ? { ...e } : undefined;
  }

  put(entry: ThrottleEntry): void {
    // Re-inserted so that Map order is the order of last use (pruning takes the oldest).
    this.entries.delete(entry.key);
    this.entries.set(entry.key, { ...entry });
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  all(): ThrottleEntry[] {
    return [...this.entries.values()].map((e) => ({ ...e }));
  }

  prune(max: number): void {
    for (const [key, e] of this.entries) {
      if (this.entries.size <= max) return;
      if (e.lockedUntil === null) this.entries.delete(key);
    }
  }
}

/** The wait after `failures` consecutive failures. */
export function failureDelayMs(failures: number, baseDelayMs: number, maxDelayMs: number): number {
  if (failures <= 0 || baseDelayMs <= 0) return 0;
  return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(failures - 1, 30));
}

/** What a failure did to its key. */
export interface FailureOutcome {
  failures: number;
  /** How long the answer to this attempt is held, from its request. */
  delayMs: number;
  /** The end of the lockout this failure started, or null. */
  lockedUntil: number | null;
}

/** Failure counters by key, on a table. */
export class Throttle {
  constructor(
    private readonly policy: ThrottlePolicy,
    private readonly clock: Clock,
    private readonly table: ThrottleTable = new MemoryThrottleTable(),
    private readonly maxEntries = 10_000,
  ) {}

  /** The end of the key's lockout, or null when it is not locked now. */
  lockedUntil(key: string): number | null {
    return this.current(key, this.clock.now())?.lockedUntil ?? null;
  }

  /** Counts a failed attempt; locks the key when it reached the limit and `lockable`. */
  fail(key: string, labels: ThrottleLabels, lockable = true): FailureOutcome {
    const now = this.clock.now();
    const prev = this.current(key, now);
    const failures = (prev?.failures ?? 0) + 1;
    const locks = lockable && (prev?.lockedUntil ?? null) === null && failures >= this.policy.maxFailures;
    const lockedUntil = locks ? now + this.policy.lockoutMs : (prev?.lockedUntil ?? null);
    this.table.put({
      ...labels,
      key,
      failures,
      lastFailureAt: now,
      lockedAt: locks ? now : (prev?.lockedAt ?? null),
      lockedUntil,
    });
    this.table.prune(this.maxEntries);
    return {
      failures,
      delayMs: failureDelayMs(failures, this.policy.baseDelayMs, this.policy.maxDelayMs),
      lockedUntil: locks ? lockedUntil : null,
    };
  }

  /** A successful attempt: forgets the key's failures. */
  succeeded(key: string): void {
    this.table.delete(key);
  }

  /** Consecutive failures of `key` (0 when none are remembered). */
  failures(key: string): number {
    return this.current(key, this.clock.now())?.failures ?? 0;
  }

  /** Forgets a key (an admin lifting a lockout); true when there was something to forget. */
  clear(key: string): boolean {
    return this.table.delete(key);
  }

  /** The key's entry with an expired lock or stale failures forgotten. */
  private current(key: string, now: number): ThrottleEntry | undefined {
    const e = this.table.get(key);
    if (!e) return undefined;
    if (isExpired(e, now, this.policy.lockoutMs)) {
      this.table.delete(key);
      return undefined;
    }
    return e;
  }
}

/** True when `e`'s lock has run out, or its failures are older than `lockoutMs` without a lock. */
export function isExpired(e: ThrottleEntry, now: number, lockoutMs: number): boolean {
  return e.lockedUntil !== null ? now >= e.lockedUntil : now - e.lastFailureAt >= lockoutMs;
}
