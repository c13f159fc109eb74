/**
 * Sign-in failure counters and lockouts in the encrypted store (`login_throttle`, migration 7):
 * a restart keeps them, an admin sees and lifts them (UI, `plant-console user unlock`), and the
 * console and the CLI share them. Every call reads or writes the table; nothing is cached, so a
 * lockout lifted by the CLI counts at the console's next sign-in.
 */
import type { StoreDb } from '../store/schema';
import type { ThrottleEntry, ThrottleScope, ThrottleTable } from './throttle';

interface Row {
  key: string;
  scope: string;
  user: string | null;
  source: string | null;
  origin: string | null;
  failures: number;
  last_failure_at: number;
  locked_at: number | null;
  locked_until: number | null;
}

const COLUMNS = 'key, scope, user, source, origin, failures, last_failure_at, locked_at, locked_until';

function entryOf(r: Row): ThrottleEntry {
  return {
    key: r.key,
    scope: r.scope as ThrottleScope,
    user: r.user,
    source: r.source,
    origin: r.origin === 'local' || r.origin === 'remote' ? r.origin : null,
    failures: r.failures,
    lastFailureAt: r.last_failure_at,
    lockedAt: r.locked_at,
    lockedUntil: r.locked_until,
  };
}

/** The store's table of sign-in counters. */
export class SqlThrottleTable implements ThrottleTable {
  private readonly q;

  constructor(db: StoreDb) {
    this.q = {
      get: db.prepare(`SELECT ${COLUMNS} FROM login_throttle WHERE key = ?`),
      put: db.prepare(
        `INSERT INTO login_throttle (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_failure_at = excluded.last_failure_at,
           locked_at = excluded.locked_at, locked_until = excluded.locked_until`,
      ),
      delete: db.prepare('DELETE FROM login_throttle WHERE key = ?'),
      all: db.prepare(`SELECT ${COLUMNS} FROM login_throttle ORDER BY last_failure_at`),
      count: db.prepare('SELECT count(*) FROM login_throttle').raw(),
      prune: db.prepare(
        'DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle WHERE locked_until IS NULL ORDER BY last_failure_at LIMIT ?)',
      ),
    };
  }

  get(key: string): ThrottleEntry | undefined {
    const r = this.q.get.get([key]) as Row | undefined;
    return r ? entryOf(r) : undefined;
  }

  put(e: ThrottleEntry): void {
    this.q.put.run([e.key, e.scope, e.user, e.source, e.origin, e.failures, e.lastFailureAt, e.lockedAt, e.lockedUntil]);
  }

  delete(key: string): boolean {
    return this.q.delete.run([key]).changes > 0;
  }

  all(): ThrottleEntry[] {
    return (this.q.all.all() as Row[]).map(entryOf);
  }

  prune(max: number): void {
    const n = (this.q.count.get() as [number] | undefined)?.[0] ?? 0;
    if (n > max) this.q.prune.run([n - max]);
  }
}
