/**
 * History on the encrypted database, as compressed chunks (chunk-codec.ts, docs/history.md), with
 * the semantics of the in-memory store: append in time order per series, a null is a gap,
 * min/max-preserving downsampling in queries, recording by exception where a point has a rule.
 *
 * The open chunk of each series is kept here, in memory (two Float64Arrays). Every
 * `flushIntervalMs` (10 s by default) each open chunk is sealed (in groups of series spread over
 * the interval, so no one turn of the event loop seals them all) and handed to the writer
 * (history-writer.ts, on a worker thread when there is one: history-driver.ts), which encodes
 * and inserts them, compacts each finished 10-minute block into one chunk and rolls it up into
 * one-minute rollups, and applies retention and the disk budget. Queries read the chunks in the
 * database and, newer than those, the sealed chunks not yet confirmed written and the open ones.
 *
 * What a crash (SIGKILL) costs: the samples not yet written, at most one flush interval of
 * history plus what the writer had queued (a few milliseconds of work). The uplink outbox is
 * not kept here and stays exact. A write the database refuses (disk full) drops its samples,
 * counted, logged and reported to `onFailure` (an alarm, wired in bootstrap), never only logged.
 */
import type { KpiSample, Series } from '../../src-preload/contract';
import { downsampleIndices, withHeld } from '../core/history-memory';
import type { Logger } from '../core/log';
import { ExceptionFilter, type RecordingRule } from '../core/recording';
import { systemClock, type Clock, type HistoryStore, type SeriesWriter } from '../core/types';
import { MAX_ABS_TIME } from './chunk-codec';
import { localWriter, workerWriter, type WriterPort } from './history-driver';
import { blockStart, DEFAULT_DISK_BUDGET_MB, MAX_CHUNK_SAMPLES, type SealedBatch } from './history-layout';
import { readSeries, type StoredChunk } from './history-query';
import { emptyHistoryStats, type HistoryFailure, type HistoryStats, type WriterReport } from './history-writer';
import type { StoreDb } from './schema';

const DAY_MS = 86_400_000;
const MIB = 1024 * 1024;

/** Options of the SQL history store. */
export interface SqlHistoryOptions {
  /** Raw samples are kept this long (default 7 days). */
  retentionDays?: number;
  /** One-minute rollups (min, max, mean) are kept this long (default 90 days). */
  rollupRetentionDays?: number;
  /** The database may use this much disk before the oldest samples are trimmed (default DEFAULT_DISK_BUDGET_MB). */
  diskBudgetBytes?: number;
  /** Open chunks are sealed and written this often (default 10 000 ms; 0: only by flush or close): what a crash may lose. */
  flushIntervalMs?: number;
  /** Retention and budget are applied this often (default 60 000 ms; 0: only by `maintain`/`trim`). */
  maintenanceIntervalMs?: number;
  /** The writer on a worker thread (the built history-worker.js and how to open the database); absent: in process. */
  worker?: { script: string; dbPath: string; key: Uint8Array };
  clock?: Clock;
  log: Logger;
}

/** Counters an operator can see (health page, logs): the writer's, and what is held in memory. */
export interface SqlHistoryStats extends HistoryStats {
  /** Samples in open chunks and in sealed ones not yet confirmed written. */
  buffered: number;
  /** Where the writer runs. */
  writer: 'worker' | 'in-process';
}

/** A HistoryStore on the database, plus what persistence adds. */
export interface SqlHistoryStore extends HistoryStore {
  /** Seals every open chunk and returns once everything sealed or asked before is written (a barrier). */
  flush(): void;
  /** Compaction, retention and the disk budget now; returns once done. */
  maintain(): void;
  stats(): SqlHistoryStats;
  /** Bytes of the database in use (pages minus free pages). */
  usedBytes(): number;
  /** Calls `handler` after the writer reported (its counters, and the writes or upkeep that failed); returns the unsubscribe. */
  onReport(handler: (stats: SqlHistoryStats, failures: HistoryFailure[]) => void): () => void;
  /** Writes what is open and stops the writer and timers; the database stays open (its owner closes it). */
  close(): void;
}

/** A sealed chunk on its way to the database (queries read it here until the writer confirms it). */
interface Sealed {
  id: number;
  series: SeriesState;
  t: Float64Array;
  v: Float64Array;
}

interface SeriesState extends SeriesWriter {
  id: number;
  machine: string;
  point: string;
  /** The row in `series` is written. */
  persisted: boolean;
  lastT: number;
  /** The open chunk: n samples of block `block`. */
  t: Float64Array;
  v: Float64Array;
  n: number;
  block: number;
  sealed: Sealed[];
  filter: ExceptionFilter | null;
  record: (t: number, v: number | null) => void;
}

const INITIAL_OPEN = 32;
/**
 * The open chunks are sealed in this many groups, one group in turn, spread over the flush
 * interval: sealing (and packing) every series at once held the event loop for 100 ms and more
 * at 2 500 series. Each series is still sealed once per flush interval.
 */
const SEAL_GROUPS = 20;
/** A group is sealed no more often than this (a short flush interval seals everything at once). */
const MIN_GROUP_MS = 50;

/** Creates the SQL history over an open, migrated store database. */
export function createSqlHistory(db: StoreDb, opts: SqlHistoryOptions): SqlHistoryStore {
  const clock = opts.clock ?? systemClock;
  const log = opts.log;
  const flushEvery = opts.flushIntervalMs ?? 10_000;
  const writerOptions = {
    retentionMs: (opts.retentionDays ?? 7) * DAY_MS,
    rollupRetentionMs: (opts.rollupRetentionDays ?? 90) * DAY_MS,
    budgetBytes: opts.diskBudgetBytes ?? DEFAULT_DISK_BUDGET_MB * MIB,
    // Every chunk of a block is sealed within a flush interval of its end; a minute more for a busy writer.
    settleMs: Math.max(2 * flushEvery, 10_000) + 60_000,
  };
  const q = {
    allSeries: db.prepare('SELECT id, machine, point FROM series').raw(),
    lastT: db.prepare('SELECT t1 FROM history_chunks WHERE series = ? ORDER BY t1 DESC LIMIT 1').raw(),
    maxChunk: db.prepare('SELECT max(id) FROM history_chunks').raw(),
    kpiTail: db.prepare('SELECT max(t) FROM kpi_samples WHERE machine = ?').raw(),
    kpiInsert: db.prepare(
      'INSERT INTO kpi_samples (machine, t, availability, performance, quality, oee, good_count, scrap_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    kpiSince: db
      .prepare(
        'SELECT t, availability, performance, quality, oee, good_count, scrap_count FROM kpi_samples WHERE machine = ? AND t >= ? ORDER BY t, rowid',
      )
      .raw(),
    pageCount: db.prepare('PRAGMA page_count').raw(),
    freePages: db.prepare('PRAGMA freelist_count').raw(),
    pageSize: db.prepare('PRAGMA page_size').raw(),
  };

  const key = (machineId: string, pointId: string): string => `${machineId}\u0000${pointId}`;
  /** Series in the database: key → id; states are made on first use. */
  const stored = new Map<string, number>();
  let nextSeries = 1;
  for (const [id, machine, point] of q.allSeries.all() as [number, string, string][]) {
    stored.set(key(machine, point), id);
    nextSeries = Math.max(nextSeries, id + 1);
  }
  let nextChunk = ((q.maxChunk.get() as [number | null] | undefined)?.[0] ?? 0) + 1;
  const series = new Map<string, SeriesState>();
  const byId = new Map<number, SeriesState>();
  const inFlight = new Map<number, Sealed>();
  let toWrite: Sealed[] = [];
  const dirty = new Set<SeriesState>();
  const reportHandlers = new Set<(stats: SqlHistoryStats, failures: HistoryFailure[]) => void>();
  let writerStats: HistoryStats | null = null;
  let lastFailureLogAt = -Infinity;
  let localErrors = 0;
  let localDropped = 0;
  let localLast: HistoryFailure | null = null;
  let kpiPending: { machine: string; sample: KpiSample }[] = [];
  const kpiTails = new Map<string, number>();

  const seal = (s: SeriesState): void => {
    if (s.n === 0) return;
    const c: Sealed = { id: nextChunk++, series: s, t: s.t.slice(0, s.n), v: s.v.slice(0, s.n) };
    s.sealed.push(c);
    inFlight.set(c.id, c);
    toWrite.push(c);
    s.n = 0;
    dirty.delete(s);
  };

  const stateOf = (machineId: string, pointId: string, create: boolean): SeriesState | undefined => {
    const k = key(machineId, pointId);
    const known = series.get(k);
    if (known) return known;
    let id = stored.get(k);
    if (id === undefined && !create) return undefined;
    const persisted = id !== undefined;
    id ??= nextSeries++;
    const last = persisted ? (q.lastT.get([id]) as [number] | undefined)?.[0] : undefined;
    const s: SeriesState = {
      id,
      machine: machineId,
      point: pointId,
      persisted,
      lastT: last ?? -Infinity,
      t: new Float64Array(INITIAL_OPEN),
      v: new Float64Array(INITIAL_OPEN),
      n: 0,
      block: NaN,
      sealed: [],
      filter: null,
      record: (t, v) => record(s, t, v),
      append: (t, v) => (s.filter ? s.filter.offer(t, v) : record(s, t, v)),
    };
    series.set(k, s);
    byId.set(id, s);
    return s;
  };

  function record(s: SeriesState, time: number, v: number | null): void {
    const t = Math.floor(time);
    // A series is append-only in time order; a sample from the past (clock stepped back) is dropped.
    if (!(Math.abs(t) < MAX_ABS_TIME) || t < s.lastT) return;
    const block = blockStart(t);
    if (s.n > 0 && (block !== s.block || s.n >= MAX_CHUNK_SAMPLES)) seal(s);
    if (s.n === s.t.length) {
      const t2 = new Float64Array(Math.min(MAX_CHUNK_SAMPLES, s.t.length * 2));
      const v2 = new Float64Array(t2.length);
      t2.set(s.t);
      v2.set(s.v);
      s.t = t2;
      s.v = v2;
    }
    if (s.n === 0) {
      s.block = block;
      dirty.add(s);
    }
    s.t[s.n] = t;
    s.v[s.n] = v === null || !Number.isFinite(v) ? NaN : v;
    s.n++;
    s.lastT = t;
  }

  /** The batch of everything sealed since the last one (samples packed), with the series not yet written. */
  const takeBatch = (): SealedBatch => {
    const chunks = toWrite;
    toWrite = [];
    const total = chunks.reduce((a, c) => a + c.t.length, 0);
    const t = new Float64Array(total);
    const v = new Float64Array(total);
    let at = 0;
    const newSeries = new Map<number, [number, string, string]>();
    for (const c of chunks) {
      t.set(c.t, at);
      v.set(c.v, at);
      at += c.t.length;
      if (!c.series.persisted) newSeries.set(c.series.id, [c.series.id, c.series.machine, c.series.point]);
    }
    return { now: clock.now(), series: [...newSeries.values()], chunks: chunks.map((c) => [c.id, c.series.id, c.t.length]), t, v };
  };

  const sealAll = (): void => {
    for (const s of dirty) seal(s);
    if (toWrite.length > 0) port.submit(takeBatch());
  };

  const groups = Math.max(1, Math.min(SEAL_GROUPS, Math.floor(flushEvery / MIN_GROUP_MS)));
  let group = 0;
  /** Seals the next group's open chunks (series id modulo the groups), with whatever else was sealed since. */
  const sealGroup = (): void => {
    group = (group + 1) % groups;
    for (const s of dirty) if (s.id % groups === group) seal(s);
    if (toWrite.length > 0) port.submit(takeBatch());
  };

  const onReport = (r: WriterReport): void => {
    for (const id of [...r.written, ...r.dropped]) {
      const c = inFlight.get(id);
      if (!c) continue;
      inFlight.delete(id);
      const list = c.series.sealed;
      list.splice(list.indexOf(c), 1);
    }
    for (const id of r.seriesWritten) {
      const s = byId.get(id);
      if (s) s.persisted = true;
    }
    writerStats = r.stats;
    for (const n of r.notes) log.log(n.level, n.msg, n.data);
    for (const f of r.failures) logFailure(f);
    tell(r.failures);
  };

  const logFailure = (f: HistoryFailure): void => {
    const now = clock.now();
    // At most one line a minute: a full disk must not also flood the log.
    if (now - lastFailureLogAt >= 60_000) {
      lastFailureLogAt = now;
      log.log('error', `History store: ${f.what} failed: ${f.message}`, {
        code: f.code,
        dropped: f.samplesDropped,
        errors: writerStats?.errors,
      });
    }
  };

  /** Hands the counters and failures to the subscribers (an alarm, health). */
  const tell = (failures: HistoryFailure[]): void => {
    if (reportHandlers.size === 0) return;
    const s = stats();
    for (const h of [...reportHandlers]) {
      try {
        h(s, failures);
      } catch (err) {
        log.log('warn', 'A history report handler threw', { error: String(err) });
      }
    }
  };

  /** A failure on this side (KPI samples, the writer thread): counted into the stats, then told like the writer's. */
  const failed = (f: HistoryFailure): void => {
    localErrors++;
    localDropped += f.samplesDropped;
    localLast = f;
    logFailure(f);
    tell([f]);
  };

  let port: WriterPort = startWriter();

  function startWriter(): WriterPort {
    if (!opts.worker) return localWriter(db, writerOptions, onReport);
    try {
      const w = workerWriter({
        ...opts.worker,
        options: writerOptions,
        onReport,
        onWorkerFailure: (err) => fallBack(err),
        log,
      });
      // The worker checkpoints the WAL; a commit on this connection never turns into a checkpoint.
      db.exec('PRAGMA wal_autocheckpoint = 0');
      return w;
    } catch (err) {
      log.log('warn', 'History runs on the main thread: its writer thread could not start', { error: String(err) });
      return localWriter(db, writerOptions, onReport);
    }
  }

  /** The worker died: counted and reported, then the writer runs in process and gets what was not confirmed. */
  function fallBack(err: Error): void {
    db.exec('PRAGMA wal_autocheckpoint = 1000');
    failed({ at: clock.now(), what: 'the history writer thread', code: 'WORKER', message: err.message, samplesDropped: 0 });
    port = localWriter(db, writerOptions, onReport);
    toWrite = [...inFlight.values()].sort((a, b) => a.id - b.id);
    if (toWrite.length > 0) port.submit(takeBatch());
  }

  const pragma = (stmt: typeof q.pageCount): number => Number((stmt.get() as [number] | undefined)?.[0] ?? 0);
  const usedBytes = (): number => (pragma(q.pageCount) - pragma(q.freePages)) * pragma(q.pageSize);

  const writeKpis = (): void => {
    const pending = kpiPending;
    kpiPending = [];
    if (pending.length === 0) return;
    try {
      db.transaction(() => {
        for (const { machine, sample: s } of pending)
          q.kpiInsert.run([machine, s.t, s.availability, s.performance, s.quality, s.oee, s.goodCount, s.scrapCount]);
      })();
    } catch (err) {
      failed({ at: clock.now(), what: 'recording KPI samples', code: 'KPI', message: String(err), samplesDropped: pending.length });
    }
  };

  function stats(): SqlHistoryStats {
    let buffered = 0;
    for (const s of dirty) buffered += s.n;
    for (const c of inFlight.values()) buffered += c.t.length;
    const base: HistoryStats = writerStats ?? emptyHistoryStats(writerOptions.budgetBytes);
    const lastError = localLast && (!base.lastError || localLast.at >= base.lastError.at) ? localLast : base.lastError;
    return {
      ...base,
      samplesDropped: base.samplesDropped + localDropped,
      errors: base.errors + localErrors,
      lastError,
      buffered,
      writer: port.mode,
    };
  }

  const timers: NodeJS.Timeout[] = [];
  const maintainEvery = opts.maintenanceIntervalMs ?? 60_000;
  if (flushEvery > 0) timers.push(setInterval(sealGroup, flushEvery / groups).unref());
  if (maintainEvery > 0) timers.push(setInterval(() => port.upkeep(clock.now()), maintainEvery).unref());

  return {
    series(machineId: string, pointId: string, rule?: RecordingRule): SeriesWriter {
      const s = stateOf(machineId, pointId, true)!;
      if (rule) {
        if (s.filter) s.filter.setRule(rule);
        else s.filter = new ExceptionFilter(rule, s.record);
      }
      return s;
    },
    append(machineId, pointId, t, v) {
      stateOf(machineId, pointId, true)!.append(t, v);
    },
    query(machineId, pointId, fromMs, toMs, maxPoints): Series {
      const out: Series = { pointId, t: [], v: [] };
      if (toMs < fromMs) return out;
      const s = stateOf(machineId, pointId, false);
      if (!s) return out;
      const held = s.filter?.held() ?? null;
      const points = Math.max(1, Math.floor(maxPoints) - (held ? 1 : 0));
      const newer: StoredChunk[] = s.sealed.map((c) => ({ id: c.id, t: c.t, v: c.v }));
      newer.push({ id: Infinity, t: s.t.subarray(0, s.n), v: s.v.subarray(0, s.n) });
      const { ts, vs } = readSeries(db, s.id, fromMs, toMs, points, newer);
      const picked = downsampleIndices(
        { lo: 0, hi: ts.length },
        (i) => ts[i] ?? NaN,
        (i) => vs[i] ?? NaN,
        points,
      );
      for (const i of picked) {
        const v = vs[i] ?? NaN;
        out.t.push(ts[i] ?? NaN);
        out.v.push(Number.isNaN(v) ? null : v);
      }
      return withHeld(out, held, fromMs, toMs);
    },
    appendKpi(machineId, sample) {
      let tail = kpiTails.get(machineId);
      if (tail === undefined) {
        try {
          tail = (q.kpiTail.get([machineId]) as [number | null] | undefined)?.[0] ?? -Infinity;
        } catch {
          tail = -Infinity;
        }
      }
      if (sample.t < tail) return;
      kpiTails.set(machineId, sample.t);
      // The machines of one tick are written in one transaction (one fsync, not one each).
      if (kpiPending.length === 0) queueMicrotask(writeKpis);
      kpiPending.push({ machine: machineId, sample: { ...sample } });
    },
    kpis(machineId, fromMs): KpiSample[] {
      const rows = q.kpiSince.all([machineId, fromMs]) as [
        number,
        number | null,
        number | null,
        number | null,
        number | null,
        number,
        number,
      ][];
      const out = rows.map(([t, availability, performance, quality, oee, goodCount, scrapCount]) => ({
        t,
        availability,
        performance,
        quality,
        oee,
        goodCount,
        scrapCount,
      }));
      for (const p of kpiPending) if (p.machine === machineId && p.sample.t >= fromMs) out.push({ ...p.sample });
      return out;
    },
    trim(olderThanMs) {
      // Asked for, not waited for: the writer does it in its own time (flush() waits). Rollups
      // keep their own retention, applied by the maintenance timer.
      port.upkeep(clock.now(), olderThanMs, -Infinity);
    },
    flush() {
      writeKpis();
      sealAll();
      port.sync();
    },
    maintain() {
      writeKpis();
      sealAll();
      port.upkeep(clock.now());
      port.sync();
    },
    usedBytes,
    stats,
    onReport(handler) {
      reportHandlers.add(handler);
      return () => void reportHandlers.delete(handler);
    },
    close() {
      for (const t of timers) clearInterval(t);
      timers.length = 0;
      writeKpis();
      sealAll();
      port.close();
    },
  };
}
