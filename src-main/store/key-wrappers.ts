/**
 * Wrappers of the store key: the random 32-byte database key is never written in the clear,
 * only wrapped by one of these. Argon2id from a passphrase (headless plant PCs), the OS key store
 * (Electron safeStorage, desktop), or the demo key file (SIMULATED demo plant only).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { StoreError } from './errors';
import { writeFileAtomic } from './files';
import { sodium, wipe } from './sodium';

export const STORE_KEY_BYTES = 32;

/**
 * Argon2id cost: RFC 9106's second recommended setting (t = 3 passes, m = 64 MiB), ≈ 90 ms here.
 * libsodium's MODERATE (256 MiB, ≈ 0.45 s) was rejected: an industrial PC may be short of RAM
 * and the CLI unlocks too; INTERACTIVE (2 passes) is raised to 3 as the RFC advises for 64 MiB.
 * Each file carries its own parameters, so they can be raised later without breaking old files.
 */
export const ARGON2ID_DEFAULTS = { opslimit: 3, memlimit: 64 * 1024 * 1024 } as const;
/** Bounds on parameters read from a file: a crafted file must not exhaust memory or time. */
const ARGON2ID_MAX = { opslimit: 16, memlimit: 1024 * 1024 * 1024 } as const;

/** New passphrases shorter than this are refused. */
export const MIN_PASSPHRASE_LENGTH = 8;

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const AEAD = z.literal('xchacha20poly1305-ietf');

export const Argon2idWrappedSchema = z
  .object({
    wrapper: z.literal('argon2id'),
    kdf: z
      .object({
        alg: z.literal('argon2id13'),
        opslimit: z.number().int().min(1).max(ARGON2ID_MAX.opslimit),
        memlimit: z.number().int().min(8192).max(ARGON2ID_MAX.memlimit),
        salt: b64,
      })
      .strict(),
    aead: AEAD,
    nonce: b64,
    ciphertext: b64,
  })
  .strict();

export const DemoWrappedSchema = z
  .object({
    wrapper: z.literal('demo-key-file'),
    /** A file name in the data dir (never a path) holding the wrapping key. */
    keyFile: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a plain file name'),
    aead: AEAD,
    nonce: b64,
    ciphertext: b64,
  })
  .strict();

export const OsKeyStoreWrappedSchema = z
  .object({
    wrapper: z.literal('os-keystore'),
    /** Whatever the OS key store returned (opaque to us). */
    ciphertext: b64,
  })
  .strict();

export const WrappedKeySchema = z.discriminatedUnion('wrapper', [Argon2idWrappedSchema, DemoWrappedSchema, OsKeyStoreWrappedSchema]);
export type WrappedKey = z.infer<typeof WrappedKeySchema>;
export type WrapperKind = WrappedKey['wrapper'];

/** Wraps and unwraps the store key. */
export interface KeyWrapper {
  readonly kind: WrapperKind;
  wrap(key: Uint8Array): Promise<WrappedKey>;
  /** The store key (the caller zeroes it after use); a StoreError when it cannot be unwrapped. */
  unwrap(wrapped: WrappedKey): Promise<Buffer>;
}

/** The OS key store as the Electron adapter exposes it (src-main/electron/safe-storage.ts). */
export interface OsKeyStore {
  /** False when the OS offers no real protection (no keyring, or Linux's hard-coded fallback). */
  isAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(cipher: Buffer): string;
  /** Which backend protects the key, for the log (e.g. "gnome_libsecret", "dpapi"). */
  backend(): string;
}

/** XChaCha20-Poly1305 of the key under `wrappingKey`, bound to `ad`. */
function seal(key: Uint8Array, wrappingKey: Uint8Array, ad: Buffer): { nonce: string; ciphertext: string } {
  const nonce = Buffer.alloc(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  sodium.randombytes_buf(nonce);
  const c = Buffer.alloc(key.byteLength + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(c, key, ad, null, nonce, wrappingKey);
  return { nonce: nonce.toString('base64'), ciphertext: c.toString('base64') };
}

/** The key, or null when the tag does not verify (wrong wrapping key or altered file). */
function open(w: { nonce: string; ciphertext: string }, wrappingKey: Uint8Array, ad: Buffer): Buffer | null {
  const nonce = Buffer.from(w.nonce, 'base64');
  const c = Buffer.from(w.ciphertext, 'base64');
  if (
    nonce.length !== sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
    c.length !== STORE_KEY_BYTES + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES
  ) {
    return null;
  }
  const key = Buffer.alloc(STORE_KEY_BYTES);
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(key, null, c, ad, nonce, wrappingKey);
    return key;
  } catch {
    wipe(key);
    return null;
  }
}

/** Additional data of an Argon2id wrap: the parameters cannot be swapped without breaking the tag. */
function argon2idAd(kdf: z.infer<typeof Argon2idWrappedSchema>['kdf']): Buffer {
  return Buffer.from(`plant-console/store-key v1 argon2id ${kdf.alg} ${kdf.opslimit} ${kdf.memlimit} ${kdf.salt}`, 'utf8');
}

async function deriveKey(passphrase: string, salt: Buffer, opslimit: number, memlimit: number): Promise<Buffer> {
  const pw = Buffer.from(passphrase.normalize('NFKC'), 'utf8');
  const out = Buffer.alloc(sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  try {
    // The async variant runs on libuv's pool: the Electron main thread stays responsive.
    await sodium.crypto_pwhash_async(out, pw, salt, opslimit, memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
    return out;
  } finally {
    wipe(pw);
  }
}

/** Argon2id(passphrase, salt) → XChaCha20-Poly1305 wrap. `keyFilePath` only names the file in errors. */
export function argon2idWrapper(opts: {
  passphrase: string;
  keyFilePath: string;
  params?: { opslimit: number; memlimit: number };
}): KeyWrapper {
  const params = opts.params ?? ARGON2ID_DEFAULTS;
  return {
    kind: 'argon2id',
    async wrap(key) {
      const salt = Buffer.alloc(sodium.crypto_pwhash_SALTBYTES);
      sodium.randombytes_buf(salt);
      const kdf = { alg: 'argon2id13' as const, opslimit: params.opslimit, memlimit: params.memlimit, salt: salt.toString('base64') };
      const kek = await deriveKey(opts.passphrase, salt, kdf.opslimit, kdf.memlimit);
      try {
        return { wrapper: 'argon2id', kdf, aead: 'xchacha20poly1305-ietf', ...seal(key, kek, argon2idAd(kdf)) };
      } finally {
        wipe(kek);
      }
    },
    async unwrap(wrapped) {
      if (wrapped.wrapper !== 'argon2id') throw new StoreError('key-file-invalid', `${opts.keyFilePath} is not wrapped by a passphrase`);
      const salt = Buffer.from(wrapped.kdf.salt, 'base64');
      if (salt.length !== sodium.crypto_pwhash_SALTBYTES)
        throw new StoreError('key-file-invalid', `${opts.keyFilePath} has a malformed salt`);
      const kek = await deriveKey(opts.passphrase, salt, wrapped.kdf.opslimit, wrapped.kdf.memlimit);
      try {
        const key = open(wrapped, kek, argon2idAd(wrapped.kdf));
        if (!key) throw new StoreError('wrong-passphrase', `Wrong passphrase for ${opts.keyFilePath}`);
        return key;
      } finally {
        wipe(kek);
      }
    },
  };
}

export const DEMO_KEY_FILE_NAME = 'store-key.demo';

function demoAd(keyFile: string): Buffer {
  return Buffer.from(`plant-console/store-key v1 demo-key-file ${keyFile}`, 'utf8');
}

/**
 * The SIMULATED demo plant's wrapper: a random wrapping key in a plain file (0600) beside the
 * data. It protects nothing against someone who can read the data dir, which is why only the
 * demo plant may use it; it keeps store-key.json in one format for every wrapper.
 */
export function demoKeyFileWrapper(opts: { dataDir: string }): KeyWrapper {
  return {
    kind: 'demo-key-file',
    async wrap(key) {
      const kek = Buffer.alloc(sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
      sodium.randombytes_buf(kek);
      const text = kek.toString('base64') + '\n';
      try {
        writeFileAtomic(join(opts.dataDir, DEMO_KEY_FILE_NAME), text, { noClobber: false });
        return {
          wrapper: 'demo-key-file',
          keyFile: DEMO_KEY_FILE_NAME,
          aead: 'xchacha20poly1305-ietf',
          ...seal(key, kek, demoAd(DEMO_KEY_FILE_NAME)),
        };
      } finally {
        wipe(kek);
      }
    },
    async unwrap(wrapped) {
      if (wrapped.wrapper !== 'demo-key-file') throw new StoreError('key-file-invalid', 'The store key is not wrapped by a demo key file');
      const path = join(opts.dataDir, wrapped.keyFile);
      if (!existsSync(path))
        throw new StoreError('key-file-invalid', `The demo key file ${path} is missing: the demo store cannot be opened`);
      const kek = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
      try {
        const key = kek.length === sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES ? open(wrapped, kek, demoAd(wrapped.keyFile)) : null;
        if (!key) throw new StoreError('wrong-key', `The demo key file ${path} does not open this store's key`);
        return key;
      } finally {
        wipe(kek);
      }
    },
  };
}

/** The OS key store's wrapper (Electron safeStorage through the adapter). */
export function osKeyStoreWrapper(store: OsKeyStore): KeyWrapper {
  return {
    kind: 'os-keystore',
    async wrap(key) {
      // safeStorage takes strings; this base64 copy of the key cannot be zeroed, only dropped.
      const c = store.encryptString(Buffer.from(key).toString('base64'));
      return { wrapper: 'os-keystore', ciphertext: c.toString('base64') };
    },
    async unwrap(wrapped) {
      if (wrapped.wrapper !== 'os-keystore') throw new StoreError('key-file-invalid', 'The store key is not wrapped by the OS key store');
      let plain: string;
      try {
        plain = store.decryptString(Buffer.from(wrapped.ciphertext, 'base64'));
      } catch (err) {
        throw new StoreError(
          'wrong-key',
          `The OS key store (${store.backend()}) cannot unwrap the store key: was the data dir copied from another user or machine?`,
          {
            cause: err,
          },
        );
      }
      const key = Buffer.from(plain, 'base64');
      if (key.length !== STORE_KEY_BYTES) {
        wipe(key);
        throw new StoreError('key-file-invalid', 'The OS key store returned a malformed store key');
      }
      return key;
    },
  };
}
