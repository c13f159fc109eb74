/**
 * `<dataDir>/store-key.json`: the store key, wrapped (never in the clear), with what is needed
 * to unwrap it (wrapper kind, Argon2id salt and parameters, nonce).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { StoreError } from './errors';
import { writeFileAtomic } from './files';
import { WrappedKeySchema, type WrappedKey, type WrapperKind } from './key-wrappers';

export const KEY_FILE_NAME = 'store-key.json';
export const DB_FILE_NAME = 'plant.db';

export const KeyFileSchema = z
  .object({
    format: z.literal('plant-console/store-key'),
    version: z.literal(1),
    createdAt: z.string(),
    key: WrappedKeySchema,
  })
  .strict();
export type KeyFile = z.infer<typeof KeyFileSchema>;

/** Where the key file of a data dir is. */
export function keyFilePath(dataDir: string): string {
  return join(dataDir, KEY_FILE_NAME);
}

/** Where the database of a data dir is. */
export function dbFilePath(dataDir: string): string {
  return join(dataDir, DB_FILE_NAME);
}

/** The data dir's key file, null when there is none; a StoreError when it is unreadable. */
export function readKeyFile(dataDir: string): KeyFile | null {
  const path = keyFilePath(dataDir);
  if (!existsSync(path)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new StoreError('key-file-invalid', `${path} is not valid JSON: restore it from its backup`, { cause: err });
  }
  const parsed = KeyFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new StoreError('key-file-invalid', `${path} is not a store key file of this version${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Which wrapper protects a data dir's store key, null when there is no store yet. */
export function storeKeyWrapper(dataDir: string): WrapperKind | null {
  return readKeyFile(dataDir)?.key.wrapper ?? null;
}

/** Creates the key file (0600, atomically); fails if one appeared meanwhile (another process). */
export function writeNewKeyFile(dataDir: string, key: WrappedKey, now: Date = new Date()): void {
  const file: KeyFile = { format: 'plant-console/store-key', version: 1, createdAt: now.toISOString(), key };
  try {
    writeFileAtomic(keyFilePath(dataDir), JSON.stringify(file, null, 2) + '\n', { noClobber: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new StoreError('key-file-invalid', `${keyFilePath(dataDir)} was created by another process meanwhile: start again`, {
        cause: err,
      });
    }
    throw err;
  }
}
