/**
 * Whether a value may be shown as live, and if not, why: an operator must never read a
 * stale number as current.
 */
import type { MachineSnapshot, PointValue } from '../../../src-preload/contract';

export interface Liveness {
  live: boolean;
  /** Why the value is not live; null when it is. */
  reason: string | null;
}

/** A good reading older than this many poll intervals (and at least 15 s) counts as stale. */
const STALE_POLLS = 10;
const MIN_STALE_MS = 15_000;

/** Judges one point value of a machine, given the transport state and the plant clock. */
export function valueLiveness(
  pv: PointValue | undefined,
  machine: MachineSnapshot | undefined,
  transportLive: boolean,
  now: number,
  pollIntervalMs = 1000,
): Liveness {
  if (!transportLive) return { live: false, reason: 'Connection to the console core lost: this value is not live.' };
  if (!machine) return { live: false, reason: 'Machine not known to the console core.' };
  if (machine.state === 'offline') {
    const err = machine.link.lastError;
    return { live: false, reason: `Machine offline${err ? `: ${err.message} (${err.code})` : ': no answer from the device'}.` };
  }
  if (!pv) return { live: false, reason: 'No reading yet.' };
  if (pv.quality !== 'good')
    return { live: false, reason: `${pv.quality === 'bad' ? 'Bad' : 'Stale'} value: ${pv.reason ?? 'no reason given'}.` };
  if (pv.value === null) return { live: false, reason: 'The device returned no value.' };
  const maxAge = Math.max(MIN_STALE_MS, pollIntervalMs * STALE_POLLS);
  if (pv.ts > 0 && now - pv.ts > maxAge) {
    return { live: false, reason: `Last reading ${Math.round((now - pv.ts) / 1000)} s old: no new data from the core.` };
  }
  return { live: true, reason: null };
}
