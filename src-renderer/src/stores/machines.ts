/**
 * Machine snapshots (from machines.list, then machines.update events, applied in batches at
 * ≤ 10 Hz) and each machine's point metadata (from machines.get, fetched once).
 */
import { create } from 'zustand';
import type { MachineDetail, MachineSnapshot, PointMeta, Transport } from '../../../src-preload/contract';

export interface MachineMeta {
  points: PointMeta[];
  pointById: Record<string, PointMeta>;
  device: MachineDetail['device'];
}

export interface MachinesState {
  order: string[];
  byId: Record<string, MachineSnapshot>;
  meta: Record<string, MachineMeta>;
  loaded: boolean;
  loadError: string | null;
  actions: {
    /** Loads the list, then the metadata of machines not known yet. */
    load(transport: Transport): Promise<boolean>;
    loadMeta(transport: Transport, machineId: string): Promise<boolean>;
    /** Applies snapshots; an older snapshot never replaces a newer one. */
    applySnapshots(snapshots: readonly MachineSnapshot[]): void;
  };
}

/** Metadata in the shape the screens use. */
export function toMeta(detail: MachineDetail): MachineMeta {
  const pointById: Record<string, PointMeta> = {};
  for (const p of detail.points) pointById[p.id] = p;
  return { points: detail.points, pointById, device: detail.device };
}

export const useMachinesStore = create<MachinesState>()((set, get) => ({
  order: [],
  byId: {},
  meta: {},
  loaded: false,
  loadError: null,
  actions: {
    async load(transport) {
      const res = await transport.call('machines.list', {});
      if (!res.ok) {
        set({ loadError: `${res.error.code}: ${res.error.message}` });
        return false;
      }
      const order = res.value.map((m) => m.id);
      set({ order, loaded: true, loadError: null });
      get().actions.applySnapshots(res.value);
      const missing = order.filter((id) => !get().meta[id]);
      const results = await Promise.all(missing.map((id) => get().actions.loadMeta(transport, id)));
      return results.every(Boolean);
    },
    async loadMeta(transport, machineId) {
      const res = await transport.call('machines.get', { machineId });
      if (!res.ok) return false;
      set({ meta: { ...get().meta, [machineId]: toMeta(res.value) } });
      get().actions.applySnapshots([res.value.snapshot]);
      return true;
    },
    applySnapshots(snapshots) {
      if (snapshots.length === 0) return;
      const cur = get();
      let byId: Record<string, MachineSnapshot> | null = null;
      let order: string[] | null = null;
      for (const s of snapshots) {
        const prev = (byId ?? cur.byId)[s.id];
        if (prev && prev.ts > s.ts) continue;
        byId ??= { ...cur.byId };
        byId[s.id] = s;
        if (!cur.order.includes(s.id) && !(order ?? []).includes(s.id)) (order ??= [...cur.order]).push(s.id);
      }
      if (byId) set(order ? { byId, order } : { byId });
    },
  },
}));

export const selectOrder = (s: MachinesState): string[] => s.order;
export const selectMachinesLoaded = (s: MachinesState): boolean => s.loaded;
export const selectMachinesLoadError = (s: MachinesState): string | null => s.loadError;
export const selectMachinesActions = (s: MachinesState): MachinesState['actions'] => s.actions;
/** Selector of one machine's snapshot. */
export const machineById =
  (id: string) =>
  (s: MachinesState): MachineSnapshot | undefined =>
    s.byId[id];
/** Selector of one machine's point metadata. */
export const metaById =
  (id: string) =>
  (s: MachinesState): MachineMeta | undefined =>
    s.meta[id];
/** Names of offline machines, in plant order (use with useShallow). */
export const selectOfflineNames = (s: MachinesState): string[] =>
  s.order
    .map((id) => s.byId[id])
    .filter((m): m is MachineSnapshot => m?.state === 'offline')
    .map((m) => m.name);
