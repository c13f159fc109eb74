/**
 * First-start setup in the Electron window (auth/setup.ts has the rule; web mode uses
 * web/setup-route.ts). The window is the local console, so it is offered there whenever no
 * enabled admin account exists. Plain Node over an ipcMain-like interface, like ipc-adapter.ts:
 * only the console's own window and page may call (the same `isTrustedSender` check), the
 * request is schema-checked (FirstStartSetup.create), answers are result envelopes. Creating the
 * account does not sign in: the window then signs in with it (ipc-session.ts).
 */
import { SETUP_CHANNELS } from '../../src-preload/channels';
import type { Result } from '../../src-preload/contract';
import type { FirstStartSetup } from '../auth/setup';
import { ConsoleError, toErrorInfo } from '../core/errors';
import type { Logger } from '../core/log';
import type { IpcMainLike, IpcSender } from './ipc-adapter';

/** Options of the window's setup channels. */
export interface IpcSetupOptions {
  ipcMain: IpcMainLike;
  /** null: nothing to set up (the SIMULATED demo); status says so and setup is refused. */
  setup: FirstStartSetup | null;
  log: Logger;
  /** True when the message comes from the console's own window and page. */
  isTrustedSender(sender: IpcSender): boolean;
}

/** What the window learns about setup. */
export interface SetupStatus {
  setupNeeded: boolean;
}

/** The created account as the window may see it. */
export interface SetupDone {
  name: string;
  role: string;
  hasPin: boolean;
}

const UNTRUSTED = { ok: false, error: { code: 'FORBIDDEN', message: 'Calls are only accepted from the console window' } } as const;

/** Registers the setup channels; returns the unregister. */
export function attachIpcSetup(opts: IpcSetupOptions): () => void {
  const route = <T>(channel: string, run: (request: unknown) => Promise<Result<T>> | Result<T>): void => {
    opts.ipcMain.handle(channel, async (event, request) => {
      if (!opts.isTrustedSender(event.sender)) {
        opts.log.log('warn', 'IPC setup call refused: untrusted sender', { channel, frame: event.sender.frameUrl });
        return UNTRUSTED;
      }
      return run(request);
    });
  };
  route<SetupStatus>(SETUP_CHANNELS.status, () => ({ ok: true, value: { setupNeeded: opts.setup?.needed() ?? false } }));
  route<SetupDone>(SETUP_CHANNELS.setup, async (request) => {
    try {
      if (!opts.setup) throw new ConsoleError('FORBIDDEN', 'This console needs no setup');
      const account = await opts.setup.create(request, { user: null, role: null, origin: 'local', sessionId: null }, { via: 'window' });
      return { ok: true, value: { name: account.name, role: account.role, hasPin: account.hasPin } };
    } catch (err) {
      const info = toErrorInfo(err);
      if (info.code === 'INTERNAL') {
        opts.log.log('error', 'First-start setup failed', { error: info.message });
        return { ok: false, error: { code: 'INTERNAL', message: 'Setup failed inside the console; the details are in its log' } };
      }
      return { ok: false, error: info };
    }
  });
  return () => {
    opts.ipcMain.removeHandler(SETUP_CHANNELS.status);
    opts.ipcMain.removeHandler(SETUP_CHANNELS.setup);
  };
}
