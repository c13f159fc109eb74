/**
 * The alarm journal keeps at least as long as the value history it explains: a plant with the
 * persistent store wired as bootstrap.ts wires it (historyRetention: raw samples 7 days, rollups
 * 90), over a simulated week and then a season, on an injected clock (nothing sleeps).
 */
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleApi } from '../../src-main/api/service';
import { resolveConfig } from '../../src-main/config/load';
import type { PlantConfig } from '../../src-main/config/schema';
import { createMemoryHistory } from '../../src-main/core/history-memory';
import { silentLogger } from '../../src-main/core/log';
import { historyRetention, PlantCore } from '../../src-main/core/plant';
import { createSqlAlarmStore } from '../../src-main/store/alarms-sql';
import { migrate } from '../../src-main/store/schema';
import { COMMANDS } from '../../src-preload/contract';
import { LOCAL_OPERATOR } from '../helpers/callers';
import { FakePoller } from '../helpers/fake-poller';

const MIN = 60_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 5, 10, 0); // a Monday, 10:00 UTC

function plantConfig(): PlantConfig {
  const config = resolveConfig(
    {
      plant: { name: 'Werk Süd', timezone: 'UTC' },
      devices: [{ id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } }],
    },
    'retention.json',
  );
  const device = config.devices[0]!;
  device.profileDef = {
    ...device.profileDef,
    alarms: [
      { id: 'zone1-high', kind: 'high', point: 'zone1', limit: 230, deadband: 2, delayS: 0, priority: 'medium', message: 'Zone 1 too hot' },
    ],
  };
  return config;
}

const cores: PlantCore[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

/** The plant as bootstrap.ts composes it over the store: value history and alarm journal from historyRetention. */
function persistentPlant() {
  const config = plantConfig();
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const retention = historyRetention(config);
  const db = new Database(':memory:');
  migrate(db);
  let poller: FakePoller | null = null;
  const core = new PlantCore({
    config,
    clock,
    history: createMemoryHistory({ retentionMs: retention.rawMs, clock }),
    historyRetentionMs: retention.rawMs,
    historySpanMs: retention.spanMs,
    alarmStore: createSqlAlarmStore(db, { log: silentLogger, clock, retentionMs: retention.spanMs }),
    pollerFactory: (d) => (poller = new FakePoller(d, T0)),
  });
  core.start();
  cores.push(core);
  /** One poll at `at` with zone 1 at `zone1` °C, then the minute tick that trims history. */
  const poll = (at: number, zone1: number): void => {
    clock.t = at;
    poller!.emit(at, 1, { zone1 });
    core.tick();
  };
  return { config, core, api: new ConsoleApi(core), poll, retention };
}

async function alarmRaises(api: ConsoleApi): Promise<number[]> {
  const r = await api.handle(LOCAL_OPERATOR, 'alarms.history', { machineId: 'im-1', fromMs: 0 });
  if (!r.ok) throw new Error(r.error.message);
  return COMMANDS['alarms.history'].response
    .parse(r.value)
    .events.filter((e) => e.event === 'raised')
    .map((e) => e.at);
}

describe('alarm journal retention', () => {
  it('spans the value history: raw samples for retentionDays, rollups beyond, whichever is longer', () => {
    const config = plantConfig();
    expect(config.history).toMatchObject({ retentionMin: 12 * 60, retentionDays: 7, rollupRetentionDays: 90 });
    expect(historyRetention(config)).toEqual({ rawMs: 7 * DAY, spanMs: 90 * DAY });
    expect(historyRetention({ ...config, history: { ...config.history, retentionDays: 30, rollupRetentionDays: 10 } })).toEqual({
      rawMs: 30 * DAY,
      spanMs: 30 * DAY,
    });
  });

  it('keeps every alarm of a week, as the trend of that week still shows its values', async () => {
    const { api, poll } = persistentPlant();
    // Zone 1 overheats every morning for five minutes, seven days running.
    for (let day = 0; day < 7; day++) {
      poll(T0 + day * DAY, 235);
      poll(T0 + day * DAY + 5 * MIN, 200);
    }
    const week = [6, 5, 4, 3, 2, 1, 0].map((d) => T0 + d * DAY);
    // The first morning is six days back: far beyond retentionMin (12 h) and the shift, inside the value history.
    expect(await alarmRaises(api)).toEqual(week);
    const trend = await api.handle(LOCAL_OPERATOR, 'history.query', {
      machineId: 'im-1',
      pointIds: ['zone1'],
      fromMs: T0 - MIN,
      toMs: T0 + 6 * DAY + 10 * MIN,
      maxPoints: 4000,
    });
    if (!trend.ok) throw new Error(trend.error.message);
    expect(COMMANDS['history.query'].response.parse(trend.value).series[0]!.t[0]).toBe(T0);
  });

  it('forgets alarms only once they are older than the whole value history', async () => {
    const { api, poll, retention } = persistentPlant();
    poll(T0, 235);
    poll(T0 + 5 * MIN, 200);
    poll(T0 + DAY, 235);
    poll(T0 + DAY + 5 * MIN, 200);
    // A season later, half a day past the first morning's span: it goes, the second morning stays.
    poll(T0 + retention.spanMs + DAY / 2, 235);
    expect(await alarmRaises(api)).toEqual([T0 + retention.spanMs + DAY / 2, T0 + DAY]);
  });
});
