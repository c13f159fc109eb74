/**
 * Web mode's idle lock counts only a person (web-auth.ts, ws-adapter.ts): over real loopback
 * sockets with the AuthService on a fake clock, reads and reconnects never keep a session
 * open, the page's `activity` message and changes do, and the lock closes the socket saying
 * how long it waited. An unsigned loopback browser is the read-only viewer.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startWebServer, type WebServer } from '../../src-main/web/server';
import { PASSWORDS, setupPeople, type People } from '../helpers/people';
import { LOCAL_VIEWER } from '../../src-main/api/service';

const T0 = Date.UTC(2026, 4, 4, 6, 0);
const MIN = 60_000;
const staticDir = mkdtempSync(join(tmpdir(), 'pc-static-'));
writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Plant Console</title>');

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function setup() {
  const clock = { t: T0, now: () => clock.t };
  const people: People = await setupPeople({ clock });
  const web: WebServer = await startWebServer({
    api: people.api,
    core: people.core,
    host: '127.0.0.1',
    port: 0,
    staticDir,
    log: people.log,
    auth: people.auth,
    caller: LOCAL_VIEWER,
    limits: { resumeCacheMs: 0 },
  });
  closers.push(() => people.close());
  closers.push(() => web.close());
  const origin = `http://127.0.0.1:${web.port}`;
  /** Signs in; returns the cookie pair and the session as the reply shows it. */
  const login = (name: string, password: string) =>
    new Promise<{ cookie: string; body: Record<string, unknown> }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: web.port,
          path: '/api/login',
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Origin: origin },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ cookie: String(res.headers['set-cookie']?.[0] ?? '').split(';')[0]!, body: JSON.parse(body) }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ name, password }));
    });
  const connect = (cookie?: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const s = new WebSocket(`ws://127.0.0.1:${web.port}/api`, { origin, headers: cookie ? { Cookie: cookie } : {} });
      s.once('open', () => resolve(s));
      s.once('error', reject);
      closers.push(() => s.terminate());
    });
  return { clock, people, web, login, connect };
}

let nextId = 1;
/** One call; resolves with its result, or with the close when the connection is closed instead. */
function rpc(
  s: WebSocket,
  name: string,
  req: unknown = {},
): Promise<{ ok?: boolean; value?: unknown; error?: unknown; close?: { code: number; reason: string } }> {
  const id = nextId++;
  return new Promise((resolve) => {
    const onMessage = (d: WebSocket.RawData) => {
      const m = JSON.parse(d.toString()) as { type: string; id?: number; result?: object; error?: object };
      if (m.type === 'result' && m.id === id) done(m.result as object);
      if (m.type === 'error') done({ error: m.error });
    };
    const onClose = (code: number, reason: Buffer) => done({ close: { code, reason: reason.toString() } });
    const done = (r: object) => {
      s.off('message', onMessage);
      s.off('close', onClose);
      resolve(r);
    };
    s.on('message', onMessage);
    s.on('close', onClose);
    s.send(JSON.stringify(name === '(raw)' ? req : { type: 'call', id, name, request: req }));
  });
}

const trend = (t: number) => ({ machineId: 'im-1', pointIds: ['zone1'], fromMs: T0, toMs: t, maxPoints: 10 });

describe('web mode idle lock', () => {
  it('lets an unsigned loopback browser view as the viewer only', async () => {
    const { connect } = await setup();
    const s = await connect();
    expect(await rpc(s, 'plant.info')).toMatchObject({
      ok: true,
      value: { caller: { user: 'local-viewer', role: 'viewer', origin: 'local' } },
    });
    expect(await rpc(s, 'alarms.ack', { alarmIds: ['im-1/fault'] })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('locks a session that only reads, after 15 min, and says so', async () => {
    const { clock, login, connect } = await setup();
    const { cookie, body } = await login('oper', PASSWORDS.oper);
    expect(body).toMatchObject({ ok: true, session: { user: 'oper', origin: 'local', idleLockMs: 15 * MIN } });
    const s = await connect(cookie);
    for (let i = 0; i < 14; i++) {
      clock.t += MIN;
      expect(await rpc(s, 'history.query', trend(clock.t))).toMatchObject({ ok: true });
    }
    // A reconnect is no person either.
    s.close();
    const again = await connect(cookie);
    clock.t += MIN;
    expect(await rpc(again, 'plant.info')).toEqual({
      close: { code: 4401, reason: 'Your session ended: locked after 15 min without activity' },
    });
  });

  it("keeps a session open while the page reports a person's activity, or a change is asked for", async () => {
    const { clock, login, connect, people } = await setup();
    const { cookie } = await login('maint', PASSWORDS.maint);
    const s = await connect(cookie);
    clock.t += 10 * MIN;
    expect(await rpc(s, '(raw)', { type: 'activity', extra: 1 })).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    s.send(JSON.stringify({ type: 'activity' }));
    // Messages are handled in order: once this is answered, the activity was counted (at 10 min).
    expect(await rpc(s, 'plant.info')).toMatchObject({ ok: true });
    clock.t += 10 * MIN;
    expect(await rpc(s, 'plant.info')).toMatchObject({ ok: true, value: { caller: { user: 'maint' } } });
    // An acknowledgement changes something: a person asked for it.
    expect(await rpc(s, 'alarms.ack', { alarmIds: ['im-1/fault'] })).toMatchObject({ ok: true });
    clock.t += 14 * MIN;
    expect(await rpc(s, 'plant.info')).toMatchObject({ ok: true });
    expect(people.auth.list().map((x) => x.user)).toEqual(['maint']);
    clock.t += MIN;
    expect(await rpc(s, 'plant.info')).toMatchObject({
      close: { code: 4401, reason: 'Your session ended: locked after 15 min without activity' },
    });
  });
});
