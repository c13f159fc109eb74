/**
 * Interfaces between the parts of the plant core. Each part (poller, machine model, KPI
 * engine, history, API) is written against these, so that one can be replaced (an in-memory
 * history by a persistent one, a TCP poller by an RTU one) without touching the others.
 */
import type { Link, PointValue, Series, KpiSample } from '../../src-preload/contract';
import type { RecordingRule } from './recording';

/** The result of one poll cycle of one device, as the poller emits it. */
export interface PollResult {
  deviceId: string;
  /** When the poll cycle finished (ms since epoch). */
  ts: number;
  /** Every point of the profile: good values, or bad/stale with the reason. */
  values: Record<string, PointValue>;
  link: Link;
}

/**
 * One Modbus write: FC5 (one coil), FC6 (one holding register), FC15 (coils), FC16 (holding
 * registers). `values` are 0/1 for coils and 16-bit words for registers.
 */
export interface ModbusWriteRequest {
  function: 'coil' | 'holding';
  address: number;
  values: number[];
  fc: 5 | 6 | 15 | 16;
}

/** A poller of one device (one unit on a line: a port or a gateway connection). */
export interface Poller {
  start(): void;
  /** Stops polling and closes the connection; resolves when no timer or socket is left. */
  stop(): Promise<void>;
  /** Called after every poll cycle, successful or not. */
  onResult(handler: (r: PollResult) => void): () => void;
  link(): Link;
  /**
   * Writes through the device's line queue (never concurrent with its polls), with the unit's
   * timeout and no retry (a write that timed out may have been applied: read back instead).
   * Rejects with a ConsoleError: BAD_REQUEST for a malformed request, MODBUS_* from the device.
   */
  write(req: ModbusWriteRequest): Promise<void>;
  /** Reads one point of the profile now, through the line queue, with the unit's timeout and retries. */
  readPoint(pointId: string): Promise<PointValue>;
}

/** The appending end of one series, resolved once so the per-sample path does no lookups. */
export interface SeriesWriter {
  /** Offers a sample (null: a gap); samples from before the last one are dropped. */
  append(t: number, v: number | null): void;
}

/** Where time series of numeric point values go: in memory (tests, tools) or the encrypted store. */
export interface HistoryStore {
  /** The writer of one series; with a rule its samples are recorded by exception (recording.ts). */
  series(machineId: string, pointId: string, rule?: RecordingRule): SeriesWriter;
  /** Appends to a series (as `series(machineId, pointId).append`). */
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
