/**
 * Live samples per machine and point, in ring buffers outside React: the event handler writes
 * here at any rate, the UI reads at its own ≤ 10 Hz tick.
 */
import type { MachineSnapshot } from '../../../src-preload/contract';
import { RingBuffer } from './ringBuffer';

/** About 1 h at a 1 s poll, 34 min at 500 ms; older data comes from history.query. */
export const LIVE_CAPACITY = 4096;

const buffers = new Map<string, RingBuffer>();

const keyOf = (machineId: string, pointId: string): string => `${machineId}\u0000${pointId}`;

/** Appends the numeric values of a snapshot; a value that is not good is stored as a gap. */
export function ingestSnapshot(s: MachineSnapshot): void {
  for (const [pointId, pv] of Object.entries(s.values)) {
    if (typeof pv.value !== 'number' && pv.value !== null) continue;
    const good = pv.quality === 'good' && typeof pv.value === 'number' && Number.isFinite(pv.value);
    const t = good ? pv.ts : s.ts;
    const key = keyOf(s.id, pointId);
    let buf = buffers.get(key);
    if (!buf) {
      buf = new RingBuffer(LIVE_CAPACITY);
      buffers.set(key, buf);
    }
    // Snapshots repeat values until the next poll; only a newer reading is a new sample.
    if (!(t > buf.lastTime()) && buf.size > 0) continue;
    buf.push(t, good ? (pv.value as number) : Number.NaN);
  }
}

/** The live buffer of one point, if any sample arrived. */
export function liveBuffer(machineId: string, pointId: string): RingBuffer | undefined {
  return buffers.get(keyOf(machineId, pointId));
}

/** Forgets all live samples (tests, plant change). */
export function resetLiveSamples(): void {
  buffers.clear();
}
