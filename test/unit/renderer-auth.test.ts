/**
 * The renderer's sign-in over a fake AuthPort (the same store drives IPC and web mode): signs
 * in and makes the transport act as the session, locks when the session ends and forgets what
 * the user left, keeps the plant in view behind a local lock only where viewing is allowed;
 * the IPC port over a fake bridge; the activity reports spaced by 30 s on a fake clock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuthBridge, AuthStateReply, Bridge, LoginReply, SessionEnded, SessionView } from '../../src-preload/contract';
import { lockHeading } from '../../src-renderer/src/components/LockScreen';
import {
  selectCanSignIn,
  selectLocked,
  selectLoginBlocks,
  selectLoginShown,
  startAuthPort,
  useAuthStore,
} from '../../src-renderer/src/stores/auth';
import { useRemoteStore } from '../../src-renderer/src/stores/remote';
import { useWritesStore } from '../../src-renderer/src/stores/writes';
import { startActivityReports, type InputTarget } from '../../src-renderer/src/transport/activity';
import { createIpcAuthPort, type AuthPort, type EndedInfo } from '../../src-renderer/src/transport/auth-port';
import { createIpcTransport } from '../../src-renderer/src/transport/ipc';

const closers: (() => unknown)[] = [];
afterEach(() => {
  for (const c of closers.splice(0).reverse()) c();
});
beforeEach(() => {
  useAuthStore.setState({
    checked: false,
    loginRequired: false,
    session: null,
    ended: null,
    endedReason: null,
    endedOrigin: null,
    loginOpen: false,
    error: null,
  });
});

const MAINT: SessionView = {
  id: 'c'.repeat(32),
  user: 'maint',
  role: 'maintenance',
  origin: 'local',
  createdAt: 1,
  expiresAt: 2,
  idleExpiresAt: 3,
  idleLockMs: 15 * 60_000,
};

/** An AuthPort whose console answers from `state`, and which records what the store asked of it. */
function fakePort(state: AuthStateReply, loginReply: LoginReply = { ok: true, session: MAINT }) {
  const calls: string[] = [];
  let ended: ((e: EndedInfo) => void) | null = null;
  const port: AuthPort = {
    kind: 'ipc',
    state: async () => {
      calls.push('state');
      return state;
    },
    login: async (name) => {
      calls.push(`login ${name}`);
      if (loginReply.ok) state = { ...state, session: loginReply.session };
      return loginReply;
    },
    logout: async () => {
      calls.push('logout');
      state = { ...state, session: null };
    },
    activity: () => void calls.push('activity'),
    onEnded: (h) => {
      ended = h;
      return () => (ended = null);
    },
    connect: () => void calls.push('connect'),
    halt: () => void calls.push('halt'),
  };
  return { port, calls, end: (e: EndedInfo) => ended?.(e) };
}

const auth = () => useAuthStore.getState();

/** Something a user left: an Undo in the writes store, a join code on the remote page. */
function leaveUserState(): void {
  useWritesStore.setState({ byMachine: { 'im-1': { log: [], logError: null, outcome: null, undoable: null, busy: null } } });
  useRemoteStore.setState({ joinCode: { grantId: 'g', code: '12345678' } });
}

describe('sign-in store over a port', () => {
  it('views without sign-in, signs in (the transport then acts as the session), and locks when the session ends', async () => {
    const f = fakePort({ loginRequired: false, session: null, caller: { user: 'local-viewer', role: 'viewer', origin: 'local' } });
    closers.push(startAuthPort(f.port, { activity: false }));
    await expect.poll(() => auth().checked).toBe(true);
    // Over IPC the stores loaded at start: nothing to reconnect.
    expect(f.calls).toEqual(['state']);
    expect(auth().mode).toBe('ipc');
    expect(selectCanSignIn(auth())).toBe(true);
    expect(selectLoginShown(auth())).toBe(false);
    auth().actions.openLogin();
    expect(await auth().actions.login('maint', 'right')).toBe(true);
    expect(f.calls.slice(1)).toEqual(['login maint', 'connect']);
    expect(auth()).toMatchObject({ session: { user: 'maint' }, loginOpen: false, ended: null });
    expect(selectLoginShown(auth())).toBe(false);

    leaveUserState();
    f.end({ reason: 'idle-lock', message: 'Your session ended: locked after 15 min without activity' });
    expect(auth()).toMatchObject({
      session: null,
      ended: 'Your session ended: locked after 15 min without activity',
      endedReason: 'idle-lock',
      endedOrigin: 'local',
      endedIdleLockMs: 15 * 60_000,
    });
    expect(lockHeading(auth().endedReason, auth().endedIdleLockMs, auth().endedOrigin)).toBe('Locked after 15 min without activity');
    // Nothing of the user's is left, and the plant shows through the lock as the viewer.
    expect(useWritesStore.getState().byMachine).toEqual({});
    expect(useRemoteStore.getState().joinCode).toBeNull();
    expect(f.calls.at(-1)).toBe('connect');
    expect(selectLocked(auth())).toBe(true);
    expect(selectLoginShown(auth())).toBe(true);
    expect(selectLoginBlocks(auth())).toBe(false);
    auth().actions.dismissEnded();
    expect(selectLocked(auth())).toBe(false);
    await expect.poll(() => f.calls.at(-1)).toBe('connect');
  });

  it('shows nothing behind the lock when sign-in is required, and halts the transport after signing out', async () => {
    const f = fakePort({ loginRequired: true, session: null, caller: null });
    closers.push(startAuthPort(f.port, { activity: false }));
    await expect.poll(() => auth().checked).toBe(true);
    expect(selectLoginBlocks(auth())).toBe(true);
    expect(await auth().actions.login('maint', 'right')).toBe(true);
    expect(selectLoginBlocks(auth())).toBe(false);
    f.end({ reason: 'absolute-limit', message: 'Your session ended: its time limit was reached' });
    expect(selectLoginBlocks(auth())).toBe(true);
    expect(lockHeading(auth().endedReason, auth().endedIdleLockMs, auth().endedOrigin)).toBe('Signed out');
    expect(f.calls.at(-1)).toBe('connect'); // from the sign-in; not again for the lock
    expect(await auth().actions.login('maint', 'right')).toBe(true);
    leaveUserState();
    await auth().actions.logout();
    expect(auth()).toMatchObject({ session: null, ended: null });
    expect(useWritesStore.getState().byMachine).toEqual({});
    expect(f.calls.slice(-3)).toEqual(['logout', 'state', 'halt']);
  });

  it('says why a sign-in was refused and when to try again', async () => {
    const f = fakePort(
      { loginRequired: true, session: null, caller: null },
      { ok: false, code: 'LOCKED_OUT', message: 'Too many failed sign-ins: try again in 40 s', retryAfterMs: 40_000 },
    );
    closers.push(startAuthPort(f.port, { activity: false, now: () => 1_000_000 }));
    await expect.poll(() => auth().checked).toBe(true);
    expect(await auth().actions.login('maint', 'wrong')).toBe(false);
    expect(auth().error).toEqual({ code: 'LOCKED_OUT', message: 'Too many failed sign-ins: try again in 40 s', retryAt: 1_040_000 });
    expect(auth().session).toBeNull();
  });
});

describe('the IPC sign-in port', () => {
  it('carries sign-in over the bridge and reloads every store through the transport after it', async () => {
    const asked: unknown[] = [];
    let onEnded: ((e: SessionEnded) => void) | null = null;
    const bridge: AuthBridge = {
      login: async (req) => {
        asked.push(req);
        return { ok: true, session: MAINT };
      },
      logout: async () => ({ ok: true, ended: true }),
      session: async () => ({ loginRequired: false, session: null, caller: null }),
      activity: async () => {
        asked.push('activity');
        return { ok: true };
      },
      onEnded: (h) => {
        onEnded = h;
        return () => (onEnded = null);
      },
    };
    const transport = createIpcTransport({ on: () => () => undefined } as unknown as Bridge);
    const statuses: string[] = [];
    transport.onStatus((s) => statuses.push(s));
    const port = createIpcAuthPort(bridge, transport);
    expect(await port.login('maint', 'pw', '  ')).toEqual({ ok: true, session: MAINT });
    expect(asked).toEqual([{ name: 'maint', password: 'pw' }]);
    port.connect();
    expect(statuses).toEqual(['connected', 'connecting', 'connected']);
    port.activity();
    await expect.poll(() => asked.at(-1)).toBe('activity');
    const got: EndedInfo[] = [];
    port.onEnded((e) => got.push(e));
    onEnded!({ reason: 'idle-lock', message: 'Your session ended: locked after 15 min without activity' });
    expect(got).toEqual([{ reason: 'idle-lock', message: 'Your session ended: locked after 15 min without activity' }]);
  });
});

describe('activity reports', () => {
  it('reports the first input at once, folds later ones into one report 30 s after the last, and nothing while signed out', () => {
    let t = 0;
    const timers: { at: number; fn: () => void }[] = [];
    const listeners = new Map<string, () => void>();
    const target: InputTarget = {
      addEventListener: (type, l) => void listeners.set(type, l),
      removeEventListener: (type) => void listeners.delete(type),
    };
    let signedIn = true;
    const reports: number[] = [];
    const stop = startActivityReports({
      target,
      report: () => reports.push(t),
      enabled: () => signedIn,
      now: () => t,
      setTimer: (fn, ms) => timers.push({ at: t + ms, fn }),
      clearTimer: () => undefined,
    });
    expect([...listeners.keys()].sort()).toEqual(['keydown', 'pointerdown', 'touchstart', 'wheel']);
    const input = (type: string) => listeners.get(type)!();
    const runTimers = () => {
      for (const x of timers.splice(0).filter((x) => x.at <= t)) x.fn();
    };
    input('pointerdown');
    expect(reports).toEqual([0]);
    t = 5_000;
    input('keydown');
    t = 10_000;
    input('touchstart');
    expect(reports).toEqual([0]);
    expect(timers.map((x) => x.at)).toEqual([30_000]);
    t = 30_000;
    runTimers();
    expect(reports).toEqual([0, 30_000]);
    t = 70_000;
    input('wheel');
    expect(reports).toEqual([0, 30_000, 70_000]);
    signedIn = false;
    t = 200_000;
    input('pointerdown');
    expect(reports).toHaveLength(3);
    stop();
    expect(listeners.size).toBe(0);
  });
});
