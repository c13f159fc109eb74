/**
 * Why the store could not be opened. Each reason maps onto one of the core's error codes, so
 * the CLI and the API treat it like any other ConsoleError; `reason` lets callers and tests tell
 * the cases apart without parsing messages.
 */
import { ConsoleError, type ErrorCode } from '../core/errors';

export type StoreErrorReason =
  /** No key source: no passphrase in the environment, no terminal to ask, no OS key store. */
  | 'locked'
  /** The passphrase does not unwrap the store key. */
  | 'wrong-passphrase'
  /** The database cannot be read with the unwrapped key (another key, or not a store). */
  | 'wrong-key'
  /** store-key.json is missing its database, malformed, or of an unknown format. */
  | 'key-file-invalid'
  /** A demo key file where a configured plant is expected, or the other way round. */
  | 'demo-mismatch'
  /** There is no store yet and the caller asked not to create one. */
  | 'no-store'
  /** A new passphrase was refused (too short, confirmation differs). */
  | 'passphrase-rejected'
  /** The database was written by a newer version of the console. */
  | 'schema-too-new'
  /** The passphrase file is not a private regular file of this user (or root). */
  | 'passphrase-file-unsafe'
  /** The passphrase is given more than one way (file, systemd credential, variable). */
  | 'passphrase-ambiguous'
  /** The data dir can be written by other users, or belongs to one. */
  | 'data-dir-unsafe'
  /** The database file is truncated, its header or pages unreadable, or its integrity check failed. */
  | 'damaged'
  /** The database is behind its sequence guard: it was rolled back (store-check.ts). */
  | 'store-behind';

const CODES: Record<StoreErrorReason, ErrorCode> = {
  locked: 'UNAVAILABLE',
  'wrong-passphrase': 'FORBIDDEN',
  'wrong-key': 'UNAVAILABLE',
  'key-file-invalid': 'UNAVAILABLE',
  'demo-mismatch': 'FORBIDDEN',
  'no-store': 'NOT_FOUND',
  'passphrase-rejected': 'FORBIDDEN',
  'schema-too-new': 'UNAVAILABLE',
  'passphrase-file-unsafe': 'FORBIDDEN',
  'passphrase-ambiguous': 'BAD_REQUEST',
  'data-dir-unsafe': 'FORBIDDEN',
  damaged: 'UNAVAILABLE',
  'store-behind': 'UNAVAILABLE',
};

/** A ConsoleError raised while unlocking or opening the store. */
export class StoreError extends ConsoleError {
  constructor(
    readonly reason: StoreErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(CODES[reason], message, options);
  }
}

/** The one message shown when no key source is available. */
export const LOCKED_MESSAGE =
  'The store is locked: give its passphrase in a file (PLANT_CONSOLE_PASSPHRASE_FILE, or the systemd credential plant-console-passphrase), in PLANT_CONSOLE_PASSPHRASE, or run on a terminal to be asked';
