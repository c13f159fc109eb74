/**
 * One shared suite over both transports of the console API (Electron IPC through the real
 * adapter and a preload-shaped bridge; WebSocket through the real web server), plus what is
 * specific to each: untrusted IPC senders, WebSocket origin/host checks, static file safety.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startAgent, type Agent } from '../../device-agent/agent';
import { attachIpcAdapter, type IpcSender } from '../../src-main/api/ipc-adapter';
import { ConsoleApi } from '../../src-main/api/service';
import { resolveConfig } from '../../src-main/config/load';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import { startWebServer, type WebServer } from '../../src-main/web/server';
import { createIpcTransport } from '../../src-renderer/src/transport/ipc';
import { createWebSocketTransport, type SocketLike } from '../../src-renderer/src/transport/websocket';
import {
  COMMAND_NAMES,
  COMMANDS,
  commandChannel,
  eventChannel,
  type Bridge,
  type MachineSnapshot,
  type Transport,
} from '../../src-preload/contract';
import { LOCAL_OPERATOR } from '../helpers/callers';

let agents: Agent[] = [];
let core: PlantCore;
let api: ConsoleApi;
let web: WebServer;
const log = memoryLogger();
const staticDir = mkdtempSync(join(tmpdir(), 'pc-static-'));
writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Plant Console</title>');
writeFileSync(join(staticDir, 'app.js'), 'console.log(1)');

// ---- IPC: the real adapter over an in-memory ipcMain, and a bridge shaped like the preload's.
type Handler = (event: { sender: IpcSender }, request: unknown) => Promise<unknown>;
const handlers = new Map<string, Handler>();
const rendererListeners = new Map<string, Set<(payload: unknown) => void>>();
const TRUSTED: IpcSender = { frameUrl: 'file:///app/out/renderer/index.html', webContentsId: 1 };
let detachIpc: () => void;

function bridgeFor(sender: IpcSender): Bridge {
  const bridge: Record<string, unknown> = {};
  for (const name of COMMAND_NAMES) {
    // Structured clone, like Electron's IPC: nothing but data crosses.
    bridge[name] = async (req: unknown) => structuredClone(await handlers.get(commandChannel(name))!({ sender }, structuredClone(req)));
  }
  bridge.on = (name: string, handler: (p: unknown) => void) => {
    const ch = eventChannel(name as 'machines.update');
    const set = rendererListeners.get(ch) ?? new Set();
    rendererListeners.set(ch, set);
    set.add(handler);
    return () => set.delete(handler);
  };
  return bridge as Bridge;
}

function wsTransport(origin?: string): Transport & { close(): void } {
  return createWebSocketTransport(`ws://127.0.0.1:${web.port}/api`, {
    createSocket: (u) => new WebSocket(u, origin ? { origin } : {}) as unknown as SocketLike,
    callTimeoutMs: 5000,
  });
}

beforeAll(async () => {
  agents = [await startAgent({ port: 0, model: 'im250', seed: 1 }), await startAgent({ port: 0, model: 'pk60', seed: 2 })];
  const config = resolveConfig(
    {
      plant: { name: 'Transport test' },
      devices: agents.map((a, i) => ({
        id: `m${i}`,
        name: `Machine ${i}`,
        profile: `builtin:${a.model}`,
        transport: { type: 'tcp', host: '127.0.0.1', port: a.port },
        pollIntervalMs: 100,
      })),
    },
    '(test)',
  );
  core = new PlantCore({ config, log });
  api = new ConsoleApi(core, { log });
  core.start();
  await core.ready();
  detachIpc = attachIpcAdapter({
    ipcMain: { handle: (ch, h) => void handlers.set(ch, h), removeHandler: (ch) => void handlers.delete(ch) },
    api,
    log,
    isTrustedSender: (s) => s.webContentsId === TRUSTED.webContentsId && s.frameUrl === TRUSTED.frameUrl,
    emit: (ch, payload) => rendererListeners.get(ch)?.forEach((h) => h(structuredClone(payload))),
    // No sign-in here: the window acts as a fixed operator, named explicitly (the product resolves its session).
    callerFor: () => ({ caller: LOCAL_OPERATOR }),
    eventCaller: () => LOCAL_OPERATOR,
  });
  web = await startWebServer({ api, core, host: '127.0.0.1', port: 0, staticDir, log, caller: LOCAL_OPERATOR });
});

afterAll(async () => {
  detachIpc?.();
  await web?.close();
  await core?.stop();
  await Promise.all(agents.map((a) => a.stop()));
});

/** A WebSocket transport once connected (calls made while connecting fail fast by design). */
async function connectedWs(): Promise<Transport & { close(): void }> {
  const t = wsTransport(`http://127.0.0.1:${web.port}`);
  await new Promise<void>((resolve) => {
    const off = t.onStatus((s) => {
      if (s === 'connected') {
        queueMicrotask(() => off());
        resolve();
      }
    });
  });
  return t;
}

const transports: [string, () => Promise<Transport & { close?: () => void }>][] = [
  ['ipc', async () => createIpcTransport(bridgeFor(TRUSTED))],
  ['websocket', connectedWs],
];

describe.each(transports)('console API over %s', (kind, make) => {
  it('answers every command with a value matching its response schema', async () => {
    const t = await make();
    try {
      expect(t.kind).toBe(kind);
      const info = await t.call('plant.info', {});
      expect(info.ok && info.value.caller).toEqual({ user: 'local-operator', role: 'operator', origin: 'local' });
      if (!info.ok) throw new Error(info.error.message);
      // A configured plant never hands out account credentials (only the SIMULATED demo does).
      expect(info.value.demoAccounts).toBeUndefined();
      expect(COMMANDS['plant.info'].response.parse(info.value).machines.map((m) => m.id)).toEqual(['m0', 'm1']);
      const list = await t.call('machines.list', {});
      expect(list.ok && COMMANDS['machines.list'].response.parse(list.value).length).toBe(2);
      const detail = await t.call('machines.get', { machineId: 'm0' });
      expect(detail.ok && COMMANDS['machines.get'].response.parse(detail.value).points.length).toBeGreaterThan(5);
      const now = Date.now();
      const hist = await t.call('history.query', { machineId: 'm0', pointIds: ['zone1'], fromMs: now - 60_000, toMs: now, maxPoints: 100 });
      expect(hist.ok && hist.value.series[0]?.pointId).toBe('zone1');
      const health = await t.call('system.health', {});
      expect(health.ok && health.value.core).toBe('running');
    } finally {
      t.close?.();
    }
  });

  it('refuses bad requests with the same envelope and codes', async () => {
    const t = await make();
    try {
      const bad = await t.call('machines.get', { machineId: 42 } as never);
      expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      expect(!bad.ok && bad.error.message).toContain('machineId');
      const extra = await t.call('plant.info', { admin: true } as never);
      expect(extra).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      const missing = await t.call('machines.get', { machineId: 'nope' });
      expect(missing).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
      const order = await t.call('history.query', { machineId: 'm0', pointIds: ['zone1'], fromMs: 10, toMs: 5, maxPoints: 10 });
      expect(!order.ok && order.error.message).toContain('toMs');
    } finally {
      t.close?.();
    }
  });

  it('delivers live machine updates to subscribers and stops after unsubscribe', async () => {
    const t = await make();
    try {
      const got: MachineSnapshot[] = [];
      const off = t.subscribe('machines.update', (s) => got.push(s));
      await expect.poll(() => got.filter((s) => s.id === 'm1' && s.link.state === 'online').length, { timeout: 5000 }).toBeGreaterThan(1);
      const first = got.find((s) => s.id === 'm1')!;
      expect(first.values['speed']?.quality).toBe('good');
      off();
      const n = got.length;
      // Two poll intervals pass with no delivery after unsubscribing.
      await new Promise((r) => setTimeout(r, 300));
      expect(got.length).toBe(n);
    } finally {
      t.close?.();
    }
  });
});

describe('IPC specifics', () => {
  it('refuses calls from any frame but the console page', async () => {
    const t = createIpcTransport(bridgeFor({ frameUrl: 'https://evil.example/', webContentsId: 1 }));
    expect(await t.call('plant.info', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const t2 = createIpcTransport(bridgeFor({ frameUrl: TRUSTED.frameUrl, webContentsId: 2 }));
    expect(await t2.call('machines.list', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(log.lines.some((l) => l.msg.includes('untrusted sender'))).toBe(true);
  });

  it('registers exactly one handler per command', () => {
    expect([...handlers.keys()].sort()).toEqual(COMMAND_NAMES.map((n) => commandChannel(n)).sort());
  });
});

function rawWs(headers: Record<string, string> = {}, path = '/api'): Promise<{ ws: WebSocket | null; status: number | null }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${web.port}${path}`, { headers });
    ws.on('open', () => resolve({ ws, status: 101 }));
    ws.on('unexpected-response', (_req, res) => resolve({ ws: null, status: res.statusCode ?? null }));
    ws.on('error', () => resolve({ ws: null, status: null }));
  });
}

function nextMessage(ws: WebSocket): Promise<unknown> {
  return new Promise((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()))));
}

function get(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: web.port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('web server specifics', () => {
  it('refuses WebSocket upgrades from foreign origins and non-loopback hosts', async () => {
    expect((await rawWs({ Origin: 'https://evil.example' })).status).toBe(403);
    expect((await rawWs({ Origin: `http://127.0.0.1:${web.port}`, Host: `attacker.example:${web.port}` })).status).toBe(403);
    expect((await rawWs({}, '/other')).status).toBe(404);
    const ok = await rawWs({ Origin: `http://localhost:${web.port}`, Host: `localhost:${web.port}` });
    expect(ok.status).toBe(101);
    ok.ws?.close();
  });

  it('answers malformed messages with a specific error and keeps the connection', async () => {
    const { ws } = await rawWs();
    const a = nextMessage(ws!);
    ws!.send('not json');
    expect(await a).toMatchObject({ type: 'error', error: { code: 'BAD_REQUEST', message: 'message is not valid JSON' } });
    const b = nextMessage(ws!);
    ws!.send(JSON.stringify({ type: 'call', id: -1, name: 'plant.info' }));
    expect(await b).toMatchObject({ type: 'error', error: { code: 'BAD_REQUEST' } });
    const c = nextMessage(ws!);
    ws!.send(JSON.stringify({ type: 'call', id: 7, name: 'firmware.install', request: {} }));
    expect(await c).toMatchObject({ type: 'result', id: 7, result: { ok: false, error: { code: 'UNKNOWN_COMMAND' } } });
    const d = nextMessage(ws!);
    ws!.send(JSON.stringify({ type: 'subscribe', name: 'secrets.dump' }));
    expect(await d).toMatchObject({ type: 'error', error: { message: 'unknown event stream "secrets.dump"' } });
    ws!.close();
  });

  it('closes a connection that floods it', async () => {
    const { ws } = await rawWs();
    const closed = new Promise<number>((r) => ws!.on('close', (code) => r(code)));
    ws!.on('message', () => {});
    for (let i = 0; i < 400; i++) ws!.send(JSON.stringify({ type: 'unsubscribe', name: 'core.status' }));
    expect(await closed).toBe(1008);
  });

  it('serves /healthz, the UI with security headers, and nothing outside its folder', async () => {
    const h = await get('/healthz');
    expect(h.status).toBe(200);
    const health = JSON.parse(h.body) as { core: string; machines: { id: string; link: { state: string } }[] };
    expect(health.core).toBe('running');
    expect(health.machines.map((m) => m.id)).toEqual(['m0', 'm1']);
    const page = await get('/machine/m0');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Plant Console</title>');
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect((await get('/app.js')).headers['content-type']).toContain('text/javascript');
    expect((await get('/../../etc/passwd.txt')).status).toBeGreaterThanOrEqual(400);
    expect((await get('/%2e%2e%2f%2e%2e%2fetc%2fpasswd')).body).not.toContain('root:');
    expect((await get('/missing.js')).status).toBe(404);
    expect((await get('/healthz', {}, 'POST')).status).toBe(405);
  });

  it('refuses to listen beyond loopback until login and TLS exist', async () => {
    await expect(startWebServer({ api, core, host: '0.0.0.0', port: 0, staticDir, log, caller: LOCAL_OPERATOR })).rejects.toThrow(
      /loopback-only/,
    );
  });
});
