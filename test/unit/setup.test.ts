/**
 * First start: while no enabled admin exists the console offers to create one, once; the
 * account is audited as `user_added` with `firstStart: true`; two screens racing create one
 * admin; the Electron window's channels check the sender and the request; the renderer's
 * rules agree with the console's; the setup store signs in with the new account, or asks to.
 */
import Database from 'libsql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachIpcSetup } from '../../src-main/api/ipc-setup';
import type { IpcMainLike, IpcSender } from '../../src-main/api/ipc-adapter';
import { AuditLog } from '../../src-main/audit/log';
import { AccountStore, userNameProblem } from '../../src-main/auth/accounts';
import { pinProblem, TEST_HASH_PARAMS } from '../../src-main/auth/passwords';
import { passwordShapeProblem } from '../../src-preload/contract/password-rules';
import { createFirstAdmin, FirstStartSetup, needsSetup } from '../../src-main/auth/setup';
import { ConsoleError } from '../../src-main/core/errors';
import { memoryLogger } from '../../src-main/core/log';
import { signingKeyPair } from '../../src-main/protocol/keys';
import { migrate } from '../../src-main/store/schema';
import { SETUP_CHANNELS } from '../../src-preload/channels';
import { useAuthStore } from '../../src-renderer/src/stores/auth';
import {
  createIpcSetupPort,
  createWebSetupPort,
  normalizeName,
  pinRuleProblem,
  selectSetupShown,
  setupRules,
  startSetup,
  useSetupStore,
  type SetupPort,
} from '../../src-renderer/src/stores/setup';

const GOOD = 'correct horse battery';

let close: (() => void) | null = null;
afterEach(() => {
  close?.();
  close = null;
});

function store() {
  const db = new Database(':memory:');
  migrate(db);
  const audit = new AuditLog(db, { signing: signingKeyPair() }, { timers: false });
  const accounts = new AccountStore(db, { audit, hashParams: TEST_HASH_PARAMS });
  close = () => {
    audit.close();
    db.close();
  };
  return { db, audit, accounts };
}

describe('needsSetup and createFirstAdmin', () => {
  it('is needed while no enabled admin exists, and done once one is made', async () => {
    const { accounts, audit } = store();
    expect(needsSetup(accounts)).toBe(true);
    await accounts.add({ name: 'olga', role: 'operator', password: GOOD });
    expect(needsSetup(accounts)).toBe(true);
    const admin = await createFirstAdmin(
      accounts,
      { name: '  Anna ', password: GOOD, pin: '2580' },
      { origin: 'local' },
      { via: 'web', source: '127.0.0.1' },
    );
    expect(admin).toMatchObject({ name: 'anna', role: 'admin', disabled: false, hasPin: true });
    expect(needsSetup(accounts)).toBe(false);
    expect(audit.query({ kind: ['user_added'] }).find((r) => r.detail.name === 'anna')).toMatchObject({
      origin: 'local',
      user: null,
      detail: { name: 'anna', role: 'admin', pin: true, firstStart: true, via: 'web', source: '127.0.0.1' },
    });
    // An ordinary add says nothing of a first start.
    expect(audit.query({ kind: ['user_added'] }).find((r) => r.detail.name === 'olga')!.detail.firstStart).toBeUndefined();
  });

  it('refuses once an admin exists, with the way forward in words', async () => {
    const { accounts } = store();
    await accounts.add({ name: 'root-admin', role: 'admin', password: GOOD });
    const err = await createFirstAdmin(accounts, { name: 'eve', password: GOOD }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConsoleError);
    expect(err).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/^An administrator account exists already: sign in/) });
    expect(accounts.get('eve')).toBeUndefined();
  });

  it('two screens racing: one admin is made, the other is refused', async () => {
    const { accounts } = store();
    const results = await Promise.allSettled([
      createFirstAdmin(accounts, { name: 'first', password: GOOD }),
      createFirstAdmin(accounts, { name: 'second', password: GOOD }),
      createFirstAdmin(accounts, { name: 'third', password: GOOD }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(
      accounts
        .list()
        .filter((a) => a.role === 'admin')
        .map((a) => a.name),
    ).toEqual(['first']);
  });

  it('a bad password, name or PIN creates nothing and leaves setup open', async () => {
    const { accounts } = store();
    await expect(createFirstAdmin(accounts, { name: 'anna', password: 'short' })).rejects.toThrow(
      'A password needs at least 10 characters',
    );
    await expect(createFirstAdmin(accounts, { name: 'local-x', password: GOOD })).rejects.toThrow(/reserved/);
    await expect(createFirstAdmin(accounts, { name: 'anna', password: GOOD, pin: '1111' })).rejects.toThrow(
      'A PIN may not repeat one digit',
    );
    expect(accounts.count()).toBe(0);
    expect(needsSetup(accounts)).toBe(true);
  });

  it('FirstStartSetup checks an outside request with its schema', async () => {
    const { accounts } = store();
    const setup = new FirstStartSetup(accounts, { log: memoryLogger() });
    await expect(setup.create({ name: 'anna', password: GOOD, role: 'operator' }, {}, { via: 'web' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    await expect(setup.create({ name: 'anna' }, {}, { via: 'web' })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: /^password:/ });
    await expect(setup.create('anna', {}, { via: 'web' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(setup.needed()).toBe(true);
    // An empty PIN is no PIN.
    expect(await setup.create({ name: 'anna', password: GOOD, pin: '' }, {}, { via: 'window' })).toMatchObject({
      role: 'admin',
      hasPin: false,
    });
    expect(setup.needed()).toBe(false);
  });
});

describe('the Electron window setup channels', () => {
  const trusted: IpcSender = { frameUrl: 'file:///app/out/renderer/index.html', webContentsId: 1 };
  const foreign: IpcSender = { frameUrl: 'https://evil.example/', webContentsId: 2 };

  function ipc() {
    const handlers = new Map<string, (event: { sender: IpcSender }, request: unknown) => Promise<unknown>>();
    const ipcMain: IpcMainLike = { handle: (ch, fn) => void handlers.set(ch, fn), removeHandler: (ch) => void handlers.delete(ch) };
    return { handlers, ipcMain, call: (ch: string, sender: IpcSender, req?: unknown) => handlers.get(ch)!({ sender }, req) };
  }

  it('answers only the console window, creates the admin once, and unregisters', async () => {
    const { accounts, audit } = store();
    const { handlers, ipcMain, call } = ipc();
    const log = memoryLogger();
    const off = attachIpcSetup({
      ipcMain,
      setup: new FirstStartSetup(accounts),
      log,
      isTrustedSender: (s) => s.webContentsId === 1 && s.frameUrl === trusted.frameUrl,
    });
    expect([...handlers.keys()].sort()).toEqual([SETUP_CHANNELS.setup, SETUP_CHANNELS.status].sort());
    expect(await call(SETUP_CHANNELS.status, foreign)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await call(SETUP_CHANNELS.setup, foreign, { name: 'eve', password: GOOD })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    expect(accounts.count()).toBe(0);
    expect(await call(SETUP_CHANNELS.status, trusted)).toEqual({ ok: true, value: { setupNeeded: true } });
    expect(await call(SETUP_CHANNELS.setup, trusted, { name: 'anna', password: 'short' })).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST', message: 'A password needs at least 10 characters' },
    });
    expect(await call(SETUP_CHANNELS.setup, trusted, { name: 'anna', password: GOOD, pin: '2580' })).toEqual({
      ok: true,
      value: { name: 'anna', role: 'admin', hasPin: true },
    });
    expect(audit.query({ kind: ['user_added'] })[0]!.detail).toMatchObject({ firstStart: true, via: 'window' });
    expect(await call(SETUP_CHANNELS.status, trusted)).toEqual({ ok: true, value: { setupNeeded: false } });
    expect(await call(SETUP_CHANNELS.setup, trusted, { name: 'mallory', password: GOOD })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    expect(log.lines.filter((l) => l.msg === 'IPC setup call refused: untrusted sender')).toHaveLength(2);
    off();
    expect(handlers.size).toBe(0);
  });

  it('without setup (the SIMULATED demo) says none is needed and refuses to create', async () => {
    const { ipcMain, call } = ipc();
    attachIpcSetup({ ipcMain, setup: null, log: memoryLogger(), isTrustedSender: () => true });
    expect(await call(SETUP_CHANNELS.status, trusted)).toEqual({ ok: true, value: { setupNeeded: false } });
    expect(await call(SETUP_CHANNELS.setup, trusted, { name: 'anna', password: GOOD })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
  });
});

describe('the setup screen rules', () => {
  it('agree with the console on names, passwords and PINs', () => {
    const names = ['anna', 'Anna', ' anna.b ', 'a', 'local-anna', '1anna', 'anna smith', 'x'.repeat(64), 'a'.repeat(65)];
    for (const n of names) expect(setupRules(n, GOOD, GOOD)[0]!.ok, n).toBe(userNameProblem(normalizeName(n)) === null);
    const passwords = [
      '',
      'short',
      'exactly10c',
      ' leading space',
      'trailing space ',
      'ünïcödé pässwörd',
      'ab'.repeat(600),
      'Anna2024!!',
      'aaaaaaaaaaaa',
      '1234abcd5678',
      'qwertyuiop',
      GOOD,
    ];
    const passwordRules = ['length', 'spaces', 'not-name', 'not-pattern'];
    for (const p of passwords) {
      const kept = setupRules('anna', p, p).filter((r) => passwordRules.includes(r.id) && !r.ok);
      expect(kept.length === 0, JSON.stringify(p)).toBe(passwordShapeProblem(p, 'anna') === null);
    }
    expect(setupRules('anna', 'Anna2024!!', '').find((r) => r.id === 'not-name')!.ok).toBe(false);
    expect(setupRules('anna', 'abcabcabcabc', '').find((r) => r.id === 'not-pattern')!.ok).toBe(false);
    expect(setupRules('anna', GOOD, `${GOOD}x`).find((r) => r.id === 'again')!.ok).toBe(false);
    for (const pin of ['1234', '12a4', '123', '1'.repeat(13), '0000', '2580', '123456789012'])
      expect(pinRuleProblem(pin), pin).toBe(pinProblem(pin));
    expect(pinRuleProblem('')).toBeNull();
  });
});

describe('the setup store', () => {
  let calls: { login: [string, string][]; openLogin: number };
  let loginResult: boolean;
  beforeEach(() => {
    calls = { login: [], openLogin: 0 };
    loginResult = true;
    useSetupStore.setState({ checked: false, needed: false, busy: false, error: null, created: null });
    useAuthStore.setState({
      session: null,
      actions: {
        ...useAuthStore.getState().actions,
        login: async (name: string, password: string) => {
          calls.login.push([name, password]);
          return loginResult;
        },
        openLogin: () => void calls.openLogin++,
      },
    });
  });

  const port = (status: boolean, reply: Awaited<ReturnType<SetupPort['create']>>) => {
    const sent: unknown[] = [];
    const p: SetupPort = {
      status: async () => status,
      create: async (input) => {
        sent.push(input);
        return reply;
      },
    };
    return { p, sent };
  };

  const settle = () => new Promise((r) => setTimeout(r, 0));

  it('covers everything while needed, then signs in with the new account', async () => {
    const { p, sent } = port(true, { ok: true, name: 'anna' });
    close = startSetup(p);
    expect(selectSetupShown(useSetupStore.getState())).toBe(false);
    await settle();
    expect(selectSetupShown(useSetupStore.getState())).toBe(true);
    expect(await useSetupStore.getState().actions.create({ name: ' Anna ', password: GOOD, pin: '' })).toBe(true);
    expect(sent).toEqual([{ name: 'anna', password: GOOD }]);
    expect(calls.login).toEqual([['anna', GOOD]]);
    expect(useSetupStore.getState()).toMatchObject({ needed: false, created: { name: 'anna', signedIn: true } });
    expect(selectSetupShown(useSetupStore.getState())).toBe(false);
  });

  it('asks to sign in when the sign-in after it fails', async () => {
    loginResult = false;
    const { p } = port(true, { ok: true, name: 'anna' });
    close = startSetup(p);
    await settle();
    await useSetupStore.getState().actions.create({ name: 'anna', password: GOOD, pin: '2580' });
    expect(selectSetupShown(useSetupStore.getState())).toBe(true);
    expect(useSetupStore.getState().created).toEqual({ name: 'anna', signedIn: false });
    useSetupStore.getState().actions.finish();
    expect(selectSetupShown(useSetupStore.getState())).toBe(false);
    expect(calls.openLogin).toBe(1);
  });

  it('shows a refusal, and gives way to the sign-in when someone else was quicker', async () => {
    const refused = port(true, { ok: false, code: 'BAD_REQUEST', message: 'A password needs at least 10 characters', retryAfterMs: 0 });
    close = startSetup(refused.p);
    await settle();
    expect(await useSetupStore.getState().actions.create({ name: 'anna', password: 'x' })).toBe(false);
    expect(useSetupStore.getState().error).toEqual({
      code: 'BAD_REQUEST',
      message: 'A password needs at least 10 characters',
      retryAt: null,
    });
    close();
    const done = port(true, { ok: false, code: 'SETUP_DONE', message: 'exists', retryAfterMs: 0 });
    close = startSetup(done.p);
    await settle();
    await useSetupStore.getState().actions.create({ name: 'anna', password: GOOD });
    expect(selectSetupShown(useSetupStore.getState())).toBe(false);
    expect(calls.openLogin).toBe(1);
    expect(calls.login).toEqual([]);
  });

  it('is not shown where there is nothing to set up', async () => {
    close = startSetup(null);
    expect(useSetupStore.getState()).toMatchObject({ checked: true, needed: false });
    expect(createIpcSetupPort({})).toBeNull();
    const { p } = port(false, { ok: true, name: 'x' });
    close();
    close = startSetup(p);
    await settle();
    expect(selectSetupShown(useSetupStore.getState())).toBe(false);
  });

  it('the web port reads setupNeeded from /api/session and posts to /api/setup', async () => {
    const seen: { url: string; method: string; body?: string }[] = [];
    const web = createWebSetupPort(async (url, init) => {
      seen.push({ url, method: init?.method ?? 'GET', ...(init?.body ? { body: init.body } : {}) });
      if (url === '/api/session') return { status: 200, json: async () => ({ loginRequired: true, setupNeeded: true }) };
      return { status: 409, json: async () => ({ ok: false, code: 'SETUP_DONE', message: 'An administrator account exists already' }) };
    });
    expect(await web.status()).toBe(true);
    expect(await web.create({ name: 'anna', password: GOOD })).toEqual({
      ok: false,
      code: 'SETUP_DONE',
      message: 'An administrator account exists already',
      retryAfterMs: 0,
    });
    expect(seen).toEqual([
      { url: '/api/session', method: 'GET' },
      { url: '/api/setup', method: 'POST', body: JSON.stringify({ name: 'anna', password: GOOD }) },
    ]);
  });
});
