/**
 * First-start setup in web mode over real sockets: GET /api/session tells a browser on the
 * console PC `setupNeeded`; POST /api/setup creates the first admin only from loopback, with a
 * loopback Host (no DNS rebinding), JSON from this origin, rate-limited; then never again. A
 * console bound beyond loopback never offers it (the CLI does it there), and says so in its log.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FirstStartSetup } from '../../src-main/auth/setup';
import { startWebServer, type WebServer, type WebServerOptions } from '../../src-main/web/server';
import { setupHint } from '../../src-main/web/setup-route';
import { ensureCertificate, namesForBind } from '../../src-main/web/tls';
import { setupPeople, type People } from '../helpers/people';
import { LOCAL_VIEWER } from '../../src-main/api/service';

const staticDir = mkdtempSync(join(tmpdir(), 'pc-static-setup-'));
writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Plant Console</title>');
const certDir = mkdtempSync(join(tmpdir(), 'pc-setup-tls-'));
const GOOD = 'first admin password';

afterAll(() => {
  rmSync(staticDir, { recursive: true, force: true });
  rmSync(certDir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** One request to 127.0.0.1 (HTTPS trusting `ca` when given); `host` overrides the Host header. */
function call(
  web: WebServer,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: unknown; ca?: string } = {},
): Promise<Reply> {
  const payload = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const opts = { host: '127.0.0.1', port: web.port, path, method: o.method ?? 'GET', headers: o.headers ?? {} };
    const onRes = (res: import('node:http').IncomingMessage) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }),
      );
    };
    const req = o.ca ? httpsRequest({ ...opts, ca: o.ca }, onRes) : httpRequest(opts, onRes);
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

let people: People | null = null;
let web: WebServer | null = null;
afterEach(async () => {
  await web?.close();
  await people?.close();
  web = null;
  people = null;
});

/** A console with accounts but no admin, in web mode on loopback. */
async function serve(o: Partial<WebServerOptions> = {}): Promise<{ p: People; w: WebServer; origin: string; setup: FirstStartSetup }> {
  people = await setupPeople();
  const setup = new FirstStartSetup(people.accounts, { log: people.log });
  web = await startWebServer({
    api: people.api,
    core: people.core,
    host: '127.0.0.1',
    port: 0,
    staticDir,
    log: people.log,
    auth: people.auth,
    remote: people.remote.support,
    setup,
    caller: LOCAL_VIEWER,
    ...o,
  });
  return { p: people, w: web, origin: `http://127.0.0.1:${web.port}`, setup };
}

const post = (w: WebServer, origin: string | null, body: unknown, headers: Record<string, string> = {}) =>
  call(w, '/api/setup', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(origin ? { Origin: origin } : {}), ...headers },
    body,
  });

describe('POST /api/setup on a loopback console', () => {
  it('is offered to the console PC while no admin exists, creates one admin, then never again', async () => {
    const { p, w, origin } = await serve({ requireLogin: true });
    const before = await call(w, '/api/session');
    expect(before.body).toMatchObject({ loginRequired: true, session: null, setupNeeded: true });

    const bad = await post(w, origin, { name: 'anna', password: 'short' });
    expect(bad).toMatchObject({
      status: 400,
      body: { ok: false, code: 'BAD_REQUEST', message: 'A password needs at least 10 characters' },
    });
    expect((await post(w, origin, 'not json')).status).toBe(400);

    const made = await post(w, origin, { name: 'Anna', password: GOOD, pin: '2580' });
    expect(made).toMatchObject({ status: 200, body: { ok: true, account: { name: 'anna', role: 'admin', hasPin: true } } });
    // It does not sign in: the page does that next, like any sign-in.
    expect(made.headers['set-cookie']).toBeUndefined();
    expect(p.audit.query({ kind: ['user_added'] }).find((r) => r.detail.name === 'anna')).toMatchObject({
      origin: 'local',
      detail: { role: 'admin', firstStart: true, via: 'web', source: '127.0.0.1' },
    });

    expect((await call(w, '/api/session')).body).toMatchObject({ setupNeeded: false });
    const again = await post(w, origin, { name: 'mallory', password: GOOD });
    expect(again).toMatchObject({ status: 409, body: { code: 'SETUP_DONE' } });
    expect(p.accounts.get('mallory')).toBeUndefined();

    const login = await call(w, '/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: origin },
      body: { name: 'anna', password: GOOD },
    });
    expect(login).toMatchObject({ status: 200, body: { ok: true, session: { user: 'anna', role: 'admin', origin: 'local' } } });
  });

  it('refuses a foreign origin, a missing Origin, a form post and a DNS-rebound Host', async () => {
    const { p, w, origin } = await serve();
    expect(await post(w, 'https://evil.example', { name: 'eve', password: GOOD })).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect(await post(w, null, { name: 'eve', password: GOOD })).toMatchObject({ status: 403, body: { code: 'SETUP_LOCAL_ONLY' } });
    const form = await call(w, '/api/setup', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: origin },
      body: 'name=eve&password=first+admin+password',
    });
    expect(form.status).toBe(415);
    // A page of evil.example whose name now points at 127.0.0.1: its Origin matches its Host, but the Host is no loopback
    // name, so the loopback console answers it nothing at all.
    const rebound = `http://evil.example:${w.port}`;
    const r = await post(w, rebound, { name: 'eve', password: GOOD }, { Host: `evil.example:${w.port}` });
    expect(r).toMatchObject({ status: 403, body: { code: 'FORBIDDEN_HOST' } });
    expect(await call(w, '/api/session', { headers: { Host: `evil.example:${w.port}` } })).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN_HOST' },
    });
    expect((await call(w, '/api/setup')).status).toBe(405);
    expect(p.accounts.list().some((a) => a.role === 'admin')).toBe(false);
    expect(p.log.lines.filter((l) => l.msg === 'First-start setup refused: not from the console PC').length).toBe(1);
    expect(p.log.lines.filter((l) => l.msg === 'HTTP request refused: foreign Host').length).toBe(2);
  });

  it('is rate-limited per source like sign-in', async () => {
    const { w, origin } = await serve({ limits: { loginRate: { perMinute: 1, burst: 3 } } });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await post(w, origin, { name: 'anna', password: 'short' })).status);
    expect(codes).toEqual([400, 400, 400, 429]);
    const limited = await post(w, origin, { name: 'anna', password: GOOD });
    expect(limited).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('is not there without setup (the SIMULATED demo passes none)', async () => {
    const { p, w, origin } = await serve({ setup: undefined });
    expect((await call(w, '/api/session')).body.setupNeeded).toBe(false);
    expect(await post(w, origin, { name: 'anna', password: GOOD })).toMatchObject({ status: 409, body: { code: 'SETUP_DONE' } });
    expect(p.accounts.get('anna')).toBeUndefined();
  });
});

describe('a console bound beyond loopback', () => {
  it('never offers setup, even to a client on this PC, and its log line points to the CLI', async () => {
    const tls = await ensureCertificate({ dataDir: certDir, hosts: namesForBind('0.0.0.0') });
    const { p, w } = await serve({ host: '0.0.0.0', tls });
    const origin = `https://127.0.0.1:${w.port}`;
    expect((await call(w, '/api/session', { ca: tls.cert })).body).toMatchObject({ loginRequired: true, setupNeeded: false });
    const r = await call(w, '/api/setup', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: origin },
      body: { name: 'eve', password: GOOD },
      ca: tls.cert,
    });
    expect(r).toMatchObject({ status: 403, body: { code: 'SETUP_LOCAL_ONLY' } });
    expect(p.accounts.list().some((a) => a.role === 'admin')).toBe(false);
    expect(setupHint({ needed: true, url: w.url, loopbackBound: false, dataDir: '/var/lib/pc' })).toBe(
      `No administrator account yet: web mode on ${w.url} is reachable beyond this PC, so it does not offer setup; on this PC run plant-console user add --data-dir /var/lib/pc --name NAME --role admin`,
    );
    expect(setupHint({ needed: true, url: 'http://127.0.0.1:8080/', loopbackBound: true, dataDir: '/d' })).toBe(
      'No administrator account yet: open http://127.0.0.1:8080/ on this PC to create one, or run plant-console user add --data-dir /d --name NAME --role admin',
    );
    expect(setupHint({ needed: false, url: 'x', loopbackBound: true, dataDir: '/d' })).toBeNull();
  });
});
