/**
 * The data dir holds the store key file, the encrypted database, the TLS key and, in the demo,
 * its key in plain. Whoever may write the directory can swap or remove any of them (a key file
 * of their own, a database to be unlocked with it), whatever the files' own modes. So, like ssh
 * with ~/.ssh, the console refuses to start with a data dir that its group or other users may
 * write, or that belongs to another user; it never changes the modes itself, because a
 * directory made writable on purpose is a setup to correct by its owner, not to hide. A new data
 * dir is created 0700.
 */
import { mkdirSync, statSync } from 'node:fs';
import { StoreError } from './errors';

/** Why `dir` may not hold a plant store, or null (also null when it does not exist). */
export function dataDirProblem(dir: string): string | null {
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (process.platform === 'win32') return null;
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    return `${dir} belongs to another user (uid ${st.uid}): the console's data dir must belong to the user it runs as`;
  }
  const mode = st.mode & 0o7777;
  if (mode & 0o022) {
    const who = mode & 0o020 && mode & 0o002 ? 'its group and all users' : mode & 0o020 ? 'its group' : 'all users';
    return (
      `${dir} can be written by ${who} (mode ${mode.toString(8).padStart(4, '0')}), who could swap the store key or the database: ` +
      `make it private with "chmod 700 ${dir}" and start again`
    );
  }
  return null;
}

/** Refuses a data dir that others may write (dataDirProblem); one that does not exist passes. */
export function checkDataDir(dir: string): void {
  const problem = dataDirProblem(dir);
  if (problem) throw new StoreError('data-dir-unsafe', `Refusing to start: ${problem}`);
}

/** Creates the data dir (0700, parents too) or checks the one that exists. */
export function ensurePrivateDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkDataDir(dir);
}
