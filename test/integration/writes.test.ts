/**
 * Bounded writes end to end: ConsoleApi.handle → PlantCore → the real Modbus poller → a device
 * agent's simulator (and a server that acknowledges writes but keeps its value), with limits,
 * step, interlock, readback, revert, roles and the plant's switch.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAgent, type Agent } from '../../device-agent/agent';
import { ConsoleApi } from '../../src-main/api/service';
import { LOCAL_OPERATOR } from '../helpers/callers';
import { parseProfile, resolveConfig } from '../../src-main/config/load';
import type { PlantConfig } from '../../src-main/config/schema';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import { COMMANDS, type Caller, type Result, type WriteResult } from '../../src-preload/contract';
import { startVectorServer, type VectorServer } from '../helpers/modbus-servers';

const TECH: Caller = { user: 'anna', role: 'maintenance', origin: 'local' };

/** One writable holding register, no state point: running whenever reachable. */
const STUBBORN = parseProfile(
  {
    model: 'stubborn',
    title: 'Device that ignores writes',
    idealCycleTimeS: 1,
    points: [
      {
        id: 'sp',
        name: 'Pressure setpoint',
        function: 'holding',
        address: 0,
        type: 'uint16',
        unit: 'bar',
        decimals: 0,
        role: 'setpoint',
        writable: { min: 0, max: 100, maxStep: 10 },
      },
    ],
  },
  'stubborn.json',
);

const log = memoryLogger();
let agent: Agent;
let stubborn: VectorServer;
let core: PlantCore;
let offCore: PlantCore;
let api: ConsoleApi;

function config(enabled: boolean): PlantConfig {
  const poll = {
    pollIntervalMs: 100,
    timeoutMs: 500,
    retries: 0,
    backoff: { initialDelayMs: 100, maxDelayMs: 400, randomisationFactor: 0.1 },
  };
  const cfg = resolveConfig(
    {
      plant: { name: 'Writes plant' },
      writes: { enabled },
      devices: [
        {
          id: 'im-1',
          name: 'Moulding 1',
          profile: 'builtin:im250',
          transport: { type: 'tcp', host: '127.0.0.1', port: agent.port },
          ...poll,
        },
        {
          id: 'st-1',
          name: 'Stubborn 1',
          profile: 'builtin:im250',
          transport: { type: 'tcp', host: '127.0.0.1', port: stubborn.port },
          ...poll,
        },
      ],
    },
    '(integration)',
  );
  return { ...cfg, devices: cfg.devices.map((d) => (d.id === 'st-1' ? { ...d, profileDef: STUBBORN } : d)) };
}

beforeAll(async () => {
  agent = await startAgent({ port: 0, model: 'im250', seed: 7 });
  // Held running, so no simulated fault or pause changes the machine under the test.
  agent.simulator.forceState('running');
  stubborn = await startVectorServer({ holding: [50] }, { ignoreWrites: true });
  core = new PlantCore({ config: config(true), log });
  offCore = new PlantCore({ config: config(false), log });
  api = new ConsoleApi(core, { log });
  core.start();
  offCore.start();
  await Promise.all([core.ready(), offCore.ready()]);
  await vi.waitFor(
    () => {
      expect(core.snapshots().every((s) => s.link.state === 'online')).toBe(true);
      expect(core.machineState('im-1')).toBe('running');
    },
    { timeout: 10_000, interval: 50 },
  );
});

afterAll(async () => {
  await core?.stop();
  await offCore?.stop();
  await agent?.stop();
  await stubborn?.stop();
});

/** Calls a command that must succeed and parses its answer with the contract's response schema. */
async function write(
  request: unknown,
  caller: Caller = TECH,
  name: 'points.write' | 'points.revert' = 'points.write',
  on = api,
): Promise<WriteResult> {
  const r = await on.handle(caller, name, request);
  if (!r.ok) throw new Error(`${name} failed: ${r.error.code} ${r.error.message}`);
  return COMMANDS[name].response.parse(r.value);
}

const simValue = (pointId: string): number => agent.simulator.values()[pointId] as number;

describe('bounded writes over Modbus TCP', () => {
  let firstWrite: WriteResult;

  it('writes a zone setpoint within its limits, and the device holds it', async () => {
    const before = simValue('zone1-sp');
    const target = Math.round((before + 2) * 10) / 10;
    firstWrite = await write({ machineId: 'im-1', pointId: 'zone1-sp', value: target });
    expect(firstWrite).toMatchObject({ outcome: 'written', user: 'anna', unit: '°C', code: null });
    expect(firstWrite.before).toBeCloseTo(before, 5);
    expect(firstWrite.readback).toBeCloseTo(target, 5);
    expect(simValue('zone1-sp')).toBeCloseTo(target, 5);
    expect(log.lines.some((l) => l.level === 'info' && l.msg.startsWith('Write written: anna im-1/zone1-sp'))).toBe(true);
  });

  it('refuses a value outside the limits and a step that is too large', async () => {
    const now = simValue('zone1-sp');
    const high = await write({ machineId: 'im-1', pointId: 'zone1-sp', value: 250 });
    expect(high).toMatchObject({ outcome: 'refused', code: 'LIMIT_EXCEEDED', reason: '250.0 °C is above the maximum 240.0 °C' });
    const target = now > 220 ? now - 8 : now + 8;
    const step = await write({ machineId: 'im-1', pointId: 'zone1-sp', value: target });
    expect(step).toMatchObject({
      outcome: 'refused',
      code: 'STEP_EXCEEDED',
      reason: 'a change of 8.0 °C is larger than the largest allowed step of 5.0 °C',
    });
    expect(simValue('zone1-sp')).toBeCloseTo(now, 5);
  });

  it('refuses an idle-only setpoint while the machine runs, and writes it once idle', async () => {
    const hold = simValue('hold-sp');
    const refused = await write({ machineId: 'im-1', pointId: 'hold-sp', value: hold + 10 });
    expect(refused).toMatchObject({
      outcome: 'refused',
      code: 'INTERLOCK',
      before: hold,
      reason: 'only while the machine is idle; it is running',
    });
    expect(simValue('hold-sp')).toBe(hold);
    agent.simulator.forceState('idle');
    try {
      await expect.poll(() => core.machineState('im-1'), { timeout: 5000 }).toBe('idle');
      expect(await write({ machineId: 'im-1', pointId: 'hold-sp', value: hold + 10 })).toMatchObject({
        outcome: 'written',
        readback: hold + 10,
      });
    } finally {
      agent.simulator.forceState('running');
    }
    await expect.poll(() => core.machineState('im-1'), { timeout: 5000 }).toBe('running');
  });

  it('reports readback-mismatch when the device acknowledges the write but keeps its value', async () => {
    const r = await write({ machineId: 'st-1', pointId: 'sp', value: 55 });
    expect(r).toMatchObject({
      outcome: 'readback-mismatch',
      before: 50,
      requested: 55,
      readback: 50,
      reason: 'written, but the device reports 50 bar instead of 55 bar',
    });
    expect(stubborn.regs.holding[0]).toBe(50);
  });

  it('reverts a write to the value read before it', async () => {
    const r = await write({ writeId: firstWrite.id }, TECH, 'points.revert');
    expect(r).toMatchObject({ outcome: 'written', revertOf: firstWrite.id });
    expect(r.requested).toBe(firstWrite.before);
    expect(simValue('zone1-sp')).toBeCloseTo(firstWrite.before as number, 5);
    const refused = (await api.handle(TECH, 'writes.log', { machineId: 'im-1', limit: 50 })) as Result<{ entries: WriteResult[] }>;
    if (!refused.ok) throw new Error(refused.error.message);
    const notUndoable = refused.value.entries.find((e) => e.outcome === 'refused')!;
    expect(await api.handle(TECH, 'points.revert', { writeId: notUndoable.id })).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST' },
    });
  });

  it('keeps every write, refusals included, newest first in the log', async () => {
    const r = await api.handle(LOCAL_OPERATOR, 'writes.log', { machineId: 'im-1' });
    if (!r.ok) throw new Error(r.error.message);
    const entries = COMMANDS['writes.log'].response.parse(r.value).entries;
    expect(entries.map((e) => [e.pointId, e.outcome, e.code])).toEqual([
      ['zone1-sp', 'written', null],
      ['hold-sp', 'written', null],
      ['hold-sp', 'refused', 'INTERLOCK'],
      ['zone1-sp', 'refused', 'STEP_EXCEEDED'],
      ['zone1-sp', 'refused', 'LIMIT_EXCEEDED'],
      ['zone1-sp', 'written', null],
    ]);
    expect(entries[0]?.revertOf).toBe(firstWrite.id);
  });

  it('forbids an operator to write', async () => {
    const r = await api.handle(LOCAL_OPERATOR, 'points.write', { machineId: 'im-1', pointId: 'zone1-sp', value: 210 });
    expect(r).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('refuses every write when the plant has writes turned off', async () => {
    const offApi = new ConsoleApi(offCore, { log });
    const before = simValue('zone1-sp');
    const r = await write({ machineId: 'im-1', pointId: 'zone1-sp', value: before + 1 }, TECH, 'points.write', offApi);
    expect(r).toMatchObject({ outcome: 'refused', code: 'WRITES_DISABLED' });
    expect(simValue('zone1-sp')).toBe(before);
    expect(await offApi.handle(TECH, 'plant.info', {})).toMatchObject({ ok: true, value: { writesEnabled: false } });
  });
});
