/**
 * The PIN re-authentication of confirmations (auth/confirm-gate.ts) on real accounts and the
 * real AuthService (fake clock), and through ConsoleApi for points.write and points.revert.
 */
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { ConsoleApi } from '../../src-main/api/service';
import { AccountStore } from '../../src-main/auth/accounts';
import { createConfirmGate, type ConfirmGate } from '../../src-main/auth/confirm-gate';
import { TEST_HASH_PARAMS } from '../../src-main/auth/passwords';
import { AuthService } from '../../src-main/auth/sessions';
import { ConsoleError } from '../../src-main/core/errors';
import type { Caller } from '../../src-preload/contract';
import { migrate } from '../../src-main/store/schema';
import { MAINT_PIN, PASSWORDS, setupPeople } from '../helpers/people';

const T0 = Date.UTC(2026, 4, 4, 6, 0);

async function setup() {
  const clock = { t: T0, now: () => clock.t };
  const db = new Database(':memory:');
  migrate(db);
  const accounts = new AccountStore(db, { clock, hashParams: TEST_HASH_PARAMS });
  await accounts.add({ name: 'anna', role: 'maintenance', password: 'anna-password-1', pin: '2580' });
  await accounts.add({ name: 'ben', role: 'maintenance', password: 'ben-password-22' });
  // A wrong PIN's answer waits on the fake clock.
  const sleep = (ms: number) => Promise.resolve(void (clock.t += ms));
  const auth = new AuthService(db, accounts, { clock, timers: false, sleep });
  return { clock, accounts, auth, gate: createConfirmGate(auth, accounts) };
}

const anna: Caller = { user: 'anna', role: 'maintenance', origin: 'local', sessionId: 'a'.repeat(32) };

async function codeOf(p: Promise<void>): Promise<string> {
  try {
    await p;
    return 'passed';
  } catch (err) {
    expect(err).toBeInstanceOf(ConsoleError);
    return `${(err as ConsoleError).code}: ${(err as ConsoleError).message}`;
  }
}

describe('confirm gate', () => {
  it('asks a signed-in account with a PIN for it, refuses a wrong one, and locks after repeated wrong ones', async () => {
    const { gate, clock } = await setup();
    expect(await codeOf(gate(anna, undefined))).toBe('PIN_REQUIRED: Enter your PIN to confirm the change');
    expect(await codeOf(gate(anna, ''))).toBe('PIN_REQUIRED: Enter your PIN to confirm the change');
    expect(await codeOf(gate(anna, '2580'))).toBe('passed');
    for (let i = 0; i < 4; i++) {
      expect(await codeOf(gate(anna, '1111'))).toBe('BAD_PIN: Wrong PIN');
      clock.t += 60_000;
    }
    expect(await codeOf(gate(anna, '1111'))).toBe('LOCKED_OUT: Too many wrong PINs: the PIN is locked for now');
    expect(await codeOf(gate(anna, '2580'))).toMatch(/^LOCKED_OUT: Too many wrong PINs: locked for 1[45] min$/);
  });

  it('lets through accounts without a PIN and callers without a session', async () => {
    const { gate } = await setup();
    expect(await codeOf(gate({ user: 'ben', role: 'maintenance', origin: 'local', sessionId: 'b'.repeat(32) }, undefined))).toBe('passed');
    expect(await codeOf(gate({ user: 'anna', role: 'maintenance', origin: 'local' }, undefined))).toBe('passed');
  });

  it('refuses a disabled account', async () => {
    const { gate, accounts } = await setup();
    accounts.disable('anna');
    // A disabled account's gone session could still race a call: the gate says no.
    const stale: ConfirmGate = createConfirmGate(
      { verifyPin: async () => ({ ok: false, code: 'DISABLED', message: 'This account is disabled' }) },
      {
        get: () => ({ hasPin: true }),
      },
    );
    expect(await codeOf(stale(anna, '2580'))).toBe('FORBIDDEN: This account is disabled');
    expect(await codeOf(gate(anna, '2580'))).toBe('FORBIDDEN: This account is disabled');
  });

  it('guards points.write and points.revert in the API: PIN_REQUIRED and BAD_PIN are answers, the right PIN goes through', async () => {
    const clock = { t: T0, now: () => clock.t };
    const people = await setupPeople({ clock });
    try {
      const api = new ConsoleApi(people.core, { log: people.log, confirm: createConfirmGate(people.auth, people.accounts) });
      const login = await people.auth.login('maint', PASSWORDS.maint, { key: 'local-window', origin: 'local' });
      if (!login.ok) throw new Error(login.message);
      const maint: Caller = { user: 'maint', role: 'maintenance', origin: 'local', sessionId: login.session.id };
      const write = { machineId: 'im-1', pointId: 'zone1-sp', value: 210 };
      expect(await api.handle(maint, 'points.write', write)).toEqual({
        ok: false,
        error: { code: 'PIN_REQUIRED', message: 'Enter your PIN to confirm the change' },
      });
      expect(await api.handle(maint, 'points.write', { ...write, pin: '0000' })).toEqual({
        ok: false,
        error: { code: 'BAD_PIN', message: 'Wrong PIN' },
      });
      expect(await api.handle(maint, 'points.revert', { writeId: 'nope' })).toMatchObject({ ok: false, error: { code: 'PIN_REQUIRED' } });
      // Writes are off in this plant: past the PIN, the bounded path refuses, and says why.
      expect(await api.handle(maint, 'points.write', { ...write, pin: MAINT_PIN })).toMatchObject({
        ok: true,
        value: { outcome: 'refused', code: 'WRITES_DISABLED' },
      });
      expect(people.core.writes.log().map((w) => w.user)).toEqual(['maint']);
      expect(await api.handle(maint, 'points.revert', { writeId: 'nope', pin: MAINT_PIN })).toMatchObject({
        ok: false,
        error: { code: 'NOT_FOUND' },
      });
    } finally {
      await people.close();
    }
  });
});
