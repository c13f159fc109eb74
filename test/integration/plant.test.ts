/**
 * The whole core over real Modbus TCP against device agents: live values, KPIs moving, a
 * killed agent turning its machine offline without touching the others, and recovery.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../device-agent/agent';
import { resolveConfig } from '../../src-main/config/load';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import type { MachineSnapshot } from '../../src-preload/contract';

const log = memoryLogger();
let agents: Agent[] = [];
let core: PlantCore;
const updates: MachineSnapshot[] = [];

beforeAll(async () => {
  agents = await Promise.all((['im250', 'hp200', 'pk60', 'pk60'] as const).map((model, i) => startAgent({ port: 0, model, seed: 40 + i })));
  // Machine 3's profile has no state point and asks for registers the device does not have: it answers every read with an exception.
  const dir = mkdtempSync(join(tmpdir(), 'pc-plant-'));
  const points = [0, 1].map((i) => ({ id: `p${i}`, name: `P${i}`, function: 'input', address: 200 + i * 20, type: 'uint16' }));
  writeFileSync(join(dir, 'wrong.json'), JSON.stringify({ model: 'wrong', title: 'Wrong map', idealCycleTimeS: 2, points }));
  const config = resolveConfig(
    {
      plant: { name: 'Integration plant' },
      devices: agents.map((a, i) => ({
        id: `m${i}`,
        name: `Machine ${i}`,
        profile: i === 3 ? 'wrong.json' : `builtin:${a.model}`,
        transport: { type: 'tcp', host: '127.0.0.1', port: a.port },
        pollIntervalMs: 100,
        timeoutMs: 300,
        retries: 0,
        backoff: { initialDelayMs: 100, maxDelayMs: 400, randomisationFactor: 0.1 },
      })),
    },
    join(dir, 'plant.json'),
  );
  core = new PlantCore({ config, log });
  core.onMachine((s) => updates.push(s));
  core.start();
  await core.ready();
});

afterAll(async () => {
  await core?.stop();
  await Promise.all(agents.map((a) => a.stop()));
});

const latest = (id: string) => core.snapshot(id)!;
const countFor = (id: string) => updates.filter((u) => u.id === id && u.link.state === 'online').length;

describe('plant core over device agents', () => {
  it('brings every machine online with good values equal to the simulators', async () => {
    await expect.poll(() => core.snapshots().every((s) => s.link.state === 'online'), { timeout: 5000 }).toBe(true);
    for (const [i, a] of agents.slice(0, 3).entries()) {
      const snap = latest(`m${i}`);
      expect(['running', 'idle', 'fault']).toContain(snap.state);
      const sim = a.simulator.values();
      // Identity strings and setpoints do not move between a poll and now: they must be equal.
      const setpoint = a.model === 'hp200' ? 'force-sp' : a.model === 'pk60' ? 'jaw-sp' : 'zone1-sp';
      expect(snap.values[setpoint]).toMatchObject({ quality: 'good', value: sim[setpoint] });
    }
  });

  it('values change over time and history fills', async () => {
    const before = latest('m1').values['stroke']?.value;
    await expect.poll(() => latest('m1').values['stroke']?.value, { timeout: 5000 }).not.toBe(before);
    const points = () => core.history.query('m1', 'stroke', Date.now() - 60_000, Date.now(), 50).t.length;
    await expect.poll(points, { timeout: 5000 }).toBeGreaterThan(5);
  });

  it('a killed agent turns its machine offline with stale values; the others keep their rate', async () => {
    const victim = agents[0]!;
    const port = victim.port;
    await victim.stop();
    await expect.poll(() => latest('m0').state, { timeout: 5000 }).toBe('offline');
    const snap = latest('m0');
    expect(snap.link.state).toBe('offline');
    expect(snap.link.lastError?.code).toMatch(/MODBUS_(CONNECT|CLOSED|TIMEOUT)/);
    expect(Object.values(snap.values).every((v) => v.quality === 'stale')).toBe(true);
    expect(core.health().machines.find((m) => m.id === 'm0')?.link.state).toBe('offline');
    // Neighbours keep polling at their 100 ms interval while m0 is dead.
    const c1 = countFor('m1');
    const c2 = countFor('m2');
    const t0 = Date.now();
    await expect.poll(() => countFor('m1') - c1, { timeout: 5000 }).toBeGreaterThanOrEqual(10);
    const elapsed = (Date.now() - t0) / 1000;
    expect((countFor('m1') - c1) / elapsed).toBeGreaterThan(6);
    expect(countFor('m2') - c2).toBeGreaterThanOrEqual(8);

    // Restarted on the same port, the machine comes back by itself.
    agents[0] = await startAgent({ port, model: 'im250', seed: 40 });
    await expect.poll(() => latest('m0').link.state, { timeout: 5000 }).toBe('online');
    expect(latest('m0').values['zone1']?.quality).toBe('good');
    expect(log.lines.some((l) => /offline/i.test(l.msg) && l.fields?.['device'] === 'm0')).toBe(true);
  });

  it('a device answering every read with an exception is never healthy: state unknown with the reason, no KPIs', async () => {
    await expect.poll(() => latest('m3').link.pollsFailed, { timeout: 5000 }).toBeGreaterThan(3);
    const snap = latest('m3');
    expect(snap.link.state).toBe('online');
    expect(snap.state).toBe('unknown');
    expect(snap.stateReason).toMatch(/^no point could be read: illegal data address \(exception 2\) reading input register/);
    expect(core.health().machines[3]).toMatchObject({ state: 'unknown' });
    for (const k of [snap.shift, snap.rolling]) {
      expect([k.availability, k.performance, k.oee, k.runTimeS, k.downTimeS]).toEqual([null, null, null, 0, 0]);
    }
  });

  it('computes shift KPIs from what it saw', async () => {
    // The pk60 line makes a pack a second: within a few seconds it has produced.
    await expect.poll(() => latest('m2').shift.goodCount, { timeout: 8000 }).toBeGreaterThan(0);
    const k = latest('m2').shift;
    expect(k.runTimeS + k.downTimeS).toBeGreaterThan(0);
    if (k.availability !== null) expect(k.availability).toBeGreaterThanOrEqual(0);
    // The window starts when the console began watching: earlier time is unknown, neither downtime nor offline.
    expect(k.from).toBeGreaterThanOrEqual(core.startedAt - 1000);
    expect(k.plannedTimeS + k.offlineTimeS).toBeCloseTo((k.to - k.from) / 1000, 0);
  });
});
