/**
 * The history store for `npm run bench`, in simulated time (so hours of history take seconds):
 * bytes on disk per sample once compacted, with every value changing (the plant bench's signals
 * at 20 Hz, and 50 machines × 200 points at 1 Hz: days of raw history per GB at 10 000 samples/s),
 * and with a 0.5 % deadband on a slow signal; the write rate and CPU of the in-process writer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/log';
import { DEFAULT_DISK_BUDGET_MB } from './history-layout';
import { createSqlHistory, type SqlHistoryStore } from './history-sql';
import { openEncryptedDatabase } from './open';
import { migrate } from './schema';
import { sodium, wipe } from './sodium';

/** One simulated run. */
export interface StoreRun {
  name: string;
  series: number;
  /** Samples offered (polled) and recorded (kept, after recording by exception). */
  offered: number;
  recorded: number;
  /** Bytes the database grew by, per recorded and per offered sample, after compaction. */
  bytesPerSample: number;
  bytesPerOfferedSample: number;
  /** Samples per second of wall time (appends, sealing, writing, compaction) and CPU per million. */
  samplesPerSecond: number;
  cpuPerMillionSamples: number;
  /** Of the bytes, those of one-minute rollups, per series and day of history (their share of the chunks' bytes). */
  rollupBytesPerSeriesDay: number;
}

/** A series' value at sample i: a polled signal (what the store is given). */
type Signal = (series: number, i: number) => number;

const T0 = Date.UTC(2026, 0, 12, 6);

/** Runs `seconds` of simulated polling of `series` series every `stepMs` (a few ms of jitter) into a fresh store. */
function simulate(opts: {
  name: string;
  series: number;
  stepMs: number;
  seconds: number;
  signal: Signal;
  rule?: { deadband: number; maxIntervalMs: number };
}): StoreRun {
  const dir = mkdtempSync(join(tmpdir(), 'pc-store-bench-'));
  const key = Buffer.alloc(32);
  sodium.randombytes_buf(key);
  const db = openEncryptedDatabase(join(dir, 'plant.db'), key, 'NORMAL');
  wipe(key);
  let now = T0;
  let history: SqlHistoryStore | null = null;
  try {
    migrate(db);
    history = createSqlHistory(db, {
      log: silentLogger,
      clock: { now: () => now },
      flushIntervalMs: 0,
      maintenanceIntervalMs: 0,
      retentionDays: 365,
      diskBudgetBytes: 1e13,
    });
    const h = history;
    const writers = Array.from({ length: opts.series }, (_, s) => h.series('bench', `s${s}`, opts.rule));
    const used0 = h.usedBytes();
    const steps = Math.round((opts.seconds * 1000) / opts.stepMs);
    const flushEvery = Math.round(10_000 / opts.stepMs);
    let jitter = 7;
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    for (let i = 0; i < steps; i++) {
      // A poll ends a few ms after its slot.
      jitter = (jitter * 1103515245 + 12345) & 0x7fffffff;
      const t = T0 + i * opts.stepMs + 2 + (jitter % 7);
      for (let s = 0; s < opts.series; s++) writers[s]!.append(t, opts.signal(s, i));
      if ((i + 1) % flushEvery === 0) {
        now = t;
        h.flush();
      }
    }
    // Every block settled: compacted and rolled up, as the store is in its steady state.
    now = T0 + opts.seconds * 1000 + 3_600_000;
    h.flush();
    h.maintain();
    const wallS = (performance.now() - wall0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const recorded = h.stats().samplesWritten;
    const offered = steps * opts.series;
    const bytes = h.usedBytes() - used0;
    const blobs = (table: string): number =>
      Number((db.prepare(`SELECT coalesce(sum(length(data)), 0) FROM ${table}`).raw().get() as [number])[0]);
    const rollupShare = blobs('history_rollups') / (blobs('history_rollups') + blobs('history_chunks'));
    return {
      name: opts.name,
      series: opts.series,
      offered,
      recorded,
      bytesPerSample: bytes / recorded,
      bytesPerOfferedSample: bytes / offered,
      samplesPerSecond: offered / wallS,
      cpuPerMillionSamples: ((cpu.user + cpu.system) / 1e6 / offered) * 1e6,
      rollupBytesPerSeriesDay: (bytes * rollupShare) / opts.series / (opts.seconds / 86_400),
    };
  } finally {
    history?.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ±3 counts of noise, the same sequence every run. */
function noiseSource(): () => number {
  let x = 0x2545f491;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) % 7) - 3;
  };
}

/** The plant bench's registers (scripts/plant-sim.ts): levels wandering by a sine and noise, every tenth a counter. */
function plantSignal(stepMs: number): Signal {
  const noise = noiseSource();
  return (s, i) => {
    const t = i * stepMs;
    if (s % 10 === 9) return Math.floor(t / 50 + s) & 0xffff;
    const level = 1000 + ((s * 37) % 4000);
    const period = 20_000 + ((s * 7919) % 40_000);
    return (level + Math.round(200 * Math.sin((2 * Math.PI * t) / period + s)) + noise()) & 0xffff;
  };
}

/** The runs of the bench. */
export function runStoreBench(): StoreRun[] {
  return [
    simulate({
      name: 'every value changing, 20 Hz (plant bench signals)',
      series: 100,
      stepMs: 50,
      seconds: 1200,
      signal: plantSignal(50),
    }),
    simulate({ name: 'every value changing, 1 Hz (50 × 200 plant)', series: 400, stepMs: 1000, seconds: 7200, signal: plantSignal(1000) }),
    (() => {
      // A slow temperature (0–400 °C span, half-hour swings) with 0.1 °C of noise, deadband 0.5 % of span.
      const noise = noiseSource();
      const signal: Signal = (s, i) => Math.round((200 + 50 * Math.sin((2 * Math.PI * i) / 1800 + s) + noise() / 30) * 10) / 10;
      return simulate({
        name: 'slow signal, 1 Hz, deadband 0.5 % of span',
        series: 200,
        stepMs: 1000,
        seconds: 7200,
        signal,
        rule: { deadband: 0.005 * 400, maxIntervalMs: 600_000 },
      });
    })(),
  ];
}

/** Raw history per GB at a rate of samples per second, in days. */
export function daysPerGb(bytesPerSample: number, samplesPerSecond = 10_000): number {
  return 1e9 / (bytesPerSample * samplesPerSecond * 86_400);
}

/** Lines for the bench output. */
export function formatStoreBench(runs: StoreRun[]): string {
  const lines = runs.map(
    (r) =>
      `  ${r.name.padEnd(52)} ${r.bytesPerSample.toFixed(2).padStart(5)} bytes/recorded sample, ` +
      `${r.bytesPerOfferedSample.toFixed(3).padStart(6)} bytes/polled sample (${((r.recorded / r.offered) * 100).toFixed(1)} % recorded), ` +
      `${(r.samplesPerSecond / 1000).toFixed(0)} k samples/s, ${r.cpuPerMillionSamples.toFixed(2)} CPU-s/M`,
  );
  const plant = runs[1];
  const days = plant ? daysPerGb(plant.bytesPerSample) : NaN;
  const rawDay = plant ? (plant.bytesPerSample * 10_000 * 86_400) / 1e9 : NaN;
  const rollupDay = plant ? (plant.rollupBytesPerSeriesDay * 10_000) / 1e9 : NaN;
  return [
    'history store (encrypted libsql, compressed chunks, in process, simulated time; bytes after compaction into 10-minute blocks):',
    ...lines,
    `  raw history per GB at 10 000 samples/s (50 × 200 at 1 Hz, every value changing): ${days.toFixed(2)} days ` +
      `(${(days * 24).toFixed(1)} h); ${rawDay.toFixed(2)} GB a day, of which ${rollupDay.toFixed(3)} GB one-minute rollups`,
    `  that plant for the defaults (7 days raw, 90 days of rollups): ${(7 * rawDay + 83 * rollupDay).toFixed(1)} GB ` +
      `(default disk budget ${((DEFAULT_DISK_BUDGET_MB * 1024 * 1024) / 1e9).toFixed(1)} GB)`,
  ].join('\n');
}
