/** Picks the transport: Electron IPC when the preload exposed its bridge, else the WebSocket. */
import { BRIDGE_KEY } from '../../../src-preload/channels';
import type { Bridge, Transport } from '../../../src-preload/contract';
import { createIpcTransport } from './ipc';
import { createWebSocketTransport, type ClosableTransport } from './websocket';

export { createIpcTransport } from './ipc';
export { createWebSocketTransport } from './websocket';

/** The WebSocket API address of the page's own origin: ws(s)://host/api. */
export function apiUrl(loc: Pick<Location, 'protocol' | 'host'>): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/api`;
}

/** The transport for this window; in web mode also its handle, which connects only when told (sign-in decides when). */
export function createTransport(win: Window = window): { transport: Transport; web: ClosableTransport | null } {
  const bridge = (win as unknown as Record<string, Bridge | undefined>)[BRIDGE_KEY];
  if (bridge) return { transport: createIpcTransport(bridge), web: null };
  const web = createWebSocketTransport(apiUrl(win.location), { lazy: true });
  return { transport: web, web };
}
