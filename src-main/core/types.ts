/**
 * Interfaces between the parts of the plant core. Each part (poller, machine model, KPI
 * engine, history, API) is written against these, so that one can be replaced (an in-memory
 * history by a persistent one, a TCP poller by an RTU one) without touching the others.
 */
import type { Link, PointValue, Series, KpiSample } from '../../src-preload/contract';

/** The result of one poll cycle of one device, as the poller emits it. */
export interface PollResult {
  deviceId: string;
  /** When the poll cycle finished (ms since epoch). */
  ts: number;
  /** Every point of the profile: good values, or bad/stale with the reason. */
  values: Record<string, PointValue>;
  link: Link;
}

/** A poller of one device (or, later, one port or gateway with several units). */
export interface Poller {
  start(): void;
  /** Stops polling and closes the connection; resolves when no timer or socket is left. */
  stop(): Promise<void>;
  /** Called after every poll cycle, successful or not. */
  onResult(handler: (r: PollResult) => void): () => void;
  link(): Link;
}

/** Where time series of numeric point values go; in memory now, persistent later. */
export interface HistoryStore {
  append(machineId: string, pointId: string, t: number, v: number | null): void;
  /** Points between fromMs and toMs, downsampled (min/max-preserving) to at most maxPoints. */
  query(machineId: string, pointId: string, fromMs: number, toMs: number, maxPoints: number): Series;
  appendKpi(machineId: string, sample: KpiSample): void;
  kpis(machineId: string, fromMs: number): KpiSample[];
  /** Forgets what is older than the retention. */
  trim(olderThanMs: number): void;
}

/** The time source, injected so tests can drive time. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
