/**
 * `plant-console user` and `audit` as real processes: the CLI is bundled from source (rolldown,
 * as the build does), run with piped standard input, and its store opened again in-process to
 * sign in and to tamper with the audit log by raw SQL.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { build } from 'rolldown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNewSecret } from '../../src-main/app/user-cli';
import { AccountStore } from '../../src-main/auth/accounts';
import { demoAccounts, ensureDemoAccounts } from '../../src-main/auth/demo';
import { TEST_HASH_PARAMS } from '../../src-main/auth/passwords';
import { AuthService } from '../../src-main/auth/sessions';
import { silentLogger } from '../../src-main/core/log';
import { openPlantStore, type PlantStore } from '../../src-main/store/open';

const root = join(import.meta.dirname, '../..');
// Inside the repository so the bundle resolves sodium-native and libsql from node_modules.
const bundleDir = join(root, 'node_modules', '.cache', `user-cli-test-${process.pid}`);
const PASS = 'user cli test passphrase';
const ANNA_PW = 'Anna-correct-horse-7';
const work = mkdtempSync(join(tmpdir(), 'pc-user-cli-'));
let dataDir: string;

interface Run {
  code: number | null;
  out: string;
  err: string;
  argv: string[];
}

/** Runs the bundled CLI with `stdin` piped in (or nothing, closed). */
function run(args: string[], stdin = '', env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [join(bundleDir, 'run.mjs'), ...args], {
      cwd: work,
      env: { PATH: process.env['PATH'] ?? '', PLANT_CONSOLE_PASSPHRASE: PASS, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, out, err, argv: child.spawnargs }));
    child.stdin.end(stdin);
  });
}

function open(dir = dataDir, extra: { demo?: boolean } = {}): Promise<PlantStore> {
  return openPlantStore({
    dataDir: dir,
    demo: extra.demo ?? false,
    ...(extra.demo ? {} : { passphrase: PASS }),
    env: {},
    prompt: null,
    log: silentLogger,
    argon2: { opslimit: 1, memlimit: 8192 },
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
  });
}

/** Signs in against the store as the console would. */
async function login(name: string, password: string) {
  const store = await open();
  try {
    const auth = new AuthService(store.db, new AccountStore(store.db), { timers: false });
    const r = await auth.login(name, password, { key: '127.0.0.1', origin: 'remote' });
    auth.close();
    return r;
  } finally {
    store.close();
  }
}

beforeAll(async () => {
  mkdirSync(bundleDir, { recursive: true });
  await build({
    input: join(root, 'src-main/cli.ts'),
    platform: 'node',
    cwd: root,
    logLevel: 'silent',
    // Packages stay in node_modules (native addons cannot be bundled), as in the real build.
    external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
    output: { dir: bundleDir, format: 'esm' },
  });
  writeFileSync(
    join(bundleDir, 'run.mjs'),
    "const { runCli } = await import('./cli.js');\nprocess.exitCode = await runCli(process.argv.slice(2));\n",
  );
  dataDir = join(work, 'plant');
  (await open()).close();
}, 60_000);

afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
});

/** Every CLI run is a process that loads the whole bundle: seconds each on a loaded 2-core machine. */
const CLI_TESTS = { timeout: 180_000 };

describe('plant-console user', CLI_TESTS, () => {
  it('adds a user with the password from piped stdin; that user can then sign in', async () => {
    const r = await run(['user', 'add', '--data-dir', dataDir, '--name', 'anna', '--role', 'maintenance'], `${ANNA_PW}\n`);
    expect(r).toMatchObject({ code: 0, out: 'Added user anna (maintenance).\n' });
    for (const text of [r.out, r.err, r.argv.join(' ')]) expect(text).not.toContain(ANNA_PW);
    expect(r.argv).toEqual([
      process.execPath,
      join(bundleDir, 'run.mjs'),
      'user',
      'add',
      '--data-dir',
      dataDir,
      '--name',
      'anna',
      '--role',
      'maintenance',
    ]);

    const ok = await login('anna', ANNA_PW);
    expect(ok).toMatchObject({ ok: true, session: { user: 'anna', role: 'maintenance' } });
    expect(await login('anna', 'not-the-password')).toMatchObject({ ok: false, code: 'BAD_CREDENTIALS' });
  });

  it('refuses a short password, a taken name, an unknown role and empty input, changing nothing', async () => {
    const short = await run(['user', 'add', '--data-dir', dataDir, '--name', 'bert', '--role', 'operator'], 'short\n');
    expect(short.code).toBe(2);
    expect(short.err).toContain('at least 10 characters');
    expect(short.err).not.toContain('short\n');
    // NIST SP 800-63B (each rule is tested in test/unit/passwords.test.ts): the CLI says which one refused.
    const common = await run(['user', 'add', '--data-dir', dataDir, '--name', 'bert', '--role', 'operator'], 'Password123\n');
    expect(common).toMatchObject({ code: 2, err: expect.stringContaining('list of common and breached passwords') as string });
    const resetName = await run(['user', 'reset', '--data-dir', dataDir, '--name', 'anna'], 'Anna-2024-07\n');
    expect(resetName).toMatchObject({ code: 2, err: expect.stringContaining('not be the account name') as string });
    expect(common.err + resetName.err).not.toMatch(/Password123|Anna-2024-07/);
    const taken = await run(['user', 'add', '--data-dir', dataDir, '--name', 'anna', '--role', 'operator'], 'another-password\n');
    expect(taken).toMatchObject({ code: 2, err: expect.stringContaining('A user "anna" exists already') as string });
    const role = await run(['user', 'add', '--data-dir', dataDir, '--name', 'bert', '--role', 'root'], 'bert-password-1\n');
    expect(role).toMatchObject({
      code: 2,
      err: expect.stringContaining('--role, one of: operator, maintenance, admin, supplier-support') as string,
    });
    const empty = await run(['user', 'add', '--data-dir', dataDir, '--name', 'bert', '--role', 'operator']);
    expect(empty).toMatchObject({ code: 2, err: expect.stringContaining('No password for bert on standard input') as string });
    const list = await run(['user', 'list', '--data-dir', dataDir, '--json']);
    expect((JSON.parse(list.out) as { users: { name: string }[] }).users.map((u) => u.name)).toEqual(['anna']);
    expect(list.out).not.toContain('$argon2id');
  });

  it('lists, disables, enables and resets; each change is audited as done by the CLI', async () => {
    expect(
      (await run(['user', 'add', '--data-dir', dataDir, '--name', 'otto', '--role', 'operator'], 'otto-password-1\r\nignored\n')).code,
    ).toBe(0);
    const list = await run(['user', 'list', '--data-dir', dataDir]);
    expect(list.out).toMatch(/^NAME +ROLE +STATUS +PIN +CREATED\nanna +maintenance +enabled +- +\d{4}-.*\notto +operator +enabled/);

    expect(await run(['user', 'disable', '--data-dir', dataDir, '--name', 'otto'])).toMatchObject({ code: 0 });
    expect(await login('otto', 'otto-password-1')).toMatchObject({ ok: false, code: 'DISABLED' });
    expect(await run(['user', 'enable', '--data-dir', dataDir, '--name', 'otto'])).toMatchObject({ code: 0 });
    const reset = await run(['user', 'reset', '--data-dir', dataDir, '--name', 'otto'], 'otto-new-password-2\n');
    expect(reset).toMatchObject({ code: 0, out: 'The password of otto is changed: their sessions end.\n' });
    expect(await login('otto', 'otto-password-1')).toMatchObject({ ok: false, code: 'BAD_CREDENTIALS' });
    expect(await login('otto', 'otto-new-password-2')).toMatchObject({ ok: true });
    expect(await run(['user', 'disable', '--data-dir', dataDir, '--name', 'nobody'])).toMatchObject({
      code: 1,
      err: expect.stringContaining('No user "nobody"') as string,
    });
    const upper = await run(['user', 'add', '--data-dir', dataDir, '--name', 'Otto Two', '--role', 'operator']);
    expect(upper).toMatchObject({ code: 2, err: expect.stringContaining('lowercase letters') as string });
    expect(await run(['user', 'pin', '--data-dir', dataDir, '--name', 'otto'], '2580\n')).toMatchObject({
      code: 0,
      out: 'The PIN of otto is set.\n',
    });
    const store = await open();
    try {
      const auth = new AuthService(store.db, new AccountStore(store.db), { timers: false });
      expect(await auth.verifyPin('otto', '2580')).toEqual({ ok: true });
      auth.close();
    } finally {
      store.close();
    }

    const exported = await run([
      'audit',
      'export',
      '--data-dir',
      dataDir,
      '--kind',
      'user_added,user_disabled,user_enabled,password_reset,pin_changed',
    ]);
    const records = exported.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; user: string; detail: { name: string } });
    expect(records.map((r) => [r.kind, r.detail.name])).toEqual([
      ['user_added', 'anna'],
      ['user_added', 'otto'],
      ['user_disabled', 'otto'],
      ['user_enabled', 'otto'],
      ['password_reset', 'otto'],
      ['pin_changed', 'otto'],
    ]);
    expect(records.every((r) => r.user.startsWith('cli:'))).toBe(true);
    expect(exported.out).not.toMatch(/otto-(new-)?password|Anna-correct/);
  });

  it('lists the sign-in lockouts of a store and lifts those of an account, audited as the CLI', async () => {
    const remote = { key: '10.9.0.1', origin: 'remote' } as const;
    let store = await open();
    try {
      const auth = new AuthService(store.db, new AccountStore(store.db), { timers: false, maxFailures: 1, baseDelayMs: 0 });
      expect(await auth.login('anna', 'wrong-password', remote)).toMatchObject({ code: 'LOCKED_OUT' });
      auth.close();
    } finally {
      store.close();
    }
    const listed = await run(['user', 'lockouts', '--data-dir', dataDir, '--json']);
    const lockouts = (JSON.parse(listed.out) as { lockouts: { scope: string; user: string; source: string }[] }).lockouts;
    expect(lockouts.map((l) => [l.scope, l.user, l.source])).toEqual([['account', 'anna', '10.9.0.1']]);
    const lifted = await run(['user', 'unlock', '--data-dir', dataDir, '--name', 'Anna']);
    expect(lifted).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^Lifted: account +anna +from 10\.9\.0\.1 +1 failures, until /) as string,
    });
    expect(await run(['user', 'unlock', '--data-dir', dataDir])).toMatchObject({
      code: 2,
      err: expect.stringContaining('--name NAME') as string,
    });
    store = await open();
    try {
      const auth = new AuthService(store.db, new AccountStore(store.db), { timers: false });
      expect(await auth.login('anna', ANNA_PW, remote)).toMatchObject({ ok: true });
      auth.close();
      const audit = store.db.prepare("SELECT user, detail FROM audit_log WHERE kind = 'lockout_lifted'").raw().all() as [string, string][];
      expect(audit.map(([user, detail]) => [user.startsWith('cli:'), JSON.parse(detail) as unknown])).toEqual([
        [
          true,
          {
            account: 'anna',
            lockedAt: expect.any(Number) as number,
            scope: 'account',
            source: '10.9.0.1',
            until: expect.any(Number) as number,
          },
        ],
      ]);
    } finally {
      store.close();
    }
  });

  it('asks twice without echo on a terminal and refuses two different entries', async () => {
    const tty = () => {
      const input = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode(mode: boolean): void; raw: boolean[] };
      input.isTTY = true;
      input.raw = [];
      input.setRawMode = (mode) => void input.raw.push(mode);
      return input;
    };
    let shown = '';
    const io = { out: (s: string) => void (shown += s), err: (s: string) => void (shown += s) };
    const same = tty();
    const asked = readNewSecret('Password for anna', { stdin: same }, io);
    same.write('typed-secret-1\r');
    await new Promise((r) => setTimeout(r, 10));
    same.write('typed-secret-1\r');
    expect(await asked).toBe('typed-secret-1');
    expect(same.raw).toEqual([true, false, true, false]);
    expect(shown).toBe('Password for anna: \nThe same again: \n');
    const differ = tty();
    const refused = readNewSecret('Password for anna', { stdin: differ }, io);
    differ.write('typed-secret-1\r');
    await new Promise((r) => setTimeout(r, 10));
    differ.write('typed-secret-2\r');
    await expect(refused).rejects.toThrow('The two entries differ');
  });
});

describe('plant-console audit', CLI_TESTS, () => {
  it('verifies an untouched log and exports it as JSON lines and CSV', async () => {
    const ok = await run(['audit', 'verify', '--data-dir', dataDir]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^audit log intact: \d+ records, head signed at \d{4}-\d\d-\d\dT[\d:.]+Z \(record \d+, key [0-9a-f]{16}\)\n$/);
    const count = Number(/intact: (\d+) records/.exec(ok.out)?.[1]);
    // Two users added, one disabled, enabled, reset and given a PIN, one lockout lifted (the test's own sign-ins are not audited).
    expect(count).toBe(7);

    const jsonl = await run(['audit', 'export', '--data-dir', dataDir]);
    expect(jsonl.out.trimEnd().split('\n')).toHaveLength(count);
    const file = join(work, 'audit.csv');
    const csv = await run(['audit', 'export', '--data-dir', dataDir, '--format', 'csv', '--out', file, '--user', 'nobody-at-all']);
    expect(csv).toMatchObject({ code: 0, err: `Wrote 0 audit records to ${file}\n` });
    expect(readFileSync(file, 'utf8')).toBe('seq,at,at_iso,kind,user,role,origin,session_id,machine_id,detail,prev_hash,hash\r\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await run(['audit', 'export', '--data-dir', dataDir, '--format', 'xml'])).code).toBe(2);
  });

  it('names the first bad record of a tampered log and exits 1', async () => {
    const copy = join(work, 'tampered');
    (await open(copy)).close();
    expect((await run(['user', 'add', '--data-dir', copy, '--name', 'eve', '--role', 'operator'], 'eve-password-123\n')).code).toBe(0);
    expect((await run(['user', 'add', '--data-dir', copy, '--name', 'max', '--role', 'admin'], 'max-password-123\n')).code).toBe(0);
    expect((await run(['audit', 'verify', '--data-dir', copy])).code).toBe(0);

    const store = await open(copy);
    try {
      store.db.exec('DROP TRIGGER audit_log_no_update');
      store.db.prepare("UPDATE audit_log SET detail = json_set(detail, '$.role', 'operator') WHERE seq = 2").run();
    } finally {
      store.close();
    }
    const bad = await run(['audit', 'verify', '--data-dir', copy]);
    expect(bad).toMatchObject({
      code: 1,
      out: 'audit log NOT intact: record 2: record 2 was altered: its content no longer matches its hash (altered; 2 records)\n',
    });
    const json = await run(['audit', 'verify', '--data-dir', copy, '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, records: 2, problem: { seq: 2, reason: 'altered' } });
    // Verifying against a key the supplier holds, not the one in the (possibly replaced) store.
    const stranger = await run(['audit', 'verify', '--data-dir', dataDir, '--public-key', Buffer.alloc(32, 7).toString('base64')]);
    expect(stranger).toMatchObject({ code: 1, out: expect.stringContaining('head-forged') as string });
  });
});

describe('demo accounts', () => {
  it('are created once in a demo store, and never in a configured plant', async () => {
    const demoDir = join(work, 'demo');
    const store = await open(demoDir, { demo: true });
    try {
      const accounts = new AccountStore(store.db, { hashParams: TEST_HASH_PARAMS });
      expect((await ensureDemoAccounts(store.db, accounts)).map((a) => a.name)).toEqual(['operator', 'maintenance', 'admin', 'support']);
      expect(await ensureDemoAccounts(store.db, accounts)).toEqual([]);
      expect(accounts.list().map((a) => [a.name, a.role, a.hasPin])).toEqual([
        ['admin', 'admin', true],
        ['maintenance', 'maintenance', true],
        ['operator', 'operator', true],
        ['support', 'supplier-support', false],
      ]);
      const auth = new AuthService(store.db, accounts, { timers: false });
      for (const a of demoAccounts())
        expect(await auth.login(a.name, a.password, { key: 'local', origin: 'local' })).toMatchObject({
          ok: true,
          session: { role: a.role },
        });
      auth.close();
    } finally {
      store.close();
    }
    const configured = await open();
    try {
      await expect(ensureDemoAccounts(configured.db, new AccountStore(configured.db))).rejects.toThrow(/only in the SIMULATED demo plant/);
    } finally {
      configured.close();
    }
  });
});
