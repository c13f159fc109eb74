/**
 * Transactions that report the error that happened, not the one the cleanup made.
 *
 * libsql's `db.transaction(fn)` runs `ROLLBACK` in its catch. When SQLite has already rolled the
 * transaction back by itself (it does on SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM), that ROLLBACK
 * throws "cannot rollback - no transaction is active" and replaces the real cause: a full disk
 * was logged every second as a rollback problem. Installed on every store connection, the same
 * API rolls back only what is still open and throws the first error; `onError` sees each one.
 */
import type { StoreDb } from './schema';

type Txn = ReturnType<StoreDb['transaction']>;

/** Replaces `db.transaction` on this connection by one that keeps the first error (and tells `onError`). */
export function installSafeTransactions(db: StoreDb, onError?: (err: unknown) => void): void {
  const wrap =
    (fn: (...args: unknown[]) => unknown, mode: string) =>
    (...args: unknown[]): unknown => {
      db.exec(`BEGIN ${mode}`);
      try {
        const result = fn(...args);
        db.exec('COMMIT');
        return result;
      } catch (err) {
        if (db.inTransaction) {
          try {
            db.exec('ROLLBACK');
          } catch {
            // The first error is the cause; a failed rollback leaves SQLite to roll back on close.
          }
        }
        try {
          onError?.(err);
        } catch {
          // A listener's failure must not hide the cause either.
        }
        throw err;
      }
    };
  const transaction = (fn: (...args: unknown[]) => unknown): Txn => {
    if (typeof fn !== 'function') throw new TypeError('Expected first argument to be a function');
    const modes = { default: '', deferred: 'DEFERRED', immediate: 'IMMEDIATE', exclusive: 'EXCLUSIVE' } as const;
    const variants = Object.fromEntries(Object.entries(modes).map(([k, m]) => [k, { value: wrap(fn, m) }]));
    const base = variants.default!.value;
    for (const v of Object.values(variants)) Object.defineProperties(v.value, { ...variants, database: { value: db, enumerable: true } });
    return base as unknown as Txn;
  };
  Object.defineProperty(db, 'transaction', { value: transaction, configurable: true, writable: true });
}

/** True when an error says the disk (or the database's size limit) is full. */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.code === 'SQLITE_FULL' || e.code === 'ENOSPC' || e.code === 'EDQUOT') return true;
  if (typeof e.message === 'string' && /database or disk is full|no space left on device/i.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== err && isDiskFull(e.cause);
}
