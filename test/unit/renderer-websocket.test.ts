import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { AddressInfo } from 'node:net';
import type { TransportStatus } from '../../src-preload/contract';
import { createWebSocketTransport, type ClosableTransport, type SocketLike } from '../../src-renderer/src/transport/websocket';
import { createIpcTransport } from '../../src-renderer/src/transport/ipc';
import { apiUrl } from '../../src-renderer/src/transport/index';
import { machine } from './renderer-fixtures';

type Msg = { type: string; id?: number; name?: string; request?: unknown };

/** A stand-in for the core's /api endpoint on loopback. */
class FakeServer {
  wss: WebSocketServer;
  received: Msg[] = [];
  clients = new Set<WebSocket>();
  /** Answers calls unless told to stay silent. */
  answer = true;

  private constructor(wss: WebSocketServer) {
    this.wss = wss;
    wss.on('connection', (ws) => {
      this.clients.add(ws);
      ws.on('close', () => this.clients.delete(ws));
      ws.on('message', (data: RawData) => {
        const msg = JSON.parse(String(data)) as Msg;
        this.received.push(msg);
        if (msg.type === 'call' && this.answer) {
          ws.send(JSON.stringify({ type: 'result', id: msg.id, result: { ok: true, value: { echo: msg.name, request: msg.request } } }));
        }
      });
    });
  }

  static async start(port = 0): Promise<FakeServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new FakeServer(wss);
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  broadcast(data: string): void {
    for (const c of this.clients) c.send(data);
  }

  dropClients(): void {
    for (const c of this.clients) c.terminate();
  }

  async close(): Promise<void> {
    this.dropClients();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

const servers: FakeServer[] = [];
const transports: ClosableTransport[] = [];

afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  for (const s of servers.splice(0)) await s.close();
});

async function setup(opts: { callTimeoutMs?: number } = {}) {
  const server = await FakeServer.start();
  servers.push(server);
  const logs: string[] = [];
  const statuses: TransportStatus[] = [];
  const transport = createWebSocketTransport(`ws://127.0.0.1:${server.port}/api`, {
    createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
    backoff: { initialDelayMs: 20, maxDelayMs: 100, randomisationFactor: 0.2 },
    callTimeoutMs: opts.callTimeoutMs ?? 2000,
    log: (m) => logs.push(m),
  });
  transports.push(transport);
  transport.onStatus((s) => statuses.push(s));
  return { server, transport, logs, statuses };
}

async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('WebSocket transport', () => {
  it('connects, reports its status, and matches results to calls by id', async () => {
    const { transport, statuses, server } = await setup();
    await until(() => statuses.includes('connected'));
    expect(statuses[0]).toBe('connecting');
    const [a, b] = await Promise.all([transport.call('plant.info', {}), transport.call('machines.get', { machineId: 'im-1' })]);
    expect(a).toEqual({ ok: true, value: { echo: 'plant.info', request: {} } });
    expect(b).toEqual({ ok: true, value: { echo: 'machines.get', request: { machineId: 'im-1' } } });
    const calls = server.received.filter((m) => m.type === 'call');
    expect(new Set(calls.map((c) => c.id)).size).toBe(2);
  });

  it('resolves a call without an answer to UNAVAILABLE after the timeout', async () => {
    const { transport, statuses, server } = await setup({ callTimeoutMs: 100 });
    await until(() => statuses.includes('connected'));
    server.answer = false;
    const res = await transport.call('system.health', {});
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.error.code).toBe('UNAVAILABLE');
      expect(res.error.message).toMatch(/no answer within 100 ms/);
    }
  });

  it('fails fast while disconnected', async () => {
    const server = await FakeServer.start();
    const port = server.port;
    await server.close();
    const t = createWebSocketTransport(`ws://127.0.0.1:${port}/api`, {
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      backoff: { initialDelayMs: 1000, maxDelayMs: 1000, randomisationFactor: 0 },
      log: () => {},
    });
    transports.push(t);
    const started = Date.now();
    const res = await t.call('plant.info', {});
    expect(Date.now() - started).toBeLessThan(50);
    expect(res).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
  });

  it('subscribes, dispatches events, and ignores malformed messages', async () => {
    const { transport, statuses, server, logs } = await setup();
    const got: string[] = [];
    transport.subscribe('machines.update', (p) => got.push(p.id));
    await until(() => statuses.includes('connected'));
    await until(() => server.received.some((m) => m.type === 'subscribe' && m.name === 'machines.update'));
    server.broadcast('not json');
    server.broadcast(JSON.stringify({ type: 'event', name: 'no.such.event', payload: {} }));
    server.broadcast(JSON.stringify({ type: 'result', id: 'x', result: {} }));
    server.broadcast(JSON.stringify({ type: 'wat' }));
    server.broadcast(JSON.stringify({ type: 'event', name: 'machines.update', payload: machine('im-1', { ts: 1 }) }));
    await until(() => got.length === 1);
    expect(got).toEqual(['im-1']);
    expect(logs.filter((l) => l.startsWith('ignored a malformed message')).length).toBe(4);
  });

  it('sends unsubscribe when the last handler of an event goes', async () => {
    const { transport, statuses, server } = await setup();
    await until(() => statuses.includes('connected'));
    const off1 = transport.subscribe('core.status', () => {});
    const off2 = transport.subscribe('core.status', () => {});
    off1();
    off2();
    off2(); // twice is harmless
    await until(() => server.received.some((m) => m.type === 'unsubscribe'));
    expect(server.received.filter((m) => m.type === 'subscribe' && m.name === 'core.status').length).toBe(1);
    expect(server.received.filter((m) => m.type === 'unsubscribe' && m.name === 'core.status').length).toBe(1);
  });

  it('reconnects after the connection drops, re-subscribes, and fails pending calls', async () => {
    const { transport, statuses, server } = await setup();
    const got: number[] = [];
    transport.subscribe('machines.update', (p) => got.push(p.ts));
    await until(() => statuses.includes('connected'));
    server.answer = false;
    const pending = transport.call('plant.info', {});
    await until(() => server.received.some((m) => m.type === 'call'));
    server.dropClients();
    const res = await pending;
    expect(res).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    await until(() => statuses.filter((s) => s === 'connected').length === 2);
    expect(statuses).toContain('disconnected');
    await until(() => server.received.filter((m) => m.type === 'subscribe' && m.name === 'machines.update').length === 2);
    server.broadcast(JSON.stringify({ type: 'event', name: 'machines.update', payload: machine('im-1', { ts: 42 }) }));
    await until(() => got.includes(42));
  });

  it('reconnects to a server restarted on the same port', async () => {
    const { transport, statuses, server } = await setup();
    transport.subscribe('core.status', () => {});
    await until(() => statuses.includes('connected'));
    const port = server.port;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    await until(() => statuses[statuses.length - 1] !== 'connected');
    await new Promise((r) => setTimeout(r, 150)); // a few failed attempts with backoff
    const again = await FakeServer.start(port);
    servers.push(again);
    await until(() => statuses[statuses.length - 1] === 'connected');
    await until(() => again.received.some((m) => m.type === 'subscribe' && m.name === 'core.status'));
    expect(await transport.call('plant.info', {})).toMatchObject({ ok: true });
  });

  it('stops reconnecting after close()', async () => {
    const { transport, statuses, server } = await setup();
    await until(() => statuses.includes('connected'));
    transport.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(statuses[statuses.length - 1]).toBe('disconnected');
    expect(server.clients.size).toBe(0);
    expect(await transport.call('plant.info', {})).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
  });
});

describe('IPC transport and transport choice', () => {
  it('forwards calls and events to the bridge and is always connected', async () => {
    const handlers: ((p: unknown) => void)[] = [];
    const bridge = {
      'plant.info': async () => ({ ok: true as const, value: 'info' }),
      'machines.list': async () => {
        throw new Error('channel closed');
      },
      on: (_name: string, h: (p: unknown) => void) => {
        handlers.push(h);
        return () => {};
      },
    };
    const t = createIpcTransport(bridge as never);
    expect(t.kind).toBe('ipc');
    expect(await t.call('plant.info', {})).toEqual({ ok: true, value: 'info' });
    expect(await t.call('machines.list', {})).toMatchObject({
      ok: false,
      error: { code: 'UNAVAILABLE', message: 'machines.list: channel closed' },
    });
    const seen: TransportStatus[] = [];
    t.onStatus((s) => seen.push(s));
    expect(seen).toEqual(['connected']);
    const got: unknown[] = [];
    t.subscribe('core.status', (p) => got.push(p));
    handlers[0]!({ state: 'running', ts: 1 });
    expect(got).toEqual([{ state: 'running', ts: 1 }]);
  });

  it('derives the API address from the page origin', () => {
    expect(apiUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/api');
    expect(apiUrl({ protocol: 'https:', host: 'console.plant' })).toBe('wss://console.plant/api');
  });
});
