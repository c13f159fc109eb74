/**
 * Durable file writes for the slots: every file is fsynced before it is renamed into place, and
 * the directory after, so that after power loss a file is either absent or whole.
 */
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';

/** fsyncs a file or directory (a directory only where the platform allows it). */
export function syncPath(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    // Directories cannot be fsynced everywhere; the files themselves were.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Creates `path` (0600) with `data`, fsynced. */
export function writeDurable(path: string, data: Uint8Array | string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Calls `each` with the file's bytes in chunks (never the whole file at once). */
export function readChunks(path: string, each: (chunk: Uint8Array) => void): void {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(64 * 1024);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) return;
      each(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}

/** Copies `from` to a new file `to` (0600), fsynced. */
export function copyDurable(from: string, to: string): void {
  const fd = openSync(to, 'wx', 0o600);
  try {
    readChunks(from, (chunk) => void writeSync(fd, chunk));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
