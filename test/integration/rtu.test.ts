/**
 * Modbus RTU over a pseudo-terminal pair made by socat: several simulated units on one line
 * (one dead) on one end, the console's pollers on the other at 115200 baud. The live units keep
 * their measured rate next to the dead one, which is demoted and shows it in its Link; every
 * malformed answer gives its specific error and the next request succeeds; writes and
 * `plant-console read` go through the same line.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startRtuLine, type LineServer, type UnitFault } from '../../device-agent/rtu-server';
import { readDevices } from '../../src-main/app/read';
import { loadProfile, packageRoot } from '../../src-main/config/load';
import type { ResolvedDevice, TransportConfig } from '../../src-main/config/schema';
import type { ConsoleError } from '../../src-main/core/errors';
import type { LogLevel } from '../../src-main/core/log';
import type { PollResult, Poller } from '../../src-main/core/types';
import { encode } from '../../src-main/modbus/codec';
import { LinePool } from '../../src-main/modbus/line';
import { createPoller } from '../../src-main/modbus/poller';
import { haveSocat, startPtyPair, type PtyPair } from '../helpers/pty';
import { describeNeeding } from '../helpers/needs-package';

const MODELS: Record<number, string> = { 1: 'pk60', 2: 'hp200', 3: 'im250', 4: 'im250' };
const DEAD = 4;

let pty: PtyPair;
let slave: LineServer;
let transport: TransportConfig;

beforeAll(async () => {
  if (!haveSocat()) return;
  pty = await startPtyPair();
  // Values stay still (one tick an hour) so reads can be compared with the slave's registers.
  slave = await startRtuLine({
    path: pty.a,
    baudRate: 115200,
    tickMs: 3_600_000,
    lateMs: 300,
    units: [1, 2, 3, 4].map((unitId) => ({ unitId, model: MODELS[unitId], seed: unitId, dead: unitId === DEAD })),
  });
  transport = { type: 'rtu', path: pty.b, baudRate: 115200, parity: 'none', dataBits: 8, stopBits: 1 };
});

const started: Poller[] = [];
afterEach(async () => {
  // A failed test must not leave the port open for the next one.
  await Promise.all(started.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  await slave?.stop();
  await pty?.stop();
});

function track(p: Poller): Poller {
  started.push(p);
  return p;
}

function device(unitId: number, over: Partial<ResolvedDevice> = {}): ResolvedDevice {
  const model = MODELS[unitId]!;
  return {
    id: `u${unitId}`,
    name: `Unit ${unitId}`,
    profile: `builtin:${model}`,
    transport,
    unitId,
    pollIntervalMs: 50,
    timeoutMs: 100,
    retries: 1,
    backoff: { initialDelayMs: 50, maxDelayMs: 200, randomisationFactor: 0 },
    interFrameDelayMs: 0,
    demotion: { afterFailures: 2, intervalMs: 1000 },
    writeFunction: 'single',
    profileDef: loadProfile(`builtin:${model}`, packageRoot()),
    ...over,
  };
}

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`waitUntil: ${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Online results per second of each poller over a window of `windowMs` (from the results' own timestamps). */
async function measureRates(pollers: Poller[], windowMs: number): Promise<number[]> {
  const stamps = pollers.map(() => [] as number[]);
  const offs = pollers.map((p, i) => p.onResult((r) => r.link.state === 'online' && stamps[i]!.push(r.ts)));
  await new Promise((r) => setTimeout(r, windowMs));
  offs.forEach((off) => off());
  return stamps.map((ts) => (ts.length < 2 ? 0 : ((ts.length - 1) * 1000) / (ts.at(-1)! - ts[0]!)));
}

describeNeeding(['socat'], haveSocat(), 'Modbus RTU over a pty pair (socat)', () => {
  it('live units keep their rate next to a dead unit, which is demoted and shows it', async () => {
    const pool = new LinePool();
    // 10 polls/s each: well inside what the line carries, so the rate is the units' own.
    const live = [1, 2, 3].map((u) => track(createPoller(device(u, { pollIntervalMs: 100 }), { pool })));
    for (const p of live) p.start();
    await waitUntil(() => live.every((p) => p.link().pollsOk > 0), 3000, 'live units online');
    const alone = await measureRates(live, 2000);

    const logs: { level: LogLevel; msg: string }[] = [];
    const dead = track(createPoller(device(DEAD), { pool, onLog: (level, msg) => logs.push({ level, msg }) }));
    const deadResults: PollResult[] = [];
    dead.onResult((r) => deadResults.push(r));
    dead.start();
    await waitUntil(() => dead.link().demoted === true, 3000, 'dead unit demoted');
    const together = await measureRates(live, 2000);
    console.log(
      `RTU 115200 (pty): live units ${alone.map((r) => r.toFixed(1)).join('/')} polls/s alone, ${together.map((r) => r.toFixed(1)).join('/')} next to a dead unit`,
    );

    for (const [i, rate] of alone.entries()) {
      expect(rate).toBeGreaterThanOrEqual(6); // 10/s configured
      expect(together[i]!).toBeGreaterThanOrEqual(0.7 * rate);
    }
    const link = dead.link();
    expect(link).toMatchObject({ state: 'offline', demoted: true, line: `rtu:${pty.b}`, lastError: { code: 'MODBUS_TIMEOUT' } });
    expect(link.lastError?.message).toBe(`no answer from ${pty.b} unit 4 within 100 ms`);
    expect(link.errorCounts?.['MODBUS_TIMEOUT']).toBeGreaterThanOrEqual(3);
    // Probed once a demotion interval, not at its poll rate.
    expect(slave.units.get(DEAD)!.requests).toBeLessThanOrEqual(3 + 3);
    expect(logs.filter((l) => /demoted after 2 failed polls: polled every 1 s/.test(l.msg))).toHaveLength(1);
    for (const p of live) expect(p.link()).toMatchObject({ state: 'online', demoted: false, line: `rtu:${pty.b}` });

    // Brought back to life, it is promoted at its next probe.
    slave.setDead(DEAD, false);
    // Probes are spaced to keep within their share of the line (probes.ts): up to 100 ms / 5 % apart.
    await waitUntil(() => dead.link().state === 'online', 5000, 'dead unit back');
    expect(dead.link().demoted).toBe(false);
    expect(logs.filter((l) => /no longer demoted/.test(l.msg))).toHaveLength(1);
    slave.setDead(DEAD, true);
    await Promise.all([...live, dead].map((p) => p.stop()));
    expect(pool.keys()).toEqual([]);
  });

  const faults: [UnitFault, string, RegExp][] = [
    [
      'short',
      'MODBUS_MALFORMED',
      /^malformed answer from \S+ unit 1 reading input registers 0–7: short frame: 11 of 21 byte\(s\) before the line fell quiet$/,
    ],
    [
      'bad-crc',
      'MODBUS_CRC',
      /^bad CRC \(received 0x[0-9A-F]{4}, computed 0x[0-9A-F]{4}\) in the answer from \S+ unit 1 reading input registers 0–7$/,
    ],
    ['wrong-unit', 'MODBUS_MALFORMED', /: answer from unit 2, expected unit 1$/],
    ['wrong-function', 'MODBUS_MALFORMED', /: answer for function 3, expected 4$/],
    ['bad-bytecount', 'MODBUS_MALFORMED', /: byte count 18, expected 16 for 8 value\(s\)$/],
    ['silent', 'MODBUS_TIMEOUT', /^no answer from \S+ unit 1 within 150 ms$/],
    ['exception', 'MODBUS_EXCEPTION', /^server device failure \(exception 4\) reading input registers 0–7$/],
    ['garbage', 'MODBUS_MALFORMED', /not a Modbus RTU answer/],
  ];

  it('every malformed answer and a timeout give their specific error; the next request succeeds', async () => {
    const pool = new LinePool();
    const line = pool.acquire(transport);
    const policy = { timeoutMs: 150 };
    const bank = slave.units.get(1)!.bank;
    for (const [fault, code, message] of faults) {
      slave.inject(1, fault);
      const err = (await line.read(1, 'input', 0, 8, policy).then(
        () => null,
        (e: unknown) => e,
      )) as ConsoleError | null;
      expect({ fault, code: err?.code }).toEqual({ fault, code });
      expect(err!.message).toMatch(message);
      expect(await line.read(1, 'input', 0, 8, policy), `after ${fault}`).toEqual(bank.read('input', 0, 8));
    }
    // A late answer (after the timeout) is never taken for the next request of the same shape.
    slave.inject(1, 'late');
    await expect(line.read(1, 'input', 0, 8, policy)).rejects.toMatchObject({ code: 'MODBUS_TIMEOUT' });
    const next = await line.read(1, 'input', 8, 8, policy);
    expect(next).toEqual(bank.read('input', 8, 8));
    expect(next).not.toEqual(bank.read('input', 0, 8));
    expect(await line.read(2, 'holding', 0, 4, policy)).toEqual(slave.units.get(2)!.bank.read('holding', 0, 4));
    await pool.release(line);
  });

  it("counts each failure in the unit's Link and keeps polling through them", async () => {
    const pool = new LinePool();
    const poller = track(createPoller(device(1, { retries: 0, timeoutMs: 150 }), { pool }));
    const results: PollResult[] = [];
    poller.onResult((r) => results.push(r));
    poller.start();
    await waitUntil(() => poller.link().pollsOk > 0, 3000, 'online');
    for (const [fault, code] of faults) {
      const counted = poller.link().errorCounts?.[code] ?? 0;
      slave.inject(1, fault);
      await waitUntil(() => (poller.link().errorCounts?.[code] ?? 0) > counted, 3000, `${fault} counted`);
      // The next poll succeeds again.
      const ok = poller.link().pollsOk;
      await waitUntil(() => poller.link().pollsOk > ok, 3000, `a good poll after ${fault}`);
    }
    const link = poller.link();
    expect(Object.keys(link.errorCounts ?? {}).sort()).toEqual(['MODBUS_CRC', 'MODBUS_EXCEPTION', 'MODBUS_MALFORMED', 'MODBUS_TIMEOUT']);
    expect(link.errorCounts?.['MODBUS_MALFORMED']).toBe(5);
    // Each failure lost the link for one cycle; never two in a row, so never demoted.
    expect(link).toMatchObject({ state: 'online', demoted: false });
    expect(results.some((r) => r.values['speed']?.quality === 'stale')).toBe(true);
    await poller.stop();
  });

  it('a noisy line does not make a unit that answers offline or demoted: retried, counted, warned about', async () => {
    const logs: { level: LogLevel; msg: string }[] = [];
    const poller = track(createPoller(device(1), { pool: new LinePool(), onLog: (level, msg) => logs.push({ level, msg }) }));
    const results: PollResult[] = [];
    poller.onResult((r) => results.push(r));
    poller.start();
    await waitUntil(() => poller.link().pollsOk > 0, 3000, 'online');
    // One answer in three spoiled, two in a row: a bad CRC, then a frame cut short.
    for (let i = 0; i < 12; i++) for (const f of ['bad-crc', 'short', 'none', 'none', 'none', 'none'] as const) slave.inject(1, f);
    const unit = slave.units.get(1)!;
    await waitUntil(() => unit.faults.length === 0, 10_000, 'every fault served');
    const ok = poller.link().pollsOk;
    await waitUntil(() => poller.link().pollsOk > ok, 3000, 'a poll after the last fault');
    await poller.stop();
    const seen = results.filter((r) => r.ts > 0);
    expect(seen.every((r) => r.link.state === 'online' && r.link.demoted === false)).toBe(true);
    const link = poller.link();
    // Twelve bad CRCs and twelve cut frames; on a loaded machine a cut frame's silence may run
    // into the answer timeout instead, so the cut ones are counted together.
    const counts = link.errorCounts ?? {};
    expect(counts['MODBUS_CRC']).toBe(12);
    expect((counts['MODBUS_MALFORMED'] ?? 0) + (counts['MODBUS_TIMEOUT'] ?? 0)).toBe(12);
    expect(counts['MODBUS_MALFORMED']).toBeGreaterThanOrEqual(10);
    expect(link.noise).toMatchObject({ noisy: true });
    expect(link.noise?.spoiled).toBeGreaterThanOrEqual(22);
    expect(logs.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      expect.stringMatching(new RegExp(`^Noisy line rtu:${pty.b}: 3 of the last \\d+ answers from Unit 1 \\(u1\\) arrived spoiled`)),
    ]);
    // Every value kept coming: retries got each block through.
    expect(seen.every((r) => Object.values(r.values).every((v) => v.quality === 'good'))).toBe(true);
  });

  it('writes and point reads go through the line; a write to a dead unit times out', async () => {
    const pool = new LinePool();
    const press = track(createPoller(device(2), { pool }));
    const dead = track(createPoller(device(DEAD), { pool }));
    press.start();
    const sp = loadProfile('builtin:hp200', packageRoot()).points.find((p) => p.id === 'force-sp');
    for (const [value, fc] of [
      [1500, 6],
      [1600, 16],
    ] as const) {
      await press.write({ function: 'holding', address: sp!.address, values: encode(sp!, value), fc });
      expect(await press.readPoint('force-sp')).toMatchObject({ value, quality: 'good' });
      expect(slave.units.get(2)!.simulator.values()['force-sp']).toBe(value);
    }
    await expect(press.write({ function: 'holding', address: sp!.address, values: [5000], fc: 6 })).rejects.toMatchObject({
      code: 'MODBUS_EXCEPTION',
      message: 'illegal data value (exception 3) writing holding register 40',
    });
    await expect(dead.write({ function: 'holding', address: 100, values: [2000], fc: 6 })).rejects.toMatchObject({
      code: 'MODBUS_TIMEOUT',
    });
    await expect(dead.readPoint(device(DEAD).profileDef.points[0]!.id)).rejects.toMatchObject({ code: 'MODBUS_TIMEOUT' });
    await Promise.all([press.stop(), dead.stop()]);
  });

  it('plant-console read reads every unit on the line through it, and names the dead one', async () => {
    const devices = [1, 2, 3, DEAD].map((u) => device(u, { retries: 0 }));
    const reports = await readDevices(devices);
    expect(reports.map((r) => r.error)).toEqual([null, null, null, `no answer from ${pty.b} unit 4 within 100 ms`]);
    expect(reports.map((r) => [r.id, r.ok])).toEqual([
      ['u1', true],
      ['u2', true],
      ['u3', true],
      ['u4', false],
    ]);
    expect(reports[0]!.endpoint).toBe(`${pty.b} @ 115200 8N1`);
    expect(reports[3]!.error).toBe(`no answer from ${pty.b} unit 4 within 100 ms`);
    const speed = reports[0]!.points.find((p) => p.id === 'speed');
    expect(speed?.quality).toBe('good');
  });
});
