/**
 * A console restart on the real encrypted store: alarms come back in their ISA-18.2 states, the
 * shift's alarm history and the write log are still there, and none of it is readable on disk.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsoleApi } from '../../src-main/api/service';
import { resolveConfig } from '../../src-main/config/load';
import type { PlantConfig, ResolvedDevice } from '../../src-main/config/schema';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import type { ModbusWriteRequest, Poller, PollResult } from '../../src-main/core/types';
import { decode, encode } from '../../src-main/modbus/codec';
import { createSqlAlarmStore } from '../../src-main/store/alarms-sql';
import { openPlantStore, type PlantStore } from '../../src-main/store/open';
import { createSqlWriteLog } from '../../src-main/store/write-log-sql';
import { COMMANDS, type Caller, type CommandName, type CommandResponse, type Link, type PointValue } from '../../src-preload/contract';

const T0 = Date.UTC(2026, 0, 12, 9, 0); // three hours into the Early shift (06:00 UTC)
const PASS = 'persistence restart passphrase';
/** Words that must never be findable in the database files. */
const MESSAGE_MARKER = 'Barrel zone 1 too hot QX-ZEBRA-4711';
const USER_MARKER = 'tech-QX-OKAPI-0815';
const TECH: Caller = { user: USER_MARKER, role: 'maintenance', origin: 'local' };
const OPERATOR: Caller = { user: 'olga', role: 'operator', origin: 'local' };

type Value = number | boolean | string;

/** A machine held in memory: polls on demand, reads and writes points like a device would. */
class FakeDevice implements Poller {
  readonly values: Record<string, Value>;
  private readonly handlers = new Set<(r: PollResult) => void>();

  constructor(
    readonly device: ResolvedDevice,
    initial: Record<string, Value>,
  ) {
    this.values = { ...initial };
  }
  start(): void {}
  async stop(): Promise<void> {}
  onResult(h: (r: PollResult) => void): () => void {
    this.handlers.add(h);
    return () => void this.handlers.delete(h);
  }
  link(): Link {
    return { state: 'online', since: T0, lastOkAt: T0, lastError: null, consecutiveFailures: 0, pollsOk: 1, pollsFailed: 0, lastPollMs: 2 };
  }
  async readPoint(pointId: string): Promise<PointValue> {
    const p = this.device.profileDef.points.find((x) => x.id === pointId)!;
    const raw = encode(p, this.values[pointId] ?? 0);
    return { value: decode(p, raw), raw, quality: 'good', ts: T0, reason: null };
  }
  async write(req: ModbusWriteRequest): Promise<void> {
    const p = this.device.profileDef.points.find(
      (x) => x.address === req.address && (x.function === 'coil') === (req.function === 'coil'),
    )!;
    this.values[p.id] = decode(p, req.values) as Value;
  }
  emit(ts: number): void {
    const values: Record<string, PointValue> = {};
    for (const p of this.device.profileDef.points) {
      const fallback = p.type === 'string' ? 'XYZ' : p.type === 'bool' ? false : 0;
      values[p.id] = { value: this.values[p.id] ?? fallback, raw: [0], quality: 'good', ts, reason: null };
    }
    for (const h of this.handlers) h({ deviceId: this.device.id, ts, values, link: this.link() });
  }
}

function plantConfig(): PlantConfig {
  const config = resolveConfig(
    {
      plant: { name: 'Werk Süd', timezone: 'UTC' },
      writes: { enabled: true },
      devices: [
        { id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } },
        { id: 'hp-1', name: 'Press 1', profile: 'builtin:hp200', transport: { type: 'tcp', host: '127.0.0.1', port: 1503 } },
      ],
    },
    'test-config.json',
    { simulated: true },
  );
  // Rules without delays, so each poll decides; independent of the built-in profiles' demo rules.
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
                message: MESSAGE_MARKER,
              },
            ]
          : []),
      ],
    };
  }
  return config;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function openStore(dataDir: string, clock: { now(): number }): Promise<PlantStore> {
  return openPlantStore({
    dataDir,
    demo: false,
    passphrase: PASS,
    env: {},
    prompt: null,
    log: memoryLogger(),
    clock,
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
  });
}

/** One run of the console: the store, a core on it with fake machines, the API. */
async function console_(dataDir: string, clock: { t: number; now(): number }) {
  const store = await openStore(dataDir, clock);
  const log = memoryLogger();
  const devices = new Map<string, FakeDevice>();
  const core = new PlantCore({
    config: plantConfig(),
    clock,
    log,
    history: store.history,
    alarmStore: createSqlAlarmStore(store.db, { log, clock }),
    writeLog: createSqlWriteLog(store.db, { log, clock }),
    pollerFactory: (d) => {
      const dev = new FakeDevice(d, d.id === 'im-1' ? { state: 1, zone1: 215, 'zone1-sp': 212 } : { state: 1, 'force-sp': 1500 });
      devices.set(d.id, dev);
      return dev;
    },
  });
  core.start();
  await core.ready();
  const api = new ConsoleApi(core, { log });
  const poll = (id: string, dtMs: number, values: Record<string, Value> = {}): void => {
    clock.t += dtMs;
    const dev = devices.get(id)!;
    Object.assign(dev.values, values);
    dev.emit(clock.t);
  };
  const stop = async (): Promise<void> => {
    await core.stop();
    store.close();
  };
  return { store, core, api, devices, poll, stop };
}

async function ok<K extends CommandName>(
  api: ConsoleApi,
  name: K,
  request: unknown,
  caller: Caller = OPERATOR,
): Promise<CommandResponse<K>> {
  const r = await api.handle(caller, name, request);
  if (!r.ok) throw new Error(`${name} failed: ${r.error.code} ${r.error.message}`);
  const schema: { parse(v: unknown): unknown } = COMMANDS[name].response;
  return schema.parse(r.value) as CommandResponse<K>;
}

const states = (alarms: readonly { id: string; state: string; ackedBy: string | null }[]): string[] =>
  alarms.map((a) => `${a.id}:${a.state}:${a.ackedBy ?? '-'}`);

describe('persistence across a console restart', () => {
  it('brings back alarms in their ISA-18.2 states, the shift history and the write log, encrypted on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pc-restart-'));
    dirs.push(dir);
    const clock = { t: T0, now: () => clock.t };

    // First run: one alarm waiting for a person, one acknowledged, one cleared but not yet acknowledged.
    const first = await console_(dir, clock);
    first.poll('im-1', 1000, { zone1: 236 }); // im-1/zone1-high active-unacked
    first.poll('hp-1', 1000, { state: 9 }); // hp-1/fault active-unacked …
    await ok(first.api, 'alarms.ack', { alarmIds: ['hp-1/fault'] }); // … active-acked
    first.poll('im-1', 1000, { state: 2 }); // im-1/fault active-unacked …
    first.poll('im-1', 1000, { state: 1 }); // … cleared-unacked
    const written = await ok(first.api, 'points.write', { machineId: 'im-1', pointId: 'zone1-sp', value: 214 }, TECH);
    expect(written).toMatchObject({ outcome: 'written', before: 212, readback: 214 });
    clock.t += 1000;
    const refused = await ok(first.api, 'points.write', { machineId: 'im-1', pointId: 'zone1-sp', value: 300 }, TECH);
    expect(refused).toMatchObject({ outcome: 'refused', code: 'LIMIT_EXCEEDED' });
    clock.t += 1000;
    const interlocked = await ok(first.api, 'points.write', { machineId: 'hp-1', pointId: 'force-sp', value: 1550 }, TECH);
    expect(interlocked).toMatchObject({ outcome: 'refused', code: 'INTERLOCK' });

    const alarmsBefore = await ok(first.api, 'alarms.list', {});
    expect(states(alarmsBefore.alarms)).toEqual([
      'im-1/fault:cleared-unacked:-',
      'im-1/zone1-high:active-unacked:-',
      'hp-1/fault:active-acked:olga',
    ]);
    const historyBefore = await ok(first.api, 'alarms.history', {});
    expect(historyBefore.events.map((e) => `${e.alarmId} ${e.event}`)).toEqual([
      'im-1/fault cleared',
      'im-1/fault raised',
      'hp-1/fault acknowledged',
      'hp-1/fault raised',
      'im-1/zone1-high raised',
    ]);
    const logBefore = await ok(first.api, 'writes.log', {});
    expect(logBefore.entries.map((e) => e.id)).toEqual([interlocked.id, refused.id, written.id]);

    // Nothing of it is readable in the files, neither in the WAL now nor in the database after a checkpoint.
    const markers = [MESSAGE_MARKER, USER_MARKER].flatMap((m) => [Buffer.from(m, 'utf8'), Buffer.from(m, 'utf16le')]);
    const wal = readFileSync(join(dir, 'plant.db-wal'));
    expect(wal.length).toBeGreaterThan(0);
    for (const m of markers) expect(wal.includes(m)).toBe(false);
    first.store.db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').all();
    await first.stop();
    for (const f of ['plant.db', 'plant.db-wal']) {
      if (!existsSync(join(dir, f))) continue;
      const bytes = readFileSync(join(dir, f));
      for (const m of markers) expect(bytes.includes(m), `${f} holds a marker in clear`).toBe(false);
    }
    expect(readFileSync(join(dir, 'plant.db')).length).toBeGreaterThan(4096);

    // Second run, a minute later, on the same data dir.
    clock.t += 60_000;
    const second = await console_(dir, clock);
    expect(second.store.created).toBe(false);
    const alarmsAfter = await ok(second.api, 'alarms.list', {});
    expect(alarmsAfter).toEqual(alarmsBefore);
    expect(await ok(second.api, 'alarms.history', {})).toEqual(historyBefore);
    expect(await ok(second.api, 'writes.log', {})).toEqual(logBefore);
    expect(await ok(second.api, 'writes.log', { machineId: 'hp-1' })).toEqual({ entries: [interlocked] });
    expect(second.core.snapshot('im-1')?.alarms).toEqual({ active: 1, unacknowledged: 2, highest: 'high' });

    // The state machine continues: the hot zone cools and still needs its acknowledgement.
    second.poll('im-1', 1000, { zone1: 220 });
    expect(states((await ok(second.api, 'alarms.list', { machineId: 'im-1' })).alarms)).toEqual([
      'im-1/fault:cleared-unacked:-',
      'im-1/zone1-high:cleared-unacked:-',
    ]);
    await ok(second.api, 'alarms.ack', { alarmIds: ['im-1/fault', 'im-1/zone1-high'] });
    expect(states((await ok(second.api, 'alarms.list', {})).alarms)).toEqual(['hp-1/fault:active-acked:olga']);
    // A write from before the restart can still be reverted: the log is where the old value comes from.
    second.devices.get('im-1')!.values['zone1-sp'] = 214; // what the machine kept over the restart
    const reverted = await ok(second.api, 'points.revert', { writeId: written.id }, TECH);
    expect(reverted).toMatchObject({ outcome: 'written', requested: 212, revertOf: written.id });
    expect(second.devices.get('im-1')!.values['zone1-sp']).toBe(212);
    const history = (await ok(second.api, 'alarms.history', {})).events;
    expect(history).toHaveLength(historyBefore.events.length + 3);
    expect(history.slice(3)).toEqual(historyBefore.events);
    await second.stop();

    // And once more: what the second run did is kept too.
    const third = await console_(dir, clock);
    expect(states((await ok(third.api, 'alarms.list', {})).alarms)).toEqual(['hp-1/fault:active-acked:olga']);
    expect((await ok(third.api, 'writes.log', { limit: 1 })).entries).toEqual([reverted]);
    await third.stop();
  });
});
