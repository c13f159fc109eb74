/** The alarm store and the write log: one shared suite over the in-memory and the SQL implementations, then what only the SQL ones promise. */
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { AlarmEngine } from '../../src-main/alarms/engine';
import type { AlarmInput } from '../../src-main/alarms/rules';
import { createMemoryAlarmStore, type AlarmStore } from '../../src-main/alarms/store';
import { parseProfile } from '../../src-main/config/load';
import { memoryLogger, silentLogger } from '../../src-main/core/log';
import { createMemoryWriteLog, type WriteLogStore } from '../../src-main/core/write-log';
import { createSqlAlarmStore } from '../../src-main/store/alarms-sql';
import { migrate, type StoreDb } from '../../src-main/store/schema';
import { createSqlWriteLog } from '../../src-main/store/write-log-sql';
import type { Alarm, AlarmEvent, WriteResult } from '../../src-preload/contract';

const T0 = Date.UTC(2026, 0, 12, 9, 0);
const DAY = 86_400_000;

function memoryDb(): StoreDb {
  const db = new Database(':memory:');
  migrate(db);
  return db;
}

function alarm(id: string, state: Alarm['state'], extra: Partial<Alarm> = {}): Alarm {
  const [machineId = 'm1', ruleId = 'r'] = id.split('/');
  return {
    id,
    machineId,
    ruleId,
    kind: 'high',
    pointId: 'temp',
    priority: 'medium',
    message: `Alarm ${id}`,
    state,
    value: 101.5,
    limit: 100,
    unit: '°C',
    raisedAt: T0,
    clearedAt: null,
    ackedAt: null,
    ackedBy: null,
    ...extra,
  };
}

function eventOf(a: Alarm, event: AlarmEvent['event'], at: number, user: string | null = null): AlarmEvent {
  return {
    at,
    alarmId: a.id,
    machineId: a.machineId,
    event,
    state: a.state,
    priority: a.priority,
    message: a.message,
    user,
    value: a.value,
    unit: a.unit,
  };
}

/** A store and a way to get "the same store after a restart of the console". */
interface AlarmRig {
  store: AlarmStore;
  reopen(): AlarmStore;
}

const alarmImpls: [string, (opts?: { maxEvents?: number }) => AlarmRig][] = [
  [
    'memory',
    (opts = {}) => {
      const store = createMemoryAlarmStore(opts);
      // The in-memory store's restart: what a file would have kept, handed back.
      return {
        store,
        reopen: () => createMemoryAlarmStore({ ...opts, initial: store.current(), initialEvents: store.history().reverse() }),
      };
    },
  ],
  [
    'sql',
    (opts = {}) => {
      const db = memoryDb();
      return {
        store: createSqlAlarmStore(db, { log: silentLogger, ...opts }),
        reopen: () => createSqlAlarmStore(db, { log: silentLogger, ...opts }),
      };
    },
  ],
];

describe.each(alarmImpls)('alarm store contract (%s)', (_name, make) => {
  it('keeps exactly the alarms whose last commit is not normal, by id, as copies', () => {
    const { store } = make();
    const a = alarm('m1/hi', 'active-unacked');
    const b = alarm('m2/fault', 'active-unacked', { kind: 'state', pointId: null, value: null, limit: null, unit: '' });
    store.commit(a, eventOf(a, 'raised', T0));
    store.commit(b, eventOf(b, 'raised', T0 + 1));
    const acked = { ...a, state: 'active-acked' as const, ackedAt: T0 + 2, ackedBy: 'anna' };
    store.commit(acked, eventOf(acked, 'acknowledged', T0 + 2, 'anna'));
    expect(store.current().sort((x, y) => x.id.localeCompare(y.id))).toEqual([acked, b]);
    const cleared = { ...b, state: 'normal' as const, clearedAt: T0 + 3 };
    store.commit(cleared, eventOf(cleared, 'cleared', T0 + 3));
    expect(store.current()).toEqual([acked]);
    store.current()[0]!.state = 'normal';
    expect(store.current()[0]!.state).toBe('active-acked');
    expect(store.stats()).toMatchObject({ current: 1, events: 4, dropped: 0 });
  });

  it('answers history newest first in commit order, by machine, from a time, limited', () => {
    const { store } = make();
    const a = alarm('m1/hi', 'active-unacked');
    const b = alarm('m2/hi', 'active-unacked');
    // m2's event is committed later but stamped earlier: commit order wins, and no early exit.
    store.commit(a, eventOf(a, 'raised', T0 + 10));
    store.commit(b, eventOf(b, 'raised', T0 + 5));
    store.commit({ ...a, state: 'cleared-unacked' }, eventOf({ ...a, state: 'cleared-unacked' }, 'cleared', T0 + 20));
    const all = store.history();
    expect(all.map((e) => `${e.alarmId}:${e.event}`)).toEqual(['m1/hi:cleared', 'm2/hi:raised', 'm1/hi:raised']);
    expect(all[1]).toEqual(eventOf(b, 'raised', T0 + 5));
    expect(store.history({ machineId: 'm1' }).map((e) => e.at)).toEqual([T0 + 20, T0 + 10]);
    expect(store.history({ fromMs: T0 + 6 }).map((e) => e.at)).toEqual([T0 + 20, T0 + 10]);
    expect(store.history({ fromMs: T0 + 1, machineId: 'm2' }).map((e) => e.alarmId)).toEqual(['m2/hi']);
    expect(store.history({ limit: 2 }).map((e) => e.at)).toEqual([T0 + 20, T0 + 5]);
    expect(store.history({ limit: 0 })).toEqual([]);
    expect(store.history({ machineId: 'nope' })).toEqual([]);
  });

  it('trims old events but never current alarms', () => {
    const { store } = make();
    const a = alarm('m1/hi', 'active-unacked');
    for (let i = 0; i < 10; i++) store.commit(a, eventOf(a, 'raised', T0 + i * 1000));
    store.trim(T0 + 7000);
    expect(store.history().map((e) => e.at)).toEqual([T0 + 9000, T0 + 8000, T0 + 7000]);
    expect(store.current()).toEqual([a]);
    expect(store.stats()).toMatchObject({ current: 1, events: 3, dropped: 0 });
    store.trim(T0 + 100_000);
    expect(store.history()).toEqual([]);
    expect(store.current()).toEqual([a]);
  });

  it('holds its hard cap in an alarm flood and counts what it dropped', () => {
    const { store } = make({ maxEvents: 50 });
    for (let i = 0; i < 2000; i++) {
      const a = alarm(`m1/r${i % 7}`, i % 2 === 0 ? 'active-unacked' : 'normal');
      store.commit(a, eventOf(a, i % 2 === 0 ? 'raised' : 'cleared', T0 + i));
    }
    expect(store.stats()).toMatchObject({ events: 50, dropped: 1950 });
    const h = store.history();
    expect(h).toHaveLength(50);
    expect(h[0]!.at).toBe(T0 + 1999);
    expect(h[49]!.at).toBe(T0 + 1950);
  });

  it('gives back current alarms and history after a restart, and the engine continues from them', () => {
    const rig = make();
    const clock = { t: T0, now: () => clock.t };
    const profile = parseProfile(
      {
        model: 'test',
        title: 'Test machine',
        idealCycleTimeS: 10,
        points: [
          {
            id: 'state',
            name: 'State',
            function: 'input',
            address: 0,
            type: 'uint16',
            role: 'state',
            states: { '0': 'idle', '1': 'running', '2': 'fault' },
          },
          { id: 'temp', name: 'Temperature', function: 'input', address: 1, type: 'int16', scale: 0.1, unit: '°C', role: 'process' },
        ],
        alarms: [
          { id: 'hi', kind: 'high', point: 'temp', limit: 100, deadband: 5, priority: 'medium', message: 'Temperature high' },
          { id: 'fault', kind: 'state', state: 'fault', priority: 'high', message: 'Machine in fault' },
        ],
      },
      'test-profile.json',
    );
    const input = (temp: number, state: 'running' | 'fault'): AlarmInput => ({
      ts: clock.t,
      state,
      link: { state: 'online' },
      values: { temp: { value: temp, raw: [0], quality: 'good', ts: clock.t, reason: null } },
    });
    const first = new AlarmEngine({ machines: [{ id: 'm1', profile }], clock, store: rig.store, timers: false });
    first.update('m1', input(150, 'fault'));
    clock.t += 1000;
    first.acknowledge(['m1/fault'], 'anna');
    const before = first.alarms();
    const history = first.history();
    expect(before.map((a) => `${a.id}:${a.state}`)).toEqual(['m1/hi:active-unacked', 'm1/fault:active-acked']);
    first.stop();

    const store = rig.reopen();
    clock.t += 60_000;
    const second = new AlarmEngine({ machines: [{ id: 'm1', profile }], clock, store, timers: false });
    expect(second.alarms()).toEqual(before);
    expect(second.history()).toEqual(history);
    second.update('m1', input(50, 'running'));
    expect(second.alarms().map((a) => `${a.id}:${a.state}`)).toEqual(['m1/hi:cleared-unacked']);
    expect(
      store
        .history({ limit: 2 })
        .map((e) => `${e.alarmId}:${e.state}`)
        .sort(),
    ).toEqual(['m1/fault:normal', 'm1/hi:cleared-unacked']);
  });
});

function write(id: string, extra: Partial<WriteResult> = {}): WriteResult {
  return {
    id,
    machineId: 'm1',
    pointId: 'temp-sp',
    user: 'anna',
    at: T0,
    before: 212,
    requested: 214,
    readback: 214,
    outcome: 'written',
    code: null,
    reason: null,
    revertOf: null,
    unit: '°C',
    ...extra,
  };
}

const writeImpls: [string, () => WriteLogStore][] = [
  ['memory', () => createMemoryWriteLog()],
  ['sql', () => createSqlWriteLog(memoryDb(), { log: silentLogger, clock: { now: () => T0 } })],
];

describe.each(writeImpls)('write log contract (%s)', (_name, make) => {
  it('keeps every entry, refusals included, and finds it by id as a copy', () => {
    const log = make();
    const refused = write('w2', {
      at: T0 + 1,
      before: null,
      requested: 300,
      readback: null,
      outcome: 'refused',
      code: 'LIMIT_EXCEEDED',
      reason: '300.0 °C is above the maximum 240.0 °C',
    });
    log.append(write('w1'));
    log.append(refused);
    log.append(write('w3', { at: T0 + 2, revertOf: 'w1', requested: true, before: false, readback: true, unit: '' }));
    expect(log.get('w2')).toEqual(refused);
    expect(log.get('w3')).toMatchObject({ requested: true, revertOf: 'w1' });
    expect(log.get('nope')).toBeUndefined();
    log.get('w1')!.outcome = 'failed';
    expect(log.get('w1')!.outcome).toBe('written');
  });

  it('lists newest first, by machine, limited', () => {
    const log = make();
    for (let i = 1; i <= 6; i++) log.append(write(`w${i}`, { at: T0 + i * 1000, machineId: i % 2 === 0 ? 'm2' : 'm1' }));
    expect(log.list({ limit: 100 }).map((e) => e.id)).toEqual(['w6', 'w5', 'w4', 'w3', 'w2', 'w1']);
    expect(log.list({ machineId: 'm1', limit: 100 }).map((e) => e.id)).toEqual(['w5', 'w3', 'w1']);
    expect(log.list({ machineId: 'm2', limit: 2 }).map((e) => e.id)).toEqual(['w6', 'w4']);
    expect(log.list({ machineId: undefined, limit: 1 }).map((e) => e.id)).toEqual(['w6']);
    expect(log.list({ limit: 0 })).toEqual([]);
    expect(log.list({ machineId: 'nope', limit: 5 })).toEqual([]);
  });

  it('keeps entries with the same time in the order they were appended, and replaces a repeated id', () => {
    const log = make();
    for (const id of ['a', 'b', 'c']) log.append(write(id));
    expect(log.list({ limit: 10 }).map((e) => e.id)).toEqual(['c', 'b', 'a']);
    log.append(write('a', { outcome: 'failed', code: 'MODBUS_TIMEOUT' }));
    expect(log.list({ limit: 10 }).map((e) => `${e.id}:${e.outcome}`)).toEqual(['a:failed', 'c:written', 'b:written']);
  });
});

describe('SQL alarm store', () => {
  it('writes an alarm and its event both or neither', () => {
    const db = memoryDb();
    const store = createSqlAlarmStore(db, { log: silentLogger });
    const a = alarm('m1/hi', 'active-unacked');
    store.commit(a, eventOf(a, 'raised', T0));
    db.exec(
      "CREATE TRIGGER fail_event BEFORE INSERT ON alarm_events WHEN NEW.event = 'acknowledged' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    );
    const acked = { ...a, state: 'active-acked' as const, ackedBy: 'anna', ackedAt: T0 + 1 };
    expect(() => store.commit(acked, eventOf(acked, 'acknowledged', T0 + 1, 'anna'))).toThrow(/injected failure/);
    expect(store.current()).toEqual([a]);
    expect(store.history()).toHaveLength(1);
    expect(store.stats()).toMatchObject({ current: 1, events: 1 });
    const cleared = { ...a, state: 'normal' as const, clearedAt: T0 + 2 };
    db.exec(
      "CREATE TRIGGER fail_clear BEFORE INSERT ON alarm_events WHEN NEW.event = 'cleared' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    );
    expect(() => store.commit(cleared, eventOf(cleared, 'cleared', T0 + 2))).toThrow();
    expect(createSqlAlarmStore(db, { log: silentLogger }).current()).toEqual([a]);
  });

  it('leaves the engine where it was when a commit fails, and moves it at the next poll', () => {
    const db = memoryDb();
    const clock = { t: T0, now: () => clock.t };
    const profile = parseProfile(
      {
        model: 't',
        title: 'T',
        idealCycleTimeS: 10,
        points: [
          {
            id: 'state',
            name: 'State',
            function: 'input',
            address: 0,
            type: 'uint16',
            role: 'state',
            states: { '0': 'idle', '2': 'fault' },
          },
        ],
        alarms: [{ id: 'fault', kind: 'state', state: 'fault', priority: 'high', message: 'Fault' }],
      },
      'p.json',
    );
    const engine = new AlarmEngine({
      machines: [{ id: 'm1', profile }],
      clock,
      store: createSqlAlarmStore(db, { log: silentLogger }),
      timers: false,
    });
    const input: AlarmInput = { ts: T0, state: 'fault', link: { state: 'online' }, values: {} };
    db.exec("CREATE TRIGGER fail_event BEFORE INSERT ON alarm_events BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    expect(() => engine.update('m1', input)).toThrow(/disk full/);
    expect(engine.alarms()).toEqual([]);
    db.exec('DROP TRIGGER fail_event');
    expect(engine.update('m1', { ...input, ts: T0 + 1000 })).toBe(true);
    expect(engine.alarms().map((a) => a.state)).toEqual(['active-unacked']);
  });

  it('keeps the drop count over restarts, applies a lowered cap at once, and says so in the log', () => {
    const db = memoryDb();
    const log = memoryLogger();
    const store = createSqlAlarmStore(db, { log, maxEvents: 20 });
    const a = alarm('m1/hi', 'active-unacked');
    for (let i = 0; i < 30; i++) store.commit(a, eventOf(a, 'raised', T0 + i));
    expect(store.stats()).toMatchObject({ events: 20, dropped: 10 });
    expect(log.lines.filter((l) => l.level === 'warn' && l.msg.includes('cap'))).toHaveLength(1);
    const again = createSqlAlarmStore(db, { log, maxEvents: 5 });
    expect(again.stats()).toMatchObject({ events: 5, dropped: 25, current: 1 });
    expect(again.history().map((e) => e.at)).toEqual([29, 28, 27, 26, 25].map((i) => T0 + i));
  });

  it('forgets events beyond its own retention without being trimmed, at open and while committing', () => {
    const db = memoryDb();
    const clock = { t: T0, now: () => clock.t };
    const store = createSqlAlarmStore(db, { log: silentLogger, clock, retentionMs: DAY });
    const a = alarm('m1/hi', 'active-unacked');
    store.commit(a, eventOf(a, 'raised', T0));
    clock.t += DAY / 2;
    store.commit(a, eventOf(a, 'raised', clock.t));
    clock.t += DAY;
    store.commit(a, eventOf(a, 'raised', clock.t));
    expect(store.history().map((e) => e.at)).toEqual([T0 + 1.5 * DAY, T0 + 0.5 * DAY]);
    clock.t += DAY;
    expect(
      createSqlAlarmStore(db, { log: silentLogger, clock, retentionMs: DAY })
        .history()
        .map((e) => e.at),
    ).toEqual([T0 + 1.5 * DAY]);
    expect(store.current()).toEqual([a]);
  });

  it('skips a stored row it cannot read, logging it once', () => {
    const db = memoryDb();
    const log = memoryLogger();
    const store = createSqlAlarmStore(db, { log });
    const a = alarm('m1/hi', 'active-unacked');
    store.commit(a, eventOf(a, 'raised', T0));
    db.prepare(
      "INSERT INTO alarms (id, machine, state, raised_at, alarm) VALUES ('m1/bad', 'm1', 'active-unacked', 0, '{\"id\":1}')",
    ).run();
    db.prepare("INSERT INTO alarm_events (at, alarm_id, machine, event, entry) VALUES (?, 'm1/bad', 'm1', 'raised', 'not json')").run([
      T0 + 1,
    ]);
    expect(store.current()).toEqual([a]);
    expect(store.history()).toEqual([eventOf(a, 'raised', T0)]);
    store.current();
    store.history();
    expect(log.lines.filter((l) => l.level === 'error')).toHaveLength(2);
    expect(store.stats()).toMatchObject({ unreadable: 2 });
  });
});

describe('SQL write log', () => {
  it('survives a restart with the same entries in the same order', () => {
    const db = memoryDb();
    const first = createSqlWriteLog(db, { log: silentLogger });
    for (let i = 1; i <= 3; i++) first.append(write(`w${i}`, { at: T0 + i }));
    const second = createSqlWriteLog(db, { log: silentLogger });
    expect(second.list({ limit: 10 })).toEqual(first.list({ limit: 10 }));
    expect(second.stats()).toMatchObject({ entries: 3, dropped: 0 });
  });

  it('keeps at least the retention or the newest entries, whichever is more, under a hard cap', () => {
    const db = memoryDb();
    const clock = { t: T0, now: () => clock.t };
    const log = memoryLogger();
    const store = createSqlWriteLog(db, { log, clock, retentionMs: 10 * DAY, keepEntries: 5, maxEntries: 8 });
    // Six old entries, then a new one: only the two oldest are both past the retention and not among the newest five.
    for (let i = 0; i < 6; i++) store.append(write(`old${i}`, { at: T0 + i }));
    clock.t = T0 + 30 * DAY;
    store.append(write('new0', { at: clock.t }));
    expect(store.list({ limit: 100 }).map((e) => e.id)).toEqual(['new0', 'old5', 'old4', 'old3', 'old2']);
    // Young entries stay beyond `keepEntries`, up to the hard cap, which drops even young ones.
    for (let i = 1; i < 10; i++) store.append(write(`new${i}`, { at: clock.t + i, outcome: 'refused', code: 'INTERLOCK' }));
    expect(store.list({ limit: 100 }).map((e) => e.id)).toEqual(['new9', 'new8', 'new7', 'new6', 'new5', 'new4', 'new3', 'new2']);
    expect(store.stats()).toMatchObject({ entries: 8, dropped: 2 });
    expect(store.get('old5')).toBeUndefined();
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(createSqlWriteLog(db, { log: silentLogger, clock }).stats()).toMatchObject({ entries: 8, dropped: 2 });
  });

  it('does not throw when the database refuses an entry, and counts it', () => {
    const db = memoryDb();
    const log = memoryLogger();
    const store = createSqlWriteLog(db, { log });
    db.exec("CREATE TRIGGER fail_write BEFORE INSERT ON write_log BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    expect(() => store.append(write('w1'))).not.toThrow();
    expect(store.stats()).toMatchObject({ failed: 1, entries: 0 });
    expect(log.lines.some((l) => l.level === 'error' && l.msg.includes('disk full'))).toBe(true);
  });
});
