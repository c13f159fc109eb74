/** The store key: Argon2id wrap/unwrap, locked and wrong-passphrase refusals, demo key file, file modes. */
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { memoryLogger, silentLogger } from '../../src-main/core/log';
import { StoreError, LOCKED_MESSAGE } from '../../src-main/store/errors';
import { keyFilePath, readKeyFile } from '../../src-main/store/key-file';
import { argon2idWrapper, ARGON2ID_DEFAULTS, DEMO_KEY_FILE_NAME, type OsKeyStore } from '../../src-main/store/key-wrappers';
import { unlockStoreKey, type UnlockOptions } from '../../src-main/store/unlock';

vi.mock('electron', () => ({ safeStorage: {} }));

const PASS = 'correct horse battery staple';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'pc-store-keys-'));
}

function opts(dataDir: string, extra: Partial<UnlockOptions> = {}): UnlockOptions {
  return { dataDir, demo: false, env: {}, prompt: null, log: silentLogger, ...extra };
}

async function refusal(p: Promise<unknown>): Promise<StoreError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  return err as StoreError;
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));
}

/** An OS key store fake: XOR with a fixed byte is enough to tell wrapped from plain. */
function fakeOsKeyStore(available = true): OsKeyStore & { calls: number } {
  const flip = (b: Buffer) => Buffer.from(b.map((x) => x ^ 0x5a));
  const store = {
    calls: 0,
    isAvailable: () => available,
    encryptString: (plain: string) => {
      store.calls++;
      return flip(Buffer.from(`fake:${plain}`, 'utf8'));
    },
    decryptString: (cipher: Buffer) => {
      store.calls++;
      const text = flip(cipher).toString('utf8');
      if (!text.startsWith('fake:')) throw new Error('cannot decrypt');
      return text.slice(5);
    },
    backend: () => 'fake',
  };
  return store;
}

describe('Argon2id key wrapper', () => {
  it('round-trips a key, with salt and parameters in the record', async () => {
    const key = Buffer.alloc(32, 7);
    const w = argon2idWrapper({ passphrase: PASS, keyFilePath: '/x/store-key.json' });
    const wrapped = await w.wrap(key);
    expect(wrapped.wrapper).toBe('argon2id');
    if (wrapped.wrapper !== 'argon2id') throw new Error('unreachable');
    expect(wrapped.kdf).toMatchObject({ alg: 'argon2id13', opslimit: ARGON2ID_DEFAULTS.opslimit, memlimit: ARGON2ID_DEFAULTS.memlimit });
    expect(Buffer.from(wrapped.kdf.salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(wrapped.nonce, 'base64')).toHaveLength(24);
    expect(Buffer.from(wrapped.ciphertext, 'base64')).toHaveLength(48);
    expect((await w.unwrap(wrapped)).equals(key)).toBe(true);
    // Two wraps of one key differ (fresh salt and nonce).
    expect((await w.wrap(key)).ciphertext).not.toBe(wrapped.ciphertext);
  });

  it('refuses another passphrase and altered parameters', async () => {
    const wrapped = await argon2idWrapper({ passphrase: PASS, keyFilePath: '/x/store-key.json' }).wrap(Buffer.alloc(32, 1));
    const wrong = await refusal(argon2idWrapper({ passphrase: 'not the passphrase', keyFilePath: '/x/store-key.json' }).unwrap(wrapped));
    expect(wrong.reason).toBe('wrong-passphrase');
    expect(wrong.message).toBe('Wrong passphrase for /x/store-key.json');
    if (wrapped.wrapper !== 'argon2id') throw new Error('unreachable');
    // The parameters are additional data: lowering them breaks the tag even with the right passphrase.
    const weakened = { ...wrapped, kdf: { ...wrapped.kdf, opslimit: 2 } };
    expect((await refusal(argon2idWrapper({ passphrase: PASS, keyFilePath: 'f' }).unwrap(weakened))).reason).toBe('wrong-passphrase');
  });
});

describe('unlocking the store key', () => {
  it('creates the key file on first start (0600, no plaintext key) and unwraps it next time', async () => {
    const dir = tempDir();
    const first = await unlockStoreKey(opts(dir, { passphrase: PASS }));
    expect(first).toMatchObject({ wrapper: 'argon2id', created: true });
    const keyCopy = Buffer.from(first.key);
    const file = keyFilePath(dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Only the key file: no temporary file left behind, no database yet.
    expect(readdirSync(dir)).toEqual(['store-key.json']);
    const raw = readFileSync(file);
    for (const enc of ['hex', 'base64', 'base64url'] as const) expect(raw.toString('utf8')).not.toContain(keyCopy.toString(enc));
    expect(raw.includes(keyCopy)).toBe(false);
    expect(readKeyFile(dir)).toMatchObject({ format: 'plant-console/store-key', version: 1, key: { wrapper: 'argon2id' } });

    const again = await unlockStoreKey(opts(dir, { env: { PLANT_CONSOLE_PASSPHRASE: PASS } }));
    expect(again).toMatchObject({ wrapper: 'argon2id', created: false });
    expect(again.key.equals(keyCopy)).toBe(true);
  });

  it('refuses a wrong passphrase by name and changes nothing on disk', async () => {
    const dir = tempDir();
    await unlockStoreKey(opts(dir, { passphrase: PASS }));
    const before = snapshot(dir);
    const mtime = statSync(keyFilePath(dir)).mtimeMs;
    const err = await refusal(unlockStoreKey(opts(dir, { env: { PLANT_CONSOLE_PASSPHRASE: 'wrong passphrase!' } })));
    expect(err.reason).toBe('wrong-passphrase');
    expect(err.message).toBe(`Wrong passphrase for ${join(dir, 'store-key.json')}`);
    expect(err.code).toBe('FORBIDDEN');
    expect(snapshot(dir)).toEqual(before);
    expect(statSync(keyFilePath(dir)).mtimeMs).toBe(mtime);
  });

  it('is locked, with one clear message, when no passphrase can be had', async () => {
    const fresh = tempDir();
    const err = await refusal(unlockStoreKey(opts(fresh)));
    expect(err.reason).toBe('locked');
    expect(err.message).toBe(LOCKED_MESSAGE);
    expect(LOCKED_MESSAGE).toBe(
      'The store is locked: give its passphrase in a file (PLANT_CONSOLE_PASSPHRASE_FILE, or the systemd credential plant-console-passphrase), in PLANT_CONSOLE_PASSPHRASE, or run on a terminal to be asked',
    );
    expect(readdirSync(fresh)).toEqual([]);

    const existing = tempDir();
    await unlockStoreKey(opts(existing, { passphrase: PASS }));
    const before = snapshot(existing);
    expect((await refusal(unlockStoreKey(opts(existing, { env: { PLANT_CONSOLE_PASSPHRASE: '' } })))).message).toBe(LOCKED_MESSAGE);
    expect(snapshot(existing)).toEqual(before);
  });

  it('asks an injected prompt twice for a new passphrase, and refuses short or differing ones', async () => {
    const dir = tempDir();
    const asked: string[] = [];
    const created = await unlockStoreKey(opts(dir, { prompt: async (purpose) => (asked.push(purpose), PASS) }));
    expect(asked).toEqual(['create', 'confirm']);
    asked.length = 0;
    const unlocked = await unlockStoreKey(opts(dir, { prompt: async (purpose) => (asked.push(purpose), PASS) }));
    expect(asked).toEqual(['unlock']);
    expect(unlocked.key.equals(created.key)).toBe(true);

    const other = tempDir();
    let n = 0;
    const differ = await refusal(unlockStoreKey(opts(other, { prompt: async () => (n++ === 0 ? PASS : PASS + '!') })));
    expect(differ.reason).toBe('passphrase-rejected');
    expect((await refusal(unlockStoreKey(opts(other, { passphrase: 'short' })))).message).toMatch(/at least 8 characters/);
    expect(readdirSync(other)).toEqual([]);
  });

  it('uses the demo key file only for the demo plant, says so once, and keeps it 0600', async () => {
    const dir = tempDir();
    const log = memoryLogger();
    const demo = await unlockStoreKey(opts(dir, { demo: true, log }));
    expect(demo).toMatchObject({ wrapper: 'demo-key-file', created: true });
    expect(log.lines.filter((l) => l.msg.includes('SIMULATED demo plant'))).toHaveLength(1);
    for (const f of ['store-key.json', DEMO_KEY_FILE_NAME]) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFilePath(dir), 'utf8')).not.toContain(demo.key.toString('base64'));
    expect((await unlockStoreKey(opts(dir, { demo: true }))).key.equals(demo.key)).toBe(true);

    // A configured plant refuses a demo store even with a passphrase at hand.
    const before = snapshot(dir);
    const refused = await refusal(unlockStoreKey(opts(dir, { demo: false, passphrase: PASS })));
    expect(refused.reason).toBe('demo-mismatch');
    expect(refused.message).toMatch(/SIMULATED demo plant.*never uses it/);
    expect(snapshot(dir)).toEqual(before);

    // And the demo plant does not take over a configured plant's store.
    const configured = tempDir();
    await unlockStoreKey(opts(configured, { passphrase: PASS }));
    expect((await refusal(unlockStoreKey(opts(configured, { demo: true })))).reason).toBe('demo-mismatch');
  });

  it('wraps with the OS key store when the desktop app provides one', async () => {
    const dir = tempDir();
    const os = fakeOsKeyStore();
    const created = await unlockStoreKey(opts(dir, { osKeyStore: os }));
    expect(created.wrapper).toBe('os-keystore');
    expect(readFileSync(keyFilePath(dir), 'utf8')).not.toContain(created.key.toString('base64'));
    expect((await unlockStoreKey(opts(dir, { osKeyStore: os }))).key.equals(created.key)).toBe(true);
    // Headless (no OS key store here): locked, naming why.
    const locked = await refusal(unlockStoreKey(opts(dir, { passphrase: PASS })));
    expect(locked.reason).toBe('locked');
    expect(locked.message).toMatch(/OS key store of the desktop app/);
    // An unavailable key store falls back to the passphrase for a new store.
    const other = tempDir();
    expect((await unlockStoreKey(opts(other, { osKeyStore: fakeOsKeyStore(false), passphrase: PASS }))).wrapper).toBe('argon2id');
  });

  it('refuses a malformed key file, and a database without its key file', async () => {
    const dir = tempDir();
    writeFileSync(keyFilePath(dir), '{"format":"plant-console/store-key","version":2}');
    expect((await refusal(unlockStoreKey(opts(dir, { passphrase: PASS })))).reason).toBe('key-file-invalid');

    const orphan = tempDir();
    writeFileSync(join(orphan, 'plant.db'), 'x');
    const err = await refusal(unlockStoreKey(opts(orphan, { passphrase: PASS })));
    expect(err.message).toMatch(/plant\.db exists but .*store-key\.json is missing/);
    expect(existsSync(keyFilePath(orphan))).toBe(false);

    const none = tempDir();
    expect((await refusal(unlockStoreKey(opts(none, { passphrase: PASS, create: false })))).reason).toBe('no-store');
  });
});

describe('Electron safeStorage adapter', () => {
  it('counts Linux basic_text as unavailable and passes strings through', async () => {
    const { safeStorageKeyStore } = await import('../../src-main/electron/safe-storage');
    const fake = {
      isEncryptionAvailable: () => true,
      encryptString: (s: string) => Buffer.from(s.split('').reverse().join('')),
      decryptString: (b: Buffer) => b.toString().split('').reverse().join(''),
      getSelectedStorageBackend: (): string => 'basic_text',
    };
    expect(safeStorageKeyStore(fake, 'linux').isAvailable()).toBe(false);
    const libsecret = safeStorageKeyStore({ ...fake, getSelectedStorageBackend: () => 'gnome_libsecret' }, 'linux');
    expect(libsecret.isAvailable()).toBe(true);
    expect(libsecret.backend()).toBe('gnome_libsecret');
    expect(libsecret.decryptString(libsecret.encryptString('abc'))).toBe('abc');
    expect(safeStorageKeyStore(fake, 'win32').backend()).toBe('dpapi');
  });
});
