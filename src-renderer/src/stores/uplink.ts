/**
 * The uplink: what leaves the plant (uplink.points, from the profiles) and its live state
 * (uplink.status, then every uplink.update). Loaded at every (re)connect of the transport; the
 * banners read it on every screen, the "What leaves this plant" page shows all of it.
 */
import { create } from 'zustand';
import type { Transport, UplinkPoints, UplinkStatus } from '../../../src-preload/contract';

export interface UplinkState {
  status: UplinkStatus | null;
  points: UplinkPoints | null;
  loadError: string | null;
  actions: {
    load(transport: Transport): Promise<boolean>;
    applyStatus(status: UplinkStatus): void;
  };
}

/** A light shape check of an uplink.update payload (the transport already parsed JSON). */
export function looksLikeUplinkStatus(x: unknown): x is UplinkStatus {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Partial<UplinkStatus>;
  return typeof s.state === 'string' && typeof s.configured === 'boolean' && typeof s.outbox === 'object' && s.outbox !== null;
}

export const useUplinkStore = create<UplinkState>()((set) => ({
  status: null,
  points: null,
  loadError: null,
  actions: {
    async load(transport) {
      const [status, points] = await Promise.all([transport.call('uplink.status', {}), transport.call('uplink.points', {})]);
      if (!status.ok || !points.ok) {
        const err = !status.ok ? status.error : !points.ok ? points.error : null;
        set({ loadError: err ? `${err.code}: ${err.message}` : 'unknown error' });
        return false;
      }
      set({ status: status.value, points: points.value, loadError: null });
      return true;
    },
    applyStatus(status) {
      set({ status });
    },
  },
}));

/** Feeds the store from `transport`: a load at every connect, then the live updates; returns the stop. */
export function startUplinkFeed(transport: Transport): () => void {
  const actions = useUplinkStore.getState().actions;
  const offUpdate = transport.subscribe('uplink.update', (payload) => {
    if (looksLikeUplinkStatus(payload)) actions.applyStatus(payload);
  });
  const offStatus = transport.onStatus((s) => {
    if (s === 'connected') void actions.load(transport);
  });
  return () => {
    offUpdate();
    offStatus();
  };
}

/** How long the uplink has been without a broker connection (ms), or 0 while connected or not configured. */
export function downForMs(s: UplinkStatus | null, now: number): number {
  if (!s || !s.configured || s.downSince === null || s.state === 'online' || s.state === 'closed') return 0;
  return Math.max(0, now - s.downSince);
}

export const selectUplinkStatus = (s: UplinkState): UplinkStatus | null => s.status;
export const selectUplinkPoints = (s: UplinkState): UplinkPoints | null => s.points;
export const selectUplinkLoadError = (s: UplinkState): string | null => s.loadError;
export const selectUplinkActions = (s: UplinkState): UplinkState['actions'] => s.actions;
