/** Picks the transport: Electron IPC when the preload exposed its bridge, else the WebSocket. */
import { BRIDGE_KEY } from '../../../src-preload/channels';
import type { Bridge, Transport } from '../../../src-preload/contract';
import { createIpcAuthPort, createWebAuthPort, type AuthPort } from './auth-port';
import { createIpcTransport } from './ipc';
import { createWebSocketTransport, type ClosableTransport } from './websocket';

export { createIpcTransport } from './ipc';
export { createWebSocketTransport } from './websocket';

/** The WebSocket API address of the page's own origin: ws(s)://host/api. */
export function apiUrl(loc: Pick<Location, 'protocol' | 'host'>): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/api`;
}

/**
 * The transport for this window and its sign-in; in web mode also the WebSocket's handle,
 * which connects only when told (sign-in decides when).
 */
export function createTransport(win: Window = window): { transport: Transport; web: ClosableTransport | null; auth: AuthPort } {
  const bridge = (win as unknown as Record<string, Bridge | undefined>)[BRIDGE_KEY];
  if (bridge) {
    const ipc = createIpcTransport(bridge);
    return { transport: ipc, web: null, auth: createIpcAuthPort(bridge.auth, ipc) };
  }
  const web = createWebSocketTransport(apiUrl(win.location), { lazy: true });
  return { transport: web, web, auth: createWebAuthPort(web) };
}
