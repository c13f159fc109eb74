/** Plant identity, shift and clock: what the header shows on every screen. */
import { create } from 'zustand';
import type { PlantInfo, Transport } from '../../../src-preload/contract';

export interface PlantState {
  info: PlantInfo | null;
  loadError: string | null;
  /** Core clock minus local clock; "ago" times are measured against the core's timestamps. */
  clockOffsetMs: number;
  /** Plant time now (core clock), advanced once a second. */
  now: number;
  actions: {
    load(transport: Transport): Promise<boolean>;
    tick(localNow?: number): void;
  };
}

/** Skew below this is latency noise: ignoring it keeps the clock from jumping. */
const SKEW_IGNORED_MS = 1500;

export const usePlantStore = create<PlantState>()((set, get) => ({
  info: null,
  loadError: null,
  clockOffsetMs: 0,
  now: Date.now(),
  actions: {
    async load(transport) {
      const sentAt = Date.now();
      const res = await transport.call('plant.info', {});
      if (!res.ok) {
        set({ loadError: `${res.error.code}: ${res.error.message}` });
        return false;
      }
      const receivedAt = Date.now();
      const skew = res.value.serverTime - (sentAt + receivedAt) / 2;
      const clockOffsetMs = Math.abs(skew) < SKEW_IGNORED_MS ? 0 : skew;
      set({ info: res.value, loadError: null, clockOffsetMs, now: receivedAt + clockOffsetMs });
      return true;
    },
    tick(localNow = Date.now()) {
      set({ now: localNow + get().clockOffsetMs });
    },
  },
}));

export const selectPlantInfo = (s: PlantState): PlantInfo | null => s.info;
export const selectPlantName = (s: PlantState): string | null => s.info?.name ?? null;
export const selectTimezone = (s: PlantState): string => s.info?.timezone ?? 'UTC';
export const selectSimulated = (s: PlantState): boolean => s.info?.simulated ?? false;
/** The SIMULATED demo's accounts (empty for a configured plant). */
export const selectDemoAccounts = (s: PlantState) => s.info?.demoAccounts;
export const selectShift = (s: PlantState): PlantInfo['shift'] | null => s.info?.shift ?? null;
export const selectNow = (s: PlantState): number => s.now;
export const selectPlantLoadError = (s: PlantState): string | null => s.loadError;
export const selectPlantActions = (s: PlantState): PlantState['actions'] => s.actions;
