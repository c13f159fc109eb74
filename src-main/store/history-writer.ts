/**
 * The writing side of the SQL history, on a database connection of its own (history-worker.ts
 * runs it on a worker thread; history-driver.ts runs it in process when there is none): it
 * encodes and inserts the chunks the store seals, compacts each finished 10-minute block of a
 * series into one chunk and rolls its minutes up, and applies the retention and the disk budget
 * (history-upkeep.ts).
 *
 * All work is split into short transactions (`step`), so the console's own writes on the main
 * thread (outbox, audit) never wait long for the database lock. A failed write (disk full, I/O
 * error) drops its samples rather than keeping them: a queue that grows while the disk refuses
 * would end in a crash. Every failure is counted and reported (`HistoryFailure`), never only logged.
 */
import { decodeSamples, encodeSamples } from './chunk-codec';
import { BLOCK_MS, blockStart, type SealedBatch } from './history-layout';
import { decodeRollup, emptyRollup, encodeRollup, HOUR_MS, mergeRollups, rollUpSamples } from './history-rollup';
import { createUpkeep, type UpkeepRequest } from './history-upkeep';
import { blobOf, type StoreDb } from './schema';

/** What the writer needs to know. */
export interface WriterOptions {
  retentionMs: number;
  rollupRetentionMs: number;
  budgetBytes: number;
  /** A block is compacted and rolled up once it ended this long ago (its last chunks written by then). */
  settleMs: number;
}

/** A write or upkeep that failed: what, why, and how many samples were lost with it. */
export interface HistoryFailure {
  at: number;
  what: string;
  /** The SQLite code (SQLITE_FULL, SQLITE_IOERR…) or the error's name. */
  code: string;
  message: string;
  samplesDropped: number;
}

/** Counters an operator can see (health, logs). */
export interface HistoryStats {
  samplesWritten: number;
  chunksWritten: number;
  /** Samples lost because the database refused a write (disk full, I/O error). */
  samplesDropped: number;
  /** Blocks compacted into one chunk (and rolled up). */
  compactions: number;
  /** One-minute rollup rows written (a minute rolled up again counts again). */
  rolledUp: number;
  /** Raw samples and rollup rows removed by their retention. */
  retentionTrimmed: number;
  rollupRetentionTrimmed: number;
  /** How many times the disk budget forced a trim, and what it removed. */
  budgetTrims: number;
  budgetTrimmed: number;
  budgetTrimmedRollups: number;
  lastBudgetTrimAt: number | null;
  usedBytes: number;
  budgetBytes: number;
  /** Still over budget after trimming every sample it may (other tables fill it). */
  overBudget: boolean;
  errors: number;
  lastError: HistoryFailure | null;
}

/** The counters before anything was written. */
export function emptyHistoryStats(budgetBytes: number): HistoryStats {
  return {
    samplesWritten: 0,
    chunksWritten: 0,
    samplesDropped: 0,
    compactions: 0,
    rolledUp: 0,
    retentionTrimmed: 0,
    rollupRetentionTrimmed: 0,
    budgetTrims: 0,
    budgetTrimmed: 0,
    budgetTrimmedRollups: 0,
    lastBudgetTrimAt: null,
    usedBytes: 0,
    budgetBytes,
    overBudget: false,
    errors: 0,
    lastError: null,
  };
}

/** What one or more steps did, for the store on the main thread. */
export interface WriterReport {
  /** Chunk ids now in the database (queries read them there from now on). */
  written: number[];
  /** Chunk ids whose samples were lost (the write failed). */
  dropped: number[];
  /** Series ids whose row is in the database. */
  seriesWritten: number[];
  failures: HistoryFailure[];
  /** Log lines for the main thread's logger (the writer may run where there is none). */
  notes: HistoryNote[];
  stats: HistoryStats;
}

/** A log line from the writer. */
export interface HistoryNote {
  level: 'info' | 'warn';
  msg: string;
  data: Record<string, unknown>;
}

/** Work per transaction when compacting (each commit may cost an fsync on the main connection). */
const TRANSACTION_MS = 3;
/** Chunks encoded and inserted per transaction, at most (about 2 ms of work). */
const WRITE_SLICE_SAMPLES = 8000;
const WRITE_SLICE_CHUNKS = 200;

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown };
  return typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'ERROR';
}

/** The writer over an open, migrated store database. */
export class HistoryWriter {
  private readonly q;
  private readonly queue: { batch: SealedBatch; next: number; offset: number; newSeries: Map<number, [number, string, string]> }[] = [];
  private job: Generator<void, void, void> | null = null;
  private readonly upkeepRequests: UpkeepRequest[] = [];
  private compactRequested = false;
  private lastCompactAt = -Infinity;
  private now = 0;
  private report: WriterReport;
  readonly stats: HistoryStats;

  constructor(
    private readonly db: StoreDb,
    private readonly opts: WriterOptions,
  ) {
    this.q = {
      addSeries: db.prepare('INSERT OR IGNORE INTO series (id, machine, point) VALUES (?, ?, ?)'),
      insert: db.prepare('INSERT INTO history_chunks (id, series, t0, t1, n, level, data) VALUES (?, ?, ?, ?, ?, 0, ?)'),
      fresh: db.prepare('SELECT series, t1 FROM history_chunks WHERE level = 0 AND t1 < ? ORDER BY series, t1').raw(),
      block: db.prepare('SELECT id, level, data FROM history_chunks WHERE series = ? AND t1 >= ? AND t1 < ? ORDER BY t1, id').raw(),
      compacted: db.prepare('UPDATE history_chunks SET t0 = ?, t1 = ?, n = ?, level = 1, data = ? WHERE id = ?'),
      remove: db.prepare('DELETE FROM history_chunks WHERE id = ?'),
      rollupOf: db.prepare('SELECT data FROM history_rollups WHERE series = ? AND hour = ?').raw(),
      putRollup: db.prepare(
        'INSERT INTO history_rollups (series, hour, rows, data) VALUES (?, ?, ?, ?) ON CONFLICT (series, hour) DO UPDATE SET rows = excluded.rows, data = excluded.data',
      ),
    };
    this.stats = emptyHistoryStats(opts.budgetBytes);
    this.report = this.emptyReport();
  }

  private emptyReport(): WriterReport {
    return { written: [], dropped: [], seriesWritten: [], failures: [], notes: [], stats: this.stats };
  }

  /** Queues sealed chunks for writing. */
  submit(batch: SealedBatch): void {
    this.now = Math.max(this.now, batch.now);
    if (batch.chunks.length > 0) this.queue.push({ batch, next: 0, offset: 0, newSeries: new Map(batch.series.map((d) => [d[0], d])) });
  }

  /** Asks for compaction, retention and the disk budget (cutoffs default to now − retention). */
  upkeep(now: number, olderThan?: number, rollupsBefore?: number): void {
    this.now = Math.max(this.now, now);
    const request = {
      olderThan: olderThan ?? now - this.opts.retentionMs,
      rollupsBefore: rollupsBefore ?? now - this.opts.rollupRetentionMs,
    };
    // Requests waiting their turn are one pass with the later cutoffs (a timer and a tick may both ask).
    const waiting = this.upkeepRequests[0];
    if (waiting) {
      waiting.olderThan = Math.max(waiting.olderThan, request.olderThan);
      waiting.rollupsBefore = Math.max(waiting.rollupsBefore, request.rollupsBefore);
    } else this.upkeepRequests.push(request);
  }

  /** Asks for a compaction pass now (otherwise one runs at most every ten seconds of writes). */
  compact(now: number): void {
    this.now = Math.max(this.now, now);
    this.compactRequested = true;
  }

  /** True while queued work remains. */
  busy(): boolean {
    return this.queue.length > 0 || this.job !== null || this.upkeepRequests.length > 0 || this.compactRequested;
  }

  /** Does one short transaction of queued work; returns false when there was nothing to do. */
  step(): boolean {
    if (this.queue.length > 0) {
      this.writeSlice();
      return true;
    }
    if (!this.job) {
      const request = this.upkeepRequests.shift();
      if (request) this.job = this.upkeepJob(request);
      else if (this.compactRequested || this.now - this.lastCompactAt >= 10_000) {
        this.compactRequested = false;
        this.lastCompactAt = this.now;
        this.job = this.compaction();
      }
    }
    if (!this.job) return false;
    try {
      if (this.job.next().done) this.job = null;
    } catch (err) {
      this.job = null;
      this.fail('compaction, retention or the disk budget', err, 0);
    }
    return true;
  }

  /** What the steps since the last call did. */
  takeReport(): WriterReport {
    const r = this.report;
    this.report = this.emptyReport();
    return { ...r, stats: { ...this.stats } };
  }

  private fail(what: string, err: unknown, samples: number): void {
    const f: HistoryFailure = {
      at: this.now,
      what,
      code: errorCode(err),
      message: err instanceof Error ? err.message : String(err),
      samplesDropped: samples,
    };
    this.stats.errors++;
    this.stats.samplesDropped += samples;
    this.stats.lastError = f;
    this.report.failures.push(f);
  }

  /** Encodes, then inserts in one transaction, the next slice of queued chunks. */
  private writeSlice(): void {
    const head = this.queue[0]!;
    const { batch } = head;
    const rows: [number, number, number, number, number, Uint8Array][] = [];
    let samples = 0;
    while (head.next < batch.chunks.length && rows.length < WRITE_SLICE_CHUNKS && samples < WRITE_SLICE_SAMPLES) {
      const [id, series, n] = batch.chunks[head.next++]!;
      const t = batch.t.subarray(head.offset, head.offset + n);
      const v = batch.v.subarray(head.offset, head.offset + n);
      head.offset += n;
      samples += n;
      rows.push([id, series, t[0]!, t[n - 1]!, n, encodeSamples(t, v, n)]);
    }
    // A new series' row goes in the same transaction as its first chunk: no chunk without its series.
    const series: [number, string, string][] = [];
    for (const r of rows) {
      const def = head.newSeries.get(r[1]);
      if (def && !series.includes(def)) series.push(def);
    }
    if (head.next >= batch.chunks.length) this.queue.shift();
    try {
      this.db.transaction(() => {
        for (const s of series) this.q.addSeries.run(s);
        for (const r of rows) this.q.insert.run(r);
      })();
      for (const s of series) {
        head.newSeries.delete(s[0]);
        this.report.seriesWritten.push(s[0]);
      }
      for (const r of rows) this.report.written.push(r[0]);
      this.stats.samplesWritten += samples;
      this.stats.chunksWritten += rows.length;
    } catch (err) {
      for (const r of rows) this.report.dropped.push(r[0]);
      this.fail('writing samples', err, samples);
    }
  }

  /**
   * Compacts (and rolls up) every block of every series that ended more than `settleMs` ago and has
   * fresh chunks: as many blocks per transaction as fit in a few milliseconds (a commit may cost an
   * fsync), one transaction per step.
   */
  private *compaction(): Generator<void, void, void> {
    const before = blockStart(this.now - this.opts.settleMs);
    const todo: [number, number][] = [];
    for (const [series, t1] of this.q.fresh.iterate([before]) as Iterable<[number, number]>) {
      const b = blockStart(t1);
      const last = todo[todo.length - 1];
      if (!last || last[0] !== series || last[1] !== b) todo.push([series, b]);
    }
    let i = 0;
    while (i < todo.length) {
      const until = performance.now() + TRANSACTION_MS;
      const done = { blocks: 0, rows: 0 };
      let at = i;
      try {
        this.db.transaction(() => {
          do {
            done.rows += this.compactInTransaction(...todo[at]!);
            done.blocks++;
            at++;
          } while (at < todo.length && performance.now() < until);
        })();
        this.stats.compactions += done.blocks;
        this.stats.rolledUp += done.rows;
      } catch (err) {
        // The whole group is rolled back; the block that failed is skipped, the others come again next pass.
        const [series, b] = todo[at] ?? todo[i]!;
        this.fail(`compacting the block of series ${series} at ${new Date(b).toISOString()}`, err, 0);
        at++;
      }
      i = at;
      yield;
    }
  }

  /** Compacts one block of one series and rolls it up, in a transaction of its own. */
  compactBlock(series: number, b: number): void {
    const rows = this.db.transaction(() => this.compactInTransaction(series, b))();
    this.stats.compactions++;
    this.stats.rolledUp += rows;
  }

  /** One block of one series into one chunk, its minutes into the hour's rollup chunk; returns the rollup rows written. */
  private compactInTransaction(series: number, b: number): number {
    const rows = this.q.block.all([series, b, b + BLOCK_MS]) as [number, number, unknown][];
    if (rows.length === 0) return 0;
    const runs = rows.map(([, , data]) => decodeSamples(blobOf(data)));
    const n = runs.reduce((a, r) => a + r.t.length, 0);
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    let at = 0;
    for (const r of runs) {
      t.set(r.t, at);
      v.set(r.v, at);
      at += r.t.length;
    }
    const keep = rows[rows.length - 1]![0];
    const data = rows.length === 1 ? blobOf(rows[0]![2]) : encodeSamples(t, v, n);
    this.q.compacted.run([t[0]!, t[n - 1]!, n, data, keep]);
    for (const [id] of rows) if (id !== keep) this.q.remove.run([id]);
    const minutes = emptyRollup();
    rollUpSamples(t, v, n, minutes);
    const hour = Math.floor(b / HOUR_MS) * HOUR_MS;
    const old = (this.q.rollupOf.get([series, hour]) as [unknown] | undefined)?.[0];
    const merged = old === undefined ? minutes : mergeRollups(decodeRollup(blobOf(old)), minutes);
    this.q.putRollup.run([series, hour, merged.t.length, encodeRollup(merged)]);
    return minutes.t.length;
  }

  /** Compaction first (so what retention deletes is rolled up), then retention and the budget. */
  private *upkeepJob(request: UpkeepRequest): Generator<void, void, void> {
    this.compactRequested = false;
    this.lastCompactAt = this.now;
    yield* this.compaction();
    const note = (n: HistoryNote): void => void this.report.notes.push(n);
    yield* createUpkeep(this.db, this.stats, this.opts.budgetBytes, this.now, note).run(request);
  }
}
