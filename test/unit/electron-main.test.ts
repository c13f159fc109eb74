/**
 * The Electron main process with only the Electron binary mocked (it cannot run here): the
 * window is locked down, navigation and new windows are refused, the CSP header is set, every
 * command is carried over IPC with the sender checked, and the window signs in over IPC (the
 * SIMULATED demo is viewed without sign-in; its maintenance account signs in to change it).
 */
import { EventEmitter } from 'node:events';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { AUTH_CHANNELS } from '../../src-preload/channels';
import { COMMAND_NAMES, commandChannel } from '../../src-preload/contract';

const h = vi.hoisted(() => {
  const state = {
    windows: [] as { opts: Record<string, unknown>; webContents: unknown; loaded: string | null }[],
    ipcHandlers: new Map<string, (event: unknown, req: unknown) => Promise<unknown>>(),
    headersHook: null as null | ((d: { responseHeaders: Record<string, string[]> }, cb: (r: unknown) => void) => void),
    permissionHandler: null as null | ((wc: unknown, perm: string, cb: (ok: boolean) => void) => void),
    appEvents: null as unknown as import('node:events').EventEmitter,
    sandboxEnabled: false,
    ready: null as null | (() => void),
    // Its own directory per run: a fixed path would be shared with other checkouts (and a
    // newer schema written there by one of them would stop this one's core from starting).
    userData: '',
  };
  return state;
});

vi.mock('electron', async () => {
  const { EventEmitter: EE } = await import('node:events');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  h.userData = mkdtempSync(join(tmpdir(), 'pc-electron-test-'));
  const app = Object.assign(new EE(), {
    isPackaged: true,
    enableSandbox: () => void (h.sandboxEnabled = true),
    requestSingleInstanceLock: () => true,
    quit: vi.fn(),
    exit: vi.fn(),
    getPath: () => h.userData,
    whenReady: () => new Promise<void>((r) => (h.ready = r)),
  });
  h.appEvents = app;
  let nextId = 1;
  class BrowserWindow extends EE {
    webContents: EventEmitter & {
      id: number;
      windowOpenHandler?: (d: { url: string }) => unknown;
      send: ReturnType<typeof vi.fn>;
      setWindowOpenHandler(f: (d: { url: string }) => unknown): void;
    };
    constructor(opts: Record<string, unknown>) {
      super();
      const wc = Object.assign(new EE(), {
        id: nextId++,
        send: vi.fn(),
        setWindowOpenHandler(f: (d: { url: string }) => unknown) {
          wc.windowOpenHandler = f;
        },
      }) as BrowserWindow['webContents'];
      this.webContents = wc;
      h.windows.push({ opts, webContents: wc, loaded: null });
    }
    loadFile(f: string) {
      h.windows.at(-1)!.loaded = f;
      return Promise.resolve();
    }
    isDestroyed() {
      return false;
    }
  }
  const ipcMain = {
    handle: (ch: string, fn: (event: unknown, req: unknown) => Promise<unknown>) => void h.ipcHandlers.set(ch, fn),
    removeHandler: (ch: string) => void h.ipcHandlers.delete(ch),
  };
  const session = {
    defaultSession: {
      setPermissionRequestHandler: (f: typeof h.permissionHandler) => void (h.permissionHandler = f),
      setPermissionCheckHandler: () => {},
      webRequest: { onHeadersReceived: (f: typeof h.headersHook) => void (h.headersHook = f) },
    },
  };
  const Menu = { setApplicationMenu: vi.fn() };
  // No OS key store here: the demo keeps its key file, as it does headless.
  const safeStorage = {
    isEncryptionAvailable: () => false,
    encryptString: (s: string) => Buffer.from(s),
    decryptString: (b: Buffer) => b.toString(),
    getSelectedStorageBackend: () => 'basic_text',
  };
  const all = { app, BrowserWindow, ipcMain, session, Menu, safeStorage };
  return { ...all, default: all };
});

await import('../../src-main/electron/main');
h.ready!();
await vi.waitFor(() => expect(h.windows).toHaveLength(1), { timeout: 10_000 });
const win = h.windows[0]!;
const wc = win.webContents as EventEmitter & { id: number; windowOpenHandler: (d: { url: string }) => { action: string } };
const rendererUrl = new URL(`file://${String(win.loaded)}`).href;

afterAll(async () => {
  // before-quit stops the core and the demo agents, then quits.
  const e = { preventDefault: vi.fn() };
  h.appEvents.emit('before-quit', e);
  const { app } = await import('electron');
  await vi.waitFor(() => expect(app.quit).toHaveBeenCalled(), { timeout: 10_000 });
  const { rmSync } = await import('node:fs');
  rmSync(h.userData, { recursive: true, force: true });
});

describe('Electron main (binary mocked)', () => {
  it('enables the sandbox and locks the window down', () => {
    expect(h.sandboxEnabled).toBe(true);
    const prefs = win.opts.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false, webviewTag: false });
    expect(String(prefs.preload)).toMatch(/out\/preload\/index\.cjs$/);
    expect(String(win.loaded)).toMatch(/out\/renderer\/index\.html$/);
  });

  it('denies window.open and navigation away from the console', () => {
    expect(wc.windowOpenHandler({ url: 'https://example.com' })).toEqual({ action: 'deny' });
    const away = { preventDefault: vi.fn() };
    wc.emit('will-navigate', away, 'https://example.com/');
    expect(away.preventDefault).toHaveBeenCalled();
    const inside = { preventDefault: vi.fn() };
    wc.emit('will-navigate', inside, `${rendererUrl}#/machine/im-1`);
    expect(inside.preventDefault).not.toHaveBeenCalled();
  });

  it('sets the CSP header and refuses permission requests', () => {
    let headers: Record<string, string[]> = {};
    h.headersHook!({ responseHeaders: {} }, (r) => (headers = (r as { responseHeaders: Record<string, string[]> }).responseHeaders));
    expect(headers['Content-Security-Policy']?.[0]).toContain("default-src 'none'");
    let granted: boolean | null = null;
    h.permissionHandler!(null, 'media', (ok) => (granted = ok));
    expect(granted).toBe(false);
  });

  it('carries every command over IPC and refuses other senders', async () => {
    const signIn = [AUTH_CHANNELS.login, AUTH_CHANNELS.logout, AUTH_CHANNELS.session, AUTH_CHANNELS.activity];
    const mine = [...COMMAND_NAMES.map(commandChannel), ...signIn];
    await vi.waitFor(() => expect([...h.ipcHandlers.keys()]).toEqual(expect.arrayContaining(mine)), { timeout: 15_000 });
    // Nothing else but sign-in and first-start setup channels (pc:auth:*).
    expect([...h.ipcHandlers.keys()].filter((ch) => !mine.includes(ch) && !ch.startsWith('pc:auth:'))).toEqual([]);
    const call = h.ipcHandlers.get(commandChannel('plant.info'))!;
    const ok = (await call({ sender: { id: wc.id }, senderFrame: { url: rendererUrl } }, {})) as {
      ok: boolean;
      value: { simulated: boolean };
    };
    expect(ok.ok).toBe(true);
    expect(ok.value.simulated).toBe(true);
    const foreign = await call({ sender: { id: wc.id }, senderFrame: { url: 'https://evil.example/' } }, {});
    expect(foreign).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const otherWindow = await call({ sender: { id: 999 }, senderFrame: { url: rendererUrl } }, {});
    expect(otherWindow).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const bad = await h.ipcHandlers.get(commandChannel('machines.get'))!(
      { sender: { id: wc.id }, senderFrame: { url: rendererUrl } },
      { machineId: 5 },
    );
    expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  }, 20_000);

  it('views the demo plant without sign-in, signs its maintenance account in over IPC, never hands out the token', async () => {
    const trusted = { sender: { id: wc.id }, senderFrame: { url: rendererUrl } };
    const ipc = (channel: string, req?: unknown) => h.ipcHandlers.get(channel)!(trusted, req);
    const info = (await ipc(commandChannel('plant.info'), {})) as { value: { caller: unknown } };
    expect(info.value.caller).toEqual({ user: 'local-viewer', role: 'viewer', origin: 'local' });
    expect(await ipc(commandChannel('points.write'), { machineId: 'im-1', pointId: 'zone1-sp', value: 210 })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    expect(await ipc(AUTH_CHANNELS.session)).toMatchObject({ loginRequired: false, session: null, caller: { role: 'viewer' } });
    const foreign = await h.ipcHandlers.get(AUTH_CHANNELS.login)!(
      { sender: { id: wc.id }, senderFrame: { url: 'https://evil.example/' } },
      { name: 'maintenance', password: 'maintenance-demo' },
    );
    expect(foreign).toMatchObject({ ok: false, code: 'FORBIDDEN' });
    const login = await ipc(AUTH_CHANNELS.login, { name: 'maintenance', password: 'maintenance-demo' });
    expect(login).toMatchObject({ ok: true, session: { user: 'maintenance', role: 'maintenance', origin: 'local' } });
    expect(Object.keys((login as { session: object }).session).sort()).toEqual(
      ['createdAt', 'expiresAt', 'id', 'idleExpiresAt', 'idleLockMs', 'origin', 'role', 'user'].sort(),
    );
    const signed = (await ipc(commandChannel('session.info'), {})) as { value: { caller: unknown; session: { hasPin: boolean } } };
    expect(signed.value.caller).toMatchObject({ user: 'maintenance', role: 'maintenance', origin: 'local' });
    expect(signed.value.session.hasPin).toBe(true);
    expect(await ipc(AUTH_CHANNELS.logout)).toEqual({ ok: true, ended: true });
    expect(await ipc(commandChannel('plant.info'), {})).toMatchObject({ value: { caller: { role: 'viewer' } } });
  }, 20_000);
});
