/**
 * No transport acts as a default caller. Who a call or an event stream comes from is a required
 * option everywhere (IPC adapter, WebSocket adapter, web server, ConsoleApi.subscribe): leaving
 * one out is a compile error (each `@ts-expect-error` below fails the type-check the day the option
 * becomes optional again), and a plain JavaScript caller that leaves it out is refused at once.
 */
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { attachIpcAdapter } from '../../src-main/api/ipc-adapter';
import { ConsoleApi } from '../../src-main/api/service';
import { resolveConfig } from '../../src-main/config/load';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import { startWebServer } from '../../src-main/web/server';
import { attachWebSocketAdapter } from '../../src-main/web/ws-adapter';

function plant() {
  const config = resolveConfig(
    {
      plant: { name: 'Callers', timezone: 'UTC' },
      devices: [{ id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } }],
    },
    'callers.json',
  );
  const log = memoryLogger();
  const core = new PlantCore({ config, log });
  return { core, api: new ConsoleApi(core, { log }), log };
}

describe('no default caller', () => {
  it('the IPC adapter needs callerFor and eventCaller', () => {
    const { api, log } = plant();
    const registered: string[] = [];
    const ipcMain = { handle: (ch: string) => void registered.push(ch), removeHandler: () => undefined };
    const common = { ipcMain, api, log, isTrustedSender: () => true, emit: () => undefined };
    // @ts-expect-error callerFor and eventCaller are required: a forgotten one must not compile
    expect(() => attachIpcAdapter(common)).toThrow(/callerFor and eventCaller/);
    // @ts-expect-error eventCaller alone is not enough either
    expect(() => attachIpcAdapter({ ...common, callerFor: () => ({ caller: { user: 'x', role: 'admin', origin: 'local' } }) })).toThrow(
      /never assumed/,
    );
    expect(registered).toEqual([]);
  });

  it('the WebSocket adapter needs identify', () => {
    const { api, log } = plant();
    const wss = new WebSocketServer({ noServer: true });
    try {
      // @ts-expect-error identify is required: a connection is never served as a default caller
      expect(() => attachWebSocketAdapter({ wss, api, log })).toThrow(/needs identify/);
    } finally {
      wss.close();
    }
  });

  it('the web server needs the caller of a connection without a session', async () => {
    const { api, core, log } = plant();
    // @ts-expect-error caller is required: the console passes LOCAL_VIEWER, never an implied operator
    await expect(startWebServer({ api, core, host: '127.0.0.1', port: 0, staticDir: '/nonexistent', log })).rejects.toThrow(
      /needs the caller of a connection without a session/,
    );
  });

  it('an event stream needs its subscriber', () => {
    const { api } = plant();
    // @ts-expect-error the subscriber is required: no stream opens for nobody in particular
    expect(() => api.subscribe('machines.update', () => undefined)).toThrow(/not identified/);
  });
});
