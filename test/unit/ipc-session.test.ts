/**
 * Signing in the Electron window (api/ipc-session.ts) through the real IPC adapter over a fake
 * ipcMain, on a real AuthService and accounts with a fake clock: only the console window may
 * call; unsigned it is the viewer, or nothing when viewing needs a sign-in; sign-in and out;
 * the idle lock counts only a person (reports and changes, never reads) and tells the window;
 * the session token is never in any reply or event.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { attachIpcAdapter, type IpcSender } from '../../src-main/api/ipc-adapter';
import { IpcSession, WINDOW_SOURCE, type WindowAuth } from '../../src-main/api/ipc-session';
import { AUTH_CHANNELS } from '../../src-preload/channels';
import { commandChannel, eventChannel } from '../../src-preload/contract';
import { MAINT_PIN, PASSWORDS, setupPeople, type People } from '../helpers/people';

const T0 = Date.UTC(2026, 4, 4, 6, 0);
const MIN = 60_000;
const TRUSTED: IpcSender = { frameUrl: 'file:///app/out/renderer/index.html', webContentsId: 7 };
const FOREIGN: IpcSender = { frameUrl: 'https://evil.example/', webContentsId: 7 };

type Handler = (event: { sender: IpcSender }, request: unknown) => Promise<unknown>;

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function setup(viewWithoutLogin: boolean) {
  const clock = { t: T0, now: () => clock.t };
  const people: People = await setupPeople({ clock });
  const handlers = new Map<string, Handler>();
  const emitted: { channel: string; payload: unknown }[] = [];
  const replies: unknown[] = [];
  const tokens: string[] = [];
  const a = people.auth;
  // The real AuthService, with the tokens it hands out kept aside to look for them in replies.
  const auth: WindowAuth = {
    login: async (name, password, source) => {
      const r = await a.login(name, password, source);
      if (r.ok) tokens.push(r.token);
      return r;
    },
    resume: (token) => a.resume(token),
    activity: (token) => a.activity(token),
    logout: (token) => a.logout(token),
    endSession: (id, reason) => a.endSession(id, reason),
    onSessionEnded: (h) => a.onSessionEnded(h),
  };
  const ipcMain = {
    handle: (ch: string, h: Handler) => void handlers.set(ch, h),
    removeHandler: (ch: string) => void handlers.delete(ch),
  };
  const common = {
    ipcMain,
    log: people.log,
    isTrustedSender: (s: IpcSender) => s.webContentsId === TRUSTED.webContentsId && s.frameUrl === TRUSTED.frameUrl,
    emit: (channel: string, payload: unknown) => void emitted.push({ channel, payload: structuredClone(payload) }),
  };
  const session = new IpcSession({ ...common, auth, viewWithoutLogin });
  const detach = attachIpcAdapter({
    ...common,
    api: people.api,
    callerFor: (c) => session.callerFor(c),
    eventCaller: () => session.eventCaller(),
  });
  closers.push(() => people.close());
  closers.push(detach);
  /** One IPC call as the preload makes it (structured clone both ways). */
  const ipc = async (channel: string, request?: unknown, sender: IpcSender = TRUSTED): Promise<unknown> => {
    const h = handlers.get(channel);
    if (!h) throw new Error(`no handler for ${channel}`);
    const reply = structuredClone(await h({ sender }, structuredClone(request)));
    replies.push(reply);
    return reply;
  };
  const cmd = (name: string, request: unknown = {}) => ipc(commandChannel(name as 'plant.info'), request);
  return { people, clock, session, handlers, emitted, replies, tokens, ipc, cmd };
}

describe('the window sign-in over IPC', () => {
  it('answers only the console window', async () => {
    const s = await setup(true);
    for (const channel of [AUTH_CHANNELS.login, AUTH_CHANNELS.logout, AUTH_CHANNELS.session, AUTH_CHANNELS.activity]) {
      expect(await s.ipc(channel, { name: 'maint', password: PASSWORDS.maint }, FOREIGN)).toEqual({
        ok: false,
        code: 'FORBIDDEN',
        message: 'Calls are only accepted from the console window',
      });
    }
    expect(await s.cmd('plant.info')).toMatchObject({ ok: true });
    expect(await s.ipc(commandChannel('plant.info'), {}, FOREIGN)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    // Nobody was signed in by the refused attempt.
    expect(s.people.auth.list()).toEqual([]);
    expect(s.people.log.lines.some((l) => l.msg === 'IPC sign-in call refused: untrusted sender')).toBe(true);
  });

  it('shows the plant to the unsigned window as the viewer, and lets it change nothing', async () => {
    const s = await setup(true);
    expect(await s.ipc(AUTH_CHANNELS.session)).toEqual({
      loginRequired: false,
      session: null,
      caller: { user: 'local-viewer', role: 'viewer', origin: 'local' },
    });
    expect(await s.cmd('plant.info')).toMatchObject({ ok: true, value: { caller: { user: 'local-viewer', role: 'viewer' } } });
    expect(await s.cmd('machines.list')).toMatchObject({ ok: true });
    expect(await s.cmd('alarms.ack', { alarmIds: ['im-1/fault'] })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await s.cmd('points.write', { machineId: 'im-1', pointId: 'zone1-sp', value: 210 })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN', message: 'Role "viewer" may not call points.write' },
    });
    expect(await s.cmd('audit.query', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await s.ipc(AUTH_CHANNELS.activity)).toEqual({ ok: false });
    // Event streams reach the viewing window.
    s.people.remote.support.changed();
    expect(s.emitted.map((e) => e.channel)).toContain(eventChannel('remote.update'));
  });

  it('shows nothing before a sign-in when viewing needs one: UNAUTHENTICATED, and no events', async () => {
    const s = await setup(false);
    expect(await s.ipc(AUTH_CHANNELS.session)).toEqual({ loginRequired: true, session: null, caller: null });
    expect(await s.cmd('plant.info')).toEqual({
      ok: false,
      error: { code: 'UNAUTHENTICATED', message: 'Sign in first: this console shows nothing without sign-in' },
    });
    expect(s.session.mayReceiveEvents()).toBe(false);
    s.people.remote.support.changed();
    expect(s.emitted).toEqual([]);
    const login = await s.ipc(AUTH_CHANNELS.login, { name: 'oper', password: PASSWORDS.oper });
    expect(login).toMatchObject({ ok: true, session: { user: 'oper', role: 'operator', origin: 'local' } });
    expect(await s.cmd('plant.info')).toMatchObject({ ok: true, value: { caller: { user: 'oper', role: 'operator', origin: 'local' } } });
    s.people.remote.support.changed();
    expect(s.emitted.map((e) => e.channel)).toEqual([eventChannel('remote.update')]);
  });

  it('signs in and out, refuses wrong passwords, join codes and supplier support, and never hands out the token', async () => {
    const s = await setup(true);
    expect(await s.ipc(AUTH_CHANNELS.login, { name: 'maint', password: 'wrong-password' })).toMatchObject({
      ok: false,
      code: 'BAD_CREDENTIALS',
      message: 'Wrong name or password',
    });
    expect(await s.ipc(AUTH_CHANNELS.login, { name: 42, password: 'x' })).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    s.clock.t += 2 * MIN; // past the failure's delay
    expect(await s.ipc(AUTH_CHANNELS.login, { name: 'support', password: PASSWORDS.support, joinCode: '12345678' })).toMatchObject({
      ok: false,
      code: 'NO_GRANT',
    });
    expect(await s.ipc(AUTH_CHANNELS.login, { name: 'support', password: PASSWORDS.support })).toMatchObject({
      ok: false,
      code: 'NO_GRANT',
    });
    expect(s.people.auth.list()).toEqual([]);
    const login = await s.ipc(AUTH_CHANNELS.login, { name: 'maint', password: PASSWORDS.maint });
    expect(login).toMatchObject({ ok: true, session: { user: 'maint', role: 'maintenance', origin: 'local', idleLockMs: 15 * MIN } });
    const [live] = s.people.auth.list();
    expect(live).toMatchObject({ user: 'maint', source: WINDOW_SOURCE.key, origin: 'local' });
    const info = await s.cmd('session.info');
    expect(info).toMatchObject({
      ok: true,
      value: { caller: { user: 'maint', role: 'maintenance', sessionId: live!.id }, session: { hasPin: true } },
    });
    expect(await s.ipc(AUTH_CHANNELS.session)).toMatchObject({ loginRequired: false, session: { id: live!.id, user: 'maint' } });
    expect(await s.ipc(AUTH_CHANNELS.activity)).toEqual({ ok: true });
    expect(await s.ipc(AUTH_CHANNELS.logout)).toEqual({ ok: true, ended: true });
    expect(await s.ipc(AUTH_CHANNELS.logout)).toEqual({ ok: true, ended: false });
    expect(await s.cmd('plant.info')).toMatchObject({ value: { caller: { role: 'viewer' } } });
    expect(s.people.auth.list()).toEqual([]);
    // The window asked to sign out: no "session ended" for that.
    expect(s.emitted.filter((e) => e.channel === AUTH_CHANNELS.ended)).toEqual([]);
    // Supplier support's (ended at once) and maint's.
    expect(s.tokens).toHaveLength(2);
    const everything = JSON.stringify([s.replies, s.emitted]);
    for (const token of s.tokens) expect(everything).not.toContain(token);
  });

  it('locks after 15 min without a person: reads never extend it, reports and changes do; the window is told why', async () => {
    const s = await setup(true);
    await s.ipc(AUTH_CHANNELS.login, { name: 'maint', password: PASSWORDS.maint });
    // A trend refreshing itself every minute for 14 minutes is no one at the panel.
    for (let i = 0; i < 14; i++) {
      s.clock.t += MIN;
      expect(
        await s.cmd('history.query', { machineId: 'im-1', pointIds: ['zone1'], fromMs: T0, toMs: s.clock.t, maxPoints: 10 }),
      ).toMatchObject({
        ok: true,
      });
    }
    // A person touched the panel at 14 min: the session lives to 29 min.
    expect(await s.ipc(AUTH_CHANNELS.activity)).toEqual({ ok: true });
    s.clock.t += 10 * MIN;
    // A change is a person too (refused here: writes are off in this plant, but asked for by someone).
    expect(await s.cmd('points.write', { machineId: 'im-1', pointId: 'zone1-sp', value: 210, pin: MAINT_PIN })).toMatchObject({
      ok: true,
      value: { outcome: 'refused', code: 'WRITES_DISABLED', user: 'maint' },
    });
    s.clock.t += 14 * MIN;
    expect(s.people.auth.sweep()).toBe(0);
    expect(await s.cmd('plant.info')).toMatchObject({ value: { caller: { user: 'maint' } } });
    s.clock.t += MIN;
    expect(s.emitted.filter((e) => e.channel === AUTH_CHANNELS.ended)).toEqual([]);
    expect(s.people.auth.sweep()).toBe(1);
    expect(s.emitted.filter((e) => e.channel === AUTH_CHANNELS.ended)).toEqual([
      {
        channel: AUTH_CHANNELS.ended,
        payload: { reason: 'idle-lock', message: 'Your session ended: locked after 15 min without activity' },
      },
    ]);
    // Nothing of the session is left: the window is the viewer again.
    expect(await s.cmd('plant.info')).toMatchObject({ value: { caller: { user: 'local-viewer', role: 'viewer' } } });
    expect(await s.ipc(AUTH_CHANNELS.session)).toMatchObject({ session: null });
    expect(s.people.audit.query({ kind: 'session_expired', limit: 5 })[0]).toMatchObject({
      user: 'maint',
      detail: { reason: 'idle-lock' },
    });
  });

  it('tells the window when its session ends at a command, or for any other reason, and ends it when closing', async () => {
    const s = await setup(false);
    await s.ipc(AUTH_CHANNELS.login, { name: 'oper', password: PASSWORDS.oper });
    s.clock.t += 15 * MIN;
    // No sweep yet: the next command finds the session idle, ends it, and is refused.
    expect(await s.cmd('machines.list')).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    expect(s.emitted.filter((e) => e.channel === AUTH_CHANNELS.ended).map((e) => e.payload)).toEqual([
      { reason: 'idle-lock', message: 'Your session ended: locked after 15 min without activity' },
    ]);
    await s.ipc(AUTH_CHANNELS.login, { name: 'oper', password: PASSWORDS.oper });
    // Signing in again at the same window replaces the session without a lock screen for the old one.
    await s.ipc(AUTH_CHANNELS.login, { name: 'maint', password: PASSWORDS.maint });
    expect(s.people.auth.list().map((x) => x.user)).toEqual(['maint']);
    expect(s.emitted.filter((e) => e.channel === AUTH_CHANNELS.ended)).toHaveLength(1);
    s.people.accounts.disable('maint', { user: 'admin' });
    expect(s.emitted.filter((e) => e.channel === AUTH_CHANNELS.ended).at(-1)?.payload).toEqual({
      reason: 'account-disabled',
      message: 'Your session ended: the account was disabled',
    });
    await s.ipc(AUTH_CHANNELS.login, { name: 'oper', password: PASSWORDS.oper });
    const id = s.people.auth.list()[0]!.id;
    s.session.close();
    expect(s.people.auth.get(id)).toBeNull();
    expect(s.handlers.has(AUTH_CHANNELS.login)).toBe(false);
  });
});
