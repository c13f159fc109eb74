/** Transport status as the UI sees it: drives the "not live" banner and stale styling. */
import { create } from 'zustand';
import type { Transport, TransportStatus } from '../../../src-preload/contract';

export type CoreState = 'starting' | 'running' | 'stopping' | 'unknown';

export interface ConnectionState {
  status: TransportStatus;
  /** When the status last changed (ms since epoch, local clock). */
  since: number;
  kind: Transport['kind'] | null;
  /** False until the first connection: "connecting" then is not yet "lost". */
  everConnected: boolean;
  core: CoreState;
  actions: {
    setStatus(status: TransportStatus, now?: number): void;
    setKind(kind: Transport['kind']): void;
    setCore(core: CoreState): void;
  };
}

export const useConnectionStore = create<ConnectionState>()((set, get) => ({
  status: 'connecting',
  since: Date.now(),
  kind: null,
  everConnected: false,
  core: 'unknown',
  actions: {
    setStatus(status, now = Date.now()) {
      if (get().status !== status) set({ status, since: now, everConnected: get().everConnected || status === 'connected' });
    },
    setKind(kind) {
      set({ kind });
    },
    setCore(core) {
      set({ core });
    },
  },
}));

export const selectConnectionStatus = (s: ConnectionState): TransportStatus => s.status;
export const selectIsLive = (s: ConnectionState): boolean => s.status === 'connected';
export const selectEverConnected = (s: ConnectionState): boolean => s.everConnected;
export const selectConnectionSince = (s: ConnectionState): number => s.since;
export const selectConnectionActions = (s: ConnectionState): ConnectionState['actions'] => s.actions;
