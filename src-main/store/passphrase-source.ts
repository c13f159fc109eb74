/**
 * Where a headless console finds the store passphrase without a terminal: a file named by
 * PLANT_CONSOLE_PASSPHRASE_FILE, systemd's credential `plant-console-passphrase` (LoadCredential=
 * or SetCredentialEncrypted=, read from $CREDENTIALS_DIRECTORY), or the PLANT_CONSOLE_PASSPHRASE
 * variable. The variable stays readable in /proc/PID/environ (and to every child process) for as
 * long as the console runs; a file is read once and can be readable by the console's user only.
 *
 * A passphrase file must be a regular file of this user (or root), at most 4 KiB, that nobody
 * else may write and that other users may not read (group read is allowed for a root-owned file
 * shared with the console's group). One line ending at its end is not part of the passphrase.
 * Giving more than one source is refused: which one is meant would be a guess. Nothing here
 * ever puts the passphrase in a message or a log line.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from './errors';

export const PASSPHRASE_ENV = 'PLANT_CONSOLE_PASSPHRASE';
export const PASSPHRASE_FILE_ENV = 'PLANT_CONSOLE_PASSPHRASE_FILE';
/** The systemd credential's name: `LoadCredential=plant-console-passphrase:/etc/plant-console/passphrase`. */
export const PASSPHRASE_CREDENTIAL = 'plant-console-passphrase';

const MAX_FILE_BYTES = 4096;

/** A passphrase and where it came from, in words for the log (never the value). */
export interface FoundPassphrase {
  value: string;
  source: string;
}

/** Why a passphrase file may not be used, or null. */
function unsafeFile(path: string, st: Stats): string | null {
  if (!st.isFile()) return `${path} is not a regular file`;
  if (process.platform === 'win32') return null;
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    return `${path} belongs to another user (uid ${st.uid}): it must belong to the console's user or to root`;
  }
  const mode = st.mode & 0o777;
  if (mode & 0o027) {
    return (
      `${path} can be ${mode & 0o022 ? 'changed' : 'read'} by other users (mode ${mode.toString(8).padStart(4, '0')}): ` +
      `make it private, e.g. chmod 600 ${path}`
    );
  }
  if (st.size > MAX_FILE_BYTES) return `${path} is larger than ${MAX_FILE_BYTES} bytes: it should hold the passphrase only`;
  return null;
}

/** Reads a passphrase file after checking what it is and who may read and change it. */
export function readPassphraseFile(path: string): string {
  let fd: number;
  try {
    // Non-blocking: a FIFO in its place is refused by the check below instead of hanging the start.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new StoreError(
      'locked',
      `The store passphrase file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      {
        cause: err,
      },
    );
  }
  try {
    // Checked on the open file itself, so it cannot be swapped between the check and the read.
    const why = unsafeFile(path, fstatSync(fd));
    if (why) throw new StoreError('passphrase-file-unsafe', `The store passphrase file is refused: ${why}`);
    const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_FILE_BYTES)
        throw new StoreError('passphrase-file-unsafe', `The store passphrase file ${path} is larger than ${MAX_FILE_BYTES} bytes`);
    }
    const value = buf
      .subarray(0, length)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    buf.fill(0);
    if (value === '') throw new StoreError('locked', `The store passphrase file ${path} is empty`);
    return value;
  } finally {
    closeSync(fd);
  }
}

/** The passphrase from the environment (file, systemd credential or variable), or null when none is given. */
export function passphraseFromEnvironment(env: Record<string, string | undefined>): FoundPassphrase | null {
  const sources: { name: string; read: () => FoundPassphrase }[] = [];
  const file = env[PASSPHRASE_FILE_ENV];
  if (file !== undefined && file !== '') {
    sources.push({ name: PASSPHRASE_FILE_ENV, read: () => ({ value: readPassphraseFile(file), source: `the file ${file}` }) });
  }
  const credentials = env.CREDENTIALS_DIRECTORY;
  if (credentials !== undefined && credentials !== '') {
    const path = join(credentials, PASSPHRASE_CREDENTIAL);
    if (credentialExists(path)) {
      sources.push({
        name: `the systemd credential ${PASSPHRASE_CREDENTIAL}`,
        read: () => ({ value: readPassphraseFile(path), source: `the systemd credential ${PASSPHRASE_CREDENTIAL}` }),
      });
    }
  }
  const variable = env[PASSPHRASE_ENV];
  if (variable !== undefined && variable !== '') {
    sources.push({ name: PASSPHRASE_ENV, read: () => ({ value: variable, source: `the environment variable ${PASSPHRASE_ENV}` }) });
  }
  if (sources.length > 1) {
    throw new StoreError(
      'passphrase-ambiguous',
      `The store passphrase is given more than once (${sources.map((s) => s.name).join(', ')}): give it one way only` +
        (variable ? `, preferably not as ${PASSPHRASE_ENV}, which other processes can read while the console runs` : ''),
    );
  }
  return sources[0]?.read() ?? null;
}

function credentialExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (err) {
    // Present but unreadable is an answer the operator needs: readPassphraseFile says why.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
