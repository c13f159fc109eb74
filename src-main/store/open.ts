/**
 * Opening the plant store: `<dataDir>/plant.db`, one embedded libsql database in WAL mode,
 * encrypted by libsql with a random 32-byte key that is kept only wrapped, in store-key.json.
 * `openPlantStore` is the one call the console makes: unlock, open, check (integrity, and the
 * sequence guard: store-check.ts), migrate, identity, history; with a disk guard that turns a
 * full disk into an alarm (disk-guard.ts).
 */
import { chmodSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'libsql';
import { systemClock, type Clock } from '../core/types';
import { checkDataDir, ensurePrivateDataDir } from './data-dir';
import { DiskGuard, type DiskGuardOptions } from './disk-guard';
import { StoreError } from './errors';
import { createSqlHistory, type SqlHistoryOptions, type SqlHistoryStore } from './history-sql';
import { ensurePlantIdentity, type PlantIdentity } from './identity';
import { dbFilePath } from './key-file';
import type { WrapperKind } from './key-wrappers';
import { migrate, type StoreDb } from './schema';
import { dbSaltOf, SequenceGuard } from './sequence-guard';
import {
  applySequenceCheck,
  checkIntegrity,
  damagedStoreError,
  isDamage,
  judgeSequence,
  notADatabaseError,
  type SequenceVerdict,
} from './store-check';
import { installSafeTransactions } from './transactions';
import { wipe } from './sodium';
import { unlockStoreKey, type UnlockOptions } from './unlock';

/** libsql's options include the encryption key, which its bundled type declarations omit. */
type LibsqlOptions = Database.Options & { encryptionKey?: string };

/** How durably commits reach the disk (see openEncryptedDatabase). */
export type Durability = 'FULL' | 'NORMAL';

function privateFiles(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(p)) chmodSync(p, 0o600);
  }
}

/** What opening a database may be told besides its key. */
export interface OpenDatabaseHooks {
  /** Every failed transaction (a full disk among them: disk-guard.ts). */
  onTransactionError?: (err: unknown) => void;
  /** plant.db's salt as the sequence guard remembers it: tells a damaged header from another key. */
  knownSalt?: string | null;
  /** The file's first 8 bytes as read before SQLite opened it (dbSaltOf), or null. */
  fileSalt?: string | null;
}

/**
 * Opens (or creates) an encrypted database with `key` (32 bytes; the caller zeroes it).
 * synchronous = FULL by default: the store holds the uplink outbox and its sequence numbers,
 * and a plant PC can lose power; with history batched per second the fsync costs little.
 */
export function openEncryptedDatabase(
  path: string,
  key: Uint8Array,
  durability: Durability = 'FULL',
  hooks: OpenDatabaseHooks = {},
): StoreDb {
  // libsql takes the key as a string; this hex copy cannot be zeroed, only dropped.
  const options: LibsqlOptions = { encryptionKey: Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex') };
  let db: StoreDb;
  try {
    db = new Database(path, options);
  } catch (err) {
    throw isDamage(err) ? damagedStoreError(path, err) : err;
  }
  try {
    // First, before any read: another connection (the history writer's thread, a running console
    // beside a CLI command) may hold a lock while this one opens.
    db.exec('PRAGMA busy_timeout = 5000');
    // The key is checked only when a page is read: read one now, so a wrong key fails here.
    db.prepare('SELECT count(*) FROM sqlite_schema').raw().get();
    // Must precede the first table; on an existing database it is a no-op.
    db.exec('PRAGMA auto_vacuum = INCREMENTAL');
    const mode = (db.prepare('PRAGMA journal_mode = WAL').raw().get() as [string] | undefined)?.[0];
    if (mode !== 'wal') throw new StoreError('wrong-key', `${path} cannot be put in WAL mode (journal mode ${String(mode)})`);
    db.exec(`PRAGMA synchronous = ${durability}`);
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    const salt = hooks.fileSalt === undefined ? dbSaltOf(path) : hooks.fileSalt;
    throw notADatabaseError(path, err, hooks.knownSalt, salt) ?? (isDamage(err) ? damagedStoreError(path, err) : err);
  }
  installSafeTransactions(db, hooks.onTransactionError);
  privateFiles(path);
  return db;
}

/** What `openPlantStore` needs. */
export interface OpenPlantStoreOptions extends UnlockOptions {
  /** History retention, disk budget and timers; `workerScript`: the built history-worker.js, to write history off the main thread. */
  history?: Omit<SqlHistoryOptions, 'log' | 'clock' | 'worker'> & { workerScript?: string | null };
  durability?: Durability;
  clock?: Clock;
  /** The disk reserve and when a full disk counts as free again (tests use a small file system). */
  disk?: Pick<DiskGuardOptions, 'reserveBytes' | 'resumeFreeBytes' | 'checkEveryMs'>;
  /**
   * Open a store that is behind its sequence guard (rolled back): continue after the highest
   * number ever used and declare the skipped ones lost (`plant-console store recover`).
   */
  acceptRollback?: boolean;
  /**
   * Whether this opening applies what the sequence check found (default true): numbers reserved
   * and not recorded are skipped, and the guard catches up. Only the console and `store recover`
   * do; a command that may run beside a running console (user, keys, store check) only judges,
   * since the console is then in the middle of its own reservations and owns the guard.
   */
  applySequence?: boolean;
}

/** The open store: what the core is wired to. */
export interface PlantStore {
  db: StoreDb;
  history: SqlHistoryStore;
  identity: PlantIdentity;
  dataDir: string;
  dbPath: string;
  wrapper: WrapperKind;
  demo: boolean;
  /** True when this call created the store (first start). */
  created: boolean;
  /** The uplink's sequence high-water mark outside the database (sequence-guard.ts). */
  guard: SequenceGuard;
  /** The data dir's disk: full or not (disk-guard.ts). */
  disk: DiskGuard;
  /** What the sequence check found at this opening (store-check.ts). */
  sequence: SequenceVerdict;
  /** Flushes history, zeroes the identity's secrets in memory and closes the database. */
  close(): void;
}

function readMeta(db: StoreDb, key: string): string | undefined {
  return (db.prepare('SELECT value FROM meta WHERE key = ?').raw().get([key]) as [string] | undefined)?.[0];
}

/** Records (first start) or checks that the store belongs to the demo plant or to a configured one. */
function checkDemoMarker(db: StoreDb, opts: { demo: boolean; dataDir: string; wrapper: WrapperKind; now: number }): void {
  const marked = readMeta(db, 'demo');
  if (marked === undefined) {
    const set = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
    db.transaction(() => {
      set.run(['demo', String(opts.demo)]);
      set.run(['created_at', String(opts.now)]);
      set.run(['key_wrapper', opts.wrapper]);
    })();
    return;
  }
  if (marked !== String(opts.demo) || (opts.wrapper === 'demo-key-file') !== opts.demo) {
    throw new StoreError(
      'demo-mismatch',
      opts.demo
        ? `${opts.dataDir} holds a configured plant's store: the demo plant runs in a data dir of its own (--data-dir).`
        : `${opts.dataDir} holds the SIMULATED demo plant's store: a configured plant never uses it. Choose another --data-dir.`,
    );
  }
}

/** Unlocks and opens the plant store of `dataDir` (creating it on first start). */
export async function openPlantStore(opts: OpenPlantStoreOptions): Promise<PlantStore> {
  const dataDir = resolve(opts.dataDir);
  // Others who may write the data dir could swap the key file or the database: refused, like ssh (data-dir.ts).
  if (opts.create !== false) ensurePrivateDataDir(dataDir);
  else checkDataDir(dataDir);
  const clock = opts.clock ?? systemClock;
  const unlocked = await unlockStoreKey({ ...opts, dataDir });
  const dbPath = dbFilePath(dataDir);
  const guard = SequenceGuard.open(dataDir);
  // The file's salt as it is before this opening (read through a descriptor that is never
  // closed, so SQLite's locks stay: dbSaltOf).
  const fileSalt = dbSaltOf(dbPath);
  const disk = new DiskGuard({ dir: dataDir, clock, log: opts.log, ...opts.disk });
  let db: StoreDb;
  try {
    db = openEncryptedDatabase(dbPath, unlocked.key, opts.durability, {
      onTransactionError: (err) => disk.failed('a store transaction', err),
      knownSalt: guard.record().dbSalt,
      fileSalt,
    });
  } catch (err) {
    guard.close();
    disk.close();
    wipe(unlocked.key);
    throw err;
  }
  try {
    checkIntegrity(db, dbPath, opts.log);
    // Judged before anything is written: a rolled-back store must not be touched.
    const verdict = judgeSequence(db, guard, { dataDir, dbPath, acceptRollback: opts.acceptRollback === true });
    migrate(db, undefined, clock.now());
    if (opts.applySequence !== false) applySequenceCheck(db, guard, verdict, opts.log, fileSalt);
    checkDemoMarker(db, { demo: opts.demo, dataDir, wrapper: unlocked.wrapper, now: clock.now() });
    const identity = ensurePlantIdentity(db, { log: opts.log, clock });
    const { workerScript, ...historyOptions } = opts.history ?? {};
    // The history writer's thread opens its own connection, so it gets the key too (then it is wiped here).
    const worker = workerScript ? { script: workerScript, dbPath, key: unlocked.key } : undefined;
    const history = createSqlHistory(db, { ...historyOptions, ...(worker ? { worker } : {}), log: opts.log, clock });
    wipe(unlocked.key);
    let closed = false;
    return {
      db,
      history,
      identity,
      dataDir,
      dbPath,
      wrapper: unlocked.wrapper,
      demo: opts.demo,
      created: unlocked.created,
      guard,
      disk,
      sequence: verdict,
      close() {
        if (closed) return;
        closed = true;
        try {
          history.close();
        } finally {
          identity.forget();
          db.close();
          guard.close();
          disk.close();
        }
      },
    };
  } catch (err) {
    wipe(unlocked.key);
    db.close();
    guard.close();
    disk.close();
    throw isDamage(err) ? damagedStoreError(dbPath, err) : err;
  }
}
