/**
 * Runs the history writer (history-writer.ts) for the store on the main thread, one of two ways:
 *
 * - on a worker thread with a database connection of its own (history-worker.ts): encoding,
 *   inserts, compaction, rollups, retention, checkpoints and their fsyncs never run on the event
 *   loop that polls. The main connection stops checkpointing on its own (the worker does it), so
 *   a commit of the outbox never turns into a long checkpoint either;
 * - in process, on the store's own connection, in slices of at most a few milliseconds with the
 *   event loop free in between (tests, tools, and a fallback when the worker cannot run).
 *
 * `sync` is a barrier: it returns once everything submitted before it is done (Atomics.wait on a
 * shared counter for the worker, then its reports are taken synchronously off the port).
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { Logger } from '../core/log';
import type { SealedBatch } from './history-layout';
import { HistoryWriter, type WriterOptions, type WriterReport } from './history-writer';
import type { StoreDb } from './schema';

/** The store's handle on its writer, wherever it runs. */
export interface WriterPort {
  readonly mode: 'worker' | 'in-process';
  submit(batch: SealedBatch): void;
  upkeep(now: number, olderThan?: number, rollupsBefore?: number): void;
  compact(now: number): void;
  /** Returns once everything submitted before is done, its reports delivered. */
  sync(): void;
  /** Finishes the queued work and stops the writer (the worker closes its connection). */
  close(): void;
}

/** Messages to the worker. */
export type WorkerRequest =
  | { type: 'submit'; batch: SealedBatch }
  | { type: 'upkeep'; now: number; olderThan?: number; rollupsBefore?: number }
  | { type: 'compact'; now: number }
  | { type: 'sync'; seq: number }
  | { type: 'close'; seq: number };

/** What the worker starts with. */
export interface WorkerData {
  dbPath: string;
  /** The store key (hex): the worker opens its own connection to the encrypted database. */
  keyHex: string;
  options: WriterOptions;
  /** Int32[0]: the last barrier done. */
  done: SharedArrayBuffer;
  reports: MessagePort;
}

/** Work done per slice before the event loop gets a turn (in process). */
const SLICE_MS = 3;
/** How long a barrier waits for the worker before giving up (and saying so). */
const SYNC_TIMEOUT_MS = 120_000;

/** The writer on the store's own connection, sliced on the event loop. */
export function localWriter(db: StoreDb, options: WriterOptions, onReport: (r: WriterReport) => void): WriterPort {
  const writer = new HistoryWriter(db, options);
  let scheduled = false;
  let closed = false;
  const deliver = (): void => onReport(writer.takeReport());
  /**
   * History commits without an fsync each (as on the worker's connection: a crash of the console
   * loses nothing committed, a power cut may lose the last ones); the store's own writes keep theirs.
   */
  const relaxed = (work: () => void): void => {
    const mode = (db.prepare('PRAGMA synchronous').raw().get() as [number] | undefined)?.[0] ?? 2;
    db.exec('PRAGMA synchronous = NORMAL');
    try {
      work();
    } finally {
      db.exec(`PRAGMA synchronous = ${mode}`);
    }
  };
  const pump = (): void => {
    scheduled = false;
    if (closed) return;
    const until = performance.now() + SLICE_MS;
    relaxed(() => {
      while (performance.now() < until && writer.step());
    });
    deliver();
    if (writer.busy()) schedule();
  };
  const schedule = (): void => {
    if (scheduled || closed) return;
    scheduled = true;
    setImmediate(pump);
  };
  const sync = (): void => {
    relaxed(() => {
      while (writer.step());
    });
    deliver();
  };
  return {
    mode: 'in-process',
    submit(batch) {
      writer.submit(batch);
      schedule();
    },
    upkeep(now, olderThan, rollupsBefore) {
      writer.upkeep(now, olderThan, rollupsBefore);
      schedule();
    },
    compact(now) {
      writer.compact(now);
      schedule();
    },
    sync,
    close() {
      sync();
      closed = true;
    },
  };
}

/** The writer on a worker thread; `onFailure` hears when the worker itself fails (then `fallback` takes over). */
export function workerWriter(opts: {
  script: string;
  dbPath: string;
  key: Uint8Array;
  options: WriterOptions;
  onReport: (r: WriterReport) => void;
  onWorkerFailure: (err: Error) => void;
  log: Logger;
}): WriterPort {
  const done = new SharedArrayBuffer(4);
  const doneView = new Int32Array(done);
  const { port1, port2 } = new MessageChannel();
  const data: WorkerData = {
    dbPath: opts.dbPath,
    keyHex: Buffer.from(opts.key.buffer, opts.key.byteOffset, opts.key.byteLength).toString('hex'),
    options: opts.options,
    done,
    reports: port2,
  };
  const worker = new Worker(opts.script, { workerData: data, transferList: [port2] });
  let seq = 0;
  let dead = false;
  let closing = false;
  port1.on('message', (r: WriterReport | { fatal: string }) => ('fatal' in r ? died(new Error(r.fatal)) : opts.onReport(r)));
  port1.unref();
  const died = (err: Error): void => {
    if (dead) return;
    dead = true;
    opts.onWorkerFailure(err);
  };
  worker.on('error', (err: unknown) => died(err instanceof Error ? err : new Error(JSON.stringify(err))));
  worker.on('exit', (code) => {
    if (!closing) died(new Error(`the history writer thread exited (code ${code})`));
  });
  const post = (m: WorkerRequest, transfer: ArrayBuffer[] = []): void => {
    if (!dead) worker.postMessage(m, transfer);
  };
  const barrier = (type: 'sync' | 'close'): void => {
    if (dead) return;
    const mine = ++seq;
    post({ type, seq: mine });
    const until = Date.now() + SYNC_TIMEOUT_MS;
    while (!dead && Atomics.load(doneView, 0) < mine) {
      if (Date.now() > until) {
        opts.log.log('error', `The history writer did not answer within ${SYNC_TIMEOUT_MS / 1000} s`);
        break;
      }
      Atomics.wait(doneView, 0, Atomics.load(doneView, 0), 100);
    }
    for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) {
      const r = m.message as WriterReport | { fatal: string };
      if ('fatal' in r) died(new Error(r.fatal));
      else opts.onReport(r);
    }
  };
  return {
    mode: 'worker',
    // The batch's samples are moved, not copied: takeBatch packs them for this message alone.
    submit: (batch) => post({ type: 'submit', batch }, [batch.t.buffer as ArrayBuffer, batch.v.buffer as ArrayBuffer]),
    upkeep: (now, olderThan, rollupsBefore) => post({ type: 'upkeep', now, olderThan, rollupsBefore }),
    compact: (now) => post({ type: 'compact', now }),
    sync: () => barrier('sync'),
    close() {
      closing = true;
      barrier('close');
      port1.close();
      void worker.terminate();
    },
  };
}
