/**
 * Alarms on the encrypted database, under the persistence contract of src-main/alarms/store.ts.
 *
 * Each commit is one transaction (the alarm's row and its event, both or neither) and is
 * written before `commit` returns: the engine moves only after the store did, so a failure
 * throws and the same transition is tried again at the next poll. Alarms in `normal` have no
 * row, which is what makes `alarms` the current list. Events are ordered by their row id, i.e.
 * in commit order, as the in-memory store keeps them.
 *
 * Bounds: `trim` (the engine calls it with the start of the kept window), an optional age
 * limit of the store's own, and a hard cap that wins over both in an alarm flood; what the cap
 * drops is counted in `meta` so the count survives restarts, and logged.
 */
import type Database from 'libsql';
import { AlarmEventSchema, AlarmSchema, type Alarm, type AlarmEvent } from '../../src-preload/contract';
import type { AlarmHistoryQuery, AlarmStore } from '../alarms/store';
import type { Logger } from '../core/log';
import { systemClock, type Clock } from '../core/types';
import type { StoreDb } from './schema';

/** Options of the SQL alarm store. */
export interface SqlAlarmStoreOptions {
  log: Logger;
  clock?: Clock;
  /** Hard cap on kept events (default 20 000, as in memory); it wins over every retention. */
  maxEvents?: number;
  /** Events older than this are forgotten even when nobody trims (default: kept until trimmed or capped). */
  retentionMs?: number;
}

/** The AlarmStore contract's figures, plus rows that could not be read back. */
export interface SqlAlarmStoreStats {
  current: number;
  events: number;
  dropped: number;
  /** Distinct stored rows that no longer parse as an alarm or event (skipped, logged once each; counted up to 1000). */
  unreadable: number;
  /** Trims that failed (logged; the next one tries again). */
  errors: number;
}

/** An AlarmStore on the database, with its extra counters. */
export interface SqlAlarmStore extends AlarmStore {
  stats(): SqlAlarmStoreStats;
}

const DEFAULT_MAX_EVENTS = 20_000;
const DROPPED_KEY = 'alarm_events_dropped';
/** The store's own age limit is applied at most this often (it costs a query). */
const RETENTION_EVERY_MS = 60_000;
const LOG_EVERY_MS = 60_000;
/** Distinct unreadable rows remembered so each is logged once; beyond it they are skipped quietly. */
const MAX_REMEMBERED_BAD = 1000;

type Filter = '' | 'm' | 'f' | 'mf';

/** Creates the alarm store over an open, migrated store database. */
export function createSqlAlarmStore(db: StoreDb, opts: SqlAlarmStoreOptions): SqlAlarmStore {
  const clock = opts.clock ?? systemClock;
  const log = opts.log;
  const maxEvents = Math.max(1, Math.floor(opts.maxEvents ?? DEFAULT_MAX_EVENTS));
  const retentionMs = opts.retentionMs;

  const q = {
    current: db.prepare('SELECT id, alarm FROM alarms').raw(),
    countCurrent: db.prepare('SELECT count(*) FROM alarms').raw(),
    upsert: db.prepare(
      'INSERT INTO alarms (id, machine, state, raised_at, alarm) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (id) DO UPDATE SET machine = excluded.machine, state = excluded.state, raised_at = excluded.raised_at, alarm = excluded.alarm',
    ),
    remove: db.prepare('DELETE FROM alarms WHERE id = ?'),
    insertEvent: db.prepare('INSERT INTO alarm_events (at, alarm_id, machine, event, entry) VALUES (?, ?, ?, ?, ?)'),
    countEvents: db.prepare('SELECT count(*), min(at) FROM alarm_events').raw(),
    oldestAt: db.prepare('SELECT min(at) FROM alarm_events').raw(),
    dropOldest: db.prepare('DELETE FROM alarm_events WHERE id IN (SELECT id FROM alarm_events ORDER BY id LIMIT ?)'),
    deleteBefore: db.prepare('DELETE FROM alarm_events WHERE at < ?'),
    readMeta: db.prepare('SELECT value FROM meta WHERE key = ?').raw(),
    writeMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
  };
  const historyStatements = new Map<Filter, Database.Statement>();
  const historyStatement = (filter: Filter): Database.Statement => {
    let stmt = historyStatements.get(filter);
    if (!stmt) {
      const where = [filter.includes('m') ? 'machine = ?' : '', filter.includes('f') ? 'at >= ?' : ''].filter(Boolean).join(' AND ');
      stmt = db.prepare(`SELECT id, entry FROM alarm_events${where ? ` WHERE ${where}` : ''} ORDER BY id DESC LIMIT ?`).raw();
      historyStatements.set(filter, stmt);
    }
    return stmt;
  };

  const counted = q.countEvents.get() as [number, number | null] | undefined;
  let events = counted?.[0] ?? 0;
  let oldestAt: number | null = counted?.[1] ?? null;
  let dropped = Number((q.readMeta.get([DROPPED_KEY]) as [string] | undefined)?.[0] ?? 0) || 0;
  let errors = 0;
  let lastRetentionAt = -Infinity;
  let lastDropLogAt = -Infinity;
  let lastErrorLogAt = -Infinity;
  const bad = new Set<string>();

  const unreadable = (what: string, key: string, err: unknown): void => {
    if (bad.has(key) || bad.size >= MAX_REMEMBERED_BAD) return;
    bad.add(key);
    log.log('error', `Alarm store: a stored ${what} cannot be read and is skipped`, {
      row: key,
      error: err instanceof Error ? err.message : String(err),
    });
  };

  /** Removes the oldest events beyond the cap inside the caller's transaction; returns how many. */
  const capInTx = (count: number): number => {
    const over = count - maxEvents;
    if (over <= 0) return 0;
    q.dropOldest.run([over]);
    q.writeMeta.run([DROPPED_KEY, String(dropped + over)]);
    return over;
  };

  const afterDrop = (over: number): void => {
    if (over <= 0) return;
    dropped += over;
    oldestAt = (q.oldestAt.get() as [number | null] | undefined)?.[0] ?? null;
    const now = clock.now();
    if (now - lastDropLogAt >= LOG_EVERY_MS) {
      lastDropLogAt = now;
      log.log('warn', `Alarm history is at its cap of ${maxEvents} events: the oldest are dropped (alarm flood?)`, { dropped, maxEvents });
    }
  };

  const commitTx = db.transaction((alarm: Alarm, event: AlarmEvent): number => {
    if (alarm.state === 'normal') q.remove.run([alarm.id]);
    else q.upsert.run([alarm.id, alarm.machineId, alarm.state, alarm.raisedAt, JSON.stringify(alarm)]);
    q.insertEvent.run([event.at, event.alarmId, event.machineId, event.event, JSON.stringify(event)]);
    return capInTx(events + 1);
  });

  const trim = (olderThanMs: number): void => {
    // The engine trims after every change: skip the statement when nothing can be that old.
    if (oldestAt === null || !(olderThanMs > oldestAt)) return;
    try {
      const removed = q.deleteBefore.run([olderThanMs]).changes;
      events -= removed;
      oldestAt = (q.oldestAt.get() as [number | null] | undefined)?.[0] ?? null;
    } catch (err) {
      // A trim that fails leaves more history than asked, never less: not worth failing the caller.
      errors++;
      const now = clock.now();
      if (now - lastErrorLogAt >= LOG_EVERY_MS) {
        lastErrorLogAt = now;
        log.log('error', `Alarm store: trimming history failed: ${err instanceof Error ? err.message : String(err)}`, { errors });
      }
    }
  };

  const applyRetention = (): void => {
    if (retentionMs === undefined) return;
    const now = clock.now();
    if (now - lastRetentionAt < RETENTION_EVERY_MS) return;
    lastRetentionAt = now;
    trim(now - retentionMs);
  };

  // A cap lowered since the last run applies at once, counted like any other drop.
  if (events > maxEvents) {
    const over = db.transaction(() => capInTx(events))();
    events -= over;
    afterDrop(over);
  }
  applyRetention();

  return {
    current() {
      const out: Alarm[] = [];
      for (const [id, json] of q.current.all() as [string, string][]) {
        try {
          const alarm = AlarmSchema.parse(JSON.parse(json));
          if (alarm.state !== 'normal') out.push(alarm);
        } catch (err) {
          unreadable('alarm', `alarm:${id}`, err);
        }
      }
      return out;
    },
    commit(alarm, event) {
      const over = commitTx(alarm, event);
      events += 1 - over;
      if (oldestAt === null || event.at < oldestAt) oldestAt = event.at;
      afterDrop(over);
      applyRetention();
    },
    history(query: AlarmHistoryQuery = {}) {
      // SQLite takes -1 as "no limit"; Infinity cannot be bound.
      const ceil = query.limit === undefined ? Infinity : Math.max(0, Math.ceil(query.limit));
      if (ceil === 0 || Number.isNaN(ceil)) return [];
      const limit = Number.isFinite(ceil) ? ceil : -1;
      const params: (string | number)[] = [];
      let filter = '';
      if (query.machineId !== undefined) {
        filter += 'm';
        params.push(query.machineId);
      }
      if (query.fromMs !== undefined) {
        filter += 'f';
        params.push(query.fromMs);
      }
      params.push(limit);
      const out: AlarmEvent[] = [];
      for (const [id, json] of historyStatement(filter as Filter).all(params) as [number, string][]) {
        try {
          out.push(AlarmEventSchema.parse(JSON.parse(json)));
        } catch (err) {
          unreadable('alarm event', `event:${id}`, err);
        }
      }
      return out;
    },
    trim,
    stats: () => ({
      current: (q.countCurrent.get() as [number] | undefined)?.[0] ?? 0,
      events,
      dropped,
      unreadable: bad.size,
      errors,
    }),
  };
}
