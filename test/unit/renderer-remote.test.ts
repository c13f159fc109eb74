/**
 * The renderer's side of sign-in and remote support: the words of the remote banner, the role
 * lists kept equal to the contract, the WebSocket transport stopping on an ended session
 * (close 4401) until opened again, and the sign-in store against a fake /api.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { COMMANDS, type ChangeRequest, type TransportStatus } from '../../src-preload/contract';
import {
  pageWords,
  REMOTE_DECIDE_ROLES,
  REMOTE_END_ROLES,
  requestSentence,
  requestStateWords,
  timeLeft,
} from '../../src-renderer/src/lib/remote';
import { selectLoginBlocks, selectLoginShown, startAuth, useAuthStore } from '../../src-renderer/src/stores/auth';
import { createWebSocketTransport, type ClosableTransport, type SocketLike } from '../../src-renderer/src/transport/websocket';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('remote support words', () => {
  it('keeps the role lists equal to the contract', () => {
    expect([...REMOTE_DECIDE_ROLES]).toEqual([...COMMANDS['remote.grant'].roles]);
    expect([...REMOTE_DECIDE_ROLES]).toEqual([...COMMANDS['remote.confirm'].roles]);
    expect([...REMOTE_END_ROLES]).toEqual([...COMMANDS['remote.end'].roles]);
  });

  it('names the page, the time left and the change', () => {
    const name = (id: string) => ({ 'im-1': 'Moulding 1' })[id];
    expect(pageWords('#/machine/im-1', name)).toBe('Machine Moulding 1');
    expect(pageWords('#/', name)).toBe('Overview');
    expect(pageWords(null, name)).toBe('not reported yet');
    expect(timeLeft(1_000_000 + 42 * 60_000 + 5000, 1_000_000)).toBe('42 min left');
    expect(timeLeft(1_000_000 + 65 * 60_000, 1_000_000)).toBe('1 h 05 min left');
    expect(timeLeft(1_000_000 + 30_000, 1_000_000)).toBe('less than a minute left');
    const r: ChangeRequest = {
      id: 'r1',
      grantId: 'g1',
      sessionId: 's1',
      requestedBy: 'support',
      kind: 'change',
      machineId: 'im-1',
      machineName: 'Moulding 1',
      pointId: 'zone1-sp',
      pointName: 'Zone 1 setpoint',
      unit: '°C',
      decimals: 1,
      from: 212,
      to: 215,
      requestedAt: 0,
      state: 'pending',
      decidedBy: null,
      decidedAt: null,
      reason: null,
      result: null,
    };
    expect(requestSentence(r)).toBe('Set Zone 1 setpoint on Moulding 1 from 212.0 °C to 215.0 °C');
    expect(requestStateWords(r)).toBe('waiting for confirmation on site');
    expect(
      requestStateWords({ ...r, state: 'refused', reason: 'a change of 8.0 °C is larger than the largest allowed step of 5.0 °C' }),
    ).toMatch(/^refused by the console: a change/);
  });
});

/** A WebSocket server that closes every connection with `code` when told to. */
async function fakeServer() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  let connections = 0;
  wss.on('connection', () => connections++);
  closers.push(() => new Promise<void>((r) => wss.close(() => r())));
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/api`,
    connections: () => connections,
    closeAll: (code: number, reason: string) => {
      for (const c of wss.clients) c.close(code, reason);
    },
  };
}

function transport(url: string, lazy: boolean): ClosableTransport & { statuses: TransportStatus[] } {
  const t = createWebSocketTransport(url, {
    createSocket: (u) => new WebSocket(u) as unknown as SocketLike,
    backoff: { initialDelayMs: 10, maxDelayMs: 20, randomisationFactor: 0 },
    lazy,
    log: () => {},
  });
  closers.push(() => t.close());
  const statuses: TransportStatus[] = [];
  t.onStatus((s) => statuses.push(s));
  return Object.assign(t, { statuses });
}

describe('the WebSocket transport and ended sessions', () => {
  it('connects only when opened when lazy, stops on close 4401 with the reason, and reconnects on open()', async () => {
    const srv = await fakeServer();
    const t = transport(srv.url, true);
    await new Promise((r) => setTimeout(r, 50));
    expect(srv.connections()).toBe(0);
    t.open();
    await expect.poll(() => t.statuses.at(-1)).toBe('connected');
    const closes: [number, string][] = [];
    t.onClosed((code, reason) => closes.push([code, reason]));
    srv.closeAll(4401, 'Your session ended: you signed out');
    await expect.poll(() => closes).toEqual([[4401, 'Your session ended: you signed out']]);
    await new Promise((r) => setTimeout(r, 100));
    expect(srv.connections()).toBe(1);
    expect(t.statuses.at(-1)).toBe('disconnected');
    t.open();
    await expect.poll(() => srv.connections()).toBe(2);
    // Any other close: it reconnects by itself.
    srv.closeAll(1001, 'going away');
    await expect.poll(() => srv.connections()).toBe(3);
    t.halt();
    expect(t.statuses.at(-1)).toBe('disconnected');
  });
});

/** A fake /api: answers by path from `routes`, records what was asked. */
function fakeFetch(routes: Record<string, { status: number; body: unknown } | (() => { status: number; body: unknown })>) {
  const asked: { url: string; body?: string }[] = [];
  const f = async (url: string, init?: { body?: string }) => {
    asked.push({ url, ...(init?.body ? { body: init.body } : {}) });
    const r = routes[url];
    const reply = typeof r === 'function' ? r() : r;
    if (!reply) throw new Error(`no route ${url}`);
    return { status: reply.status, json: async () => reply.body };
  };
  return { f, asked };
}

function stubTransport() {
  const calls: string[] = [];
  let closed: ((code: number, reason: string) => void) | null = null;
  const t = {
    open: () => void calls.push('open'),
    halt: () => void calls.push('halt'),
    onClosed: (h: (code: number, reason: string) => void) => {
      closed = h;
      return () => {};
    },
  } as unknown as ClosableTransport;
  return { t, calls, close: (code: number, reason: string) => closed?.(code, reason) };
}

const SESSION = {
  id: 'a'.repeat(32),
  user: 'maint',
  role: 'maintenance',
  origin: 'remote',
  createdAt: 1,
  expiresAt: 2,
  idleExpiresAt: null,
};

describe('the sign-in store', () => {
  it('waits for a sign-in when one is required, connects after it, and counts a lockout down', async () => {
    const now = 1_000_000;
    const api = fakeFetch({
      '/api/session': { status: 200, body: { loginRequired: true, session: null } },
      '/api/login': () => ({
        status: 429,
        body: { ok: false, code: 'LOCKED_OUT', message: 'Too many failed sign-ins: try again in 40 s', retryAfterMs: 40_000 },
      }),
    });
    const { t, calls } = stubTransport();
    closers.push(startAuth(t, { fetch: api.f, now: () => now }));
    await expect.poll(() => useAuthStore.getState().checked).toBe(true);
    expect(calls).toEqual([]);
    expect(selectLoginBlocks(useAuthStore.getState())).toBe(true);
    expect(await useAuthStore.getState().actions.login('maint', 'wrong')).toBe(false);
    expect(useAuthStore.getState().error).toEqual({
      code: 'LOCKED_OUT',
      message: 'Too many failed sign-ins: try again in 40 s',
      retryAt: now + 40_000,
    });
    expect(api.asked.find((a) => a.url === '/api/login')?.body).toBe('{"name":"maint","password":"wrong"}');
  });

  it('connects at once when viewing needs no sign-in, signs in and out, and shows why a session ended', async () => {
    let session: unknown = null;
    const api = fakeFetch({
      '/api/session': () => ({ status: 200, body: { loginRequired: false, session } }),
      '/api/login': () => {
        session = SESSION;
        return { status: 200, body: { ok: true, session: SESSION } };
      },
      '/api/logout': () => {
        session = null;
        return { status: 200, body: { ok: true } };
      },
    });
    const { t, calls, close } = stubTransport();
    closers.push(startAuth(t, { fetch: api.f }));
    await expect.poll(() => calls).toEqual(['open']);
    const auth = () => useAuthStore.getState();
    expect(selectLoginShown(auth())).toBe(false);
    auth().actions.openLogin();
    expect(selectLoginShown(auth())).toBe(true);
    expect(selectLoginBlocks(auth())).toBe(false);
    expect(await auth().actions.login('maint', 'right', '1234 5678')).toBe(true);
    expect(api.asked.at(-1)?.body).toBe('{"name":"maint","password":"right","joinCode":"1234 5678"}');
    expect(auth()).toMatchObject({ session: { user: 'maint' }, loginOpen: false });
    expect(calls).toEqual(['open', 'open']);
    close(4401, 'Your session ended: ended on site by maint');
    expect(auth()).toMatchObject({ session: null, ended: 'Your session ended: ended on site by maint' });
    expect(selectLoginBlocks(auth())).toBe(true);
    auth().actions.dismissEnded();
    await expect.poll(() => calls).toEqual(['open', 'open', 'open']);
    await auth().actions.login('maint', 'right');
    await auth().actions.logout();
    expect(auth()).toMatchObject({ session: null, ended: null });
    expect(calls.at(-1)).toBe('open');
  });
});
