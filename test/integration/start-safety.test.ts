/**
 * What the console refuses before it starts, and how it takes its store passphrase without
 * exposing it: the SIMULATED demo beyond loopback; a data dir others may write; the passphrase
 * from a file or a systemd credential (checked like ssh checks a key), never logged and never in
 * the process's environment.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src-main/cli';
import { memoryLogger } from '../../src-main/core/log';
import { StoreError } from '../../src-main/store/errors';
import { openPlantStore } from '../../src-main/store/open';

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'pc-start-safety-'));
const PASS = 'passphrase kept in a file 7';
/** Cheap Argon2id for tests (the store's own default is the interactive cost). */
const ARGON2 = { opslimit: 1, memlimit: 8192 * 1024 };

afterAll(() => {
  if (existsSync(join(dir, 'credentials'))) chmodSync(join(dir, 'credentials'), 0o700);
  rmSync(dir, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

/** A file holding `text` with `mode`. */
function secretFile(name: string, text: string, mode: number): string {
  const file = join(dir, name);
  writeFileSync(file, text, { mode });
  chmodSync(file, mode);
  return file;
}

/** Opens (or creates) a configured plant's store in `dataDir` with the given environment; the error when refused. */
async function open(dataDir: string, env: Record<string, string>) {
  const log = memoryLogger();
  try {
    const store = await openPlantStore({ dataDir, demo: false, env, prompt: null, log, argon2: ARGON2 });
    store.close();
    return { ok: true as const, log };
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    return { ok: false as const, err, log };
  }
}

describe('serve --host beyond loopback without a config', () => {
  it('refuses the SIMULATED demo, says how to run a configured plant, and starts nothing', async () => {
    const dataDir = join(dir, 'demo-wide');
    const r = await cli(['serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', dataDir]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Refusing to serve the SIMULATED demo plant on 0.0.0.0: its accounts and passwords are published');
    expect(r.err).toContain('plant-console serve --config plant.json --data-dir DIR --host 0.0.0.0');
    expect(r.err).toContain('plant-console user add --data-dir DIR --name NAME --role admin');
    expect(r.out).toBe('');
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('a data dir that others may write', () => {
  for (const [mode, who] of [
    [0o775, 'its group'],
    [0o757, 'all users'],
    [0o1777, 'its group and all users'],
  ] as const) {
    it(`is refused at start (mode ${mode.toString(8)}), untouched, with the fix in the message`, async () => {
      const dataDir = join(dir, `open-${mode.toString(8)}`);
      mkdirSync(dataDir);
      chmodSync(dataDir, mode);
      const r = await cli(['serve', '--port', '0', '--data-dir', dataDir]);
      expect(r.code).toBe(1);
      expect(r.err).toBe(
        `plant-console: Refusing to start: ${dataDir} can be written by ${who} (mode ${mode.toString(8).padStart(4, '0')}), ` +
          `who could swap the store key or the database: make it private with "chmod 700 ${dataDir}" and start again\n`,
      );
      // Nothing started, nothing written, the mode left as the owner set it.
      expect(readdirSync(dataDir)).toEqual([]);
      // The tools that open an existing store refuse it too.
      const keys = await cli(['keys', 'show', '--data-dir', dataDir]);
      expect(keys.code).toBe(1);
      expect(keys.err).toContain(`Refusing to start: ${dataDir} can be written by ${who}`);
    });
  }

  it('is created private (0700) when it does not exist', async () => {
    const dataDir = join(dir, 'fresh', 'data');
    expect((await open(dataDir, { PLANT_CONSOLE_PASSPHRASE_FILE: secretFile('fresh.pass', PASS, 0o600) })).ok).toBe(true);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  });
});

describe('the store passphrase from a file', () => {
  it('unlocks with PLANT_CONSOLE_PASSPHRASE_FILE (one final newline is not part of it) as with the variable', async () => {
    const dataDir = join(dir, 'file-store');
    const created = await open(dataDir, { PLANT_CONSOLE_PASSPHRASE_FILE: secretFile('pass-a', `${PASS}\n`, 0o600) });
    expect(created.ok).toBe(true);
    expect(created.log.lines.map((l) => l.msg)).toContain(`Store passphrase from the file ${join(dir, 'pass-a')}`);
    expect(JSON.stringify(created.log.lines)).not.toContain(PASS);
    expect((await open(dataDir, { PLANT_CONSOLE_PASSPHRASE: PASS })).ok).toBe(true);
    expect((await open(dataDir, { PLANT_CONSOLE_PASSPHRASE_FILE: secretFile('pass-b', `${PASS}\r\n`, 0o400) })).ok).toBe(true);
    const wrong = await open(dataDir, { PLANT_CONSOLE_PASSPHRASE_FILE: secretFile('pass-c', `${PASS}\n\n`, 0o600) });
    expect(wrong.ok || wrong.err.reason).toBe('wrong-passphrase');
  });

  it("unlocks with systemd's credential in $CREDENTIALS_DIRECTORY", async () => {
    const dataDir = join(dir, 'credential-store');
    const credentials = join(dir, 'credentials');
    mkdirSync(credentials, { mode: 0o700 });
    writeFileSync(join(credentials, 'plant-console-passphrase'), PASS, { mode: 0o400 });
    // As systemd leaves it: read-only for the service's user.
    chmodSync(credentials, 0o500);
    const r = await open(dataDir, { CREDENTIALS_DIRECTORY: credentials });
    expect(r.ok).toBe(true);
    expect(r.log.lines.map((l) => l.msg)).toContain('Store passphrase from the systemd credential plant-console-passphrase');
    // Other credentials of the unit do not count as a passphrase.
    expect(await open(dataDir, { CREDENTIALS_DIRECTORY: join(dir, 'fresh'), PLANT_CONSOLE_PASSPHRASE: PASS })).toMatchObject({ ok: true });
  });

  it('refuses a file others may read or change, one of another kind, an empty one, and two sources at once, never showing it', async () => {
    const dataDir = join(dir, 'refusals');
    const refused = async (env: Record<string, string>) => {
      const r = await open(dataDir, env);
      if (r.ok) throw new Error('opened');
      expect(r.err.message).not.toContain(PASS);
      return r.err;
    };
    const readable = secretFile('pass-644', PASS, 0o644);
    expect(await refused({ PLANT_CONSOLE_PASSPHRASE_FILE: readable })).toMatchObject({
      reason: 'passphrase-file-unsafe',
      message: `The store passphrase file is refused: ${readable} can be read by other users (mode 0644): make it private, e.g. chmod 600 ${readable}`,
    });
    const writable = secretFile('pass-620', PASS, 0o620);
    expect((await refused({ PLANT_CONSOLE_PASSPHRASE_FILE: writable })).message).toContain(
      `${writable} can be changed by other users (mode 0620)`,
    );
    expect((await refused({ PLANT_CONSOLE_PASSPHRASE_FILE: dir })).message).toContain(`${dir} is not a regular file`);
    expect((await refused({ PLANT_CONSOLE_PASSPHRASE_FILE: secretFile('pass-empty', '\n', 0o600) })).message).toMatch(/is empty$/);
    expect((await refused({ PLANT_CONSOLE_PASSPHRASE_FILE: join(dir, 'missing') })).message).toMatch(/cannot be read: ENOENT$/);
    const both = await refused({ PLANT_CONSOLE_PASSPHRASE_FILE: secretFile('pass-d', PASS, 0o600), PLANT_CONSOLE_PASSPHRASE: PASS });
    expect(both).toMatchObject({ reason: 'passphrase-ambiguous' });
    expect(both.message).toBe(
      'The store passphrase is given more than once (PLANT_CONSOLE_PASSPHRASE_FILE, PLANT_CONSOLE_PASSPHRASE): give it one way only, ' +
        'preferably not as PLANT_CONSOLE_PASSPHRASE, which other processes can read while the console runs',
    );
    expect(existsSync(join(dataDir, 'store-key.json'))).toBe(false);
  });

  it('keeps it out of the running console: not in /proc/PID/environ, not in its output', async () => {
    const dataDir = join(dir, 'served');
    const config = join(dir, 'plant.json');
    writeFileSync(
      config,
      JSON.stringify({
        plant: { name: 'Passphrase file' },
        devices: [{ id: 'm1', name: 'M1', profile: 'builtin:pk60', transport: { type: 'tcp', host: '127.0.0.1', port: 1 } }],
      }),
    );
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      PLANT_CONSOLE_PASSPHRASE_FILE: secretFile('pass-serve', `${PASS}\n`, 0o600),
    };
    delete env.PLANT_CONSOLE_PASSPHRASE;
    const child = spawn(
      process.execPath,
      [join(root, 'bin/plant-console.js'), 'serve', '--config', config, '--port', '0', '--data-dir', dataDir],
      {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await expect.poll(() => output, { timeout: 60_000, interval: 100 }).toMatch(/Open http:\/\/127\.0\.0\.1:\d+\//);
      expect(output).toContain('Store passphrase from the file');
      const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8');
      expect(environ).toContain('PLANT_CONSOLE_PASSPHRASE_FILE=');
      expect(environ).not.toContain(PASS);
      expect(output).not.toContain(PASS);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 90_000);
});
