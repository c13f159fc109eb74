/** Small file helpers for secrets: atomic, private (0600), durable. */
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes `data` to `path` so that readers see either nothing or the whole file: a temporary file
 * (mode 0600, fsynced) beside it, then link (noClobber: fails with EEXIST if `path` exists, so two
 * processes starting at once cannot both create a key) or rename.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, opts: { noClobber: boolean }): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (opts.noClobber) linkSync(tmp, path);
    else renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  syncDir(dirname(path));
}

/** Makes a rename, link or new file durable (the directory entry), where the platform allows it. */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not supported everywhere (Windows): the data itself was fsynced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
