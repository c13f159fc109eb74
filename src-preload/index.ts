/**
 * The contextBridge: exposes exactly the console API's commands as task-level methods, a
 * subscription per known event stream, and the window's sign-in (`auth`). No raw ipcRenderer,
 * no generic send(channel). The session token never comes here: main keeps it.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  AUTH_CHANNELS,
  SETUP_CHANNELS,
  BRIDGE_KEY,
  COMMAND_NAMES,
  EVENT_NAMES,
  commandChannel,
  eventChannel,
  type EventName,
} from './channels';

const api: Record<string, unknown> = {};
for (const name of COMMAND_NAMES) {
  const channel = commandChannel(name);
  api[name] = (request: unknown) => ipcRenderer.invoke(channel, request);
}

/** Listens on `channel`; returns the function that stops listening. */
function listen(channel: string, handler: (payload: unknown) => void): () => void {
  if (typeof handler !== 'function') throw new Error('handler must be a function');
  const listener = (_e: IpcRendererEvent, payload: unknown) => handler(payload);
  ipcRenderer.on(channel, listener);
  return () => {
    ipcRenderer.removeListener(channel, listener);
  };
}

const known = new Set<string>(EVENT_NAMES);
api.on = (name: EventName, handler: (payload: unknown) => void): (() => void) => {
  if (!known.has(name)) throw new Error(`Unknown event stream "${String(name)}"`);
  return listen(eventChannel(name), handler);
};

// Only the fields of a sign-in cross: nothing else the page might attach.
api.auth = Object.freeze({
  login: (request: { name?: unknown; password?: unknown; joinCode?: unknown }) =>
    ipcRenderer.invoke(AUTH_CHANNELS.login, {
      name: request?.name,
      password: request?.password,
      ...(request?.joinCode !== undefined ? { joinCode: request.joinCode } : {}),
    }),
  logout: () => ipcRenderer.invoke(AUTH_CHANNELS.logout),
  session: () => ipcRenderer.invoke(AUTH_CHANNELS.session),
  activity: () => ipcRenderer.invoke(AUTH_CHANNELS.activity),
  onEnded: (handler: (payload: unknown) => void) => listen(AUTH_CHANNELS.ended, handler),
  // First start: no admin account yet (src-main/api/ipc-setup.ts). Only the form's fields cross.
  setupStatus: () => ipcRenderer.invoke(SETUP_CHANNELS.status),
  setup: (request: { name?: unknown; password?: unknown; pin?: unknown }) =>
    ipcRenderer.invoke(SETUP_CHANNELS.setup, {
      name: request?.name,
      password: request?.password,
      ...(request?.pin !== undefined ? { pin: request.pin } : {}),
    }),
});

contextBridge.exposeInMainWorld(BRIDGE_KEY, Object.freeze(api));
