/** Picks the transport: Electron IPC when the preload exposed its bridge, else the WebSocket. */
import { BRIDGE_KEY } from '../../../src-preload/channels';
import type { Bridge, Transport } from '../../../src-preload/contract';
import { createIpcTransport } from './ipc';
import { createWebSocketTransport } from './websocket';

export { createIpcTransport } from './ipc';
export { createWebSocketTransport } from './websocket';

/** The WebSocket API address of the page's own origin: ws(s)://host/api. */
export function apiUrl(loc: Pick<Location, 'protocol' | 'host'>): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/api`;
}

/** The transport for this window. */
export function createTransport(win: Window = window): Transport {
  const bridge = (win as unknown as Record<string, Bridge | undefined>)[BRIDGE_KEY];
  if (bridge) return createIpcTransport(bridge);
  return createWebSocketTransport(apiUrl(win.location));
}
