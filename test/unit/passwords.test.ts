/** Argon2id password and PIN hashing: format, verification, policy, and the dummy check for unknown names. */
import { describe, expect, it } from 'vitest';
import {
  dummyVerify,
  hashSecret,
  INTERACTIVE_HASH_PARAMS,
  MIN_PASSWORD_LENGTH,
  needsRehash,
  passwordProblem,
  pinProblem,
  TEST_HASH_PARAMS,
  verifySecret,
} from '../../src-main/auth/passwords';

describe('password hashing', () => {
  it('makes self-describing Argon2id hashes with a fresh salt each time', async () => {
    const a = await hashSecret('correct horse battery', TEST_HASH_PARAMS);
    const b = await hashSecret('correct horse battery', TEST_HASH_PARAMS);
    expect(a).toMatch(/^\$argon2id\$v=19\$m=8,t=1,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct horse');
  });

  it('verifies the right password and refuses wrong, empty and malformed input', async () => {
    const hash = await hashSecret('correct horse battery', TEST_HASH_PARAMS);
    expect(await verifySecret(hash, 'correct horse battery')).toBe(true);
    expect(await verifySecret(hash, 'correct horse batterY')).toBe(false);
    expect(await verifySecret(hash, '')).toBe(false);
    expect(await verifySecret('$2y$10$notargon', 'correct horse battery')).toBe(false);
    expect(await verifySecret(hash.slice(0, -4), 'correct horse battery')).toBe(false);
  });

  it('hashes the NFC form, so composed and decomposed umlauts are the same password', async () => {
    const hash = await hashSecret('Grüße aus Köln', TEST_HASH_PARAMS);
    expect(await verifySecret(hash, 'Gru\u0308ße aus Ko\u0308ln')).toBe(true);
  });

  it('uses the interactive cost by default and says when a hash should be upgraded', async () => {
    const cheap = await hashSecret('correct horse battery', TEST_HASH_PARAMS);
    expect(needsRehash(cheap)).toBe(true);
    expect(needsRehash(cheap, TEST_HASH_PARAMS)).toBe(false);
    const normal = await hashSecret('correct horse battery');
    expect(normal).toContain(`m=${INTERACTIVE_HASH_PARAMS.memlimit / 1024},t=${INTERACTIVE_HASH_PARAMS.opslimit}`);
    expect(needsRehash(normal)).toBe(false);
    expect(needsRehash('garbage')).toBe(true);
  });

  it('runs off the event loop: timers keep firing while a hash is computed', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await hashSecret('correct horse battery');
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(3);
  });

  it('spends about as long on an unknown user as on a known one', async () => {
    const hash = await hashSecret('correct horse battery');
    await dummyVerify('warm-up');
    const time = async (fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      for (let i = 0; i < 3; i++) await fn();
      return performance.now() - t0;
    };
    const known = await time(() => verifySecret(hash, 'wrong password!'));
    const unknown = await time(() => dummyVerify('wrong password!'));
    expect(await dummyVerify('correct horse battery')).toBe(false);
    // Same Argon2id cost: within a factor of three either way even on a loaded CI machine.
    expect(unknown).toBeGreaterThan(known / 3);
    expect(unknown).toBeLessThan(known * 3);
  });
});

describe('password and PIN policy', () => {
  it('wants at least 10 characters, counted as characters, not bytes', () => {
    expect(MIN_PASSWORD_LENGTH).toBe(10);
    expect(passwordProblem('123456789')).toMatch(/at least 10 characters/);
    expect(passwordProblem('1234567890')).toBeNull();
    expect(passwordProblem('äöüäöüäöü')).toMatch(/at least 10/);
    expect(passwordProblem(' padded password ')).toMatch(/spaces/);
    expect(passwordProblem('x'.repeat(2000))).toMatch(/at most 1024 bytes/);
  });

  it('takes PINs of 4 to 12 digits, not one digit repeated', () => {
    expect(pinProblem('2580')).toBeNull();
    expect(pinProblem('123')).toMatch(/4 to 12/);
    expect(pinProblem('12a4')).toMatch(/digits only/);
    expect(pinProblem('0000')).toMatch(/repeat/);
    expect(pinProblem('1'.repeat(13))).not.toBeNull();
  });
});
