/**
 * Insert rate of the SQL history on an encrypted database, for `npm run bench`: simulated
 * seconds of machines × points at 1 Hz, flushed as the store's timer does (every 30 s).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/log';
import { createSqlHistory } from './history-sql';
import { openEncryptedDatabase, type Durability } from './open';
import { migrate } from './schema';
import { sodium, wipe } from './sodium';

/** What the bench simulates. */
export interface StoreBenchOptions {
  machines?: number;
  points?: number;
  seconds?: number;
  durability?: Durability;
  /** Simulated seconds between flushes (the store's flushIntervalMs / 1000; default 30, as the store). */
  flushEverySeconds?: number;
}

/** Figures of one run. */
export interface StoreBenchResult {
  machines: number;
  points: number;
  seconds: number;
  samples: number;
  durability: Durability;
  /** Samples per second of wall time, appends and flushes included. */
  samplesPerSecond: number;
  flushEverySeconds: number;
  /** Bytes this process wrote (to the WAL and the database) per simulated second; null off Linux. */
  writtenBytesPerSimulatedSecond: number | null;
  /** CPU seconds per simulated second (1 Hz × machines × points). */
  cpuPerSimulatedSecond: number;
  bytesPerSample: number;
  /** One 1 h query of one point, downsampled to 1000 points. */
  queryMs: number;
}

/** Bytes written by this process so far (Linux /proc/self/io: what reached the block layer or the page cache). */
function writtenBytes(): number | null {
  try {
    const m = /^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Runs the insert bench in a temporary data dir (removed afterwards). */
export function runStoreBench(opts: StoreBenchOptions = {}): StoreBenchResult {
  const machines = opts.machines ?? 50;
  const points = opts.points ?? 200;
  const seconds = opts.seconds ?? 60;
  const durability = opts.durability ?? 'FULL';
  const flushEvery = Math.max(1, Math.round(opts.flushEverySeconds ?? 30));
  const dir = mkdtempSync(join(tmpdir(), 'pc-store-bench-'));
  const key = Buffer.alloc(32);
  sodium.randombytes_buf(key);
  const db = openEncryptedDatabase(join(dir, 'plant.db'), key, durability);
  wipe(key);
  try {
    migrate(db);
    const history = createSqlHistory(db, {
      log: silentLogger,
      flushIntervalMs: 0,
      maintenanceIntervalMs: 0,
      retentionDays: 365,
      diskBudgetBytes: 1e12,
    });
    const t0 = Date.UTC(2026, 0, 12, 6);
    const pointIds = Array.from({ length: points }, (_, p) => `p${p}`);
    const machineIds = Array.from({ length: machines }, (_, m) => `m${m}`);
    // The first append of a series looks it up once; keep that out of the steady-state figure.
    for (const m of machineIds) for (const p of pointIds) history.append(m, p, t0 - 1000, 0);
    history.flush();
    const io0 = writtenBytes();
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    for (let s = 0; s < seconds; s++) {
      const t = t0 + s * 1000;
      for (const m of machineIds) for (let p = 0; p < points; p++) history.append(m, pointIds[p]!, t, Math.sin(s / 30 + p));
      if ((s + 1) % flushEvery === 0) history.flush();
    }
    history.flush();
    const wallS = (performance.now() - wall0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const io1 = writtenBytes();
    const samples = seconds * machines * points;
    const q0 = performance.now();
    history.query('m0', 'p0', t0, t0 + 3_600_000, 1000);
    const queryMs = performance.now() - q0;
    history.close();
    db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').all();
    const bytes = statSync(join(dir, 'plant.db')).size;
    return {
      machines,
      points,
      seconds,
      samples,
      durability,
      samplesPerSecond: samples / wallS,
      flushEverySeconds: flushEvery,
      cpuPerSimulatedSecond: (cpu.user + cpu.system) / 1e6 / seconds,
      writtenBytesPerSimulatedSecond: io0 === null || io1 === null ? null : (io1 - io0) / seconds,
      bytesPerSample: bytes / (samples + machines * points),
      queryMs,
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One line for the bench output. */
export function formatStoreBench(r: StoreBenchResult): string {
  return (
    `store (encrypted libsql, WAL, synchronous=${r.durability}): ${r.machines}×${r.points} points at 1 Hz for ${r.seconds} s → ` +
    `${r.samplesPerSecond.toFixed(0)} samples/s, ${(r.cpuPerSimulatedSecond * 100).toFixed(1)}% of a core at 1 Hz, ` +
    `${r.bytesPerSample.toFixed(1)} bytes/sample, ` +
    (r.writtenBytesPerSimulatedSecond === null
      ? ''
      : `${(r.writtenBytesPerSimulatedSecond / 1024 / 1024).toFixed(2)} MiB written per second, `) +
    `flush every ${r.flushEverySeconds} s, 1 h query ${r.queryMs.toFixed(1)} ms`
  );
}
