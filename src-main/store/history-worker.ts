/**
 * The history writer's thread (history-driver.ts starts it): its own connection to the encrypted
 * store (synchronous = NORMAL: history may lose its last transactions to a power cut, never to a
 * crash of the console, and its commits then need no fsync), the writer, and the WAL checkpoints
 * the main connection leaves to it. Work runs in steps of short transactions with a millisecond's
 * pause after each few milliseconds, so the main thread's own writes get the database lock.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerData, WorkerRequest } from './history-driver';
import { HistoryWriter } from './history-writer';
import { openEncryptedDatabase } from './open';

const SLICE_MS = 4;
/** The WAL is checkpointed (PASSIVE: never waits for readers or writers) at least this often. */
const CHECKPOINT_MS = 5000;

const data = workerData as WorkerData;

/** An error as words for the main thread (SQLite errors do not cross threads with their message). */
function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? `${e.code}: ` : '';
  return `${code}${typeof e?.message === 'string' ? e.message : String(err)}`;
}

// Anything that escapes is told to the main thread before the thread ends (it then writes in process).
process.on('uncaughtException', (err) => {
  data.reports.postMessage({ fatal: describe(err) });
  process.exit(1);
});

const key = Buffer.from(data.keyHex, 'hex');
const db = openEncryptedDatabase(data.dbPath, key, 'NORMAL');
key.fill(0);
const writer = new HistoryWriter(db, data.options);
const done = new Int32Array(data.done);
let scheduled: ReturnType<typeof setTimeout> | null = null;
let lastCheckpoint = performance.now();

function checkpoint(): void {
  lastCheckpoint = performance.now();
  try {
    db.prepare('PRAGMA wal_checkpoint(PASSIVE)').all();
  } catch {
    // Busy or failed: the next one will do; a checkpoint loses nothing by waiting.
  }
}

function report(): void {
  data.reports.postMessage(writer.takeReport());
}

function pump(): void {
  scheduled = null;
  const until = performance.now() + SLICE_MS;
  let worked = false;
  while (performance.now() < until && writer.step()) worked = true;
  if (worked) report();
  if (performance.now() - lastCheckpoint >= CHECKPOINT_MS) checkpoint();
  if (writer.busy()) scheduled = setTimeout(pump, 1);
}

function wake(): void {
  scheduled ??= setTimeout(pump, 0);
}

/** Runs everything queued to the end, reports, then marks the barrier done. */
function barrier(seq: number): void {
  while (writer.step());
  report();
  Atomics.store(done, 0, seq);
  Atomics.notify(done, 0);
}

const idle = setInterval(checkpoint, CHECKPOINT_MS);

parentPort!.on('message', (m: WorkerRequest) => {
  switch (m.type) {
    case 'submit':
      writer.submit(m.batch);
      wake();
      break;
    case 'upkeep':
      writer.upkeep(m.now, m.olderThan, m.rollupsBefore);
      wake();
      break;
    case 'compact':
      writer.compact(m.now);
      wake();
      break;
    case 'sync':
      barrier(m.seq);
      break;
    case 'close':
      clearInterval(idle);
      if (scheduled) clearTimeout(scheduled);
      while (writer.step());
      checkpoint();
      report();
      db.close();
      Atomics.store(done, 0, m.seq);
      Atomics.notify(done, 0);
      parentPort!.close();
      break;
    default: {
      const never: never = m;
      throw new Error(`unknown history writer request ${JSON.stringify(never)}`);
    }
  }
});
