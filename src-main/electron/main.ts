/**
 * The Electron main process: the only place that imports electron. It starts the plant core
 * (plain Node, shared with web mode), opens one locked-down window and carries the API over IPC,
 * with the window's sign-in (api/ipc-session.ts) deciding who each call acts as.
 */
import { app, BrowserWindow, ipcMain, Menu, session } from 'electron';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { attachIpcAdapter, type IpcMainLike, type IpcSender } from '../api/ipc-adapter';
import { IpcSession } from '../api/ipc-session';
import { attachIpcSetup } from '../api/ipc-setup';
import { startPlant, type RunningPlant } from '../app/bootstrap';
import { packageRoot } from '../config/load';
import { consoleLogger } from '../core/log';
import { CSP } from '../web/server';
import { parseElectronArgs } from './args';
import { safeStorageKeyStore } from './safe-storage';

// The build output sits in the package (or app.asar) next to profiles/.
const outDir = join(packageRoot(), 'out');
const rendererIndex = join(outDir, 'renderer/index.html');
const preloadPath = join(outDir, 'preload/index.cjs');
const rendererUrl = pathToFileURL(rendererIndex).href;

const log = consoleLogger('info');
const args = parseElectronArgs(process.argv.slice(1));
let plant: RunningPlant | null = null;
let win: BrowserWindow | null = null;
let detach: (() => void) | null = null;
let windowSession: IpcSession | null = null;
let detachSetup: (() => void) | null = null;

app.enableSandbox();
if (!app.requestSingleInstanceLock()) app.quit();

function createWindow(): BrowserWindow {
  const w = new BrowserWindow({
    width: 1366,
    height: 768,
    minWidth: 1024,
    minHeight: 600,
    kiosk: args.kiosk,
    backgroundColor: '#e8eaed',
    show: false,
    webPreferences: {
      preload: preloadPath,
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webviewTag: false,
      spellcheck: false,
      devTools: !app.isPackaged && !args.kiosk,
    },
  });
  w.once('ready-to-show', () => w.show());
  // No new windows, no navigation away from the console page.
  w.webContents.setWindowOpenHandler(({ url }) => {
    log.log('warn', 'Blocked window.open', { url });
    return { action: 'deny' };
  });
  w.webContents.on('will-navigate', (e, url) => {
    if (!url.startsWith(rendererUrl)) {
      e.preventDefault();
      log.log('warn', 'Blocked navigation', { url });
    }
  });
  w.webContents.on('will-attach-webview', (e) => e.preventDefault());
  void w.loadFile(rendererIndex);
  return w;
}

function isTrustedSender(sender: IpcSender): boolean {
  return win !== null && sender.webContentsId === win.webContents.id && sender.frameUrl !== null && sender.frameUrl.startsWith(rendererUrl);
}

app.on('web-contents-created', (_e, contents) => {
  contents.on('will-redirect', (e) => e.preventDefault());
});

void app.whenReady().then(async () => {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  ses.setPermissionCheckHandler(() => false);
  ses.webRequest.onHeadersReceived((details, cb) => {
    cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  try {
    // The store's key is wrapped by the OS key store (safeStorage) when one is available.
    plant = await startPlant({
      configPath: args.config,
      dataDir: args.dataDir ?? join(app.getPath('userData'), 'data'),
      log,
      osKeyStore: safeStorageKeyStore(),
    });
  } catch (err) {
    log.log('error', `Cannot start the plant core: ${(err as Error).message}`);
    app.exit(1);
    return;
  }
  // An operator panel in kiosk mode has no menus to escape through.
  if (args.kiosk) Menu.setApplicationMenu(null);
  win = createWindow();
  const ipc: IpcMainLike = {
    handle: (channel, listener) =>
      ipcMain.handle(channel, (event, request: unknown) =>
        listener({ sender: { frameUrl: event.senderFrame?.url ?? null, webContentsId: event.sender.id } }, request),
      ),
    removeHandler: (channel) => ipcMain.removeHandler(channel),
  };
  const emit = (channel: string, payload: unknown): void => {
    if (win && !win.isDestroyed()) win.webContents.send(channel, payload);
  };
  const signIn = new IpcSession({
    ipcMain: ipc,
    auth: plant.auth,
    log,
    isTrustedSender,
    emit,
    viewWithoutLogin: plant.config.access.localViewWithoutLogin,
  });
  windowSession = signIn;
  detach = attachIpcAdapter({
    ipcMain: ipc,
    api: plant.api,
    log,
    callerFor: (command) => signIn.callerFor(command),
    eventCaller: () => signIn.eventCaller(),
    isTrustedSender,
    emit,
  });
  // First start of a configured plant: the window offers to create the admin account.
  detachSetup = attachIpcSetup({ ipcMain: ipc, setup: plant.setup, log, isTrustedSender });
  win.on('closed', () => {
    win = null;
  });
});

let quitting = false;
app.on('before-quit', (e) => {
  if (quitting || !plant) return;
  e.preventDefault();
  quitting = true;
  detach?.();
  detachSetup?.();
  // The window's session ends with the app (audited), rather than lingering until it idles out.
  windowSession?.close();
  void plant.stop().finally(() => app.quit());
});
app.on('window-all-closed', () => app.quit());
