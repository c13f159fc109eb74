/**
 * Key pairs, key ids and fingerprints.
 *
 * key digest  = BLAKE2b-256( "plant-console/key/v1/<alg>\0" ‖ public key )   alg: ed25519 | x25519
 * key id      = the first 8 bytes of the digest (16 lowercase hex characters in text)
 * fingerprint = the first 16 bytes of the digest in 8 groups of 4 hex digits; its first
 *               4 groups are the key id, so a person reading one can check the other.
 * The algorithm is in the hashed prefix so that the same 32 bytes used as an Ed25519 and as
 * an X25519 key can never share an id.
 */
import { ConsoleError } from '../core/errors';
import { domain, toHex } from './encoding';
import { blake2b, randomBytes, sodium, wipe } from './sodium';

export type KeyAlg = 'ed25519' | 'x25519';

export const KEY_ID_BYTES = 8;
export const PUBLIC_KEY_BYTES = 32;
export const SIGNING_SECRET_KEY_BYTES = 64;
export const BOX_SECRET_KEY_BYTES = 32;
export const SEED_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** An Ed25519 key pair; `secretKey` is libsodium's 64-byte form (seed ‖ public key). */
export interface SigningKeyPair {
  readonly alg: 'ed25519';
  readonly publicKey: Buffer;
  readonly secretKey: Buffer;
  readonly kid: string;
}

/** An X25519 key pair (crypto_box). */
export interface BoxKeyPair {
  readonly alg: 'x25519';
  readonly publicKey: Buffer;
  readonly secretKey: Buffer;
  readonly kid: string;
}

function keyDigest(publicKey: Uint8Array, alg: KeyAlg): Buffer {
  if (publicKey.byteLength !== PUBLIC_KEY_BYTES) {
    throw new ConsoleError('PROTOCOL_INVALID', `An ${alg} public key has ${PUBLIC_KEY_BYTES} bytes, not ${publicKey.byteLength}.`);
  }
  return blake2b(Buffer.concat([domain(`plant-console/key/v1/${alg}`), publicKey]), 32);
}

/** The 8 key-id bytes of a public key. */
export function keyIdBytes(publicKey: Uint8Array, alg: KeyAlg): Buffer {
  return keyDigest(publicKey, alg).subarray(0, KEY_ID_BYTES);
}

/** The key id of a public key as 16 lowercase hex characters. */
export function keyId(publicKey: Uint8Array, alg: KeyAlg): string {
  return toHex(keyIdBytes(publicKey, alg));
}

/** The fingerprint people compare (over the phone, on paper): `xxxx xxxx … ` (8 groups). */
export function fingerprint(publicKey: Uint8Array, alg: KeyAlg): string {
  const hex = toHex(keyDigest(publicKey, alg).subarray(0, 16));
  return hex.match(/.{4}/g)!.join(' ');
}

/** True for a key id in text form. */
export function isKeyId(text: unknown): text is string {
  return typeof text === 'string' && /^[0-9a-f]{16}$/.test(text);
}

function checkSeed(seed: Uint8Array): void {
  if (seed.byteLength !== SEED_BYTES)
    throw new ConsoleError('PROTOCOL_INVALID', `A key seed has ${SEED_BYTES} bytes, not ${seed.byteLength}.`);
}

/** A new Ed25519 key pair, random or (for test vectors) from a 32-byte seed. */
export function signingKeyPair(seed?: Uint8Array): SigningKeyPair {
  const publicKey = Buffer.alloc(PUBLIC_KEY_BYTES);
  const secretKey = Buffer.alloc(SIGNING_SECRET_KEY_BYTES);
  if (seed) {
    checkSeed(seed);
    sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed);
  } else sodium.crypto_sign_keypair(publicKey, secretKey);
  return { alg: 'ed25519', publicKey, secretKey, kid: keyId(publicKey, 'ed25519') };
}

/** A new X25519 key pair, random or (for test vectors) from a 32-byte seed. */
export function boxKeyPair(seed?: Uint8Array): BoxKeyPair {
  const publicKey = Buffer.alloc(PUBLIC_KEY_BYTES);
  const secretKey = Buffer.alloc(BOX_SECRET_KEY_BYTES);
  if (seed) {
    checkSeed(seed);
    sodium.crypto_box_seed_keypair(publicKey, secretKey, seed);
  } else sodium.crypto_box_keypair(publicKey, secretKey);
  return { alg: 'x25519', publicKey, secretKey, kid: keyId(publicKey, 'x25519') };
}

/** Rebuilds an Ed25519 key pair from its stored 64-byte secret key (the public key is its tail). */
export function signingKeyPairFromSecret(secretKey: Uint8Array): SigningKeyPair {
  if (secretKey.byteLength !== SIGNING_SECRET_KEY_BYTES) {
    throw new ConsoleError('PROTOCOL_INVALID', `An Ed25519 secret key has ${SIGNING_SECRET_KEY_BYTES} bytes, not ${secretKey.byteLength}.`);
  }
  const sk = Buffer.from(secretKey);
  const publicKey = Buffer.from(sk.subarray(32));
  return { alg: 'ed25519', publicKey, secretKey: sk, kid: keyId(publicKey, 'ed25519') };
}

/** A fresh random 32-byte secret (batch keys, pseudonym keys). */
export function randomSecret(): Buffer {
  return randomBytes(32);
}

/** Zeroes the secret half of a key pair once it is no longer needed. */
export function forgetKeyPair(pair: SigningKeyPair | BoxKeyPair): void {
  wipe(pair.secretKey);
}

/** Ed25519 detached signature of `domainLabel\0 ‖ message`. */
export function signDetached(label: string, message: Uint8Array, secretKey: Uint8Array): Buffer {
  const sig = Buffer.alloc(SIGNATURE_BYTES);
  sodium.crypto_sign_detached(sig, Buffer.concat([domain(label), message]), secretKey);
  return sig;
}

/** Verifies an Ed25519 detached signature of `domainLabel\0 ‖ message`; never throws. */
export function verifyDetached(label: string, message: Uint8Array, sig: Uint8Array, publicKey: Uint8Array): boolean {
  if (sig.byteLength !== SIGNATURE_BYTES || publicKey.byteLength !== PUBLIC_KEY_BYTES) return false;
  return sodium.crypto_sign_verify_detached(sig, Buffer.concat([domain(label), message]), publicKey);
}
