/**
 * Wires a transport to the stores: status, resync after every (re)connect, live events into
 * ring buffers and a pending map flushed at ≤ 10 Hz, the 1 s clock and hash routing.
 */
import type { MachineSnapshot, Transport } from '../../../src-preload/contract';
import { ingestSnapshot } from '../lib/liveSamples';
import { looksLikeSummary, useAlarmsStore } from './alarms';
import { useConnectionStore } from './connection';
import { useMachinesStore } from './machines';
import { useNavigationStore } from './navigation';
import { usePlantStore } from './plant';
import { useTickStore } from './tick';

export interface SessionOptions {
  /** Flush interval of live data into React state; 100 ms = 10 Hz. */
  flushMs?: number;
  /** Listen to hashchange (off in unit tests without a window). */
  routing?: boolean;
  log?: (message: string, detail?: unknown) => void;
}

const looksLikeSnapshot = (x: unknown): x is MachineSnapshot => {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Partial<MachineSnapshot>;
  return (
    typeof s.id === 'string' && typeof s.ts === 'number' && typeof s.values === 'object' && s.values !== null && typeof s.state === 'string'
  );
};

/** Starts feeding the stores from `transport`; returns the function that stops it. */
export function startSession(transport: Transport, opts: SessionOptions = {}): () => void {
  const flushMs = opts.flushMs ?? 100;
  const log = opts.log ?? ((m: string, d?: unknown): void => console.warn(`[session] ${m}`, d ?? ''));
  const connection = useConnectionStore.getState().actions;
  const plant = usePlantStore.getState().actions;
  const machines = useMachinesStore.getState().actions;
  const tick = useTickStore.getState().actions;
  const alarms = useAlarmsStore.getState().actions;
  connection.setKind(transport.kind);

  const pending = new Map<string, MachineSnapshot>();
  let dirty = false;
  let stopped = false;
  const offUpdate = transport.subscribe('machines.update', (payload) => {
    if (!looksLikeSnapshot(payload)) {
      log('ignored a malformed machines.update');
      return;
    }
    ingestSnapshot(payload);
    pending.set(payload.id, payload);
    dirty = true;
  });
  const offCore = transport.subscribe('core.status', (payload) => {
    connection.setCore(payload.state);
  });
  // Alarm changes are rare and urgent: applied at once, not batched with the samples.
  const offAlarms = transport.subscribe('alarms.update', (payload) => {
    if (looksLikeSummary(payload)) alarms.apply(payload);
    else log('ignored a malformed alarms.update');
  });
  const flushTimer = setInterval(() => {
    if (!dirty) return;
    dirty = false;
    const batch = [...pending.values()];
    pending.clear();
    machines.applySnapshots(batch);
    tick.bump();
  }, flushMs);

  let syncing: Promise<void> | null = null;
  const resync = (): void => {
    if (syncing) return;
    syncing = (async () => {
      const okPlant = await plant.load(transport);
      const okMachines = await machines.load(transport);
      for (const s of Object.values(useMachinesStore.getState().byId)) ingestSnapshot(s);
      tick.bump();
      const okAlarms = await alarms.load(transport);
      if (!okPlant || !okMachines || !okAlarms) log('initial load incomplete; will retry on the next connect or shift change');
    })().finally(() => {
      syncing = null;
    });
  };

  const offStatus = transport.onStatus((status) => {
    connection.setStatus(status);
    if (status === 'connected') resync();
  });

  let shiftResyncAt = 0;
  const clockTimer = setInterval(() => {
    plant.tick();
    const { info, now } = usePlantStore.getState();
    // A new shift means new shift KPIs and a new range in the header; retried at most every 10 s.
    if (info && now >= info.shift.end && useConnectionStore.getState().status === 'connected' && !stopped && now - shiftResyncAt > 10_000) {
      shiftResyncAt = now;
      resync();
    }
  }, 1000);

  let offHash = (): void => {};
  if (opts.routing !== false && typeof window !== 'undefined') {
    const nav = useNavigationStore.getState().actions;
    const onHash = (): void => nav.syncFromHash(window.location.hash);
    window.addEventListener('hashchange', onHash);
    onHash();
    offHash = () => window.removeEventListener('hashchange', onHash);
  }

  return () => {
    stopped = true;
    offUpdate();
    offCore();
    offAlarms();
    offStatus();
    offHash();
    clearInterval(flushTimer);
    clearInterval(clockTimer);
  };
}
