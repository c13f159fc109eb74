/**
 * File handling for `supplier-cloud firmware`: reading keys, documents and images with errors
 * that name the file, and writing results whole or not at all, with the right mode, never over
 * an existing file unless asked.
 */
import {
  chmodSync,
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConsoleError } from '../src-main/core/errors';
import { imageHasher, parsePublicKey, parseSecretKey, type MinisignPublicKey, type MinisignSecretKey } from '../src-main/firmware';
import { randomBytes, toHex } from '../src-main/protocol';

export const SECRET_FILE_MODE = 0o600;
export const PUBLIC_FILE_MODE = 0o644;

/** The bytes of a file the user named, or CONFIG_UNREADABLE saying which and why. */
export function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConsoleError('CONFIG_UNREADABLE', `Cannot read the ${what} ${path}: ${reason}`, { cause: err });
  }
}

function withFile<T>(path: string, what: string, parse: (text: string) => T): T {
  const text = readInput(path, what).toString('utf8');
  try {
    return parse(text);
  } catch (err) {
    throw new ConsoleError('FIRMWARE_INVALID', `The ${what} ${path} is not usable: ${(err as Error).message}`, { cause: err });
  }
}

/** A minisign public key file (`NAME.pub`). */
export function readPublicKeyFile(path: string): MinisignPublicKey {
  return withFile(path, 'public key file', parsePublicKey);
}

/** An unencrypted minisign secret key file (`NAME.key`, ours or `minisign -G -W`'s). */
export function readSecretKeyFile(path: string): MinisignSecretKey {
  return withFile(path, 'secret key file', parseSecretKey);
}

/** Size and BLAKE2b-512 (hex) of a file, read in chunks. */
export async function hashFile(path: string): Promise<{ size: number; blake2b512: string }> {
  if (!existsSync(path)) throw new ConsoleError('CONFIG_UNREADABLE', `Cannot read the image ${path}: no such file`);
  if (!statSync(path).isFile()) throw new ConsoleError('BAD_REQUEST', `The image ${path} is not a file`);
  const hasher = imageHasher();
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hasher.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, blake2b512: hasher.digest().toString('hex') };
}

/** Refuses to replace existing files unless `force`. */
export function refuseOverwrite(paths: string[], force: boolean): void {
  const existing = paths.filter((p) => existsSync(p));
  if (existing.length && !force)
    throw new ConsoleError(
      'BAD_REQUEST',
      `Refusing to overwrite ${existing.join(', ')}; give --force to replace ${existing.length > 1 ? 'them' : 'it'}.`,
    );
}

/** Writes bytes whole or not at all (temp file, fsync, rename) with exactly `mode`. */
export function writeOutput(path: string, data: string | Uint8Array, mode = PUBLIC_FILE_MODE): void {
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConsoleError('BAD_REQUEST', `The directory ${dir} does not exist`);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${toHex(randomBytes(4))}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
    closeSync(fd);
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
    rmSync(tmp, { force: true });
    throw err;
  }
}
