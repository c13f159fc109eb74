/**
 * Unsuccessful-login throttling for one kind of key (an account name, or a source such as an
 * IP address): after f failures the next attempt waits base·2^(f−1) (1, 2, 4, 8… s, at most
 * `maxDelayMs`), and `maxFailures` failures lock the key for `lockoutMs`. Failures are forgotten
 * after `lockoutMs` without one, and on success.
 *
 * An attempt counts as a failure from the moment it starts (`attempt`) until it is known to
 * have succeeded, so parallel guesses cannot all slip through before the first is judged.
 * Kept in memory with a bound on entries: a flood of invented names cannot exhaust memory, and
 * the oldest unlocked entries give way first.
 */
import type { Clock } from '../core/types';

/** The rules of one throttle. */
export interface ThrottlePolicy {
  /** Failures that lock the key (Infinity: never locks, only delays). */
  maxFailures: number;
  lockoutMs: number;
  /** Delay after the first failure; doubles with each further one. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Whether an attempt may go ahead now. */
export type ThrottleCheck = { allowed: true } | { allowed: false; retryAfterMs: number; locked: boolean };

interface Entry {
  failures: number;
  lastFailureAt: number;
  lockedUntil: number | null;
}

/** The wait before the next attempt after `failures` consecutive failures. */
export function failureDelayMs(failures: number, baseDelayMs: number, maxDelayMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(failures - 1, 30));
}

/** Failure counters by key. */
export class Throttle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly policy: ThrottlePolicy,
    private readonly clock: Clock,
    private readonly maxEntries = 10_000,
  ) {}

  /** May an attempt for `key` go ahead now? */
  check(key: string): ThrottleCheck {
    const now = this.clock.now();
    const e = this.current(key, now);
    if (!e) return { allowed: true };
    if (e.lockedUntil !== null) return { allowed: false, retryAfterMs: e.lockedUntil - now, locked: true };
    const wait = e.lastFailureAt + failureDelayMs(e.failures, this.policy.baseDelayMs, this.policy.maxDelayMs) - now;
    return wait > 0 ? { allowed: false, retryAfterMs: wait, locked: false } : { allowed: true };
  }

  /** Counts an attempt as a failure until `succeeded` says otherwise; returns the failures so far. */
  attempt(key: string): number {
    const now = this.clock.now();
    const e = this.current(key, now) ?? { failures: 0, lastFailureAt: now, lockedUntil: null };
    e.failures++;
    e.lastFailureAt = now;
    // Re-inserted so that Map order is the order of last use (eviction takes the oldest).
    this.entries.delete(key);
    this.entries.set(key, e);
    this.evict();
    return e.failures;
  }

  /** Settles a failed attempt: locks the key when it reached the limit; returns the lock's end when it just locked. */
  failed(key: string, lockable = true): number | null {
    const now = this.clock.now();
    const e = this.entries.get(key);
    if (!e || e.lockedUntil !== null || !lockable || e.failures < this.policy.maxFailures) return null;
    e.lockedUntil = now + this.policy.lockoutMs;
    return e.lockedUntil;
  }

  /** A successful attempt: forgets the key's failures. */
  succeeded(key: string): void {
    this.entries.delete(key);
  }

  /** Takes back a counted attempt that was no guess (e.g. a PIN check for an account without PIN). */
  cancel(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.failures--;
    if (e.failures <= 0 && e.lockedUntil === null) this.entries.delete(key);
  }

  /** Ms until the next attempt for `key` may be made (0: now). */
  retryAfterMs(key: string): number {
    const c = this.check(key);
    return c.allowed ? 0 : c.retryAfterMs;
  }

  /** Consecutive failures of `key` (0 when none are remembered). */
  failures(key: string): number {
    return this.current(key, this.clock.now())?.failures ?? 0;
  }

  /** Forgets a key (an admin unlocking an account). */
  clear(key: string): void {
    this.entries.delete(key);
  }

  /** The entry of `key` with expired locks and stale failures forgotten. */
  private current(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const lockOver = e.lockedUntil !== null && now >= e.lockedUntil;
    const quiet = e.lockedUntil === null && now - e.lastFailureAt >= this.policy.lockoutMs;
    if (lockOver || quiet) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private evict(): void {
    if (this.entries.size <= this.maxEntries) return;
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.maxEntries) return;
      if (e.lockedUntil === null) this.entries.delete(key);
    }
  }
}
