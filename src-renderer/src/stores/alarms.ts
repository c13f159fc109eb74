/**
 * The plant's current alarms: loaded with alarms.list at every (re)connect, then replaced by
 * each alarms.update summary. Acknowledging goes through the core; the list changes when the
 * core says so, never optimistically (an alarm must not look acknowledged when it is not).
 */
import { create } from 'zustand';
import type { Alarm, AlarmSummary, Transport } from '../../../src-preload/contract';
import { compareAlarms } from '../lib/alarms';

export interface AlarmsState {
  alarms: Alarm[];
  loaded: boolean;
  loadError: string | null;
  /** Ids with an acknowledge request on its way. */
  pending: Record<string, true>;
  ackError: string | null;
  /** The alarm page's machine filter (null: every machine). */
  filterMachineId: string | null;
  /** Bumped on every applied summary: the history refetches on it. */
  version: number;
  actions: {
    load(transport: Transport): Promise<boolean>;
    apply(summary: AlarmSummary): void;
    acknowledge(transport: Transport, alarmIds: readonly string[]): Promise<boolean>;
    setFilter(machineId: string | null): void;
  };
}

/** A light shape check of an alarms.update payload (the transport already parsed JSON). */
export function looksLikeSummary(x: unknown): x is AlarmSummary {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Partial<AlarmSummary>;
  return (
    Array.isArray(s.alarms) &&
    s.alarms.every(
      (a: unknown) => typeof a === 'object' && a !== null && typeof (a as Alarm).id === 'string' && typeof (a as Alarm).state === 'string',
    )
  );
}

export const useAlarmsStore = create<AlarmsState>()((set, get) => ({
  alarms: [],
  loaded: false,
  loadError: null,
  pending: {},
  ackError: null,
  filterMachineId: null,
  version: 0,
  actions: {
    async load(transport) {
      const res = await transport.call('alarms.list', {});
      if (!res.ok) {
        set({ loadError: `${res.error.code}: ${res.error.message}` });
        return false;
      }
      get().actions.apply(res.value);
      return true;
    },
    apply(summary) {
      set({ alarms: [...summary.alarms].sort(compareAlarms), loaded: true, loadError: null, version: get().version + 1 });
    },
    async acknowledge(transport, alarmIds) {
      const ids = alarmIds.filter((id) => !get().pending[id]);
      if (ids.length === 0) return true;
      set({ pending: { ...get().pending, ...Object.fromEntries(ids.map((id) => [id, true as const])) }, ackError: null });
      let ok = false;
      try {
        const res = await transport.call('alarms.ack', { alarmIds: ids });
        if (!res.ok) set({ ackError: `Not acknowledged: ${res.error.message}` });
        else if (res.value.unknown.length > 0) set({ ackError: `No longer known to the console: ${res.value.unknown.join(', ')}` });
        ok = res.ok;
      } catch (err) {
        set({ ackError: `Not acknowledged: ${err instanceof Error ? err.message : String(err)}` });
      } finally {
        const pending = { ...get().pending };
        for (const id of ids) delete pending[id];
        set({ pending });
      }
      return ok;
    },
    setFilter(filterMachineId) {
      set({ filterMachineId });
    },
  },
}));

const EMPTY: Alarm[] = [];

export const selectAlarms = (s: AlarmsState): Alarm[] => s.alarms;
export const selectAlarmsLoaded = (s: AlarmsState): boolean => s.loaded;
export const selectAlarmsLoadError = (s: AlarmsState): string | null => s.loadError;
export const selectAlarmPending = (s: AlarmsState): Record<string, true> => s.pending;
export const selectAckError = (s: AlarmsState): string | null => s.ackError;
export const selectAlarmFilter = (s: AlarmsState): string | null => s.filterMachineId;
export const selectAlarmsVersion = (s: AlarmsState): number => s.version;
export const selectAlarmsActions = (s: AlarmsState): AlarmsState['actions'] => s.actions;
/** Selector of one machine's current alarms (use with useShallow). */
export const alarmsOfMachine =
  (machineId: string) =>
  (s: AlarmsState): Alarm[] => {
    const out = s.alarms.filter((a) => a.machineId === machineId);
    return out.length === 0 ? EMPTY : out;
  };
