/**
 * The UI's snapshot clock: bumped at most every 100 ms, and only when new live data arrived.
 * Components that read ring buffers subscribe to it instead of to each sample.
 */
import { create } from 'zustand';

export interface TickState {
  tick: number;
  actions: { bump(): void };
}

export const useTickStore = create<TickState>()((set, get) => ({
  tick: 0,
  actions: {
    bump() {
      set({ tick: get().tick + 1 });
    },
  },
}));

export const selectTick = (s: TickState): number => s.tick;
