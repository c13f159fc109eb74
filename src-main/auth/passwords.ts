/**
 * Password and PIN hashing: Argon2id through libsodium's `crypto_pwhash_str` (the self-describing
 * `$argon2id$v=19$m=…,t=…,p=1$salt$hash` string, salt included). Hashing and verifying run on
 * libuv's thread pool (the `_async` variants), so a login never blocks the event loop that
 * polls the machines.
 */
import { createRequire } from 'node:module';
import {
  COMMON_PASSWORD_REFUSAL,
  MAX_PASSWORD_BYTES,
  passwordShapeProblem,
  type PasswordRefusal,
} from '../../src-preload/contract/password-rules';
import { isCommonPassword } from './common-passwords';

/** The subset of sodium-native used here (typed locally, as src-main/store/sodium.ts does). */
interface PwhashSodium {
  crypto_pwhash_str_async(out: Uint8Array, passwd: Uint8Array, opslimit: number, memlimit: number): Promise<void>;
  crypto_pwhash_str_verify_async(str: Uint8Array, passwd: Uint8Array): Promise<boolean>;
  crypto_pwhash_str_needs_rehash(str: Uint8Array, opslimit: number, memlimit: number): boolean;
  randombytes_buf(buf: Uint8Array): void;
  sodium_memzero(buf: Uint8Array): void;
  readonly crypto_pwhash_STRBYTES: number;
  readonly crypto_pwhash_OPSLIMIT_INTERACTIVE: number;
  readonly crypto_pwhash_MEMLIMIT_INTERACTIVE: number;
  readonly crypto_pwhash_OPSLIMIT_MIN: number;
  readonly crypto_pwhash_MEMLIMIT_MIN: number;
}

const sodium = createRequire(import.meta.url)('sodium-native') as PwhashSodium;

/** Argon2id cost: operations and memory (bytes). */
export interface PasswordHashParams {
  opslimit: number;
  memlimit: number;
}

/** libsodium's "interactive" cost (2 passes, 64 MiB): about 70 ms a login on a plant PC. */
export const INTERACTIVE_HASH_PARAMS: PasswordHashParams = Object.freeze({
  opslimit: sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE,
  memlimit: sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE,
});

/** The cheapest cost libsodium allows: for tests only, never for stored accounts. */
export const TEST_HASH_PARAMS: PasswordHashParams = Object.freeze({
  opslimit: sodium.crypto_pwhash_OPSLIMIT_MIN,
  memlimit: sodium.crypto_pwhash_MEMLIMIT_MIN,
});

export { MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH } from '../../src-preload/contract/password-rules';
export const MIN_PIN_LENGTH = 4;
export const MAX_PIN_LENGTH = 12;

/**
 * Why a new password for the account `name` is refused (NIST SP 800-63B: length, not the name,
 * not repetitive or sequential, not on the list of common and breached passwords), or null.
 */
export async function newPasswordProblem(password: string, name?: string): Promise<PasswordRefusal | null> {
  const shape = passwordShapeProblem(password, name);
  if (shape) return shape;
  return (await isCommonPassword(password)) ? COMMON_PASSWORD_REFUSAL : null;
}

/** Why a new PIN is refused, or null when it is acceptable. */
export function pinProblem(pin: string): string | null {
  if (!/^[0-9]+$/.test(pin)) return 'A PIN is digits only';
  if (pin.length < MIN_PIN_LENGTH || pin.length > MAX_PIN_LENGTH) return `A PIN has ${MIN_PIN_LENGTH} to ${MAX_PIN_LENGTH} digits`;
  if (/^(\d)\1+$/.test(pin)) return 'A PIN may not repeat one digit';
  return null;
}

/** UTF-8 bytes of the NFC form, so the same password typed on two keyboards hashes the same. */
function secretBytes(secret: string): Buffer {
  return Buffer.from(secret.normalize('NFC'), 'utf8');
}

/** Hashes a password or PIN with Argon2id; resolves with the crypto_pwhash_str string. */
export async function hashSecret(secret: string, params: PasswordHashParams = INTERACTIVE_HASH_PARAMS): Promise<string> {
  const input = secretBytes(secret);
  if (input.length === 0) throw new RangeError('An empty secret cannot be hashed');
  const out = Buffer.alloc(sodium.crypto_pwhash_STRBYTES);
  try {
    await sodium.crypto_pwhash_str_async(out, input, params.opslimit, params.memlimit);
  } finally {
    sodium.sodium_memzero(input);
  }
  const end = out.indexOf(0);
  return out.subarray(0, end < 0 ? out.length : end).toString('ascii');
}

function strBuffer(hash: string): Buffer | null {
  const bytes = Buffer.from(hash, 'ascii');
  if (!hash.startsWith('$argon2id$') || bytes.length >= sodium.crypto_pwhash_STRBYTES) return null;
  const out = Buffer.alloc(sodium.crypto_pwhash_STRBYTES);
  bytes.copy(out);
  return out;
}

/** True when `secret` matches the stored hash; false for a malformed hash or empty input. */
export async function verifySecret(hash: string, secret: string): Promise<boolean> {
  const str = strBuffer(hash);
  const input = secretBytes(secret);
  if (!str || input.length === 0 || input.length > MAX_PASSWORD_BYTES) {
    // Same cost as a real check, so the answer's timing says nothing about why it failed.
    await dummyVerify(secret);
    return false;
  }
  try {
    return await sodium.crypto_pwhash_str_verify_async(str, input);
  } finally {
    sodium.sodium_memzero(input);
  }
}

const dummies = new Map<string, Promise<string>>();

/**
 * Runs a verification that always fails, at the cost of a real one: for unknown user names,
 * so that the time a login takes does not tell which names exist.
 */
export async function dummyVerify(secret: string, params: PasswordHashParams = INTERACTIVE_HASH_PARAMS): Promise<false> {
  const key = `${params.opslimit}/${params.memlimit}`;
  let dummy = dummies.get(key);
  if (!dummy) {
    const random = Buffer.alloc(32);
    sodium.randombytes_buf(random);
    dummy = hashSecret(random.toString('base64'), params);
    dummies.set(key, dummy);
  }
  const str = strBuffer(await dummy);
  const input = Buffer.from(`x${secret.slice(0, MAX_PASSWORD_BYTES)}`, 'utf8');
  try {
    if (str) await sodium.crypto_pwhash_str_verify_async(str, input);
  } finally {
    sodium.sodium_memzero(input);
  }
  return false;
}

/** True when a stored hash was made with another cost than `params` (rehash it at the next login). */
export function needsRehash(hash: string, params: PasswordHashParams = INTERACTIVE_HASH_PARAMS): boolean {
  const str = strBuffer(hash);
  return !str || sodium.crypto_pwhash_str_needs_rehash(str, params.opslimit, params.memlimit);
}
