import { describe, expect, it } from 'vitest';
import { AlarmEngine, compareAlarms } from '../../src-main/alarms/engine';
import { rulesFor, type AlarmInput } from '../../src-main/alarms/rules';
import { createMemoryAlarmStore, type AlarmStore } from '../../src-main/alarms/store';
import { parseProfile } from '../../src-main/config/load';
import type { Profile } from '../../src-main/config/schema';
import { memoryLogger } from '../../src-main/core/log';
import {
  AlarmSummarySchema,
  type Alarm,
  type AlarmSummary,
  type MachineState,
  type PointValue,
  type Quality,
} from '../../src-preload/contract';

const T0 = Date.UTC(2026, 0, 12, 9, 0);

/** A small profile: a temperature with high/low rules, a fault-state rule, and whatever `alarms` adds. */
function profile(alarms: unknown[] = DEFAULT_RULES): Profile {
  return parseProfile(
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
      alarms,
    },
    'test-profile.json',
  );
}

const DEFAULT_RULES = [
  { id: 'temp-high', kind: 'high', point: 'temp', limit: 100, deadband: 5, delayS: 10, priority: 'medium', message: 'Temperature high' },
  { id: 'temp-low', kind: 'low', point: 'temp', limit: 20, deadband: 2, delayS: 0, priority: 'low', message: 'Temperature low' },
  { id: 'fault', kind: 'state', state: 'fault', delayS: 3, priority: 'high', message: 'Machine in fault' },
];

interface Rig {
  engine: AlarmEngine;
  store: AlarmStore;
  clock: { t: number; now(): number };
  summaries: AlarmSummary[];
  /** Feeds one poll at clock time + `dtS`. */
  feed(
    dtS: number,
    opts?: { temp?: number | null; quality?: Quality; state?: MachineState; link?: 'online' | 'offline' | 'connecting' },
  ): boolean;
  alarm(ruleId: string): Alarm | undefined;
}

function rig(opts: { store?: AlarmStore; alarms?: unknown[] } = {}): Rig {
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const store = opts.store ?? createMemoryAlarmStore();
  const engine = new AlarmEngine({ machines: [{ id: 'm1', profile: profile(opts.alarms) }], clock, store, timers: false });
  const summaries: AlarmSummary[] = [];
  engine.onChange((s) => summaries.push(AlarmSummarySchema.parse(s)));
  return {
    engine,
    store,
    clock,
    summaries,
    feed(dtS, o = {}) {
      clock.t += dtS * 1000;
      const temp: PointValue = {
        value: o.temp === undefined ? 50 : o.temp,
        raw: [0],
        quality: o.quality ?? 'good',
        ts: o.quality && o.quality !== 'good' ? clock.t - 5000 : clock.t,
        reason: o.quality && o.quality !== 'good' ? 'timeout' : null,
      };
      const input: AlarmInput = {
        ts: clock.t,
        state: o.state ?? 'running',
        link: { state: o.link ?? 'online' },
        values: { temp, state: { value: 1, raw: [1], quality: 'good', ts: clock.t, reason: null } },
      };
      return engine.update('m1', input);
    },
    alarm: (ruleId) => engine.alarms('m1').find((a) => a.ruleId === ruleId),
  };
}

describe('alarm rules', () => {
  it('adds the implicit link-loss rule unless the profile has its own', () => {
    const implicit = rulesFor(profile()).find((r) => r.kind === 'link');
    expect(implicit).toMatchObject({
      id: 'link-loss',
      priority: 'high',
      delayMs: 5000,
      message: 'No connection to the machine',
      implicit: true,
    });
    const own = rulesFor(profile([{ id: 'comms', kind: 'link', delayS: 30, priority: 'low', message: 'Link down' }])).filter(
      (r) => r.kind === 'link',
    );
    expect(own).toEqual([expect.objectContaining({ id: 'comms', delayMs: 30_000, priority: 'low', implicit: false })]);
    const clash = rulesFor(profile([{ id: 'link-loss', kind: 'state', state: 'idle', message: 'Idle' }]));
    expect(clash.map((r) => r.id)).toEqual(['link-loss', 'link-loss-2']);
  });

  it('takes the unit of the watched point', () => {
    expect(rulesFor(profile()).find((r) => r.id === 'temp-high')?.unit).toBe('°C');
  });
});

describe('alarm engine', () => {
  it('raises a high alarm only after its delay has passed with the condition holding', () => {
    const r = rig();
    expect(r.feed(1, { temp: 101 })).toBe(false);
    expect(r.feed(5, { temp: 102 })).toBe(false);
    expect(r.alarm('temp-high')).toBeUndefined();
    // Dipping to the limit (not above it) restarts the delay.
    r.feed(3, { temp: 100 });
    r.feed(1, { temp: 105 });
    r.feed(9, { temp: 105 });
    expect(r.alarm('temp-high')).toBeUndefined();
    expect(r.feed(1, { temp: 104 })).toBe(true);
    expect(r.alarm('temp-high')).toMatchObject({
      state: 'active-unacked',
      value: 104,
      limit: 100,
      unit: '°C',
      raisedAt: r.clock.t,
      priority: 'medium',
    });
    expect(r.summaries.at(-1)?.counts).toEqual({ active: 1, unacknowledged: 1 });
    expect(r.engine.history()[0]).toMatchObject({
      event: 'raised',
      state: 'active-unacked',
      alarmId: 'm1/temp-high',
      value: 104,
      user: null,
    });
  });

  it('raises on `advance` when the delay expires between polls, not before', () => {
    const r = rig();
    r.feed(0, { temp: 120 });
    expect(r.engine.nextDueAt()).toBe(T0 + 10_000);
    expect(r.engine.advance(T0 + 9_999)).toBe(false);
    expect(r.engine.advance(T0 + 10_000)).toBe(true);
    expect(r.alarm('temp-high')).toMatchObject({ state: 'active-unacked', raisedAt: T0 + 10_000, value: 120 });
    expect(r.engine.nextDueAt()).toBeNull();
  });

  it('does not chatter around the limit: clears only below limit − deadband', () => {
    const r = rig({ alarms: [{ id: 'hi', kind: 'high', point: 'temp', limit: 100, deadband: 5, priority: 'medium', message: 'High' }] });
    r.feed(1, { temp: 101 });
    expect(r.alarm('hi')?.state).toBe('active-unacked');
    const before = r.engine.history().length;
    for (const v of [99, 101, 96, 100.5, 95, 99.9, 95.01]) r.feed(1, { temp: v });
    expect(r.alarm('hi')?.state).toBe('active-unacked');
    expect(r.engine.history()).toHaveLength(before);
    r.feed(1, { temp: 94.9 });
    expect(r.alarm('hi')).toMatchObject({ state: 'cleared-unacked', clearedAt: r.clock.t });
    // Back at the limit is not above it: still cleared.
    r.feed(1, { temp: 100 });
    expect(r.alarm('hi')?.state).toBe('cleared-unacked');
  });

  it('handles a low alarm symmetrically', () => {
    const r = rig();
    r.feed(1, { temp: 19.5 });
    expect(r.alarm('temp-low')?.state).toBe('active-unacked');
    r.feed(1, { temp: 21.9 });
    expect(r.alarm('temp-low')?.state).toBe('active-unacked');
    r.feed(1, { temp: 22.1 });
    expect(r.alarm('temp-low')?.state).toBe('cleared-unacked');
  });

  it('acknowledges: active → active-acked, cleared-unacked → normal; records the user; repeat acks are no-ops', () => {
    const r = rig();
    r.feed(1, { temp: 10 });
    r.clock.t += 500;
    expect(r.engine.acknowledge(['m1/temp-low'], 'anna')).toEqual({ acknowledged: ['m1/temp-low'], unknown: [] });
    expect(r.alarm('temp-low')).toMatchObject({ state: 'active-acked', ackedBy: 'anna', ackedAt: r.clock.t });
    expect(r.engine.history()[0]).toMatchObject({ event: 'acknowledged', state: 'active-acked', user: 'anna', value: 10 });
    const events = r.engine.history().length;
    expect(r.engine.acknowledge(['m1/temp-low', 'm1/temp-low'], 'bert')).toEqual({ acknowledged: ['m1/temp-low'], unknown: [] });
    expect(r.alarm('temp-low')?.ackedBy).toBe('anna');
    expect(r.engine.history()).toHaveLength(events);

    r.feed(1, { temp: 25 }); // clear first, ack afterwards
    r.feed(1, { temp: 10 });
    r.feed(1, { temp: 25 });
    expect(r.alarm('temp-low')?.state).toBe('cleared-unacked');
    expect(r.engine.acknowledge(['m1/temp-low', 'm1/nope', 'other/temp-low'], 'carl')).toEqual({
      acknowledged: ['m1/temp-low'],
      unknown: ['m1/nope', 'other/temp-low'],
    });
    expect(r.alarm('temp-low')).toBeUndefined();
    expect(r.engine.history()[0]).toMatchObject({ event: 'acknowledged', state: 'normal', user: 'carl' });
  });

  it('clears: active-acked → normal, active-unacked → cleared-unacked', () => {
    const r = rig();
    r.feed(1, { temp: 10 });
    r.engine.acknowledge(['m1/temp-low'], 'anna');
    r.feed(1, { temp: 30 });
    expect(r.alarm('temp-low')).toBeUndefined();
    expect(r.engine.history()[0]).toMatchObject({ event: 'cleared', state: 'normal', value: 30 });
    r.feed(1, { temp: 10 });
    r.feed(1, { temp: 30 });
    expect(r.alarm('temp-low')).toMatchObject({ state: 'cleared-unacked', clearedAt: r.clock.t });
    expect(r.engine.history().map((e) => `${e.event}:${e.state}`)).toEqual([
      'cleared:cleared-unacked',
      'raised:active-unacked',
      'cleared:normal',
      'acknowledged:active-acked',
      'raised:active-unacked',
    ]);
    expect(r.summaries.at(-1)?.counts).toEqual({ active: 0, unacknowledged: 1 });
  });

  it('returns to active-unacked when the condition comes back while cleared-unacked (after the delay again)', () => {
    const r = rig();
    r.feed(0, { temp: 150 });
    r.feed(10, { temp: 150 });
    r.feed(1, { temp: 90 });
    expect(r.alarm('temp-high')?.state).toBe('cleared-unacked');
    const clearedAt = r.clock.t;
    r.feed(1, { temp: 130 });
    expect(r.alarm('temp-high')?.state).toBe('cleared-unacked');
    r.feed(10, { temp: 131 });
    expect(r.alarm('temp-high')).toMatchObject({ state: 'active-unacked', raisedAt: clearedAt + 11_000, clearedAt: null, value: 131 });
  });

  it('raises a state alarm after its delay and clears it when the machine leaves the state', () => {
    const r = rig();
    r.feed(1, { state: 'fault' });
    r.feed(2, { state: 'fault' });
    expect(r.alarm('fault')).toBeUndefined();
    r.feed(1, { state: 'fault' });
    expect(r.alarm('fault')).toMatchObject({ state: 'active-unacked', kind: 'state', value: null, limit: null, priority: 'high' });
    // Offline says nothing about the fault: the alarm stands until the state is known again.
    r.feed(1, { state: 'offline', link: 'offline' });
    expect(r.alarm('fault')?.state).toBe('active-unacked');
    r.feed(1, { state: 'idle' });
    expect(r.alarm('fault')?.state).toBe('cleared-unacked');
  });

  it('raises the implicit link-loss alarm after 5 s offline, and clears it when the link is back', () => {
    const r = rig();
    r.feed(1, { state: 'offline', link: 'offline', temp: null, quality: 'bad' });
    r.feed(4.9, { state: 'offline', link: 'offline', temp: null, quality: 'bad' });
    expect(r.alarm('link-loss')).toBeUndefined();
    expect(r.engine.nextDueAt()).toBe(T0 + 6000);
    r.engine.advance(T0 + 6000);
    expect(r.alarm('link-loss')).toMatchObject({
      state: 'active-unacked',
      kind: 'link',
      priority: 'high',
      message: 'No connection to the machine',
      raisedAt: T0 + 6000,
    });
    r.clock.t = T0 + 6000;
    r.feed(2, { state: 'running', link: 'online' });
    expect(r.alarm('link-loss')?.state).toBe('cleared-unacked');
    // A blip shorter than the delay raises nothing.
    r.engine.acknowledge(['m1/link-loss'], 'anna');
    r.feed(1, { state: 'offline', link: 'connecting', temp: null, quality: 'bad' });
    r.feed(3, { state: 'offline', link: 'offline', temp: null, quality: 'bad' });
    r.feed(1, { state: 'running', link: 'online' });
    r.engine.advance(r.clock.t + 60_000);
    expect(r.alarm('link-loss')).toBeUndefined();
  });

  it('neither raises nor clears a high/low alarm on bad or stale values, and restarts the delay', () => {
    const r = rig();
    r.feed(0, { temp: 150 });
    r.feed(6, { temp: 150, quality: 'stale' });
    r.feed(6, { temp: 150 });
    expect(r.alarm('temp-high')).toBeUndefined(); // the delay restarted at the good value
    r.feed(10, { temp: 150 });
    expect(r.alarm('temp-high')?.state).toBe('active-unacked');
    r.feed(1, { temp: 0, quality: 'bad' });
    r.feed(1, { temp: null, quality: 'bad' });
    r.feed(1, { temp: 0, quality: 'stale' });
    expect(r.alarm('temp-high')?.state).toBe('active-unacked');
    expect(r.alarm('temp-low')).toBeUndefined();
    r.feed(1, { temp: 50 });
    expect(r.alarm('temp-high')?.state).toBe('cleared-unacked');
  });

  it('restarts from a saved store and continues the state machine', () => {
    const first = rig();
    first.feed(0, { temp: 150 });
    first.feed(10, { temp: 150 }); // temp-high active-unacked
    first.feed(1, { temp: 150, state: 'fault' });
    first.feed(3, { temp: 150, state: 'fault' }); // fault active-unacked
    first.engine.acknowledge(['m1/fault'], 'anna'); // fault active-acked
    first.feed(1, { temp: 10, state: 'idle' }); // temp-high cleared-unacked, temp-low active, fault normal
    const saved = first.store.current();
    expect(saved.map((a) => `${a.ruleId}:${a.state}`).sort()).toEqual(['temp-high:cleared-unacked', 'temp-low:active-unacked']);

    // A new console run: same saved alarms and history, a rule that no longer exists.
    const orphan: Alarm = { ...saved[0]!, id: 'm1/removed', ruleId: 'removed', state: 'active-unacked' };
    const store = createMemoryAlarmStore({ initial: [...saved, orphan], initialEvents: first.store.history().reverse() });
    const log = memoryLogger();
    const clock = {
      t: first.clock.t + 60_000,
      now() {
        return this.t;
      },
    };
    const engine = new AlarmEngine({ machines: [{ id: 'm1', profile: profile() }], clock, store, log, timers: false });
    expect(engine.alarms().map((a) => `${a.ruleId}:${a.state}`)).toEqual(['temp-high:cleared-unacked', 'temp-low:active-unacked']);
    expect(store.history()[0]).toMatchObject({ alarmId: 'm1/removed', event: 'normal', state: 'normal' });
    expect(log.lines.some((l) => l.msg.includes('m1/removed'))).toBe(true);

    const input = (temp: number): AlarmInput => ({
      ts: clock.t,
      state: 'running',
      link: { state: 'online' },
      values: { temp: { value: temp, raw: [0], quality: 'good', ts: clock.t, reason: null } },
    });
    // The standing low alarm keeps its deadband: 21 is not above 20 + 2.
    engine.update('m1', input(21));
    expect(engine.alarms('m1').find((a) => a.ruleId === 'temp-low')?.state).toBe('active-unacked');
    engine.acknowledge(['m1/temp-high', 'm1/temp-low'], 'bert');
    expect(engine.alarms().map((a) => `${a.ruleId}:${a.state}:${a.ackedBy}`)).toEqual(['temp-low:active-acked:bert']);
    clock.t += 1000;
    engine.update('m1', input(30));
    expect(engine.alarms()).toEqual([]);
    expect(store.current()).toEqual([]);
    expect(store.history({ fromMs: 0 }).length).toBeGreaterThan(first.store.history().length);
  });

  it('keeps history bounded by count and by the retention, never forgetting current alarms', () => {
    const store = createMemoryAlarmStore({ maxEvents: 50 });
    const r = rig({ store, alarms: [{ id: 'lo', kind: 'low', point: 'temp', limit: 20, priority: 'low', message: 'Low' }] });
    for (let i = 0; i < 2000; i++) r.feed(1, { temp: i % 2 === 0 ? 10 : 30 });
    expect(store.stats()).toMatchObject({ events: 50, dropped: 1950, current: 1 });
    const h = r.engine.history();
    expect(h).toHaveLength(50);
    expect(h[0]!.at).toBeGreaterThan(h[49]!.at);
    store.trim(r.clock.t - 10_000);
    expect(r.engine.history().every((e) => e.at >= r.clock.t - 10_000)).toBe(true);
    expect(r.engine.history({ limit: 3 })).toHaveLength(3);
    expect(store.current()).toHaveLength(1);
  });

  it('trims history to keepFrom on every change when asked to', () => {
    const clock = {
      t: T0,
      now() {
        return this.t;
      },
    };
    const store = createMemoryAlarmStore();
    const engine = new AlarmEngine({
      machines: [{ id: 'm1', profile: profile() }],
      clock,
      store,
      timers: false,
      keepFrom: (now) => now - 5000,
    });
    const at = (temp: number): AlarmInput => ({
      ts: clock.t,
      state: 'running',
      link: { state: 'online' },
      values: { temp: { value: temp, raw: [0], quality: 'good', ts: clock.t, reason: null } },
    });
    for (let i = 0; i < 20; i++) {
      clock.t += 1000;
      engine.update('m1', at(i % 2 === 0 ? 10 : 30));
    }
    expect(engine.history().every((e) => e.at >= clock.t - 5000)).toBe(true);
    expect(engine.history().length).toBeLessThanOrEqual(6);
  });

  it('sorts unacknowledged first, then by priority, then newest first; badges count per machine', () => {
    const base: Omit<Alarm, 'id' | 'state' | 'priority' | 'raisedAt'> = {
      machineId: 'm',
      ruleId: 'r',
      kind: 'high',
      pointId: null,
      message: '',
      value: null,
      limit: null,
      unit: '',
      clearedAt: null,
      ackedAt: null,
      ackedBy: null,
    };
    const a = (id: string, state: Alarm['state'], priority: Alarm['priority'], raisedAt: number): Alarm => ({
      ...base,
      id,
      state,
      priority,
      raisedAt,
    });
    const sorted = [
      a('acked-critical', 'active-acked', 'critical', 5),
      a('low-new', 'active-unacked', 'low', 9),
      a('high-old', 'cleared-unacked', 'high', 1),
      a('high-new', 'active-unacked', 'high', 3),
    ].sort(compareAlarms);
    expect(sorted.map((x) => x.id)).toEqual(['high-new', 'high-old', 'low-new', 'acked-critical']);

    const r = rig();
    expect(r.engine.badge('m1')).toEqual({ active: 0, unacknowledged: 0, highest: null });
    r.feed(1, { temp: 10, state: 'fault' });
    r.feed(3, { temp: 10, state: 'fault' });
    r.engine.acknowledge(['m1/fault'], 'anna');
    expect(r.engine.badge('m1')).toEqual({ active: 2, unacknowledged: 1, highest: 'high' });
    expect(r.engine.summary().alarms.map((x) => x.ruleId)).toEqual(['temp-low', 'fault']);
    expect(r.engine.update('nope', { ts: 0, state: 'running', link: { state: 'online' }, values: {} })).toBe(false);
  });

  it('arms one timer for the next delay and none after stop', async () => {
    const clock = { now: () => Date.now() };
    const engine = new AlarmEngine({
      machines: [
        {
          id: 'm1',
          profile: profile([{ id: 'lo', kind: 'low', point: 'temp', limit: 20, delayS: 0.05, priority: 'low', message: 'Low' }]),
        },
      ],
      clock,
    });
    const seen: AlarmSummary[] = [];
    engine.onChange((s) => seen.push(s));
    const now = Date.now();
    engine.update('m1', {
      ts: now,
      state: 'running',
      link: { state: 'online' },
      values: { temp: { value: 5, raw: [0], quality: 'good', ts: now, reason: null } },
    });
    expect(seen).toHaveLength(0);
    // Bounded wait: the timer fires about 50 ms after the poll.
    for (let i = 0; i < 40 && seen.length === 0; i++) await new Promise((res) => setTimeout(res, 25));
    expect(seen[0]?.alarms[0]).toMatchObject({ ruleId: 'lo', state: 'active-unacked' });
    engine.stop();
    expect(engine.update('m1', { ts: now, state: 'running', link: { state: 'online' }, values: {} })).toBe(false);
  });
});
