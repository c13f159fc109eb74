/** Sign-in and sessions: growing delay and lockout per account and per source (fake clock), idle lock, absolute limit, logout, hashed tokens. */
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src-main/audit/log';
import type { AuditKind } from '../../src-main/audit/record';
import { AccountStore } from '../../src-main/auth/accounts';
import { TEST_HASH_PARAMS } from '../../src-main/auth/passwords';
import {
  AuthService,
  callerOf,
  sessionTokenHash,
  type AuthServiceOptions,
  type LoginResult,
  type SessionEndReason,
} from '../../src-main/auth/sessions';
import { failureDelayMs } from '../../src-main/auth/throttle';
import { signingKeyPair } from '../../src-main/protocol/keys';
import { migrate, type StoreDb } from '../../src-main/store/schema';

const T0 = Date.UTC(2026, 2, 2, 7, 0);
const S = 1000;
const MIN = 60 * S;
const LOCAL = { key: 'local', origin: 'local' } as const;
const REMOTE_A = { key: '10.0.0.7', origin: 'remote' } as const;
const REMOTE_B = { key: '10.0.0.8', origin: 'remote' } as const;
const ALICE_PW = 'alice-password-1';
const BOB_PW = 'bob-password-22';

const services: AuthService[] = [];
afterEach(() => {
  for (const s of services.splice(0)) s.close();
});

async function setup(opts: AuthServiceOptions = {}, db: StoreDb = freshDb()) {
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  // The answer to a failure is held on this fake clock: each wait is recorded and passes at once.
  const sleeps: number[] = [];
  const sleep = (ms: number): Promise<void> => {
    sleeps.push(ms);
    clock.t += ms;
    return Promise.resolve();
  };
  const audit = new AuditLog(db, { signing: signingKeyPair() }, { clock, timers: false });
  const accounts = new AccountStore(db, { clock, audit, hashParams: TEST_HASH_PARAMS });
  if (!accounts.get('alice')) {
    await accounts.add({ name: 'alice', role: 'maintenance', password: ALICE_PW, pin: '2580' });
    await accounts.add({ name: 'bob', role: 'operator', password: BOB_PW });
  }
  const auth = new AuthService(db, accounts, { clock, audit, timers: false, sleep, ...opts });
  services.push(auth);
  const ended: { id: string; user: string; reason: SessionEndReason }[] = [];
  auth.onSessionEnded((id, user, reason) => ended.push({ id, user, reason }));
  const kinds = (kind: AuditKind) => audit.query({ kind, limit: 1000 }).reverse();
  return { db, clock, audit, accounts, auth, ended, kinds, sleeps };
}

function freshDb(): StoreDb {
  const db = new Database(':memory:');
  migrate(db);
  return db;
}

function failed(r: LoginResult) {
  if (r.ok) throw new Error('login unexpectedly succeeded');
  return r;
}

function succeeded(r: LoginResult) {
  if (!r.ok) throw new Error(`login failed: ${r.code} ${r.message}`);
  return r;
}

describe('login', () => {
  it('opens a session for the right password and resumes it by token', async () => {
    const { auth, kinds } = await setup();
    const r = succeeded(await auth.login(' Alice ', ALICE_PW, REMOTE_A));
    expect(r.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.session).toMatchObject({
      user: 'alice',
      role: 'maintenance',
      origin: 'remote',
      source: '10.0.0.7',
      createdAt: T0,
      lastSeen: T0,
      expiresAt: T0 + 12 * 60 * MIN,
      idleLockMs: 15 * MIN,
    });
    expect(auth.resume(r.token)).toMatchObject({ id: r.session.id, user: 'alice' });
    expect(callerOf(r.session)).toEqual({ user: 'alice', role: 'maintenance', origin: 'remote', sessionId: r.session.id });
    expect(auth.resume('A'.repeat(43))).toBeNull();
    expect(auth.resume('not a token')).toBeNull();
    const [login] = kinds('login');
    expect(login).toMatchObject({
      user: 'alice',
      role: 'maintenance',
      origin: 'remote',
      sessionId: r.session.id,
      detail: { source: '10.0.0.7' },
    });
  });

  it('stores only a hash of the token: the raw token is nowhere in the database', async () => {
    const { auth, db } = await setup();
    const r = succeeded(await auth.login('alice', ALICE_PW, LOCAL));
    const raw = Buffer.from(r.token, 'base64url');
    const needles = [r.token, raw.toString('hex'), raw.toString('base64')];
    const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").raw().all() as [string][]).map((t) => t[0]);
    let cells = 0;
    for (const t of tables) {
      for (const row of db.prepare(`SELECT * FROM ${t}`).raw().all() as unknown[][]) {
        for (const cell of row) {
          cells++;
          const text =
            cell instanceof ArrayBuffer || Buffer.isBuffer(cell) ? Buffer.from(cell as ArrayBuffer).toString('hex') : String(cell);
          for (const n of needles) expect(text).not.toContain(n);
          if (Buffer.isBuffer(cell)) expect(cell.includes(raw)).toBe(false);
        }
      }
    }
    expect(cells).toBeGreaterThan(20);
    expect(db.prepare('SELECT token_hash FROM sessions').raw().get()).toEqual([sessionTokenHash(r.token)]);
  });

  it('answers a wrong password and an unknown name the same way, and refuses a disabled account only with the right password', async () => {
    const { auth, accounts, kinds, sleeps } = await setup();
    const wrong = failed(await auth.login('alice', 'not-her-password', REMOTE_A));
    const unknown = failed(await auth.login('mallory', 'whatever-password', REMOTE_B));
    expect(wrong).toEqual({ ok: false, code: 'BAD_CREDENTIALS', message: 'Wrong name or password', retryAfterMs: 0 });
    expect(unknown).toEqual(wrong);
    // Both answered after the same first delay.
    expect(sleeps).toEqual([S, S]);
    accounts.disable('bob');
    expect(failed(await auth.login('bob', 'not-bobs-password', { key: '10.0.0.9', origin: 'remote' })).code).toBe('BAD_CREDENTIALS');
    expect(failed(await auth.login('bob', BOB_PW, { key: '10.0.0.10', origin: 'remote' })).code).toBe('DISABLED');
    expect(kinds('login_failed').map((r) => [r.user, r.detail['reason']])).toEqual([
      ['alice', 'bad-password'],
      ['mallory', 'unknown-user'],
      ['bob', 'bad-password'],
      ['bob', 'disabled'],
    ]);
  });

  it('does not put a password typed into the name field into the audit log', async () => {
    const { auth, kinds } = await setup();
    failed(await auth.login('Sup3r$ecret!', 'x'.repeat(12), REMOTE_A));
    expect(kinds('login_failed')[0]).toMatchObject({ user: null, detail: { reason: 'unknown-user' } });
  });
});

describe('unsuccessful logins', () => {
  /** Makes every password check of `accounts` take `ms` on the fake clock, as Argon2id takes real time. */
  function slowChecks(ctx: Awaited<ReturnType<typeof setup>>, ms: number): void {
    const secrets = ctx.accounts.secrets.bind(ctx.accounts);
    ctx.accounts.secrets = (name: string) => {
      ctx.clock.t += ms;
      return secrets(name);
    };
  }

  it('answers the 1st to 4th failure 1, 2, 4, 8 s after its request however long the check took, then locks that source and account', async () => {
    const ctx = await setup();
    const { auth, clock, kinds, sleeps } = ctx;
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((f) => failureDelayMs(f, S, 60 * S))).toEqual([0, 1, 2, 4, 8, 16, 32, 60, 60].map((s) => s * S));
    slowChecks(ctx, 700);
    const answeredAfter: number[] = [];
    for (let i = 0; i < 4; i++) {
      const asked = clock.t;
      const r = failed(await auth.login('alice', 'wrong-password', REMOTE_A));
      answeredAfter.push(clock.t - asked);
      // The delay was served in the answer: the next attempt is checked at once.
      expect(r).toMatchObject({ code: 'BAD_CREDENTIALS', retryAfterMs: 0 });
    }
    expect(answeredAfter).toEqual([1, 2, 4, 8].map((s) => s * S));
    // The 700 ms of each check are part of the delay, not added to it (nor taken off it).
    expect(sleeps).toEqual([300, 1300, 3300, 7300]);
    const fifthAt = clock.t;
    const fifth = failed(await auth.login('alice', 'wrong-password', REMOTE_A));
    expect(fifth.code).toBe('LOCKED_OUT');
    expect(fifth.message).toMatch(/locked for 15 min/);
    const lockedUntil = fifthAt + 700 + 15 * MIN;
    expect(auth.lockouts().map((l) => [l.scope, l.user, l.source, l.lockedUntil])).toEqual([
      ['account', 'alice', REMOTE_A.key, lockedUntil],
      ['source', null, REMOTE_A.key, lockedUntil],
    ]);
    // Refused without a check, even the right password; the answer says until when.
    const checks = sleeps.length;
    expect(failed(await auth.login('alice', ALICE_PW, REMOTE_A))).toMatchObject({
      code: 'LOCKED_OUT',
      retryAfterMs: lockedUntil - clock.t,
    });
    expect(sleeps).toHaveLength(checks);
    // The panel beside the machines and other network sources are not locked out with it.
    succeeded(await auth.login('alice', ALICE_PW, LOCAL));
    succeeded(await auth.login('alice', ALICE_PW, REMOTE_B));
    clock.t = lockedUntil;
    succeeded(await auth.login('alice', ALICE_PW, REMOTE_A));
    expect(kinds('login_failed').map((r) => r.detail['failures'])).toEqual([1, 2, 3, 4, 5]);
    expect(kinds('lockout').map((r) => [r.user, r.detail['scope'], r.detail['source'], r.detail['until']])).toEqual([
      ['alice', 'account', REMOTE_A.key, lockedUntil],
      [null, 'source', REMOTE_A.key, lockedUntil],
    ]);
    expect(auth.stats().refusedAttempts).toBe(1);
  });

  it('lets two correct sign-ins at the same moment both in, and makes parallel guesses wait for each other', async () => {
    const { auth, clock, sleeps } = await setup();
    const both = await Promise.all([auth.login('alice', ALICE_PW, REMOTE_A), auth.login('alice', ALICE_PW, REMOTE_A)]);
    expect(both.map((r) => r.ok)).toEqual([true, true]);
    const local = await Promise.all([auth.login('alice', ALICE_PW, LOCAL), auth.login('bob', BOB_PW, LOCAL)]);
    expect(local.map((r) => r.ok)).toEqual([true, true]);
    expect(sleeps).toEqual([]);

    const asked = clock.t;
    const answered: number[] = [];
    const guesses = ['guess-number-1', 'guess-number-2', 'guess-number-3'].map((pw) =>
      auth.login('alice', pw, REMOTE_A).then((r) => {
        answered.push(clock.t - asked);
        return r;
      }),
    );
    expect((await Promise.all(guesses)).map((r) => r.ok || r.code)).toEqual(['BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'BAD_CREDENTIALS']);
    // One at a time, each answered its delay after the requests came in: 1, 2 and 4 s.
    expect(answered).toEqual([1 * S, 2 * S, 4 * S]);
  });

  it('refuses more attempts from one source than wait in its queue', async () => {
    const { auth } = await setup({ maxFailures: 100, maxSourceFailures: 100 });
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => auth.login('alice', `guess-number-${i}`, REMOTE_A)));
    const codes = all.map((r) => (r.ok ? 'ok' : r.code === 'LOCKED_OUT' ? r.message : r.code));
    expect(codes.filter((c) => c === 'BAD_CREDENTIALS')).toHaveLength(8);
    expect(codes.filter((c) => c === 'Too many sign-ins at once from here: try again in a few seconds')).toHaveLength(2);
  });

  it('locks a remote source that tries many names, and only that source', async () => {
    const { auth, kinds } = await setup();
    const names = ['root', 'admin', 'operator', 'service', 'plc'];
    for (const [i, name] of names.entries()) {
      const r = failed(await auth.login(name, 'password123', REMOTE_A));
      expect(r.code).toBe(i < 4 ? 'BAD_CREDENTIALS' : 'LOCKED_OUT');
    }
    expect(failed(await auth.login('alice', ALICE_PW, REMOTE_A)).code).toBe('LOCKED_OUT');
    succeeded(await auth.login('alice', ALICE_PW, REMOTE_B));
    expect(kinds('lockout').map((r) => r.detail)).toEqual([
      { scope: 'source', source: '10.0.0.7', until: expect.any(Number) as number, failures: 5 },
    ]);
  });

  it('locks an account guessed from many network sources for the network only: the local panel still signs in', async () => {
    const { auth } = await setup({ maxNetworkFailures: 3 });
    for (let i = 0; i < 3; i++) failed(await auth.login('alice', 'wrong-password', { key: `10.3.0.${i}`, origin: 'remote' }));
    expect(failed(await auth.login('alice', ALICE_PW, { key: '10.3.0.99', origin: 'remote' })).code).toBe('LOCKED_OUT');
    expect(auth.lockouts().map((l) => [l.scope, l.user, l.source])).toEqual([['network', 'alice', null]]);
    succeeded(await auth.login('alice', ALICE_PW, LOCAL));
    succeeded(await auth.login('bob', BOB_PW, { key: '10.3.0.99', origin: 'remote' }));
  });

  it('delays the local console after failures but locks only accounts there, unless told to', async () => {
    const { auth } = await setup();
    for (const name of ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'])
      expect(failed(await auth.login(name, 'password123', LOCAL)).code).toBe('BAD_CREDENTIALS');
    succeeded(await auth.login('bob', BOB_PW, LOCAL));

    const strict = await setup({ lockLocalSource: true });
    for (let i = 0; i < 5; i++) failed(await strict.auth.login(`x${i}`, 'password123', LOCAL));
    expect(failed(await strict.auth.login('bob', BOB_PW, LOCAL)).code).toBe('LOCKED_OUT');
  });

  it('forgets failures after a quiet lockout period, and on success', async () => {
    const { auth, clock, sleeps } = await setup();
    for (let i = 0; i < 4; i++) failed(await auth.login('alice', 'wrong-password', REMOTE_A));
    clock.t += 15 * MIN;
    sleeps.length = 0;
    failed(await auth.login('alice', 'wrong-password', REMOTE_A));
    succeeded(await auth.login('alice', ALICE_PW, REMOTE_A));
    failed(await auth.login('alice', 'wrong-password', REMOTE_A));
    expect(sleeps).toEqual([S, S]);
  });

  it('keeps lockouts over a restart; an admin lifts one by id or all of an account, each audited', async () => {
    const first = await setup({ maxFailures: 1 });
    expect(failed(await first.auth.login('alice', 'wrong-password', REMOTE_A)).code).toBe('LOCKED_OUT');
    expect(failed(await first.auth.login('alice', 'wrong-password', REMOTE_B)).code).toBe('LOCKED_OUT');
    expect((await first.auth.verifyPin('alice', '1111')).ok).toBe(false);
    first.auth.close();

    // The console restarts on the same store: the lockouts are still there.
    const { auth, kinds } = await setup({ maxFailures: 1 }, first.db);
    expect(failed(await auth.login('alice', ALICE_PW, REMOTE_A)).code).toBe('LOCKED_OUT');
    const list = auth.lockouts();
    expect(list.map((l) => [l.scope, l.user, l.source])).toEqual([
      ['account', 'alice', REMOTE_A.key],
      ['account', 'alice', REMOTE_B.key],
      ['pin', 'alice', null],
    ]);
    const admin = { user: 'root-admin', role: 'admin' as const, origin: 'local' as const };
    expect(auth.unlock(list[0]!.id, admin)).toMatchObject({ scope: 'account', source: REMOTE_A.key });
    expect(auth.unlock(list[0]!.id, admin)).toBeNull();
    succeeded(await auth.login('alice', ALICE_PW, REMOTE_A));
    expect(failed(await auth.login('alice', ALICE_PW, REMOTE_B)).code).toBe('LOCKED_OUT');
    expect(auth.unlockWhere({ user: 'alice' }, admin).map((l) => l.scope)).toEqual(['account', 'pin']);
    succeeded(await auth.login('alice', ALICE_PW, REMOTE_B));
    expect(await auth.verifyPin('alice', '2580')).toEqual({ ok: true });
    expect(kinds('lockout_lifted').map((r) => [r.user, r.detail['scope'], r.detail['account'], r.detail['source']])).toEqual([
      ['root-admin', 'account', 'alice', REMOTE_A.key],
      ['root-admin', 'account', 'alice', REMOTE_B.key],
      ['root-admin', 'pin', 'alice', null],
    ]);
  });
});

describe('sessions', () => {
  it('locks a local session after 15 min without activity; activity keeps it open', async () => {
    const { auth, clock, ended, kinds } = await setup();
    const { token, session } = succeeded(await auth.login('bob', BOB_PW, LOCAL));
    clock.t += 14 * MIN;
    expect(auth.activity(token)?.idleExpiresAt).toBe(clock.t + 15 * MIN);
    clock.t += 14 * MIN;
    expect(auth.resume(token, { touch: false })).not.toBeNull();
    clock.t += MIN;
    expect(auth.resume(token)).toBeNull();
    expect(ended).toEqual([{ id: session.id, user: 'bob', reason: 'idle-lock' }]);
    expect(kinds('session_expired')[0]).toMatchObject({ user: 'bob', sessionId: session.id, detail: { reason: 'idle-lock' } });
  });

  it('ends every session at its absolute limit, however active', async () => {
    const { auth, clock, ended } = await setup({ idleLockMs: { remote: null } });
    const { token } = succeeded(await auth.login('alice', ALICE_PW, REMOTE_A));
    while (clock.t < T0 + 12 * 60 * MIN - 10 * MIN) {
      clock.t += 10 * MIN;
      expect(auth.activity(token)).not.toBeNull();
    }
    clock.t = T0 + 12 * 60 * MIN;
    expect(auth.resume(token)).toBeNull();
    expect(ended.map((e) => e.reason)).toEqual(['absolute-limit']);
  });

  it('takes configured idle and absolute limits, and sweeps without being asked', async () => {
    const { auth, clock, ended } = await setup({ idleLockMs: { local: 2 * MIN, remote: null }, absoluteMs: 60 * MIN });
    const local = succeeded(await auth.login('bob', BOB_PW, LOCAL));
    const remote = succeeded(await auth.login('alice', ALICE_PW, REMOTE_A));
    expect(remote.session.idleExpiresAt).toBeNull();
    clock.t += 2 * MIN;
    expect(auth.sweep()).toBe(1);
    expect(ended).toEqual([{ id: local.session.id, user: 'bob', reason: 'idle-lock' }]);
    clock.t = T0 + 60 * MIN;
    expect(auth.sweep()).toBe(1);
    expect(ended.at(-1)).toEqual({ id: remote.session.id, user: 'alice', reason: 'absolute-limit' });
    expect(auth.list()).toEqual([]);
  });

  it('logs out, telling the transports and the audit log', async () => {
    const { auth, ended, kinds } = await setup();
    const { token, session } = succeeded(await auth.login('alice', ALICE_PW, REMOTE_A));
    expect(auth.logout(token)).toBe(true);
    expect(auth.resume(token)).toBeNull();
    expect(auth.logout(token)).toBe(false);
    expect(ended).toEqual([{ id: session.id, user: 'alice', reason: 'logout' }]);
    expect(kinds('logout')[0]).toMatchObject({ user: 'alice', sessionId: session.id, detail: { reason: 'logout' } });
  });

  it('ends all sessions of a user on request, when the account is disabled, and when the password changes', async () => {
    const { auth, accounts, ended } = await setup();
    const a1 = succeeded(await auth.login('alice', ALICE_PW, REMOTE_A));
    const a2 = succeeded(await auth.login('alice', ALICE_PW, LOCAL));
    const b = succeeded(await auth.login('bob', BOB_PW, LOCAL));
    expect(auth.endSessionsOf('alice', 'ended-by-site', { user: 'bob' })).toBe(2);
    expect(ended.map((e) => [e.id, e.reason])).toEqual([
      [a1.session.id, 'ended-by-site'],
      [a2.session.id, 'ended-by-site'],
    ]);
    expect(auth.resume(b.token)).not.toBeNull();

    const a3 = succeeded(await auth.login('alice', ALICE_PW, LOCAL));
    await accounts.resetPassword('alice', 'a-new-password-for-alice');
    expect(ended.at(-1)).toEqual({ id: a3.session.id, user: 'alice', reason: 'password-reset' });
    accounts.disable('bob');
    expect(ended.at(-1)).toEqual({ id: b.session.id, user: 'bob', reason: 'account-disabled' });
    expect(auth.resume(b.token)).toBeNull();
  });

  it('notices account changes made by another process (the CLI) on the next use', async () => {
    const { auth, db, clock, ended } = await setup();
    const { token, session } = succeeded(await auth.login('bob', BOB_PW, LOCAL));
    const cli = new AccountStore(db, { clock, hashParams: TEST_HASH_PARAMS });
    cli.disable('bob');
    expect(ended).toEqual([]);
    expect(auth.get(session.id)).toBeNull();
    expect(auth.resume(token)).toBeNull();
    expect(ended).toEqual([{ id: session.id, user: 'bob', reason: 'account-disabled' }]);
  });

  it('ends one session by id for the site, and keeps sessions across a restart', async () => {
    const first = await setup();
    const keep = succeeded(await first.auth.login('alice', ALICE_PW, REMOTE_A));
    const drop = succeeded(await first.auth.login('bob', BOB_PW, REMOTE_B));
    expect(first.auth.endSession(drop.session.id, 'ended-by-site', { user: 'alice' })).toBe(true);
    expect(first.auth.endSession(drop.session.id, 'ended-by-site')).toBe(false);
    first.clock.t += 5 * MIN;
    first.auth.activity(keep.token);
    first.auth.close();

    const second = await setup({}, first.db);
    second.clock.t = first.clock.t + 10 * MIN;
    expect(second.auth.activity(keep.token)).toMatchObject({ id: keep.session.id, user: 'alice', lastSeen: second.clock.t });
    expect(second.auth.resume(drop.token)).toBeNull();
  });
});

describe('PIN confirmation', () => {
  it('checks the PIN, says when there is none, and locks after repeated wrong PINs', async () => {
    const { auth, clock, kinds } = await setup();
    expect(await auth.verifyPin('alice', '2580')).toEqual({ ok: true });
    expect(await auth.verifyPin('bob', '2580')).toMatchObject({ ok: false, code: 'NO_PIN' });
    for (let i = 0; i < 4; i++) expect(await auth.verifyPin('alice', '1111')).toMatchObject({ ok: false, code: 'BAD_PIN' });
    const fifthAt = clock.t;
    expect(await auth.verifyPin('alice', '1111')).toMatchObject({ ok: false, code: 'LOCKED_OUT', retryAfterMs: 15 * MIN - 16 * S });
    expect(clock.t - fifthAt).toBe(16 * S);
    expect(await auth.verifyPin('alice', '2580')).toMatchObject({ ok: false, code: 'LOCKED_OUT' });
    // A locked PIN does not lock the password.
    succeeded(await auth.login('alice', ALICE_PW, LOCAL));
    expect(kinds('login_failed').filter((r) => r.detail['method'] === 'pin')).toHaveLength(5);
    expect(kinds('lockout').map((r) => r.detail['scope'])).toEqual(['pin']);
  });
});
