/** The plant identity: generated once, stable, named by the protocol's key ids; `keys show` prints no secret. */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatKeysReport, keysShow, runKeysCommand } from '../../src-main/app/keys-cli';
import { runCli } from '../../src-main/cli';
import { silentLogger } from '../../src-main/core/log';
import { fingerprint, keyId } from '../../src-main/protocol/keys';
import { StoreError } from '../../src-main/store/errors';
import { openPlantStore, type OpenPlantStoreOptions } from '../../src-main/store/open';

const sodium = createRequire(import.meta.url)('sodium-native') as {
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_sign_detached(sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void;
  crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean;
};

const PASS = 'identity test passphrase';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'pc-identity-'));
}

function open(dataDir: string, extra: Partial<OpenPlantStoreOptions> = {}) {
  return openPlantStore({
    dataDir,
    demo: false,
    passphrase: PASS,
    env: {},
    prompt: null,
    log: silentLogger,
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
    ...extra,
  });
}

/** Opens a store, keeps copies of its secrets (the store zeroes its own on close) and closes it. */
async function secretsOf(dataDir: string, extra: Partial<OpenPlantStoreOptions> = {}) {
  const store = await open(dataDir, extra);
  const copy = {
    signPk: Buffer.from(store.identity.signing.publicKey),
    signSk: Buffer.from(store.identity.signing.secretKey),
    boxPk: Buffer.from(store.identity.encryption.publicKey),
    boxSk: Buffer.from(store.identity.encryption.secretKey),
    info: store.identity.publicKeys(),
  };
  const held = store.identity.signing.secretKey;
  store.close();
  expect(held.every((b) => b === 0)).toBe(true);
  return copy;
}

function secretEncodings(...secrets: Buffer[]): string[] {
  return secrets.flatMap((s) => [
    s.toString('hex'),
    s.toString('base64'),
    s.toString('base64url'),
    s.subarray(0, 32).toString('hex'),
    s.subarray(0, 32).toString('base64'),
  ]);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('plant identity', () => {
  it('is generated once and stays the same across reopen', async () => {
    const dir = tempDir();
    const first = await secretsOf(dir);
    const again = await secretsOf(dir);
    expect(again.signPk.equals(first.signPk)).toBe(true);
    expect(again.boxPk.equals(first.boxPk)).toBe(true);
    expect(again.signSk.equals(first.signSk)).toBe(true);
    expect(first.signPk.equals(first.boxPk)).toBe(false);
    // Another plant, another identity.
    expect((await secretsOf(tempDir())).signPk.equals(first.signPk)).toBe(false);
  });

  it('holds matching, working key pairs named by the protocol key ids', async () => {
    const k = await secretsOf(tempDir());
    expect(k.signPk).toHaveLength(32);
    expect(k.signSk).toHaveLength(64);
    expect(k.boxSk).toHaveLength(32);
    expect(k.signSk.subarray(32).equals(k.signPk)).toBe(true);
    const derived = Buffer.alloc(32);
    sodium.crypto_scalarmult_base(derived, k.boxSk);
    expect(derived.equals(k.boxPk)).toBe(true);
    const sig = Buffer.alloc(64);
    sodium.crypto_sign_detached(sig, Buffer.from('batch'), k.signSk);
    expect(sodium.crypto_sign_verify_detached(sig, Buffer.from('batch'), k.signPk)).toBe(true);

    const [signing, encryption] = k.info;
    expect(signing).toMatchObject({
      use: 'signing',
      alg: 'ed25519',
      keyId: keyId(k.signPk, 'ed25519'),
      fingerprint: fingerprint(k.signPk, 'ed25519'),
    });
    expect(encryption).toMatchObject({
      use: 'encryption',
      alg: 'x25519',
      keyId: keyId(k.boxPk, 'x25519'),
      fingerprint: fingerprint(k.boxPk, 'x25519'),
    });
    for (const info of k.info) {
      expect(info.keyId).toMatch(/^[0-9a-f]{16}$/);
      expect(info.fingerprint).toMatch(/^[0-9a-f]{4}( [0-9a-f]{4})+$/);
      // People can check one against the other: the key id opens the fingerprint.
      expect(info.fingerprint.replaceAll(' ', '').startsWith(info.keyId)).toBe(true);
    }
  });
});

describe('plant-console keys show', () => {
  it('prints the public keys, ids and fingerprints, and no secret (text and JSON)', async () => {
    const dir = tempDir();
    const k = await secretsOf(dir);
    const report = await keysShow(dir, { env: { PLANT_CONSOLE_PASSPHRASE: PASS }, prompt: null, log: silentLogger });
    const text = formatKeysReport(report);
    let json = '';
    expect(
      await runKeysCommand(
        ['show', '--data-dir', dir, '--json'],
        { out: (s) => void (json += s), err: () => {} },
        { env: { PLANT_CONSOLE_PASSPHRASE: PASS }, prompt: null, log: silentLogger },
      ),
    ).toBe(0);
    const parsed = JSON.parse(json) as typeof report;
    expect(parsed.keys.map((x) => x.publicKey)).toEqual([k.signPk.toString('base64'), k.boxPk.toString('base64')]);
    for (const out of [text, json]) {
      for (const info of k.info) {
        expect(out).toContain(info.keyId);
        expect(out).toContain(info.fingerprint);
        expect(out).toContain(info.publicKey.toString('base64'));
      }
      for (const secret of secretEncodings(k.signSk, k.boxSk)) expect(out).not.toContain(secret);
    }
    expect(text).toContain('Signing key (Ed25519)');
    expect(text).toContain('Encryption key (X25519)');
    expect(text).not.toContain('SIMULATED');
  });

  it('opens a demo store with its key file through the CLI, and says it is SIMULATED', async () => {
    const dir = tempDir();
    const k = await secretsOf(dir, { demo: true, passphrase: undefined });
    vi.stubEnv('PLANT_CONSOLE_PASSPHRASE', '');
    let out = '';
    let err = '';
    const code = await runCli(['keys', 'show', '--data-dir', dir], { out: (s) => void (out += s), err: (s) => void (err += s) });
    expect(code).toBe(0);
    expect(out).toContain('(SIMULATED demo plant)');
    expect(err).toMatch(/SIMULATED demo plant: its store key is kept in a plain file/);
    expect(out).toContain(k.info[0]!.fingerprint);
    for (const secret of secretEncodings(k.signSk, k.boxSk)) expect(out + err).not.toContain(secret);
  });

  it('exits 1 with the clear message when locked or given a wrong passphrase', async () => {
    const dir = tempDir();
    await secretsOf(dir);
    const cli = async () => {
      let out = '';
      let err = '';
      const code = await runCli(['keys', 'show', '--data-dir', dir], { out: (s) => void (out += s), err: (s) => void (err += s) });
      return { code, out, err };
    };
    vi.stubEnv('PLANT_CONSOLE_PASSPHRASE', '');
    const locked = await cli();
    expect(locked).toMatchObject({ code: 1, out: '' });
    expect(locked.err).toBe(
      'plant-console: The store is locked: give its passphrase in a file (PLANT_CONSOLE_PASSPHRASE_FILE, or the systemd credential plant-console-passphrase), in PLANT_CONSOLE_PASSPHRASE, or run on a terminal to be asked\n',
    );

    vi.stubEnv('PLANT_CONSOLE_PASSPHRASE', 'not the passphrase');
    const wrong = await cli();
    expect(wrong).toMatchObject({ code: 1, out: '' });
    expect(wrong.err).toBe(`plant-console: Wrong passphrase for ${join(dir, 'store-key.json')}\n`);

    // No store there: it says so and creates nothing.
    const empty = tempDir();
    await expect(keysShow(empty, { env: { PLANT_CONSOLE_PASSPHRASE: PASS }, prompt: null, log: silentLogger })).rejects.toBeInstanceOf(
      StoreError,
    );
    expect(readdirSync(empty)).toEqual([]);
    expect(await runCli(['keys', 'list'], { out: () => {}, err: () => {} })).toBe(2);
  });
});
