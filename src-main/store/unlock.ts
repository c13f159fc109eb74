/**
 * Getting the store key: unwrap it from store-key.json, or, on first start, make a random one
 * and write it wrapped. Which wrapper: the demo plant uses the demo key file (and only it may);
 * a configured plant uses the OS key store when the desktop app provides one, else a passphrase
 * (a file, a systemd credential or an environment variable: passphrase-source.ts; or asked on
 * the terminal). Nothing on disk changes unless a new store
 * is being created.
 */
import { existsSync } from 'node:fs';
import type { Logger } from '../core/log';
import { LOCKED_MESSAGE, StoreError } from './errors';
import { dbFilePath, keyFilePath, readKeyFile, writeNewKeyFile } from './key-file';
import {
  argon2idWrapper,
  demoKeyFileWrapper,
  osKeyStoreWrapper,
  MIN_PASSPHRASE_LENGTH,
  STORE_KEY_BYTES,
  DEMO_KEY_FILE_NAME,
  type KeyWrapper,
  type OsKeyStore,
  type WrapperKind,
} from './key-wrappers';
import { passphraseFromEnvironment } from './passphrase-source';
import { ttyPassphrasePrompt, type PassphrasePrompt, type PassphrasePurpose } from './prompt';
import { sodium, wipe } from './sodium';

export { PASSPHRASE_ENV, PASSPHRASE_FILE_ENV } from './passphrase-source';

/** How to find the store key. */
export interface UnlockOptions {
  dataDir: string;
  /** The SIMULATED demo plant: the only one allowed to keep its key in a plain file. */
  demo: boolean;
  /** A passphrase, or a function asked for it; by default the environment, then the terminal. */
  passphrase?: string | PassphrasePrompt;
  /** Where PLANT_CONSOLE_PASSPHRASE_FILE, CREDENTIALS_DIRECTORY and PLANT_CONSOLE_PASSPHRASE are looked up (default process.env). */
  env?: Record<string, string | undefined>;
  /** The terminal prompt used when nothing else gives a passphrase; null never asks (default: ask when stdin is a TTY). */
  prompt?: PassphrasePrompt | null;
  /** The OS key store (Electron safeStorage adapter), when running in the desktop app. */
  osKeyStore?: OsKeyStore;
  /** Create a new store when there is none (default true); `keys show` only opens. */
  create?: boolean;
  /** Argon2id cost for a new key file (default ARGON2ID_DEFAULTS). */
  argon2?: { opslimit: number; memlimit: number };
  log: Logger;
}

/** The unwrapped key (zero it after use) and how it was protected. */
export interface UnlockedKey {
  key: Buffer;
  wrapper: WrapperKind;
  created: boolean;
}

async function askPassphrase(opts: UnlockOptions, purpose: PassphrasePurpose): Promise<{ value: string; asked: boolean }> {
  if (typeof opts.passphrase === 'string') return { value: opts.passphrase, asked: false };
  if (typeof opts.passphrase === 'function') return { value: await opts.passphrase(purpose), asked: true };
  const found = passphraseFromEnvironment(opts.env ?? process.env);
  if (found) {
    // Where it came from, never what it is.
    opts.log.log('info', `Store passphrase from ${found.source}`);
    return { value: found.value, asked: false };
  }
  const prompt = opts.prompt === undefined ? ttyPassphrasePrompt() : opts.prompt;
  if (!prompt) throw new StoreError('locked', LOCKED_MESSAGE);
  return { value: await prompt(purpose), asked: true };
}

/** A passphrase for a new store: long enough, and typed twice when it was asked for. */
async function newPassphrase(opts: UnlockOptions): Promise<string> {
  const first = await askPassphrase(opts, 'create');
  if ([...first.value].length < MIN_PASSPHRASE_LENGTH) {
    throw new StoreError('passphrase-rejected', `The store passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`);
  }
  if (first.asked) {
    const again = await askPassphrase(opts, 'confirm');
    if (again.value !== first.value) throw new StoreError('passphrase-rejected', 'The two passphrases differ: nothing was created');
  }
  return first.value;
}

function checkDemo(opts: UnlockOptions, wrapper: WrapperKind): void {
  if (wrapper === 'demo-key-file' && !opts.demo) {
    throw new StoreError(
      'demo-mismatch',
      `${opts.dataDir} holds the SIMULATED demo plant's store, whose key is kept in a plain file: a configured plant never uses it. Choose another --data-dir.`,
    );
  }
  if (wrapper !== 'demo-key-file' && opts.demo) {
    throw new StoreError(
      'demo-mismatch',
      `${opts.dataDir} holds a configured plant's store: the demo plant runs in a data dir of its own (--data-dir).`,
    );
  }
}

function logDemoKey(opts: UnlockOptions): void {
  opts.log.log(
    'warn',
    `SIMULATED demo plant: its store key is kept in a plain file beside the data (${DEMO_KEY_FILE_NAME}), not protected`,
    {
      dataDir: opts.dataDir,
    },
  );
}

async function unwrapExisting(opts: UnlockOptions, kind: WrapperKind): Promise<KeyWrapper> {
  switch (kind) {
    case 'argon2id': {
      const { value } = await askPassphrase(opts, 'unlock');
      return argon2idWrapper({ passphrase: value, keyFilePath: keyFilePath(opts.dataDir) });
    }
    case 'demo-key-file':
      logDemoKey(opts);
      return demoKeyFileWrapper({ dataDir: opts.dataDir });
    case 'os-keystore':
      if (!opts.osKeyStore?.isAvailable()) {
        throw new StoreError(
          'locked',
          `The store is locked: its key in ${keyFilePath(opts.dataDir)} is held by the OS key store of the desktop app, which is not available here`,
        );
      }
      return osKeyStoreWrapper(opts.osKeyStore);
  }
}

async function wrapperForNewStore(opts: UnlockOptions): Promise<KeyWrapper> {
  if (opts.demo) {
    logDemoKey(opts);
    return demoKeyFileWrapper({ dataDir: opts.dataDir });
  }
  if (opts.osKeyStore?.isAvailable()) return osKeyStoreWrapper(opts.osKeyStore);
  const passphrase = await newPassphrase(opts);
  return argon2idWrapper({ passphrase, keyFilePath: keyFilePath(opts.dataDir), ...(opts.argon2 ? { params: opts.argon2 } : {}) });
}

/** Unwraps the store key of a data dir, or creates it (and its key file) on first start. */
export async function unlockStoreKey(opts: UnlockOptions): Promise<UnlockedKey> {
  const file = readKeyFile(opts.dataDir);
  if (file) {
    checkDemo(opts, file.key.wrapper);
    const wrapper = await unwrapExisting(opts, file.key.wrapper);
    const key = await wrapper.unwrap(file.key);
    opts.log.log('info', 'Store unlocked', { wrapper: wrapper.kind, dataDir: opts.dataDir });
    return { key, wrapper: wrapper.kind, created: false };
  }
  if (existsSync(dbFilePath(opts.dataDir))) {
    throw new StoreError(
      'key-file-invalid',
      `${dbFilePath(opts.dataDir)} exists but ${keyFilePath(opts.dataDir)} is missing: the store cannot be unlocked without it (restore it from its backup)`,
    );
  }
  if (opts.create === false) {
    throw new StoreError(
      'no-store',
      `There is no plant store in ${opts.dataDir} yet (no ${keyFilePath(opts.dataDir)}): start the console once to create it`,
    );
  }
  const wrapper = await wrapperForNewStore(opts);
  const key = Buffer.alloc(STORE_KEY_BYTES);
  sodium.randombytes_buf(key);
  try {
    writeNewKeyFile(opts.dataDir, await wrapper.wrap(key));
  } catch (err) {
    wipe(key);
    throw err;
  }
  opts.log.log('info', 'Created a new store key', { wrapper: wrapper.kind, keyFile: keyFilePath(opts.dataDir) });
  return { key, wrapper: wrapper.kind, created: true };
}
