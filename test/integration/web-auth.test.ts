/**
 * Authenticated web mode over real sockets: beyond loopback only with TLS (a certificate made
 * by openssl at first start) and login; HTTP refused on the TLS port; WebSocket upgrades need
 * this origin and a live session; sign-in throttled and locked; logout, disabling and idle
 * lock close live sockets at once; supplier support without a grant is refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startWebServer, type WebServer, type WebServerOptions } from '../../src-main/web/server';
import { certificateFingerprint, ensureCertificate, namesForBind, type TlsMaterial } from '../../src-main/web/tls';
import { MAINT_PIN, PASSWORDS, setupPeople, type People } from '../helpers/people';
import { LOCAL_VIEWER } from '../../src-main/api/service';

const staticDir = mkdtempSync(join(tmpdir(), 'pc-static-'));
writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Plant Console</title>');
const dataDir = mkdtempSync(join(tmpdir(), 'pc-web-tls-'));
let tls: TlsMaterial;
let otherTls: TlsMaterial;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  fingerprint?: string;
}

/** One request over HTTP or HTTPS (trusting only `ca`) to 127.0.0.1. */
function call(
  web: { port: number },
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: unknown; ca?: string | false } = {},
): Promise<Reply> {
  const secure = o.ca !== undefined;
  const payload = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const opts = { host: '127.0.0.1', port: web.port, path, method: o.method ?? 'GET', headers: o.headers ?? {} };
    const onRes = (res: import('node:http').IncomingMessage) => {
      let body = '';
      const sock = res.socket as import('node:tls').TLSSocket | null;
      const fingerprint = secure ? sock?.getPeerCertificate?.().fingerprint256 : undefined;
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ...(fingerprint ? { fingerprint } : {}) });
      });
    };
    const req = secure
      ? httpsRequest({ ...opts, ...(o.ca ? { ca: o.ca } : {}), rejectUnauthorized: o.ca !== false }, onRes)
      : httpRequest(opts, onRes);
    req.on('error', reject);
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

const json = (origin?: string) => ({ 'Content-Type': 'application/json', ...(origin ? { Origin: origin } : {}) });

/** Signs in over HTTPS; returns the reply and the cookie pair "pc_session=…". */
async function login(web: WebServer, name: string, password: string, extra: Record<string, unknown> = {}, ca: string | null = tls.cert) {
  const origin = `${ca ? 'https' : 'http'}://127.0.0.1:${web.port}`;
  const r = await call(web, '/api/login', {
    method: 'POST',
    headers: json(origin),
    body: { name, password, ...extra },
    ...(ca ? { ca } : {}),
  });
  const setCookie = ([] as string[]).concat(r.headers['set-cookie'] ?? []);
  const cookie = setCookie[0]?.split(';')[0] ?? '';
  return { r, body: JSON.parse(r.body) as Record<string, unknown>, setCookie, cookie };
}

/** Opens a WebSocket; resolves with the socket or the refusal status. */
function ws(
  web: WebServer,
  o: { cookie?: string; origin?: string; secure?: boolean } = {},
): Promise<{ ws: WebSocket | null; status: number | null }> {
  const secure = o.secure ?? web.url.startsWith('https');
  return new Promise((resolve) => {
    const s = new WebSocket(`${secure ? 'wss' : 'ws'}://127.0.0.1:${web.port}/api`, {
      headers: o.cookie ? { Cookie: o.cookie } : {},
      ...(o.origin ? { origin: o.origin } : {}),
      ...(secure ? { ca: tls.cert } : {}),
    });
    s.on('open', () => resolve({ ws: s, status: 101 }));
    s.on('unexpected-response', (_req, res) => resolve({ ws: null, status: res.statusCode ?? null }));
    s.on('error', () => resolve({ ws: null, status: null }));
  });
}

function rpc(
  s: WebSocket,
  name: string,
  request: unknown = {},
): Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }> {
  const id = Math.floor(Math.random() * 1e9);
  return new Promise((resolve) => {
    const on = (d: WebSocket.RawData) => {
      const m = JSON.parse(d.toString()) as { type: string; id?: number; result?: { ok: boolean } };
      if (m.type === 'result' && m.id === id) {
        s.off('message', on);
        resolve(m.result as { ok: boolean });
      }
    };
    s.on('message', on);
    s.send(JSON.stringify({ type: 'call', id, name, request }));
  });
}

const closed = (s: WebSocket) =>
  new Promise<{ code: number; reason: string; at: number }>((r) =>
    s.once('close', (code, reason) => r({ code, reason: reason.toString(), at: Date.now() })),
  );

async function serve(people: People, o: Partial<WebServerOptions> = {}): Promise<WebServer> {
  return startWebServer({
    api: people.api,
    core: people.core,
    host: '0.0.0.0',
    port: 0,
    staticDir,
    log: people.log,
    auth: people.auth,
    remote: people.remote.support,
    tls,
    caller: LOCAL_VIEWER,
    ...o,
  });
}

beforeAll(async () => {
  tls = await ensureCertificate({ dataDir, hosts: namesForBind('0.0.0.0') });
  otherTls = await ensureCertificate({ dataDir: mkdtempSync(join(tmpdir(), 'pc-web-tls-other-')), hosts: ['localhost'] });
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the certificate', () => {
  it('is EC P-256, covers loopback and this machine, is made once and reused', async () => {
    expect(tls.names).toEqual(expect.arrayContaining(['localhost', '127.0.0.1', '::1']));
    expect(tls.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(tls.key).toContain('PRIVATE KEY');
    const { createPrivateKey } = await import('node:crypto');
    expect(createPrivateKey(tls.key).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const again = await ensureCertificate({ dataDir, hosts: namesForBind('0.0.0.0') });
    expect(again.fingerprint).toBe(tls.fingerprint);
    expect(certificateFingerprint(again.cert)).toBe(tls.fingerprint);
  });
});

describe('web mode beyond loopback', () => {
  let people: People;
  let web: WebServer;

  beforeAll(async () => {
    // Many sign-ins from one address here: throttling has tests of its own below.
    people = await setupPeople({
      auth: { idleLockMs: { remote: null, local: null }, baseDelayMs: 1, maxDelayMs: 2, maxFailures: 1000, maxSourceFailures: 1000 },
    });
    web = await serve(people, { limits: { loginRate: { perMinute: 6000, burst: 1000 } } });
  });
  afterAll(async () => {
    await web?.close();
    await people?.close();
  });

  it('refuses to start without TLS, or without login', async () => {
    await expect(serve(people, { tls: undefined })).rejects.toThrow(/loopback-only/);
    await expect(serve(people, { host: '::', tls: undefined })).rejects.toThrow(/in clear/);
    await expect(serve(people, { requireLogin: false })).rejects.toThrow(/without login/);
  });

  it('speaks only HTTPS: plain HTTP on its port fails, HTTPS verifies against the certificate itself', async () => {
    expect(web.url).toBe(`https://${hostname()}:${web.port}/`);
    expect(web.loginRequired).toBe(true);
    await expect(call(web, '/healthz')).rejects.toThrow();
    const ok = await call(web, '/healthz', { ca: tls.cert });
    expect(ok.status).toBe(200);
    expect(ok.fingerprint).toBe(tls.fingerprint);
    expect(web.fingerprint).toBe(tls.fingerprint);
    expect(ok.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(String(ok.headers['content-security-policy'])).toContain("default-src 'none'");
    // Any other CA: the client refuses the server.
    await expect(call(web, '/healthz', { ca: otherTls.cert })).rejects.toThrow(/self.signed|unable to verify|certificate/i);
    // The local console learns the fingerprint to read out.
    const s = await login(web, 'oper', PASSWORDS.oper);
    const conn = await ws(web, { cookie: s.cookie });
    const info = await rpc(conn.ws!, 'plant.info');
    expect(info.value).toMatchObject({ webUrl: web.url, webFingerprint: tls.fingerprint });
    conn.ws!.close();
  });

  it('signs in with a Secure, HttpOnly, SameSite=Strict cookie and never says whether a name exists', async () => {
    const good = await login(web, 'maint', PASSWORDS.maint);
    expect(good.r.status).toBe(200);
    expect(good.setCookie[0]).toMatch(/^pc_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure; Max-Age=\d+$/);
    expect(good.body).toMatchObject({ ok: true, session: { user: 'maint', role: 'maintenance', origin: 'remote' } });
    expect(good.r.body).not.toContain(good.cookie.slice('pc_session='.length));
    const who = await call(web, '/api/session', { ca: tls.cert, headers: { Cookie: good.cookie } });
    expect(JSON.parse(who.body)).toMatchObject({
      loginRequired: true,
      tls: true,
      session: { user: 'maint' },
      caller: { user: 'maint', role: 'maintenance' },
    });
    const anon = await call(web, '/api/session', { ca: tls.cert });
    expect(JSON.parse(anon.body)).toMatchObject({ loginRequired: true, session: null, caller: null });

    const wrongPw = await login(web, 'maint', 'not-the-password');
    await new Promise((r) => setTimeout(r, 5));
    const noUser = await login(web, 'nobody-here', 'not-the-password');
    expect([wrongPw.r.status, noUser.r.status]).toEqual([401, 401]);
    expect(wrongPw.body.message).toBe(noUser.body.message);
    expect(wrongPw.setCookie).toEqual([]);
  });

  it('accepts sign-in only as JSON from its own origin', async () => {
    const body = { name: 'maint', password: PASSWORDS.maint };
    const foreign = await call(web, '/api/login', { method: 'POST', headers: json('https://evil.example'), body, ca: tls.cert });
    expect(foreign.status).toBe(403);
    const form = await call(web, '/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'name=maint',
      ca: tls.cert,
    });
    expect(form.status).toBe(415);
    const get = await call(web, '/api/login', { ca: tls.cert });
    expect(get.status).toBe(405);
    const logoutForeign = await call(web, '/api/logout', { method: 'POST', headers: json('https://evil.example'), body: {}, ca: tls.cert });
    expect(logoutForeign.status).toBe(403);
  });

  it('refuses a WebSocket without a session or from a foreign origin, and serves the session as its caller', async () => {
    expect((await ws(web)).status).toBe(401);
    expect((await ws(web, { cookie: 'pc_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(401);
    const s = await login(web, 'oper', PASSWORDS.oper);
    expect((await ws(web, { cookie: s.cookie, origin: 'https://evil.example' })).status).toBe(403);
    expect((await ws(web, { cookie: s.cookie, origin: `http://127.0.0.1:${web.port}` })).status).toBe(403);
    const ok = await ws(web, { cookie: s.cookie, origin: `https://127.0.0.1:${web.port}` });
    expect(ok.status).toBe(101);
    const info = await rpc(ok.ws!, 'plant.info');
    expect(info.value).toMatchObject({
      caller: { user: 'oper', role: 'operator', origin: 'remote', sessionId: s.body.session && (s.body.session as { id: string }).id },
    });
    // The role check is the core's: an operator may not write.
    const write = await rpc(ok.ws!, 'points.write', { machineId: 'im-1', pointId: 'zone1-sp', value: 215 });
    expect(write).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    ok.ws!.close();
  });

  it('closes the live sockets of a session within a second of logout, with the reason', async () => {
    const s = await login(web, 'maint', PASSWORDS.maint);
    const a = await ws(web, { cookie: s.cookie });
    const b = await ws(web, { cookie: s.cookie });
    expect(await rpc(a.ws!, 'session.info')).toMatchObject({ ok: true, value: { session: { user: 'maint', hasPin: true } } });
    const endA = closed(a.ws!);
    const endB = closed(b.ws!);
    const t0 = Date.now();
    const out = await call(web, '/api/logout', { method: 'POST', headers: { ...json(), Cookie: s.cookie }, body: {}, ca: tls.cert });
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    const [ca, cb] = await Promise.all([endA, endB]);
    expect(ca).toMatchObject({ code: 4401, reason: 'Your session ended: you signed out' });
    expect(cb.code).toBe(4401);
    expect(ca.at - t0).toBeLessThan(1000);
    expect((await ws(web, { cookie: s.cookie })).status).toBe(401);
    expect(people.audit.query({ kind: 'logout', limit: 5 })[0]).toMatchObject({ user: 'maint', detail: { reason: 'logout' } });
  });

  it('closes the sockets when the account is disabled', async () => {
    const s = await login(web, 'oper', PASSWORDS.oper);
    const c = await ws(web, { cookie: s.cookie });
    const end = closed(c.ws!);
    people.accounts.disable('oper', { user: 'test-admin' });
    expect(await end).toMatchObject({ code: 4401, reason: 'Your session ended: the account was disabled' });
    people.accounts.enable('oper');
  });

  it('refuses supplier support without a grant, and joins it with the code the site read out', async () => {
    const none = await login(web, 'support', PASSWORDS.support);
    expect(none.r.status).toBe(403);
    expect(none.body).toMatchObject({ ok: false, code: 'NO_GRANT' });
    expect(none.setCookie).toEqual([]);
    expect(people.auth.list().filter((x) => x.user === 'support')).toEqual([]);

    const { joinCode } = people.remote.support.grant(
      { user: 'maint', role: 'maintenance', origin: 'local' },
      { account: 'support', scope: 'apply', machines: ['im-1'] },
    );
    const wrong = await login(web, 'support', PASSWORDS.support, { joinCode: joinCode === '00000000' ? '11111111' : '00000000' });
    expect(wrong.body).toMatchObject({ ok: false, code: 'BAD_JOIN_CODE' });
    const ok = await login(web, 'support', PASSWORDS.support, { joinCode: `${joinCode.slice(0, 4)} ${joinCode.slice(4)}` });
    expect(ok.body).toMatchObject({ ok: true, session: { user: 'support', role: 'supplier-support', origin: 'remote' } });
    const c = await ws(web, { cookie: ok.cookie });
    expect(await rpc(c.ws!, 'machines.get', { machineId: 'pk-2' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN', message: 'This remote session covers only im-1' },
    });
    expect(await rpc(c.ws!, 'machines.list')).toMatchObject({ ok: true, value: [{ id: 'im-1' }] });
    // The code was for one use only.
    const again = await login(web, 'support', PASSWORDS.support, { joinCode });
    expect(again.body).toMatchObject({ ok: false, code: 'NO_GRANT' });

    const grant = people.remote.support.list().find((g) => g.state === 'live')!;
    const end = closed(c.ws!);
    const t0 = Date.now();
    people.remote.support.end(grant.id, { user: 'maint', role: 'maintenance', origin: 'local' });
    const e = await end;
    expect(e).toMatchObject({ code: 4401, reason: 'Your session ended: ended on site by maint' });
    expect(e.at - t0).toBeLessThan(1000);
  });

  it('answers the PIN re-check through confirm only for a signed-in account with its PIN', async () => {
    const s = await login(web, 'maint', PASSWORDS.maint);
    const c = await ws(web, { cookie: s.cookie });
    expect(await rpc(c.ws!, 'remote.confirm', { requestId: 'nope', pin: MAINT_PIN })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    c.ws!.close();
  });
});

describe('sign-in limits', () => {
  it('locks an account after repeated failures, even for the right password, and says when to retry', async () => {
    const people = await setupPeople({
      auth: { maxFailures: 3, maxSourceFailures: 100, baseDelayMs: 1, maxDelayMs: 5, lockoutMs: 60_000 },
    });
    const web = await serve(people, { limits: { loginRate: { perMinute: 600, burst: 100 } } });
    try {
      const codes: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        codes.push((await login(web, 'maint', `guess-${i}-wrong`)).body.code);
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(codes).toEqual(['BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'LOCKED_OUT']);
      const right = await login(web, 'maint', PASSWORDS.maint);
      expect(right.r.status).toBe(429);
      expect(right.body).toMatchObject({ ok: false, code: 'LOCKED_OUT' });
      expect(Number(right.r.headers['retry-after'])).toBeGreaterThan(50);
      expect(people.audit.query({ kind: 'lockout', limit: 5 })[0]).toMatchObject({ user: 'maint', detail: { scope: 'account' } });
    } finally {
      await web.close();
      await people.close();
    }
  });

  it('limits sign-in requests per source before any password is checked', async () => {
    const people = await setupPeople({ auth: { baseDelayMs: 1, maxDelayMs: 2, maxSourceFailures: 100 } });
    const web = await serve(people, { limits: { loginRate: { perMinute: 6, burst: 3 } } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await login(web, `user${i}`, 'whatever-password')).r.status);
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
      const last = await login(web, 'maint', PASSWORDS.maint);
      expect(last.body).toMatchObject({ code: 'RATE_LIMITED' });
      expect(String(last.body.message)).toMatch(/^Too many attempts — try again in \d+ s$/);
    } finally {
      await web.close();
      await people.close();
    }
  });

  it('re-checks the session on every message: an idle session is closed at its next message', async () => {
    const people = await setupPeople({ auth: { idleLockMs: { remote: 300, local: 300 } } });
    const web = await serve(people, { limits: { resumeCacheMs: 0 } });
    try {
      const s = await login(web, 'oper', PASSWORDS.oper);
      const c = await ws(web, { cookie: s.cookie });
      expect(await rpc(c.ws!, 'system.health')).toMatchObject({ ok: true });
      await new Promise((r) => setTimeout(r, 400));
      const end = closed(c.ws!);
      c.ws!.send(JSON.stringify({ type: 'call', id: 1, name: 'system.health', request: {} }));
      expect(await end).toMatchObject({ code: 4401, reason: 'Your session ended: locked after a time without activity' });
    } finally {
      await web.close();
      await people.close();
    }
  });

  it("shares one message budget among a session's connections", async () => {
    const people = await setupPeople();
    const web = await serve(people, { limits: { sessionRate: { perS: 0.1, burst: 4 } } });
    try {
      const s = await login(web, 'oper', PASSWORDS.oper);
      const a = await ws(web, { cookie: s.cookie });
      const b = await ws(web, { cookie: s.cookie });
      const end = closed(b.ws!);
      for (let i = 0; i < 3; i++) a.ws!.send(JSON.stringify({ type: 'unsubscribe', name: 'core.status' }));
      for (let i = 0; i < 3; i++) b.ws!.send(JSON.stringify({ type: 'unsubscribe', name: 'core.status' }));
      expect((await end).code).toBe(1008);
      a.ws!.close();
    } finally {
      await web.close();
      await people.close();
    }
  });
});

describe('web mode on loopback', () => {
  it('serves the local caller without login, and signs in locally without Secure cookies', async () => {
    const people = await setupPeople();
    const web = await serve(people, {
      host: '127.0.0.1',
      tls: undefined,
      caller: { user: 'local-operator', role: 'operator', origin: 'local' },
    });
    try {
      expect(web.loginRequired).toBe(false);
      const anon = await ws(web);
      expect(await rpc(anon.ws!, 'plant.info')).toMatchObject({ value: { caller: { user: 'local-operator' } } });
      anon.ws!.close();
      const r = await login(web, 'maint', PASSWORDS.maint, {}, null);
      expect(r.setCookie[0]).not.toContain('Secure');
      expect(r.body).toMatchObject({ session: { origin: 'local' } });
      const signed = await ws(web, { cookie: r.cookie });
      expect(await rpc(signed.ws!, 'plant.info')).toMatchObject({
        value: { caller: { user: 'maint', role: 'maintenance', origin: 'local' } },
      });
      signed.ws!.close();
      const required = await serve(people, { host: '127.0.0.1', tls: undefined, requireLogin: true });
      expect((await ws(required)).status).toBe(401);
      await required.close();
    } finally {
      await web.close();
      await people.close();
    }
  });
});
