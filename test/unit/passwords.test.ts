/** Argon2id password and PIN hashing: format, verification, policy, and the dummy check for unknown names. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { isCommonPassword } from '../../src-main/auth/common-passwords';
import { demoAccounts } from '../../src-main/auth/demo';
import {
  dummyVerify,
  hashSecret,
  INTERACTIVE_HASH_PARAMS,
  MIN_PASSWORD_LENGTH,
  needsRehash,
  newPasswordProblem,
  pinProblem,
  TEST_HASH_PARAMS,
  verifySecret,
} from '../../src-main/auth/passwords';

/** The same sodium-native module object the hashing code uses (one CommonJS instance). */
const nativeSodium = createRequire(import.meta.url)('sodium-native') as {
  crypto_pwhash_str_verify_async: (...args: unknown[]) => Promise<boolean>;
};

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

  it('checks an unknown user at the cost of a real check: one Argon2id verification with the same parameters', async () => {
    // The cost is what the timing follows; asserted structurally (no clock), so it holds on a loaded machine.
    const costOf = (call: unknown[] | undefined) =>
      /^\$argon2id\$v=19\$(m=\d+,t=\d+,p=\d+)\$/.exec(Buffer.from(call?.[0] as Uint8Array).toString('ascii'))?.[1];
    const interactive = `m=${INTERACTIVE_HASH_PARAMS.memlimit / 1024},t=${INTERACTIVE_HASH_PARAMS.opslimit},p=1`;
    const hash = await hashSecret('correct horse battery', TEST_HASH_PARAMS);
    const verify = vi.spyOn(nativeSodium, 'crypto_pwhash_str_verify_async');
    try {
      expect(await verifySecret(hash, 'wrong password!')).toBe(false);
      expect(await dummyVerify('wrong password!', TEST_HASH_PARAMS)).toBe(false);
      expect(await dummyVerify('correct horse battery', TEST_HASH_PARAMS)).toBe(false);
      // By default the dummy costs what a stored account's hash costs; a malformed stored hash too.
      expect(await dummyVerify('wrong password!')).toBe(false);
      expect(await verifySecret('$2y$10$notargon', 'wrong password!')).toBe(false);
      const costs = verify.mock.calls.map(costOf);
      expect(costs).toEqual([
        costOf(verify.mock.calls[0]),
        costOf(verify.mock.calls[0]),
        costOf(verify.mock.calls[0]),
        interactive,
        interactive,
      ]);
      expect(costs[0]).toBe(hash.split('$')[3]);
    } finally {
      verify.mockRestore();
    }
  }, 60_000);
});

describe('password and PIN policy', () => {
  const problem = async (password: string, name?: string) => (await newPasswordProblem(password, name))?.code ?? null;

  it('wants at least 10 characters, counted as characters, not bytes', async () => {
    expect(MIN_PASSWORD_LENGTH).toBe(10);
    expect((await newPasswordProblem('123456789'))?.message).toMatch(/at least 10 characters/);
    expect(await problem('äöüäöüäöü')).toBe('too-short');
    expect(await problem('Grüße aus Köln')).toBeNull();
    expect(await problem(' padded password ')).toBe('spaces');
    expect(await problem('xy'.repeat(1000))).toBe('too-long');
  });

  it('refuses passwords from the shipped list of common and breached ones, whatever their case (NIST SP 800-63B)', async () => {
    for (const p of ['password123', 'PassWord123', 'basketball', 'manchester', '1qaz2wsx3edc', 'iloveyou12'])
      expect(await problem(p), p).toBe('common');
    expect((await newPasswordProblem('Basketball'))?.message).toMatch(/common and breached passwords/);
    // Entries beyond ASCII are compared in their compatibility form too; CRLF lines count as well.
    expect(await problem('Contraseña')).toBe('common');
    expect(await problem('contrasen\u0303a')).toBe('common');
    expect(await problem('correct horse battery staple')).toBeNull();
  });

  it('reads the list afresh from the installed package at each check, and says so when it is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pc-common-'));
    try {
      const file = join(dir, 'list.txt.gz');
      // Lines split across gzip chunks and CRLF endings, as the packaged list has them.
      writeFileSync(
        file,
        gzipSync(`short\r\n${'x'.repeat(70_000)}\nsummer-holiday-2024\r\nＦｕｌｌｗｉｄｔｈ-ｐａｓｓ\nlast-line-no-newline`),
      );
      expect(await isCommonPassword('Summer-Holiday-2024', file)).toBe(true);
      expect(await isCommonPassword('fullwidth-pass', file)).toBe(true);
      expect(await isCommonPassword('last-line-no-newline', file)).toBe(true);
      expect(await isCommonPassword('summer-holiday', file)).toBe(false);
      await expect(isCommonPassword('anything-at-all', join(dir, 'missing.gz'))).rejects.toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes the demo plant's published passwords, which skip the list at start-up, under every rule", async () => {
    for (const a of demoAccounts()) expect(await newPasswordProblem(a.password, a.name), a.name).toBeNull();
  }, 60_000);

  it('refuses the account name and what is only the name with digits around it', async () => {
    expect(await problem('anna.maria', 'anna.maria')).toBe('account-name');
    expect(await problem('Anna-Maria', 'anna.maria')).toBe('account-name');
    expect(await problem('AnnaMaria2024!', 'anna.maria')).toBe('account-name');
    expect(await problem('2024annamaria', 'anna.maria')).toBe('account-name');
    expect(await problem('airamanna-xyz', 'anna')).toBeNull();
    expect(await problem('maria-anna', 'anna.maria')).toBeNull();
    expect(await problem('airam.anna', 'anna.maria')).toBe('account-name');
    // Words around the name make a passphrase, not a derivative.
    expect(await problem('anna likes green tea', 'anna')).toBeNull();
  });

  it('refuses repetitive and sequential strings', async () => {
    for (const p of ['aaaaaaaaaa', 'abababababab', 'abcabcabcabc', 'aaaaaaaaab', 'xyzxyzxyzxyz'])
      expect(await problem(p), p).toBe('repetitive');
    for (const p of ['abcdefghijk', '9876543210', '1234abcd5678', 'qwertzuiop', 'ZYXWVUTSRQ', 'poiuytrewq'])
      expect(await problem(p), p).toBe('sequential');
    expect(await problem('correct horse battery staple')).toBeNull();
    expect(await problem('maintenance-demo')).toBeNull();
  });

  it('takes PINs of 4 to 12 digits, not one digit repeated', () => {
    expect(pinProblem('2580')).toBeNull();
    expect(pinProblem('123')).toMatch(/4 to 12/);
    expect(pinProblem('12a4')).toMatch(/digits only/);
    expect(pinProblem('0000')).toMatch(/repeat/);
    expect(pinProblem('1'.repeat(13))).not.toBeNull();
  });
});
