/**
 * The contextBridge: exposes exactly the console API's commands as task-level methods and a
 * subscription per known event stream. No raw ipcRenderer, no generic send(channel).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { BRIDGE_KEY, COMMAND_NAMES, EVENT_NAMES, commandChannel, eventChannel, type EventName } from './channels';

const api: Record<string, unknown> = {};
for (const name of COMMAND_NAMES) {
  const channel = commandChannel(name);
  api[name] = (request: unknown) => ipcRenderer.invoke(channel, request);
}

const known = new Set<string>(EVENT_NAMES);
api.on = (name: EventName, handler: (payload: unknown) => void): (() => void) => {
  if (!known.has(name)) throw new Error(`Unknown event stream "${String(name)}"`);
  if (typeof handler !== 'function') throw new Error('handler must be a function');
  const channel = eventChannel(name);
  const listener = (_e: IpcRendererEvent, payload: unknown) => handler(payload);
  ipcRenderer.on(channel, listener);
  return () => {
    ipcRenderer.removeListener(channel, listener);
  };
};

contextBridge.exposeInMainWorld(BRIDGE_KEY, Object.freeze(api));
