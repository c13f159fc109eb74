/**
 * `<dataDir>/store-guard.bin`: what the store must never go back behind, kept outside it.
 *
 * The plant's uplink sequence numbers live in the database, and a damaged WAL, a restored
 * backup or a disk that lied about a flush can take the database back in time without a word:
 * the plant would then number new batches with numbers the cloud already holds. So before a
 * transaction that uses new numbers commits, the highest of them is written here and fsynced
 * (`reserve`); a failed commit takes it back (`withdraw`). At start the store's counter is
 * compared with it (checkSequence): equal is a clean stop; one reservation behind is a crash
 * between this write and the commit (those numbers are skipped and declared lost, never
 * reused); further behind, the store was rolled back and the console refuses to start.
 *
 * The file also keeps the first 8 bytes of plant.db (libsql's encryption salt: random when the
 * database is made, then fixed for its life), so that a store that cannot be read is called
 * damaged when the salt is its own and "another key" only when it is not.
 *
 * Layout: two 256-byte slots, written alternately in place (no rename, no new blocks: it works
 * on a full disk), each `JSON ‖ spaces ‖ "\n"` with a SHA-256 over the rest; the valid slot with
 * the higher generation wins, so a torn write loses at most the newest update.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fdatasyncSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { syncDir } from './files';

export const GUARD_FILE_NAME = 'store-guard.bin';
const SLOT = 256;

/** What the guard remembers. */
export interface GuardRecord {
  /** Generation: the slot with the higher one is the newer. */
  gen: number;
  /** The highest sequence number a transaction was about to commit (or did). */
  used: number;
  /** `used` before the last reservation: the store may be exactly there after a crash. */
  before: number;
  /** The first 8 bytes of plant.db (hex), null until known. */
  dbSalt: string | null;
}

function digest(body: string): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 32);
}

function encode(r: GuardRecord): Buffer {
  const body = JSON.stringify({ v: 1, gen: r.gen, used: r.used, before: r.before, dbSalt: r.dbSalt });
  const text = JSON.stringify({ body, sum: digest(body) });
  if (text.length > SLOT - 1) throw new Error('store guard record too long');
  return Buffer.from(text.padEnd(SLOT - 1, ' ') + '\n', 'utf8');
}

function decode(slot: Buffer): GuardRecord | null {
  try {
    const outer = JSON.parse(slot.toString('utf8').trim()) as { body?: unknown; sum?: unknown };
    if (typeof outer.body !== 'string' || outer.sum !== digest(outer.body)) return null;
    const b = JSON.parse(outer.body) as Partial<GuardRecord> & { v?: unknown };
    const int = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
    if (b.v !== 1 || !int(b.gen) || !int(b.used) || !int(b.before)) return null;
    const salt = typeof b.dbSalt === 'string' && /^[0-9a-f]{16}$/.test(b.dbSalt) ? b.dbSalt : null;
    return { gen: b.gen, used: b.used, before: b.before, dbSalt: salt };
  } catch {
    return null;
  }
}

/** The guard file of a data dir, open for updates. */
export class SequenceGuard {
  readonly path: string;
  private fd: number | null;
  private rec: GuardRecord;
  /** Whether the file existed with a readable slot when opened (false: new, or both slots damaged). */
  readonly found: boolean;

  private constructor(path: string, fd: number, rec: GuardRecord | null) {
    this.path = path;
    this.fd = fd;
    this.found = rec !== null;
    this.rec = rec ?? { gen: 0, used: 0, before: 0, dbSalt: null };
  }

  /** Opens (or creates, empty) the guard of `dataDir`. */
  static open(dataDir: string): SequenceGuard {
    const path = join(dataDir, GUARD_FILE_NAME);
    const created = !existsSync(path);
    const fd = openSync(path, created ? 'w+' : 'r+', 0o600);
    let best: GuardRecord | null = null;
    if (!created) {
      const buf = Buffer.alloc(2 * SLOT);
      const n = readSync(fd, buf, 0, buf.length, 0);
      for (const at of [0, SLOT]) {
        if (n < at + SLOT) continue;
        const r = decode(buf.subarray(at, at + SLOT));
        if (r && (!best || r.gen > best.gen)) best = r;
      }
    }
    const guard = new SequenceGuard(path, fd, best);
    if (created) syncDir(dirname(path));
    return guard;
  }

  /** What the guard holds now. */
  record(): GuardRecord {
    return { ...this.rec };
  }

  /** Before a commit that uses numbers up to `used`: remembered and on disk before this returns. */
  reserve(used: number): void {
    if (used <= this.rec.used) return;
    this.write({ ...this.rec, before: this.rec.used, used });
  }

  /** A reservation whose transaction did not commit: those numbers were never visible, so they may be used again. */
  withdraw(to: number): void {
    if (to >= this.rec.used) return;
    this.write({ ...this.rec, used: Math.max(to, this.rec.before), before: Math.min(this.rec.before, to) });
  }

  /** Sets the counter outright (a store found ahead of the guard, or a recovery the operator chose). */
  reset(used: number): void {
    this.write({ ...this.rec, used, before: used });
  }

  /** Remembers plant.db's salt (its first 8 bytes). */
  setDbSalt(hex: string): void {
    if (hex === this.rec.dbSalt) return;
    this.write({ ...this.rec, dbSalt: hex });
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private write(next: Omit<GuardRecord, 'gen'> & { gen?: number }): void {
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    const rec: GuardRecord = { ...next, gen: this.rec.gen + 1 };
    // Alternate slots: a write torn by power loss damages only the slot being written.
    writeSync(this.fd, encode(rec), 0, SLOT, (rec.gen % 2) * SLOT);
    fdatasyncSync(this.fd);
    this.rec = rec;
  }
}

/**
 * Read-only descriptors of database files, by path: opened once per file (inode) and never closed.
 * POSIX drops every fcntl lock a process holds on a file when it closes any descriptor of it,
 * so closing one after reading the salt would take SQLite's locks away from this process's
 * connections (and from connections closed but not yet released, as libsql keeps them until
 * their statements are collected): another process would then take their WAL for abandoned,
 * checkpoint and delete it under them.
 */
const saltReaders = new Map<string, { fd: number; dev: number; ino: number }[]>();

/** The first 8 bytes of an encrypted database file (its salt, fixed for its life), hex; null when it is shorter or missing. */
export function dbSaltOf(path: string): string | null {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st?.isFile()) return null;
  let readers = saltReaders.get(path);
  if (!readers) saltReaders.set(path, (readers = []));
  let reader = readers.find((r) => r.dev === st.dev && r.ino === st.ino);
  if (!reader) {
    try {
      reader = { fd: openSync(path, 'r'), dev: st.dev, ino: st.ino };
    } catch {
      return null;
    }
    readers.push(reader);
  }
  const b = Buffer.alloc(8);
  return readSync(reader.fd, b, 0, 8, 0) === 8 ? b.toString('hex') : null;
}
