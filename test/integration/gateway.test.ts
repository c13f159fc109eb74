/**
 * Several units behind one TCP address: a Modbus TCP gateway (one dead unit answered with
 * exception 11, or not at all) and a serial device server forwarding RTU frames over TCP. The
 * live units keep their measured rate next to the dead one, which is demoted and shows it;
 * every malformed answer, a timeout and a connection closed mid-frame give their specific error
 * and the next request succeeds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startRtuLine, type LineServer, type UnitFault } from '../../device-agent/rtu-server';
import { readDevices } from '../../src-main/app/read';
import { loadProfile, packageRoot } from '../../src-main/config/load';
import type { PlantConfig, ResolvedDevice, TransportConfig } from '../../src-main/config/schema';
import { silentLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import type { ConsoleError } from '../../src-main/core/errors';
import type { Poller } from '../../src-main/core/types';
import { LinePool } from '../../src-main/modbus/line';
import { createPoller } from '../../src-main/modbus/poller';

const MODELS: Record<number, string> = { 1: 'pk60', 2: 'hp200', 3: 'im250', 4: 'pk60' };
const DEAD = 4;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function line(framing: 'mbap' | 'rtu', dead: boolean | 'exception'): Promise<{ server: LineServer; transport: TransportConfig }> {
  const server = await startRtuLine({
    port: 0,
    framing,
    tickMs: 3_600_000,
    units: [1, 2, 3, 4].map((unitId) => ({ unitId, model: MODELS[unitId], seed: unitId, dead: unitId === DEAD ? dead : false })),
  });
  cleanups.push(() => server.stop());
  const transport: TransportConfig =
    framing === 'mbap'
      ? { type: 'tcp', host: '127.0.0.1', port: server.port! }
      : { type: 'rtu-tcp', host: '127.0.0.1', port: server.port! };
  return { server, transport };
}

function device(transport: TransportConfig, unitId: number, over: Partial<ResolvedDevice> = {}): ResolvedDevice {
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

function poller(d: ResolvedDevice, pool: LinePool): Poller {
  const p = createPoller(d, { pool });
  cleanups.push(() => p.stop());
  return p;
}

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`waitUntil: ${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Online results per second of each poller over `windowMs`, from the results' own timestamps. */
async function measureRates(pollers: Poller[], windowMs: number): Promise<number[]> {
  const stamps = pollers.map(() => [] as number[]);
  const offs = pollers.map((p, i) => p.onResult((r) => r.link.state === 'online' && stamps[i]!.push(r.ts)));
  await new Promise((r) => setTimeout(r, windowMs));
  offs.forEach((off) => off());
  return stamps.map((ts) => (ts.length < 2 ? 0 : ((ts.length - 1) * 1000) / (ts.at(-1)! - ts[0]!)));
}

describe.each([
  ['Modbus TCP gateway, dead unit answered with exception 11', 'mbap', 'exception', 'MODBUS_GATEWAY'],
  ['Modbus TCP gateway, dead unit silent', 'mbap', true, 'MODBUS_TIMEOUT'],
  ['RTU over TCP (serial device server), dead unit silent', 'rtu', true, 'MODBUS_TIMEOUT'],
] as const)('%s', (name, framing, dead, deadCode) => {
  it('live units keep their rate next to the dead unit, which is demoted and shows it', async () => {
    const { server, transport } = await line(framing, dead);
    const pool = new LinePool();
    const live = [1, 2, 3].map((u) => poller(device(transport, u), pool));
    for (const p of live) p.start();
    await waitUntil(() => live.every((p) => p.link().pollsOk > 0), 3000, 'live units online');
    const alone = await measureRates(live, 1500);
    const deadPoller = poller(device(transport, DEAD), pool);
    deadPoller.start();
    await waitUntil(() => deadPoller.link().demoted === true, 3000, 'dead unit demoted');
    const together = await measureRates(live, 1500);
    console.log(
      `${name}: live units ${alone.map((r) => r.toFixed(1)).join('/')} polls/s alone, ${together.map((r) => r.toFixed(1)).join('/')} next to the dead unit`,
    );
    for (const [i, rate] of alone.entries()) {
      expect(rate).toBeGreaterThanOrEqual(12);
      expect(together[i]!).toBeGreaterThanOrEqual(0.7 * rate);
    }
    const link = deadPoller.link();
    expect(link).toMatchObject({
      state: 'offline',
      demoted: true,
      line: `${transport.type}:127.0.0.1:${server.port}`,
      lastError: { code: deadCode },
    });
    expect(link.errorCounts?.[deadCode]).toBeGreaterThanOrEqual(3);
    if (deadCode === 'MODBUS_GATEWAY') {
      expect(link.lastError?.message).toBe(
        `gateway target device failed to respond (exception 11) for unit 4 behind 127.0.0.1:${server.port}, reading discrete input 3`,
      );
    }
    for (const p of live) expect(p.link()).toMatchObject({ state: 'online', demoted: false });
    // All units share one connection, except for reconnects after a silent unit's timeouts.
    if (framing === 'rtu' || dead === 'exception') expect(server.connections()).toBe(1);
  });
});

const TCP_FAULTS: [UnitFault, string, RegExp][] = [
  ['short', 'MODBUS_MALFORMED', /reading input registers 0–7: 8 data byte\(s\) for a byte count of 16/],
  ['wrong-unit', 'MODBUS_MALFORMED', /: answer from unit 2, expected unit 1$/],
  ['wrong-function', 'MODBUS_MALFORMED', /: answer for function 3, expected 4$/],
  ['bad-bytecount', 'MODBUS_MALFORMED', /: byte count 18, expected 16 for 8 value\(s\)$/],
  ['garbage', 'MODBUS_MALFORMED', /^malformed answer from 127\.0\.0\.1:\d+ unit 1 reading input registers 0–7: /],
  ['silent', 'MODBUS_TIMEOUT', /^no answer from 127\.0\.0\.1:\d+ unit 1 within 150 ms$/],
  ['exception', 'MODBUS_EXCEPTION', /^server device failure \(exception 4\) reading input registers 0–7$/],
  [
    'close-mid-frame',
    'MODBUS_CLOSED',
    /^connection closed by 127\.0\.0\.1:\d+ in the middle of its answer \(unit 1, reading input registers 0–7\)$/,
  ],
];

const RTU_FAULTS: [UnitFault, string, RegExp][] = [
  ['short', 'MODBUS_MALFORMED', /: short frame: 11 of 21 byte\(s\) before the line fell quiet$/],
  [
    'bad-crc',
    'MODBUS_CRC',
    /^bad CRC \(received 0x[0-9A-F]{4}, computed 0x[0-9A-F]{4}\) in the answer from 127\.0\.0\.1:\d+ unit 1 reading input registers 0–7$/,
  ],
  ['wrong-unit', 'MODBUS_MALFORMED', /: answer from unit 2, expected unit 1$/],
  ['wrong-function', 'MODBUS_MALFORMED', /: answer for function 3, expected 4$/],
  ['bad-bytecount', 'MODBUS_MALFORMED', /: byte count 18, expected 16 for 8 value\(s\)$/],
  ['garbage', 'MODBUS_MALFORMED', /not a Modbus RTU answer/],
  ['silent', 'MODBUS_TIMEOUT', /^no answer from 127\.0\.0\.1:\d+ unit 1 within 150 ms$/],
  ['exception', 'MODBUS_EXCEPTION', /^server device failure \(exception 4\) reading input registers 0–7$/],
  [
    'close-mid-frame',
    'MODBUS_CLOSED',
    /^connection to 127\.0\.0\.1:\d+ lost in the middle of its answer \(unit 1, reading input registers 0–7\)$/,
  ],
];

describe.each([
  ['Modbus TCP gateway', 'mbap', TCP_FAULTS],
  ['RTU over TCP', 'rtu', RTU_FAULTS],
] as const)('%s: fault injection', (_name, framing, faults) => {
  it('each fault gives its specific error and the next request to that unit succeeds', async () => {
    const { server, transport } = await line(framing, true);
    const pool = new LinePool();
    const l = pool.acquire(transport);
    cleanups.push(() => pool.release(l));
    const policy = { timeoutMs: 150 };
    const unit = 1;
    const bank = server.units.get(unit)!.bank;
    for (const [fault, code, message] of faults) {
      server.inject(unit, fault);
      const err = (await l.read(unit, 'input', 0, 8, policy).then(
        () => null,
        (e: unknown) => e,
      )) as ConsoleError | null;
      expect({ fault, code: err?.code }).toEqual({ fault, code });
      expect(err!.message).toMatch(message);
      // The next request to the same unit succeeds, with its own data.
      expect(await l.read(unit, 'input', 0, 8, policy), `after ${fault}`).toEqual(bank.read('input', 0, 8));
    }
  });
});

describe('plant-console read through a gateway', () => {
  it('reads every unit behind one address over one connection and names the dead one', async () => {
    const { server, transport } = await line('mbap', 'exception');
    const reports = await readDevices([1, 2, 3, DEAD].map((u) => device(transport, u, { retries: 0 })));
    expect(reports.map((r) => r.error)).toEqual([
      null,
      null,
      null,
      `gateway target device failed to respond (exception 11) for unit 4 behind 127.0.0.1:${server.port}, reading discrete input 3`,
    ]);
    expect(server.connections()).toBe(1);
  });
});

describe('the plant core with its default poller factory', () => {
  it('polls every unit behind a gateway over one connection; /healthz shows the dead one demoted', async () => {
    const { server, transport } = await line('mbap', true);
    const config: PlantConfig = {
      plant: { name: 'Gateway plant', timezone: 'UTC' },
      shifts: [{ name: 'Day', start: '06:00' }],
      kpi: { rollingWindowMin: 60 },
      history: { retentionMin: 60, retentionDays: 7, rollupRetentionDays: 90, diskBudgetMB: 512 },
      writes: { enabled: false },
      access: { localViewWithoutLogin: true, idleLockMinutes: 15 },
      devices: [1, 2, 3, DEAD].map((u) => device(transport, u)),
      simulated: true,
      source: '(test)',
    };
    const core = new PlantCore({ config, log: silentLogger });
    cleanups.push(() => core.stop());
    core.start();
    await core.ready();
    const byId = (id: string) => core.health().machines.find((m) => m.id === id)!;
    await waitUntil(
      () => byId('u4').link.demoted === true && ['u1', 'u2', 'u3'].every((id) => byId(id).link.pollsOk > 5),
      5000,
      'steady state',
    );
    const health = JSON.parse(JSON.stringify(core.health())) as ReturnType<PlantCore['health']>;
    const key = `tcp:127.0.0.1:${server.port}`;
    expect(health.machines.map((m) => [m.id, m.link.state, m.link.demoted, m.link.line])).toEqual([
      ['u1', 'online', false, key],
      ['u2', 'online', false, key],
      ['u3', 'online', false, key],
      ['u4', 'offline', true, key],
    ]);
    expect(health.machines[3]!.link.errorCounts).toMatchObject({ MODBUS_TIMEOUT: expect.any(Number) as number });
    // One line: the silent unit's timeouts reconnect it, nothing else does.
    expect(server.connections()).toBeLessThanOrEqual(1 + (byId('u4').link.errorCounts?.['MODBUS_TIMEOUT'] ?? 0));
  });
});
