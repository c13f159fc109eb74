/**
 * What web mode shows and to whom, over real sockets: /healthz tells a stranger only that the
 * console runs; event streams reach supplier support only as its grant allows; WebSockets are
 * limited per session and per source with the reason in the close; values from outside cannot
 * forge log lines; and a loopback console answers only requests naming this machine (DNS
 * rebinding), on every path.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { ConsoleApi, LOCAL_VIEWER } from '../../src-main/api/service';
import { consoleLogger } from '../../src-main/core/log';
import type { PlantCore } from '../../src-main/core/plant';
import { startWebServer, type WebServer, type WebServerOptions } from '../../src-main/web/server';
import { ensureCertificate, namesForBind, type TlsMaterial } from '../../src-main/web/tls';
import { TOO_MANY_CONNECTIONS_CLOSE } from '../../src-preload/channels';
import { FakePoller } from '../helpers/fake-poller';
import { PASSWORDS, setupPeople, type People } from '../helpers/people';
import { closedWith, httpCall, nextMessage, openSocket, rpc, signIn, type Target } from '../helpers/web-client';

const staticDir = mkdtempSync(join(tmpdir(), 'pc-static-exposure-'));
writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Plant Console</title>');
const certDir = mkdtempSync(join(tmpdir(), 'pc-exposure-tls-'));
const SITE = { user: 'maint', role: 'maintenance', origin: 'local' } as const;

let people: People;
let pollers: FakePoller[] = [];
/** Every line the console logged, exactly as written. */
const lines: string[] = [];
let api: ConsoleApi;

beforeAll(async () => {
  people = await setupPeople({
    auth: { idleLockMs: { remote: null, local: null }, baseDelayMs: 1, maxDelayMs: 2, maxFailures: 1000, maxSourceFailures: 1000 },
    pollerFactory: (device) => {
      const fp = new FakePoller(device, Date.now());
      pollers.push(fp);
      return fp;
    },
  });
  api = new ConsoleApi(people.core, { log: consoleLogger('debug', (l) => lines.push(l)), remote: people.remote.api });
});

afterAll(async () => {
  await people?.close();
  pollers = [];
  rmSync(staticDir, { recursive: true, force: true });
  rmSync(certDir, { recursive: true, force: true });
});

function serve(o: Partial<WebServerOptions>): Promise<WebServer> {
  return startWebServer({
    api,
    core: people.core,
    host: '127.0.0.1',
    port: 0,
    staticDir,
    log: consoleLogger('debug', (l) => lines.push(l)),
    auth: people.auth,
    remote: people.remote.support,
    limits: { loginRate: { perMinute: 6000, burst: 1000 } },
    caller: LOCAL_VIEWER,
    ...o,
  });
}

/** True when the server serves the socket (a command is answered); false when it closes it first. */
async function served(ws: WebSocket): Promise<boolean> {
  const end = closedWith(ws).then(() => false);
  return Promise.race([rpc(ws, 'session.info').then(() => true), end]);
}

describe('beyond loopback', () => {
  let web: WebServer;
  let target: Target;
  let tls: TlsMaterial;

  beforeAll(async () => {
    tls = await ensureCertificate({ dataDir: certDir, hosts: namesForBind('0.0.0.0') });
    web = await serve({
      host: '0.0.0.0',
      tls,
      limits: { loginRate: { perMinute: 6000, burst: 1000 }, connections: { perSession: 2, perSource: 3 } },
    });
    target = { port: web.port, ca: tls.cert };
  });
  afterAll(async () => {
    await web?.close();
  });

  it('never serves the SIMULATED demo plant there', async () => {
    const simulated = Object.create(people.core, { config: { value: { ...people.core.config, simulated: true } } }) as PlantCore;
    await expect(serve({ host: '0.0.0.0', tls, core: simulated })).rejects.toThrow(
      /^Refusing to serve the SIMULATED demo plant on 0\.0\.0\.0: its accounts and passwords are published/,
    );
  });

  it('/healthz tells a stranger only that the console runs; the detail needs a session, narrowed to its grant', async () => {
    const anon = await httpCall(target, '/healthz');
    expect(anon.status).toBe(200);
    expect(JSON.parse(anon.body)).toEqual({ core: 'running' });
    const oper = await signIn(target, 'oper', PASSWORDS.oper);
    const detail = JSON.parse((await httpCall(target, '/healthz', { headers: { Cookie: oper } })).body) as { machines: { id: string }[] };
    expect(detail.machines.map((m) => m.id)).toEqual(['im-1', 'pk-2']);
    const { joinCode } = people.remote.support.grant(SITE, { account: 'support', scope: 'view', machines: ['im-1'] });
    const support = await signIn(target, 'support', PASSWORDS.support, { joinCode });
    const narrowed = JSON.parse((await httpCall(target, '/healthz', { headers: { Cookie: support } })).body) as {
      machines: { id: string }[];
    };
    expect(narrowed.machines.map((m) => m.id)).toEqual(['im-1']);
    people.remote.support.end(people.remote.support.list().find((g) => g.state === 'live')!.id, SITE);
  });

  it('streams to supplier support only what the commands listing the same data would answer', async () => {
    const { joinCode } = people.remote.support.grant(SITE, { account: 'support', scope: 'view', machines: ['im-1'] });
    const cookie = await signIn(target, 'support', PASSWORDS.support, { joinCode });
    const { ws } = await openSocket(target, { Cookie: cookie });
    for (const [stream, command] of [
      ['reco.update', 'reco.list'],
      ['modules.update', 'modules.list'],
    ] as const) {
      const refusal = nextMessage(ws!, (m) => m.type === 'error');
      ws!.send(JSON.stringify({ type: 'subscribe', name: stream }));
      expect(await refusal).toMatchObject({
        error: { code: 'FORBIDDEN', message: `${stream}: Role "supplier-support" may not call ${command}` },
      });
    }
    const plan = await rpc(ws!, 'uplink.points');
    expect((plan.value as { machines: { id: string }[] }).machines.map((m) => m.id)).toEqual(['im-1']);
    // pk-2 is polled first: had its snapshot been sent, it would arrive before im-1's.
    ws!.send(JSON.stringify({ type: 'subscribe', name: 'machines.update' }));
    await rpc(ws!, 'session.info');
    const first = nextMessage(ws!, (m) => m.type === 'event');
    for (const id of ['pk-2', 'im-1']) pollers.find((fp) => fp.device.id === id)!.emit(Date.now(), 1);
    expect(await first).toMatchObject({ name: 'machines.update', payload: { id: 'im-1' } });
    const end = closedWith(ws!);
    people.remote.support.end(people.remote.support.list().find((g) => g.state === 'live')!.id, SITE);
    await end;
  });

  it('limits WebSockets per session and per source address, and says why in the close', async () => {
    const oper = await signIn(target, 'oper', PASSWORDS.oper);
    const maint = await signIn(target, 'maint', PASSWORDS.maint);
    const a = (await openSocket(target, { Cookie: oper })).ws!;
    const b = (await openSocket(target, { Cookie: oper })).ws!;
    expect([await served(a), await served(b)]).toEqual([true, true]);
    const third = (await openSocket(target, { Cookie: oper })).ws!;
    expect(await closedWith(third)).toEqual({
      code: TOO_MANY_CONNECTIONS_CLOSE,
      reason: 'Too many connections for this sign-in: 2 open, at most 2; close another tab',
    });
    const c = (await openSocket(target, { Cookie: maint })).ws!;
    expect(await served(c)).toBe(true);
    const fourth = (await openSocket(target, { Cookie: maint })).ws!;
    expect(await closedWith(fourth)).toEqual({
      code: TOO_MANY_CONNECTIONS_CLOSE,
      reason: 'Too many connections from 127.0.0.1: 3 open, at most 3',
    });
    expect(lines.filter((l) => l.includes('WebSocket refused: Too many connections'))).toHaveLength(2);
    // Closing one frees its place.
    a.close();
    await expect.poll(() => web.openConnections().sockets).toBe(2);
    const again = (await openSocket(target, { Cookie: oper })).ws!;
    expect(await served(again)).toBe(true);
    for (const s of [b, c, again]) s.close();
    await expect.poll(() => web.openConnections()).toEqual({ sources: 0, sockets: 0 });
  });

  it('escapes control characters from outside in its log: a newline in a command or stream name forges no line', async () => {
    const cookie = await signIn(target, 'oper', PASSWORDS.oper);
    const { ws } = await openSocket(target, { Cookie: cookie });
    const forged = '2026-01-01T00:00:00.000Z error Plant core stopped';
    expect(await rpc(ws!, `plant.info\n${forged}`)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_COMMAND' } });
    const refused = nextMessage(ws!, (m) => m.type === 'error');
    ws!.send(JSON.stringify({ type: 'subscribe', name: `core.status\r\n${forged}\u2028\u001b[2J` }));
    await refused;
    ws!.close();
    expect(lines.filter((l) => /[\n\r\u2028\u001b]/.test(l))).toEqual([]);
    expect(lines.some((l) => l.startsWith(forged))).toBe(false);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`API refused plant.info\\n${forged}: UNKNOWN_COMMAND`),
        expect.stringContaining(`unknown event stream "core.status\\r\\n${forged}\\u2028\\x1b[2J"`),
      ]),
    );
  });
});

describe('on loopback', () => {
  let web: WebServer;
  let target: Target;

  beforeAll(async () => {
    web = await serve({});
    target = { port: web.port };
  });
  afterAll(async () => {
    await web?.close();
  });

  it('answers only requests that name this machine, on every path (DNS rebinding)', async () => {
    const rebound = `rebound.example:${web.port}`;
    const json = { 'Content-Type': 'application/json', Host: rebound, Origin: `http://${rebound}` };
    for (const path of ['/healthz', '/api/session', '/', '/machine/im-1']) {
      const r = await httpCall(target, path, { headers: { Host: rebound } });
      expect(r.status, path).toBe(403);
      expect(JSON.parse(r.body), path).toMatchObject({ code: 'FORBIDDEN_HOST' });
    }
    const login = await httpCall(target, '/api/login', {
      method: 'POST',
      headers: json,
      body: { name: 'maint', password: PASSWORDS.maint },
    });
    expect(login.status).toBe(403);
    expect(login.headers['set-cookie']).toBeUndefined();
    expect((await openSocket(target, { Host: rebound, Origin: `http://${rebound}` })).status).toBe(403);
    // This machine's names pass: the local viewer sees the detail.
    for (const host of [`localhost:${web.port}`, `127.0.0.1:${web.port}`, `[::1]:${web.port}`]) {
      const r = await httpCall(target, '/healthz', { headers: { Host: host } });
      expect(r.status, host).toBe(200);
      expect((JSON.parse(r.body) as { machines: unknown[] }).machines, host).toHaveLength(2);
    }
  });

  it('keeps the detail of /healthz for a session where the console requires sign-in', async () => {
    const required = await serve({ requireLogin: true });
    try {
      const t = { port: required.port };
      expect(JSON.parse((await httpCall(t, '/healthz')).body)).toEqual({ core: 'running' });
      const cookie = await signIn(t, 'oper', PASSWORDS.oper);
      expect(JSON.parse((await httpCall(t, '/healthz', { headers: { Cookie: cookie } })).body)).toMatchObject({
        core: 'running',
        machines: [{ id: 'im-1' }, { id: 'pk-2' }],
      });
    } finally {
      await required.close();
    }
  });
});
