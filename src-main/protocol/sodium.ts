/**
 * The libsodium calls the protocol uses, typed. sodium-native ships no type declarations; a
 * local interface (instead of a global `declare module`) keeps other engineers free to type
 * the functions they need without clashing with ours.
 *
 * Secrets live in plain Buffers (never `sodium_malloc`: Electron rejects external
 * ArrayBuffers) and are zeroed with `sodium_memzero` once used.
 */
import { createRequire } from 'node:module';

/** The subset of sodium-native 5.x used by src-main/protocol. */
export interface SodiumApi {
  readonly crypto_sign_PUBLICKEYBYTES: number;
  readonly crypto_sign_SECRETKEYBYTES: number;
  readonly crypto_sign_SEEDBYTES: number;
  readonly crypto_sign_BYTES: number;
  readonly crypto_box_PUBLICKEYBYTES: number;
  readonly crypto_box_SECRETKEYBYTES: number;
  readonly crypto_box_SEEDBYTES: number;
  readonly crypto_box_NONCEBYTES: number;
  readonly crypto_box_MACBYTES: number;
  readonly crypto_box_SEALBYTES: number;
  readonly crypto_aead_xchacha20poly1305_ietf_KEYBYTES: number;
  readonly crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number;
  readonly crypto_aead_xchacha20poly1305_ietf_ABYTES: number;
  crypto_sign_keypair(pk: Uint8Array, sk: Uint8Array): void;
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void;
  crypto_sign_detached(sig: Uint8Array, message: Uint8Array, sk: Uint8Array): void;
  crypto_sign_verify_detached(sig: Uint8Array, message: Uint8Array, pk: Uint8Array): boolean;
  crypto_box_keypair(pk: Uint8Array, sk: Uint8Array): void;
  crypto_box_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void;
  crypto_box_easy(c: Uint8Array, m: Uint8Array, nonce: Uint8Array, pk: Uint8Array, sk: Uint8Array): void;
  crypto_box_seal(c: Uint8Array, m: Uint8Array, pk: Uint8Array): void;
  crypto_box_seal_open(m: Uint8Array, c: Uint8Array, pk: Uint8Array, sk: Uint8Array): boolean;
  crypto_generichash(out: Uint8Array, input: Uint8Array, key?: Uint8Array): void;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  /** Throws when the tag does not verify. */
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  randombytes_buf(buf: Uint8Array): void;
  sodium_memzero(buf: Uint8Array): void;
  // Used by the encrypted store (key wrapping, identity), which shares this one binding.
  crypto_pwhash_async(
    out: Uint8Array,
    passwd: Uint8Array,
    salt: Uint8Array,
    opslimit: number,
    memlimit: number,
    alg: number,
  ): Promise<void>;
  crypto_sign_ed25519_sk_to_pk(pk: Uint8Array, sk: Uint8Array): void;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  readonly crypto_pwhash_ALG_ARGON2ID13: number;
  readonly crypto_pwhash_SALTBYTES: number;
  readonly crypto_pwhash_OPSLIMIT_MIN: number;
  readonly crypto_pwhash_MEMLIMIT_MIN: number;
}

// createRequire, not `import`: the package is CommonJS without types, and this keeps the
// protocol loadable from the console, its bundle and the supplier-cloud package alike.
const require = createRequire(import.meta.url);

/** The loaded sodium-native binding. */
export const sodium = require('sodium-native') as SodiumApi;

/** Zeroes a secret in place (batch keys, secret keys, decrypted plaintext). */
export function wipe(...buffers: (Uint8Array | null | undefined)[]): void {
  for (const b of buffers) if (b && b.byteLength > 0) sodium.sodium_memzero(b);
}

/** `n` bytes from libsodium's CSPRNG. */
export function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  sodium.randombytes_buf(b);
  return b;
}

/** BLAKE2b with an output of `outLen` bytes (16–64), optionally keyed. */
export function blake2b(input: Uint8Array, outLen = 32, key?: Uint8Array): Buffer {
  const out = Buffer.alloc(outLen);
  if (key) sodium.crypto_generichash(out, input, key);
  else sodium.crypto_generichash(out, input);
  return out;
}
