import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleApi } from '../../src-main/api/service';
import { LOCAL_OPERATOR } from '../helpers/callers';
import { createMemoryAlarmStore, type AlarmStore } from '../../src-main/alarms/store';
import { resolveConfig } from '../../src-main/config/load';
import type { PlantConfig } from '../../src-main/config/schema';
import { PlantCore } from '../../src-main/core/plant';
import {
  COMMANDS,
  EVENTS,
  type AlarmSummary,
  type Caller,
  type CommandName,
  type CommandResponse,
  type Link,
} from '../../src-preload/contract';
import { FakePoller } from '../helpers/fake-poller';

const T0 = Date.UTC(2026, 0, 12, 9, 0); // three hours into the Early shift (06:00 UTC)

function plantConfig(): PlantConfig {
  const config = resolveConfig(
    {
      plant: { name: 'Werk Süd', timezone: 'UTC' },
      devices: [
        { id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } },
        { id: 'hp-1', name: 'Press 1', profile: 'builtin:hp200', transport: { type: 'tcp', host: '127.0.0.1', port: 1503 } },
      ],
    },
    'test-config.json',
    { simulated: true },
  );
  // Rules of this test, independent of the demo rules in the built-in profiles.
  for (const d of config.devices) {
    d.profileDef = {
      ...d.profileDef,
      alarms: [
        { id: 'fault', kind: 'state', state: 'fault', deadband: 0, delayS: 0, priority: 'high', message: 'Machine in fault' },
        ...(d.id === 'im-1'
          ? [
              {
                id: 'zone1-high',
                kind: 'high' as const,
                point: 'zone1',
                limit: 230,
                deadband: 2,
                delayS: 0,
                priority: 'medium' as const,
                message: 'Barrel zone 1 too hot',
              },
            ]
          : []),
      ],
    };
  }
  return config;
}

const cores: PlantCore[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

function started(opts: { alarmStore?: AlarmStore } = {}) {
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const pollers = new Map<string, FakePoller>();
  const core = new PlantCore({
    config: plantConfig(),
    clock,
    alarmStore: opts.alarmStore,
    pollerFactory: (d) => {
      const p = new FakePoller(d, T0);
      pollers.set(d.id, p);
      return p;
    },
  });
  core.start();
  cores.push(core);
  const api = new ConsoleApi(core);
  const poll = (id: string, dtMs: number, state: number, given?: Record<string, number>, link?: Partial<Link>): void => {
    clock.t += dtMs;
    pollers.get(id)!.emit(clock.t, state, given, link);
  };
  return { core, api, clock, poll };
}

async function ok<K extends CommandName>(
  api: ConsoleApi,
  name: K,
  request: unknown,
  caller: Caller = LOCAL_OPERATOR,
): Promise<CommandResponse<K>> {
  const r = await api.handle(caller, name, request);
  if (!r.ok) throw new Error(`${name} failed: ${r.error.code} ${r.error.message}`);
  const schema: { parse(v: unknown): unknown } = COMMANDS[name].response;
  return schema.parse(r.value) as CommandResponse<K>;
}

const MAINT: Caller = { user: 'maria', role: 'maintenance', origin: 'remote' };

describe('alarms through the ConsoleApi', () => {
  it('lists the plant and one machine, and streams every change to subscribers', async () => {
    const { api, poll } = started();
    const updates: AlarmSummary[] = [];
    const off = api.subscribe('alarms.update', (s) => updates.push(EVENTS['alarms.update'].parse(s)), LOCAL_OPERATOR);
    expect(await ok(api, 'alarms.list', {})).toEqual({ alarms: [], counts: { active: 0, unacknowledged: 0 } });

    poll('im-1', 1000, 1, { zone1: 231.5 });
    poll('hp-1', 0, 9); // hp200: 9 = fault
    expect(updates).toHaveLength(2);
    const all = await ok(api, 'alarms.list', {});
    expect(all.counts).toEqual({ active: 2, unacknowledged: 2 });
    expect(all.alarms.map((a) => a.id)).toEqual(['hp-1/fault', 'im-1/zone1-high']); // high before medium
    expect(all.alarms[1]).toMatchObject({ value: 231.5, limit: 230, unit: '°C', state: 'active-unacked', raisedAt: T0 + 1000 });
    const one = await ok(api, 'alarms.list', { machineId: 'im-1' });
    expect(one.alarms.map((a) => a.id)).toEqual(['im-1/zone1-high']);
    const missing = await api.handle(LOCAL_OPERATOR, 'alarms.list', { machineId: 'nope' });
    expect(missing).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });

    // Nothing changed: no event.
    poll('im-1', 500, 1, { zone1: 229 });
    expect(updates).toHaveLength(2);
    off();
    poll('im-1', 500, 1, { zone1: 200 });
    expect(updates).toHaveLength(2);
  });

  it('puts the alarm badge into machine snapshots', async () => {
    const { api, poll } = started();
    poll('im-1', 1000, 2, { zone1: 240 }); // im250: 2 = fault
    const list = await ok(api, 'machines.list', {});
    expect(list.find((m) => m.id === 'im-1')?.alarms).toEqual({ active: 2, unacknowledged: 2, highest: 'high' });
    expect(list.find((m) => m.id === 'hp-1')?.alarms).toEqual({ active: 0, unacknowledged: 0, highest: null });
    const detail = await ok(api, 'machines.get', { machineId: 'im-1' });
    expect(detail.snapshot.alarms?.active).toBe(2);
  });

  it('acknowledges for the calling user, reports unknown ids, and refuses roles that may not ack', async () => {
    const { api, poll, clock } = started();
    poll('im-1', 1000, 1, { zone1: 235 });
    clock.t += 2000;
    const res = await ok(api, 'alarms.ack', { alarmIds: ['im-1/zone1-high', 'im-1/ghost', 'x/y'] }, MAINT);
    expect(res).toEqual({ acknowledged: ['im-1/zone1-high'], unknown: ['im-1/ghost', 'x/y'] });
    const [alarm] = (await ok(api, 'alarms.list', {})).alarms;
    expect(alarm).toMatchObject({ state: 'active-acked', ackedBy: 'maria', ackedAt: T0 + 3000 });
    // Again, by someone else: a no-op that still answers acknowledged.
    expect(await ok(api, 'alarms.ack', { alarmIds: ['im-1/zone1-high'] })).toEqual({ acknowledged: ['im-1/zone1-high'], unknown: [] });
    expect((await ok(api, 'alarms.list', {})).alarms[0]?.ackedBy).toBe('maria');

    const support: Caller = { user: 'sup', role: 'supplier-support', origin: 'remote' };
    expect(await api.handle(support, 'alarms.ack', { alarmIds: ['im-1/zone1-high'] })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    expect(await api.handle(LOCAL_OPERATOR, 'alarms.ack', { alarmIds: [] })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });

  it('answers history newest first, from the shift start by default, per machine on request', async () => {
    const shiftStart = Date.UTC(2026, 0, 12, 6);
    // An event of the previous shift, carried over in the store.
    const store = createMemoryAlarmStore({
      initialEvents: [
        {
          at: shiftStart - 60_000,
          alarmId: 'im-1/fault',
          machineId: 'im-1',
          event: 'raised',
          state: 'active-unacked',
          priority: 'high',
          message: 'Machine in fault',
          user: null,
          value: null,
        },
      ],
    });
    const { api, poll } = started({ alarmStore: store });
    poll('im-1', 1000, 1, { zone1: 235 });
    await ok(api, 'alarms.ack', { alarmIds: ['im-1/zone1-high'] });
    poll('hp-1', 1000, 9);
    poll('im-1', 1000, 1, { zone1: 100 });

    const shift = await ok(api, 'alarms.history', {});
    expect(shift.events.map((e) => `${e.alarmId} ${e.event} ${e.state}`)).toEqual([
      'im-1/zone1-high cleared normal',
      'hp-1/fault raised active-unacked',
      'im-1/zone1-high acknowledged active-acked',
      'im-1/zone1-high raised active-unacked',
    ]);
    expect(shift.events[2]).toMatchObject({ user: 'local-operator', value: 235 });
    expect(shift.events[0]).toMatchObject({ value: 100, user: null });
    const im = await ok(api, 'alarms.history', { machineId: 'im-1', fromMs: 0 });
    expect(im.events).toHaveLength(4);
    expect(im.events.at(-1)?.at).toBe(shiftStart - 60_000);
    expect(await api.handle(LOCAL_OPERATOR, 'alarms.history', { machineId: 'nope' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
  });

  it('raises a line-quality alarm while a machine answers spoiled, and clears it when clean again', async () => {
    const { core, poll } = started();
    const id = core.machineIds()[0]!;
    const noisy = { line: 'rtu:/dev/ttyUSB0', noise: { spoiled: 7, answers: 100, noisy: true } };
    poll(id, 1000, 1, {}, noisy);
    poll(id, 1000, 1, {}, noisy);
    const raised = core.alarms.alarms(id).filter((a) => a.kind === 'line');
    expect(raised).toEqual([
      expect.objectContaining({
        state: 'active-unacked',
        priority: 'medium',
        message:
          'Noisy line rtu:/dev/ttyUSB0: 7 of the last 100 answers arrived spoiled (bad CRC, cut frames); check cabling, termination, shielding',
      }),
    ]);
    poll(id, 1000, 1, {}, { ...noisy, noise: { spoiled: 0, answers: 100, noisy: false } });
    expect(
      core.alarms
        .alarms(id)
        .filter((a) => a.kind === 'line')
        .map((a) => a.state),
    ).toEqual(['cleared-unacked']);
  });

  it('starts from the alarms a store saved (a console restart)', async () => {
    const store = createMemoryAlarmStore();
    const first = started({ alarmStore: store });
    first.poll('hp-1', 1000, 9);
    await first.core.stop();

    const second = started({ alarmStore: store });
    expect((await ok(second.api, 'alarms.list', {})).alarms.map((a) => `${a.id}:${a.state}`)).toEqual(['hp-1/fault:active-unacked']);
    second.poll('hp-1', 1000, 1);
    expect((await ok(second.api, 'alarms.list', {})).alarms.map((a) => `${a.id}:${a.state}`)).toEqual(['hp-1/fault:cleared-unacked']);
  });
});
