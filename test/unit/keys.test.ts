import { describe, expect, it } from 'vitest';
import {
  blake2b,
  boxKeyPair,
  fingerprint,
  forgetKeyPair,
  isKeyId,
  keyId,
  signDetached,
  signingKeyPair,
  signingKeyPairFromSecret,
  verifyDetached,
} from '../../src-main/protocol';
import { ConsoleError } from '../../src-main/core/errors';

describe('keys', () => {
  it('derive key ids from a domain-separated BLAKE2b-256 of the public key', () => {
    const k = signingKeyPair();
    const digest = blake2b(Buffer.concat([Buffer.from('plant-console/key/v1/ed25519\0'), k.publicKey]), 32);
    expect(k.kid).toBe(digest.subarray(0, 8).toString('hex'));
    expect(isKeyId(k.kid)).toBe(true);
    // The same 32 bytes as an X25519 key get another id.
    expect(keyId(k.publicKey, 'x25519')).not.toBe(k.kid);
  });

  it('show fingerprints in 8 groups of 4 hex digits that start with the key id', () => {
    const k = boxKeyPair();
    const fp = fingerprint(k.publicKey, 'x25519');
    expect(fp).toMatch(/^([0-9a-f]{4} ){7}[0-9a-f]{4}$/);
    expect(fp.replace(/ /g, '').startsWith(k.kid)).toBe(true);
  });

  it('make the same pairs from the same seed and rebuild a pair from its stored secret', () => {
    const seed = Buffer.alloc(32, 7);
    expect(signingKeyPair(seed).publicKey.equals(signingKeyPair(seed).publicKey)).toBe(true);
    expect(boxKeyPair(seed).publicKey.equals(boxKeyPair(seed).publicKey)).toBe(true);
    const k = signingKeyPair();
    expect(signingKeyPairFromSecret(k.secretKey).kid).toBe(k.kid);
    expect(() => signingKeyPair(Buffer.alloc(31))).toThrow(ConsoleError);
    expect(() => keyId(Buffer.alloc(33), 'ed25519')).toThrow(ConsoleError);
  });

  it('domain-separate signatures and forget secrets', () => {
    const k = signingKeyPair();
    const sig = signDetached('a', Buffer.from('m'), k.secretKey);
    expect(verifyDetached('a', Buffer.from('m'), sig, k.publicKey)).toBe(true);
    expect(verifyDetached('b', Buffer.from('m'), sig, k.publicKey)).toBe(false);
    expect(verifyDetached('a', Buffer.from('m'), sig.subarray(1), k.publicKey)).toBe(false);
    forgetKeyPair(k);
    expect(k.secretKey.equals(Buffer.alloc(64))).toBe(true);
  });
});
