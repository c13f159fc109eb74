/**
 * A full disk, said out loud. The store's transactions report their failures here
 * (transactions.ts); the first one that says SQLITE_FULL or ENOSPC turns the guard `full`:
 * one error line with the real cause, listeners told (the plant-level alarm, /healthz, the
 * outbox, which then stops recording and counts what it does not record).
 *
 * A full disk leaves no room even to say what was lost, so the guard keeps a reserve: a file
 * of `reserveBytes` beside the store, deleted the moment the disk fills, so the gap notice and
 * the alarm that follow still fit. The guard clears only once the file system has
 * `resumeFreeBytes` free again (no flapping at the edge), and then puts its reserve back.
 */
import { closeSync, existsSync, fsyncSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import { isDiskFull } from './transactions';

export const RESERVE_FILE_NAME = 'disk-reserve.bin';
const MIB = 1024 * 1024;

/** What /healthz and the alarm say about the disk. */
export interface DiskState {
  full: boolean;
  since: number | null;
  /** The error that said so (code and message). */
  cause: string | null;
  /** Free bytes on the data dir's file system at the last look (null where it cannot be read). */
  freeBytes: number | null;
  /** Writes refused for a full disk since the console started. */
  failures: number;
}

export interface DiskGuardOptions {
  dir: string;
  clock: Clock;
  log: Logger;
  /** Bytes kept in reserve for the notices of a full disk (default 0: none; the running console keeps 4 MiB). */
  reserveBytes?: number;
  /** Free bytes needed before recording resumes (default 64 MiB, at least twice the reserve). */
  resumeFreeBytes?: number;
  /** How often a full disk is looked at again (default 5000 ms; 0: only by `check`). */
  checkEveryMs?: number;
}

/** The reserve the running console keeps (a gap notice and the alarms after a full disk need a few pages). */
export const CONSOLE_DISK_RESERVE_BYTES = 4 * MIB;

/** Watches the data dir's disk for the store. */
export class DiskGuard {
  private readonly o: DiskGuardOptions;
  private readonly reservePath: string;
  private readonly reserveBytes: number;
  private readonly resumeFreeBytes: number;
  private current: DiskState = { full: false, since: null, cause: null, freeBytes: null, failures: 0 };
  private lastLogAt = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly listeners = new Set<(s: DiskState) => void>();

  constructor(opts: DiskGuardOptions) {
    this.o = opts;
    this.reservePath = join(opts.dir, RESERVE_FILE_NAME);
    this.reserveBytes = opts.reserveBytes ?? 0;
    this.resumeFreeBytes = Math.max(opts.resumeFreeBytes ?? 64 * MIB, 2 * this.reserveBytes);
    this.current.freeBytes = this.freeBytes();
    this.ensureReserve();
    const every = opts.checkEveryMs ?? 5000;
    if (every > 0) {
      this.timer = setInterval(() => this.check(), every);
      this.timer.unref?.();
    }
  }

  /** The disk as /healthz shows it. */
  state(): DiskState {
    return { ...this.current };
  }

  /** True while the disk is full: writers hold back and count what they do not record. */
  isFull(): boolean {
    return this.current.full;
  }

  /** Calls `fn` when the disk fills or has room again; returns the unsubscribe. */
  onChange(fn: (s: DiskState) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  /** A write failed: returns true (and turns full) when the cause is a full disk. */
  failed(what: string, err: unknown): boolean {
    if (!isDiskFull(err)) return false;
    this.current.failures++;
    const now = this.o.clock.now();
    const e = err as { code?: unknown; message?: unknown };
    const cause = `${typeof e.code === 'string' ? e.code : 'ENOSPC'}: ${typeof e.message === 'string' ? e.message : String(err)}`;
    if (!this.current.full) {
      this.current = { ...this.current, full: true, since: now, cause, freeBytes: this.freeBytes() };
      this.lastLogAt = now;
      this.o.log.log('error', `The disk of the console's store is full (${cause}): data is no longer recorded`, {
        dir: this.o.dir,
        while: what,
        freeBytes: this.current.freeBytes,
      });
      this.releaseReserve();
      this.emit();
    } else if (now - this.lastLogAt >= 60_000) {
      this.lastLogAt = now;
      this.o.log.log('error', `The disk of the console's store is still full (${cause})`, {
        while: what,
        failures: this.current.failures,
      });
    }
    return true;
  }

  /** Looks at the disk again: a full one clears once `resumeFreeBytes` are free, and the reserve is put back. */
  check(): void {
    const free = this.freeBytes();
    this.current.freeBytes = free;
    if (!this.current.full) return;
    if (free === null || free < this.resumeFreeBytes) return;
    const since = this.current.since ?? this.o.clock.now();
    this.current = { ...this.current, full: false, since: null, cause: null };
    this.ensureReserve();
    this.o.log.log('info', 'The disk of the console has room again: recording resumes', {
      fullForS: Math.round((this.o.clock.now() - since) / 1000),
      freeBytes: free,
    });
    this.emit();
  }

  /** Stops the timer. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private freeBytes(): number | null {
    try {
      const s = statfsSync(this.o.dir);
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      return null;
    }
  }

  private ensureReserve(): void {
    if (this.reserveBytes <= 0 || existsSync(this.reservePath)) return;
    const free = this.freeBytes();
    if (free !== null && free < this.reserveBytes * 2) return;
    let fd: number | undefined;
    try {
      fd = openSync(this.reservePath, 'w', 0o600);
      const chunk = Buffer.alloc(Math.min(MIB, this.reserveBytes));
      for (let left = this.reserveBytes; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, left));
      fsyncSync(fd);
    } catch (err) {
      rmSync(this.reservePath, { force: true });
      this.o.log.log('warn', 'Cannot keep a disk reserve beside the store', { error: String(err) });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  private releaseReserve(): void {
    if (!existsSync(this.reservePath)) return;
    rmSync(this.reservePath, { force: true });
    this.o.log.log('warn', 'Released the disk reserve so that what is lost can still be recorded and reported', {
      bytes: this.reserveBytes,
    });
  }

  private emit(): void {
    const s = this.state();
    for (const fn of [...this.listeners]) {
      try {
        fn(s);
      } catch {
        // A listener's failure must not stop the others.
      }
    }
  }
}
