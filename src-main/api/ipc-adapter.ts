/**
 * The Electron IPC transport of the console API, written against a minimal ipcMain-like
 * interface so that it runs (and is tested) without Electron. Every call is checked in order:
 * sender frame, then who the window acts as (ipc-session.ts: its session, the viewer, or
 * nobody), then schema (in the API), then role (in the API).
 */
import { COMMAND_NAMES, EVENT_NAMES, commandChannel, eventChannel, type Caller, type Result } from '../../src-preload/contract';
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';
import type { CallerResolution } from './ipc-session';
import type { ConsoleApi } from './service';

/** What the adapter needs to know about the sender of an IPC message. */
export interface IpcSender {
  /** URL of the frame that sent the message (null when the frame is gone). */
  frameUrl: string | null;
  /** Identifies the WebContents; compared with the console window's. */
  webContentsId: number;
}

/** The subset of Electron's ipcMain the adapter uses. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: { sender: IpcSender }, request: unknown) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

export interface IpcAdapterOptions {
  ipcMain: IpcMainLike;
  api: ConsoleApi;
  log: Logger;
  /** True when the message comes from the console's own window and page. */
  isTrustedSender(sender: IpcSender): boolean;
  /** Sends an event to the console window(s). */
  emit(channel: string, payload: unknown): void;
  /**
   * Who each command acts as (IpcSession.callerFor). Required, with no fallback: a window whose
   * resolver was forgotten must not act as anyone.
   */
  callerFor: (command: string) => CallerResolution;
  /** Who the window receives events as now, or null when it may see none (IpcSession.eventCaller). Required too. */
  eventCaller: () => Caller | null;
}

/** Registers one handler per command and forwards every event stream; returns an unregister. */
export function attachIpcAdapter(opts: IpcAdapterOptions): () => void {
  // Plain JavaScript callers get no compile error: refuse at once rather than serve nobody's calls.
  if (typeof opts.callerFor !== 'function' || typeof opts.eventCaller !== 'function') {
    throw new ConsoleError('BAD_REQUEST', 'The IPC adapter needs callerFor and eventCaller: who the window acts as is never assumed');
  }
  const { callerFor, eventCaller } = opts;
  for (const name of COMMAND_NAMES) {
    opts.ipcMain.handle(commandChannel(name), async (event, request): Promise<Result<unknown>> => {
      if (!opts.isTrustedSender(event.sender)) {
        opts.log.log('warn', 'IPC call refused: untrusted sender', { command: name, frame: event.sender.frameUrl });
        return { ok: false, error: { code: 'FORBIDDEN', message: 'Calls are only accepted from the console window' } };
      }
      const who = callerFor(name);
      if ('error' in who) return { ok: false, error: who.error };
      return opts.api.handle(who.caller, name, request);
    });
  }
  // Each event passes the API's gate for whoever the window is at that moment: a window that must
  // sign in to see anything gets no plant data before it has, and each role only its streams.
  const offs = EVENT_NAMES.map((name) => opts.api.subscribe(name, (payload) => opts.emit(eventChannel(name), payload), eventCaller));
  return () => {
    for (const name of COMMAND_NAMES) opts.ipcMain.removeHandler(commandChannel(name));
    for (const off of offs) off();
  };
}
