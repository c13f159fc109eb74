import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleApi } from '../../src-main/api/service';
import { LOCAL_OPERATOR } from '../helpers/callers';
import { parseProfile, resolveConfig } from '../../src-main/config/load';
import type { PlantConfig, ResolvedDevice } from '../../src-main/config/schema';
import { ConsoleError } from '../../src-main/core/errors';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import type { ModbusWriteRequest, Poller, PollResult } from '../../src-main/core/types';
import { createMemoryWriteLog } from '../../src-main/core/write-log';
import { WriteService, formatWriteValue, readbackMatches, writeFunctionCode } from '../../src-main/core/writes';
import { decode, encode, registerCount } from '../../src-main/modbus/codec';
import { COMMANDS, type Caller, type Link, type PointValue, type WriteResult } from '../../src-preload/contract';

const T0 = Date.UTC(2026, 0, 12, 9, 0);
const TECH: Caller = { user: 'anna', role: 'maintenance', origin: 'local' };

/** A valve with one of everything a write can meet: a coil, a float, a scaled int, text, read-only. */
const VALVE = parseProfile(
  {
    model: 'valve',
    title: 'Test valve',
    idealCycleTimeS: 1,
    points: [
      {
        id: 'state',
        name: 'State',
        function: 'holding',
        address: 0,
        type: 'uint16',
        role: 'state',
        states: { '0': 'idle', '1': 'running', '2': 'fault' },
      },
      { id: 'open', name: 'Valve open', function: 'coil', address: 3, type: 'bool', writable: { min: 0, max: 1, maxStep: 1 } },
      {
        id: 'flow-sp',
        name: 'Flow setpoint',
        function: 'holding',
        address: 10,
        type: 'float32',
        unit: 'l/min',
        decimals: 2,
        role: 'setpoint',
        writable: { min: 0, max: 50, maxStep: 10 },
      },
      {
        id: 'temp-sp',
        name: 'Temperature setpoint',
        function: 'holding',
        address: 12,
        type: 'int16',
        scale: 0.1,
        unit: '°C',
        role: 'setpoint',
        writable: { min: 180, max: 240, maxStep: 5 },
      },
      {
        id: 'idle-sp',
        name: 'Idle-only setpoint',
        function: 'holding',
        address: 13,
        type: 'uint16',
        decimals: 0,
        unit: 'bar',
        role: 'setpoint',
        writable: { min: 300, max: 900, maxStep: 50 },
        interlock: { states: ['idle', 'fault'] },
      },
      { id: 'temp', name: 'Temperature', function: 'holding', address: 14, type: 'int16', scale: 0.1, unit: '°C', role: 'process' },
      { id: 'label', name: 'Label', function: 'holding', address: 20, type: 'string', length: 2, writable: { min: 0, max: 1, maxStep: 1 } },
    ],
  },
  'valve.json',
);

type Value = number | boolean | string;

/** A device behind a fake poller: writes go through the codec into its registers, reads decode them. */
class FakeDevice implements Poller {
  readonly values: Record<string, Value>;
  readonly writes: ModbusWriteRequest[] = [];
  readonly events: string[] = [];
  ignoreWrites = false;
  readError: ConsoleError | null = null;
  writeError: ConsoleError | null = null;
  writeDelayMs = 0;
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
    this.events.push(`read ${pointId}`);
    await Promise.resolve();
    if (this.readError) throw this.readError;
    const p = this.device.profileDef.points.find((x) => x.id === pointId)!;
    const raw = encode(p, this.values[pointId] ?? 0);
    return { value: decode(p, raw), raw, quality: 'good', ts: T0, reason: null };
  }

  async write(req: ModbusWriteRequest): Promise<void> {
    this.events.push(`write FC${req.fc}`);
    this.writes.push(req);
    if (this.writeDelayMs) await new Promise((r) => setTimeout(r, this.writeDelayMs));
    if (this.writeError) throw this.writeError;
    if (this.ignoreWrites) return;
    const p = this.device.profileDef.points.find(
      (x) => x.address === req.address && (x.function === 'coil') === (req.function === 'coil'),
    )!;
    expect(req.values).toHaveLength(registerCount(p));
    this.values[p.id] = decode(p, req.values);
  }

  /** A poll result with every value good (the core derives the machine state from it). */
  emit(ts = T0): void {
    const values: Record<string, PointValue> = {};
    for (const p of this.device.profileDef.points)
      values[p.id] = { value: this.values[p.id] ?? 0, raw: [], quality: 'good', ts, reason: null };
    for (const h of this.handlers) h({ deviceId: this.device.id, ts, values, link: this.link() });
  }
}

function plantConfig(opts: { enabled?: boolean; writeFunction?: 'single' | 'multiple' }): PlantConfig {
  const cfg = resolveConfig(
    {
      plant: { name: 'Werk Süd', timezone: 'UTC' },
      writes: { enabled: opts.enabled ?? true },
      devices: [
        {
          id: 'v-1',
          name: 'Valve 1',
          profile: 'builtin:im250',
          transport: { type: 'tcp', host: '127.0.0.1', port: 1502 },
          writeFunction: opts.writeFunction ?? 'single',
        },
        { id: 'v-2', name: 'Valve 2', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1503 } },
      ],
    },
    'test-config.json',
  );
  return { ...cfg, devices: cfg.devices.map((d) => ({ ...d, profileDef: VALVE })) };
}

const INITIAL: Record<string, Value> = { state: 1, open: false, 'flow-sp': 12.5, 'temp-sp': 212, 'idle-sp': 500, temp: 210.4, label: 'AB' };

const cores: PlantCore[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

function setup(opts: { enabled?: boolean; writeFunction?: 'single' | 'multiple'; poll?: boolean; state?: number } = {}) {
  const config = plantConfig(opts);
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const log = memoryLogger();
  const devices = new Map<string, FakeDevice>();
  let n = 0;
  const core = new PlantCore({
    config,
    clock,
    log,
    writeLog: createMemoryWriteLog(),
    pollerFactory: (d) => {
      const dev = new FakeDevice(d, { ...INITIAL, state: opts.state ?? 1 });
      devices.set(d.id, dev);
      return dev;
    },
  });
  core.start();
  cores.push(core);
  if (opts.poll !== false) for (const d of devices.values()) d.emit();
  const dev = devices.get('v-1')!;
  // A service of its own over the same core: deterministic ids make the log assertions readable.
  const writes = new WriteService({ host: core, log, newId: () => `w${++n}` });
  return { core, clock, log, dev, devices, writes };
}

describe('WriteService refusals', () => {
  it('refuses everything while writes are disabled, and keeps the refusal in the log', async () => {
    const { writes, dev } = setup({ enabled: false });
    const r = await writes.write(TECH, 'v-1', 'temp-sp', 214);
    expect(r).toMatchObject({
      outcome: 'refused',
      code: 'WRITES_DISABLED',
      before: null,
      readback: null,
      requested: 214,
      user: 'anna',
      unit: '°C',
    });
    expect(r.reason).toBe('Setpoint changes are turned off for this plant (writes.enabled in the configuration)');
    expect(dev.writes).toEqual([]);
    expect(dev.events).toEqual([]);
    expect(writes.log().map((e) => e.id)).toEqual([r.id]);
  });

  it('answers NOT_FOUND for an unknown machine or point, without a log entry', async () => {
    const { writes } = setup();
    await expect(writes.write(TECH, 'nope', 'temp-sp', 214)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(writes.write(TECH, 'v-1', 'nope', 214)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(writes.log()).toEqual([]);
  });

  it('refuses a read-only point and a text point', async () => {
    const { writes, dev } = setup();
    const r = await writes.write(TECH, 'v-1', 'temp', 214);
    expect(r).toMatchObject({ outcome: 'refused', code: 'NOT_WRITABLE' });
    expect(r.reason).toContain('Temperature is read-only');
    expect((await writes.write(TECH, 'v-1', 'label', 1)).code).toBe('BAD_VALUE');
    expect(dev.writes).toEqual([]);
  });

  it('refuses a value of the wrong type: a coil takes a boolean, a register a number', async () => {
    const { writes, dev } = setup();
    const coil = await writes.write(TECH, 'v-1', 'open', 1);
    expect(coil).toMatchObject({ outcome: 'refused', code: 'BAD_VALUE' });
    expect(coil.reason).toContain('takes true or false');
    const reg = await writes.write(TECH, 'v-1', 'temp-sp', true);
    expect(reg).toMatchObject({ outcome: 'refused', code: 'BAD_VALUE', reason: 'Temperature setpoint takes a number, not true' });
    expect(dev.events).toEqual([]);
  });

  it('refuses values below the minimum and above the maximum, in words with the unit', async () => {
    const { writes, dev } = setup();
    const low = await writes.write(TECH, 'v-1', 'temp-sp', 175);
    expect(low).toMatchObject({ outcome: 'refused', code: 'LIMIT_EXCEEDED', reason: '175.0 °C is below the minimum 180.0 °C' });
    const high = await writes.write(TECH, 'v-1', 'temp-sp', 245.5);
    expect(high).toMatchObject({ outcome: 'refused', code: 'LIMIT_EXCEEDED', reason: '245.5 °C is above the maximum 240.0 °C' });
    expect(dev.events).toEqual([]);
  });

  it('refuses a change larger than the largest step, measured from the value read now', async () => {
    const { writes, dev } = setup();
    dev.values['temp-sp'] = 213; // changed on the machine since the last poll
    const r = await writes.write(TECH, 'v-1', 'temp-sp', 221);
    expect(r).toMatchObject({
      outcome: 'refused',
      code: 'STEP_EXCEEDED',
      before: 213,
      reason: 'a change of 8.0 °C is larger than the largest allowed step of 5.0 °C',
    });
    expect(dev.writes).toEqual([]);
    // Exactly the largest step is allowed, despite float arithmetic (212.3 + 5).
    dev.values['temp-sp'] = 212.3;
    expect((await writes.write(TECH, 'v-1', 'temp-sp', 217.3)).outcome).toBe('written');
  });

  it('refuses a write whose interlock is not met, reading the state from the device now', async () => {
    const { writes, dev } = setup({ state: 0 });
    dev.values['state'] = 1; // the core saw idle; the machine has started since
    const r = await writes.write(TECH, 'v-1', 'idle-sp', 520);
    expect(r).toMatchObject({
      outcome: 'refused',
      code: 'INTERLOCK',
      before: 500,
      reason: 'only while the machine is idle or in fault; it is running',
    });
    expect(dev.writes).toEqual([]);
    dev.values['state'] = 0;
    expect(await writes.write(TECH, 'v-1', 'idle-sp', 520)).toMatchObject({ outcome: 'written', readback: 520 });
  });

  it('refuses while the machine is offline, without asking the device', async () => {
    const { writes, dev } = setup({ poll: false });
    const r = await writes.write(TECH, 'v-1', 'temp-sp', 214);
    expect(r).toMatchObject({ outcome: 'refused', code: 'OFFLINE' });
    expect(r.reason).toContain('Valve 1 is offline');
    expect(dev.events).toEqual([]);
  });

  it('fails with the Modbus error when the current value cannot be read', async () => {
    const { writes, dev } = setup();
    dev.readError = new ConsoleError('MODBUS_TIMEOUT', 'no answer within 1000 ms');
    const r = await writes.write(TECH, 'v-1', 'temp-sp', 214);
    expect(r).toMatchObject({ outcome: 'failed', code: 'MODBUS_TIMEOUT', before: null, readback: null });
    expect(r.reason).toContain('could not read the current value of Temperature setpoint (no answer within 1000 ms)');
    expect(dev.writes).toEqual([]);
  });
});

describe('WriteService writes', () => {
  it('writes, reads back and reports written; the log line names user, machine, point and values', async () => {
    const { writes, dev, log } = setup();
    const r = await writes.write(TECH, 'v-1', 'temp-sp', 214);
    expect(r).toMatchObject({
      outcome: 'written',
      before: 212,
      requested: 214,
      readback: 214,
      code: null,
      reason: null,
      revertOf: null,
      unit: '°C',
      at: T0,
    });
    expect(dev.writes).toEqual([{ function: 'holding', address: 12, values: [2140], fc: 6 }]);
    expect(dev.events).toEqual(['read temp-sp', 'write FC6', 'read temp-sp']);
    expect(COMMANDS['points.write'].response.parse(r)).toEqual(r);
    const line = log.lines.find((l) => l.msg.startsWith('Write written'));
    expect(line).toMatchObject({ level: 'info', msg: 'Write written: anna v-1/temp-sp 212 → 214 → 214 °C' });
    expect(line?.fields).toMatchObject({ user: 'anna', machine: 'v-1', point: 'temp-sp', before: 212, requested: 214, readback: 214 });
  });

  it('picks FC5/FC6 for single writes, FC15/FC16 for several registers or writeFunction "multiple"', async () => {
    const single = setup();
    await single.writes.write(TECH, 'v-1', 'open', true);
    await single.writes.write(TECH, 'v-1', 'temp-sp', 213);
    await single.writes.write(TECH, 'v-1', 'flow-sp', 15.25);
    expect(single.dev.writes.map((w) => [w.function, w.fc, w.values.length])).toEqual([
      ['coil', 5, 1],
      ['holding', 6, 1],
      ['holding', 16, 2],
    ]);
    const multiple = setup({ writeFunction: 'multiple' });
    await multiple.writes.write(TECH, 'v-1', 'open', true);
    await multiple.writes.write(TECH, 'v-1', 'temp-sp', 213);
    expect(multiple.dev.writes.map((w) => [w.function, w.fc])).toEqual([
      ['coil', 15],
      ['holding', 16],
    ]);
    expect(multiple.dev.values['open']).toBe(true);
    expect(writeFunctionCode('holding', 4, 'single')).toBe(16);
  });

  it('reports readback-mismatch with the value the device holds when it ignores the write', async () => {
    const { writes, dev } = setup();
    dev.ignoreWrites = true;
    const r = await writes.write(TECH, 'v-1', 'temp-sp', 214);
    expect(r).toMatchObject({ outcome: 'readback-mismatch', before: 212, requested: 214, readback: 212 });
    expect(r.reason).toBe('written, but the device reports 212.0 °C instead of 214.0 °C');
  });

  it('reports a write the device refuses as failed, with its Modbus error', async () => {
    const { writes, dev } = setup();
    dev.writeError = new ConsoleError('MODBUS_EXCEPTION', 'exception 3 (illegal data value)');
    const r = await writes.write(TECH, 'v-1', 'temp-sp', 214);
    expect(r).toMatchObject({ outcome: 'failed', code: 'MODBUS_EXCEPTION', before: 212, readback: null });
    expect(r.reason).toContain('illegal data value');
  });

  it('compares the readback within half the resolution (scale for integers, 1e-6 relative for floats)', () => {
    const int = { type: 'int16' as const, scale: 0.1 };
    expect(readbackMatches(int, 214.03, 214)).toBe(true);
    expect(readbackMatches(int, 214, 214.1)).toBe(false);
    const float = { type: 'float32' as const, scale: 1 };
    expect(readbackMatches(float, 15.3, Math.fround(15.3))).toBe(true);
    expect(readbackMatches(float, 15.3, 15.31)).toBe(false);
    expect(readbackMatches({ type: 'bool', scale: 1 }, true, false)).toBe(false);
    expect(formatWriteValue(-0.01, { decimals: 1, unit: '°C' })).toBe('0.0 °C');
  });
});

describe('WriteService revert and log', () => {
  it('reverts to the value read before, through the same path', async () => {
    const { writes, dev } = setup();
    const w = await writes.write(TECH, 'v-1', 'temp-sp', 215);
    const r = await writes.revert({ ...TECH, user: 'ben' }, w.id);
    expect(r).toMatchObject({ outcome: 'written', before: 215, requested: 212, readback: 212, revertOf: w.id, user: 'ben' });
    expect(dev.values['temp-sp']).toBe(212);
  });

  it('refuses a revert whose step from the current value is too large', async () => {
    const { writes, dev } = setup();
    const w = await writes.write(TECH, 'v-1', 'temp-sp', 216);
    dev.values['temp-sp'] = 219; // changed on the machine afterwards
    const r = await writes.revert(TECH, w.id);
    expect(r).toMatchObject({ outcome: 'refused', code: 'STEP_EXCEEDED', before: 219, requested: 212, revertOf: w.id });
    expect(dev.values['temp-sp']).toBe(219);
  });

  it('refuses to revert a refused or failed write, or an unknown one', async () => {
    const { writes, dev } = setup();
    const refused = await writes.write(TECH, 'v-1', 'temp-sp', 300);
    await expect(writes.revert(TECH, refused.id)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    dev.writeError = new ConsoleError('MODBUS_EXCEPTION', 'exception 4');
    const failed = await writes.write(TECH, 'v-1', 'temp-sp', 213);
    await expect(writes.revert(TECH, failed.id)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(writes.revert(TECH, 'w999')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('serialises writes to one machine: the second checks the value the first left', async () => {
    const { writes, dev, devices } = setup();
    dev.writeDelayMs = 30;
    const other = devices.get('v-2')!;
    other.writeDelayMs = 30;
    const [a, b, c] = await Promise.all([
      writes.write(TECH, 'v-1', 'temp-sp', 216),
      writes.write(TECH, 'v-1', 'temp-sp', 220),
      writes.write(TECH, 'v-2', 'temp-sp', 214),
    ]);
    expect(a).toMatchObject({ outcome: 'written', before: 212 });
    // Interleaved, both would have read 212 and the second would have been refused (step 8).
    expect(b).toMatchObject({ outcome: 'written', before: 216, readback: 220 });
    expect(dev.events).toEqual(['read temp-sp', 'write FC6', 'read temp-sp', 'read temp-sp', 'write FC6', 'read temp-sp']);
    expect(c).toMatchObject({ outcome: 'written' });
  });

  it('keeps refusals in the log, newest first, filtered by machine and limited', async () => {
    const { writes, clock } = setup();
    const seen: WriteResult[] = [];
    seen.push(await writes.write(TECH, 'v-1', 'temp-sp', 214));
    clock.t += 1000;
    seen.push(await writes.write(TECH, 'v-1', 'temp-sp', 100));
    clock.t += 1000;
    seen.push(await writes.write(TECH, 'v-2', 'temp-sp', 213));
    expect(writes.log().map((e) => [e.id, e.outcome])).toEqual([
      ['w3', 'written'],
      ['w2', 'refused'],
      ['w1', 'written'],
    ]);
    expect(writes.log({ machineId: 'v-1' }).map((e) => e.id)).toEqual(['w2', 'w1']);
    expect(writes.log({ limit: 1 }).map((e) => e.id)).toEqual(['w3']);
    expect(writes.log()[1]).toEqual(seen[1]);
  });

  it('bounds the in-memory log', () => {
    const store = createMemoryWriteLog({ cap: 2 });
    const entry = (id: string): WriteResult => ({
      id,
      machineId: 'm',
      pointId: 'p',
      user: 'u',
      at: 0,
      before: 1,
      requested: 2,
      readback: 2,
      outcome: 'written',
      code: null,
      reason: null,
      revertOf: null,
      unit: '',
    });
    for (const id of ['a', 'b', 'c']) store.append(entry(id));
    expect(store.list({ limit: 10 }).map((e) => e.id)).toEqual(['c', 'b']);
    expect(store.get('a')).toBeUndefined();
  });
});

describe('writes through the ConsoleApi', () => {
  it('answers a refusal as a result, keeps roles and bad requests as errors', async () => {
    const { core } = setup();
    const api = new ConsoleApi(core);
    const refused = await api.handle(TECH, 'points.write', { machineId: 'v-1', pointId: 'temp-sp', value: 300 });
    expect(refused).toMatchObject({ ok: true, value: { outcome: 'refused', code: 'LIMIT_EXCEEDED' } });
    expect(await api.handle(LOCAL_OPERATOR, 'points.write', { machineId: 'v-1', pointId: 'temp-sp', value: 213 })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    expect(await api.handle(TECH, 'points.write', { machineId: 'v-1', pointId: 'temp-sp', value: 'hot' })).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST' },
    });
    expect(await api.handle(TECH, 'points.write', { machineId: 'nope', pointId: 'temp-sp', value: 213 })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    const id = (refused as { value: WriteResult }).value.id;
    expect(await api.handle(TECH, 'points.revert', { writeId: id })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    const log = await api.handle(LOCAL_OPERATOR, 'writes.log', { machineId: 'v-1' });
    expect(log).toMatchObject({ ok: true, value: { entries: [{ id, outcome: 'refused' }] } });
    const info = await api.handle(LOCAL_OPERATOR, 'plant.info', {});
    expect(info).toMatchObject({ ok: true, value: { writesEnabled: true } });
  });

  it('describes interlocks in the point metadata', () => {
    const { core } = setup();
    const byId = Object.fromEntries(core.detail('v-1')!.points.map((p) => [p.id, p]));
    expect(byId['idle-sp']?.interlock).toEqual(['idle', 'fault']);
    expect(byId['temp-sp']?.interlock).toBeNull();
  });
});
