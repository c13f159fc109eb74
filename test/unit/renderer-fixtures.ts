/** Snapshots for renderer unit tests. */
import type { Kpis, MachineSnapshot } from '../../src-preload/contract';

const kpis: Kpis = {
  from: 0,
  to: 3_600_000,
  plannedTimeS: 3600,
  runTimeS: 3000,
  downTimeS: 600,
  offlineTimeS: 0,
  goodCount: 100,
  scrapCount: 2,
  availability: 0.8333,
  performance: 0.9,
  quality: 0.98,
  oee: 0.735,
  idealCycleTimeS: 18,
  avgCycleTimeS: 20,
  throughputPerHour: 100,
  scrapRate: 0.0196,
};

/** A running machine with a numeric, a string and a bool point, read at `ts`. */
export function machine(id: string, opts: { ts: number; zone1?: number; name?: string }): MachineSnapshot {
  const ts = opts.ts;
  return {
    id,
    name: opts.name ?? id,
    model: 'im250',
    modelTitle: 'Injection moulding machine IM-250',
    simulated: false,
    state: 'running',
    stateSince: 0,
    link: {
      state: 'online',
      since: 0,
      lastOkAt: ts,
      lastError: null,
      consecutiveFailures: 0,
      pollsOk: 10,
      pollsFailed: 0,
      lastPollMs: 5,
    },
    shift: kpis,
    rolling: kpis,
    lastCycleTimeS: 18.4,
    values: {
      zone1: { value: opts.zone1 ?? 214.3, raw: [0x4356, 0x4ccd], quality: 'good', ts, reason: null },
      serial: { value: 'SN123', raw: [0x534e, 0x3132, 0x3300], quality: 'good', ts, reason: null },
      door: { value: true, raw: [1], quality: 'good', ts, reason: null },
    },
    ts,
  };
}
