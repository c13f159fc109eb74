/**
 * The TCP poller against real Modbus servers on loopback: the demo profiles end to end, link
 * loss and recovery on the same port, every fault mode, isolation between devices, and clean
 * shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadProfile, packageRoot } from '../../src-main/config/load';
import { ProfileSchema, type PointDef, type Profile, type ResolvedDevice } from '../../src-main/config/schema';
import type { LogLevel } from '../../src-main/core/log';
import type { PollResult, Poller } from '../../src-main/core/types';
import { backoffDelay } from '../../src-main/modbus/backoff';
import { encode } from '../../src-main/modbus/codec';
import { ModbusTcpConnection } from '../../src-main/modbus/connection';
import { createTcpPoller } from '../../src-main/modbus/poller';
import {
  FAULT_MODES,
  LATE_FIRST_MS,
  startFaultServer,
  startVectorServer,
  type RegisterTables,
  type TestServer,
} from '../helpers/modbus-servers';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Pollers first (they were pushed last), then servers.
  for (const c of cleanups.splice(0).reverse()) await c();
});

function track<T extends TestServer | Poller>(x: T): T {
  cleanups.push(() => x.stop());
  return x;
}

function device(id: string, port: number, profileDef: Profile, over: Partial<ResolvedDevice> = {}): ResolvedDevice {
  return {
    id,
    name: id,
    profile: 'x',
    transport: { type: 'tcp', host: '127.0.0.1', port },
    unitId: 1,
    pollIntervalMs: 100,
    timeoutMs: 250,
    retries: 1,
    backoff: { initialDelayMs: 50, maxDelayMs: 400, randomisationFactor: 0.2 },
    interFrameDelayMs: 0,
    demotion: { afterFailures: 3, intervalMs: 10_000 },
    writeFunction: 'single',
    profileDef,
    ...over,
  };
}

/** Resolves with the first result matching `predicate`; rejects after `timeoutMs`. */
function waitFor(poller: Poller, predicate: (r: PollResult) => boolean, timeoutMs: number): Promise<PollResult> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`waitFor: no matching poll result within ${timeoutMs} ms (link ${JSON.stringify(poller.link())})`));
    }, timeoutMs);
    const off = poller.onResult((r) => {
      if (!predicate(r)) return;
      clearTimeout(timer);
      off();
      resolve(r);
    });
  });
}

/** Polls a condition every 10 ms, at most `timeoutMs`. */
async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`waitUntil: ${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Two turns of the event loop: enough for libuv to finish closing handles already closed in JS. */
const settle = async () => {
  for (let i = 0; i < 2; i++) await new Promise<void>((r) => setImmediate(r));
};

const demoProfile = (model: string) => loadProfile(`builtin:${model}`, packageRoot());

/** A value for each point that survives encode → decode exactly. */
function sampleValue(p: PointDef, i: number): number | boolean | string {
  switch (p.type) {
    case 'bool':
      return i % 2 === 0;
    case 'string':
      return `${p.id.toUpperCase()}-${i}`.slice(0, (p.length ?? 1) * 2);
    case 'float32':
      return Math.fround(100 + i * 1.375) * p.scale + p.offset;
    case 'float64':
      return (12345.678 + i) * p.scale + p.offset;
    case 'int16':
      return -(100 + i * 7) * p.scale + p.offset;
    case 'uint16':
      return (200 + i * 11) * p.scale + p.offset;
    case 'int32':
      return -(70000 + i) * p.scale + p.offset;
    case 'uint32':
      return (123456 + i * 1001) * p.scale + p.offset;
  }
}

/** Tables holding every point's sample value, encoded with the point's own orders. */
function fillTables(profile: Profile): { tables: RegisterTables; expected: Map<string, { value: unknown; raw: number[] }> } {
  const tables: RegisterTables = { coils: [], discrete: [], input: [], holding: [] };
  for (const t of Object.values(tables)) for (let i = 0; i < 200; i++) t.push(0);
  const expected = new Map<string, { value: unknown; raw: number[] }>();
  profile.points.forEach((p, i) => {
    const value = sampleValue(p, i);
    const raw = encode(p, value);
    const table = p.function === 'coil' ? tables.coils : p.function === 'discrete' ? tables.discrete : tables[p.function];
    raw.forEach((r, k) => (table[p.address + k] = r));
    expected.set(p.id, { value, raw });
  });
  return { tables, expected };
}

const online = (r: PollResult) => r.link.state === 'online';
const offline = (r: PollResult) => r.link.state === 'offline';

describe('TCP poller', () => {
  it('decodes all three demo profiles to exactly the values served', async () => {
    for (const model of ['im250', 'hp200', 'pk60']) {
      const profile = demoProfile(model);
      const { tables, expected } = fillTables(profile);
      const server = track(await startVectorServer(tables));
      const poller = track(createTcpPoller(device(model, server.port, profile)));
      const first = waitFor(poller, online, 3000);
      poller.start();
      const r = await first;
      expect(r.deviceId).toBe(model);
      expect(Object.keys(r.values).sort()).toEqual(profile.points.map((p) => p.id).sort());
      for (const p of profile.points) {
        const v = r.values[p.id]!;
        expect({ id: p.id, quality: v.quality, reason: v.reason }).toEqual({ id: p.id, quality: 'good', reason: null });
        expect(v.value, `${model}.${p.id}`).toBe(expected.get(p.id)!.value);
        expect(v.raw).toEqual(expected.get(p.id)!.raw);
        expect(v.ts).toBeGreaterThan(0);
      }
      expect(r.link).toMatchObject({ state: 'online', lastError: null, consecutiveFailures: 0, pollsFailed: 0 });
      expect(r.link.pollsOk).toBeGreaterThanOrEqual(1);
      expect(r.link.lastPollMs).not.toBeNull();

      // The served tables are live: a change shows up in a later cycle.
      const first16 = profile.points.find((p) => p.type === 'uint16')!;
      const table = first16.function === 'input' ? server.regs.input : server.regs.holding;
      const newValue = 4321 * first16.scale + first16.offset;
      encode(first16, newValue).forEach((w, k) => (table[first16.address + k] = w));
      await waitFor(poller, (x) => x.values[first16.id]?.value === newValue, 2000);
    }
  });

  it('goes offline with stale values when the server stops, and recovers on the same port', async () => {
    const profile = demoProfile('pk60');
    const { tables, expected } = fillTables(profile);
    let server = await startVectorServer(tables);
    const port = server.port;
    const logs: { level: LogLevel; msg: string }[] = [];
    const results: PollResult[] = [];
    const dev = device('pk', port, profile, {
      pollIntervalMs: 50,
      backoff: { initialDelayMs: 40, maxDelayMs: 160, randomisationFactor: 0.5 },
    });
    const random = () => 0.5; // no jitter: the spacing below is exact
    const poller = track(createTcpPoller(dev, { random, onLog: (level, msg) => logs.push({ level, msg }) }));
    poller.onResult((r) => results.push(r));
    const up = waitFor(poller, online, 3000);
    poller.start();
    await up;

    const down = waitFor(poller, offline, 3000);
    await server.stop();
    const r = await down;
    expect(['MODBUS_CLOSED', 'MODBUS_CONNECT']).toContain(r.link.lastError?.code);
    for (const p of profile.points) {
      const v = r.values[p.id]!;
      expect(v.quality).toBe('stale');
      expect(v.value).toBe(expected.get(p.id)!.value);
      expect(v.raw).toEqual(expected.get(p.id)!.raw);
      expect(v.reason).toBe(r.link.lastError?.message);
      expect(v.ts).toBeGreaterThan(0);
    }

    // Let a few reconnect attempts fail, then check they were spaced by the backoff.
    await waitFor(poller, (x) => x.link.consecutiveFailures >= 4, 3000);
    const failed = results.filter(offline);
    for (let i = 1; i < failed.length; i++) {
      const gap = failed[i]!.ts - failed[i - 1]!.ts;
      expect(gap).toBeGreaterThanOrEqual(backoffDelay(failed[i - 1]!.link.consecutiveFailures, dev.backoff, random) - 2);
    }
    expect(failed.at(-1)!.values['speed']!.reason).toMatch(/cannot connect to 127\.0\.0\.1:\d+: connection refused/);
    expect(failed.at(-1)!.link.lastError?.code).toBe('MODBUS_CONNECT');

    const back = waitFor(poller, online, 3000);
    server = track(await startVectorServer(tables, { port }));
    const rec = await back;
    expect(server.port).toBe(port);
    for (const p of profile.points) {
      expect(rec.values[p.id]).toMatchObject({ quality: 'good', value: expected.get(p.id)!.value, reason: null });
    }
    expect(rec.link.consecutiveFailures).toBe(0);
    // One log line per state change, not one per failed poll.
    expect(logs.map((l) => l.level)).toEqual(['info', 'warn', 'info']);
    expect(logs[1]!.msg).toMatch(/offline/);
  });

  // A device that answers, however badly, is online: an exception makes its values bad, a
  // spoiled answer (noise, a wrong frame) leaves them stale; only silence or a lost connection is offline.
  type FaultExpect = { code: string; message: RegExp; state: 'online' | 'offline'; quality: 'bad' | 'stale' };
  const spoiled = (message: RegExp): FaultExpect => ({ code: 'MODBUS_MALFORMED', message, state: 'online', quality: 'stale' });
  const faultExpect: Record<(typeof FAULT_MODES)[number], FaultExpect> = {
    silent: {
      code: 'MODBUS_TIMEOUT',
      message: /^no answer from 127\.0\.0\.1:\d+ unit 1 within 150 ms$/,
      state: 'offline',
      quality: 'stale',
    },
    garbage: spoiled(/^malformed answer from .* reading input registers 0–2: not a Modbus TCP frame/),
    short: spoiled(/reading input registers 0–2: 3 data byte\(s\) for a byte count of 6/),
    'wrong-unit': spoiled(/answer from unit 2, expected unit 1/),
    'wrong-function': spoiled(/answer for function 3, expected 4/),
    'bad-bytecount': spoiled(/byte count 8, expected 6 for 3 value\(s\)/),
    exception: {
      code: 'MODBUS_EXCEPTION',
      message: /^illegal data address \(exception 2\) reading input registers 0–2$/,
      state: 'online',
      quality: 'bad',
    },
    'close-mid-frame': {
      code: 'MODBUS_CLOSED',
      message: /^connection (closed|reset) by 127\.0\.0\.1:\d+ in the middle of its answer/,
      state: 'offline',
      quality: 'stale',
    },
  };

  const mini = ProfileSchema.parse({
    model: 'mini',
    title: 'Mini',
    idealCycleTimeS: 1,
    points: [
      { id: 'a', name: 'A', function: 'input', address: 0, type: 'uint16' },
      { id: 'b', name: 'B', function: 'input', address: 1, type: 'float32' },
    ],
  });

  it.each(FAULT_MODES)('fault mode %s gives its specific error and polling goes on', async (mode) => {
    const server = track(await startFaultServer(mode));
    const poller = track(createTcpPoller(device(mode, server.port, mini, { timeoutMs: 150 })));
    const results: PollResult[] = [];
    poller.onResult((r) => results.push(r));
    poller.start();
    const want = faultExpect[mode];
    const r = await waitFor(poller, (x) => x.link.lastError !== null, 3000);
    expect(r.link.lastError?.code).toBe(want.code);
    expect(r.link.lastError?.message).toMatch(want.message);
    expect(r.link.state).toBe(want.state);
    for (const id of ['a', 'b']) {
      const v = r.values[id]!;
      // Never read successfully: no value, no raw registers, no timestamp.
      expect(v).toEqual({
        value: null,
        raw: [],
        quality: want.quality,
        ts: 0,
        reason: r.link.lastError?.message,
      });
    }
    // It keeps polling (or probing) after the failure.
    const before = server.requests();
    await waitFor(poller, () => results.length >= 3, 3000);
    await waitUntil(() => server.requests() > before, 2000, 'another request');
    if (mode !== 'exception') {
      // Every failure but an exception drops the connection; the next attempt reconnects.
      expect(server.connections()).toBeGreaterThanOrEqual(2);
    } else {
      expect(server.connections()).toBe(1);
      expect(results.at(-1)!.link.pollsFailed).toBe(results.length);
    }
  });

  it('marks only the affected points bad: an exception on one block, a value that does not decode', async () => {
    const profile = ProfileSchema.parse({
      model: 'mixed',
      title: 'Mixed',
      idealCycleTimeS: 1,
      points: [
        { id: 'a', name: 'A', function: 'input', address: 0, type: 'uint16' },
        { id: 'b', name: 'B', function: 'input', address: 1, type: 'float32' },
        { id: 'far', name: 'Far', function: 'holding', address: 500, type: 'uint16' },
      ],
    });
    // Holding 500 is beyond the served table: the server answers exception 2 for that block.
    const server = track(await startVectorServer({ input: [7, 0x7fc0, 0x0000], holding: [1, 2, 3] }));
    const poller = track(createTcpPoller(device('mixed', server.port, profile)));
    const first = waitFor(poller, () => true, 3000);
    poller.start();
    const r = await first;
    expect(r.link.state).toBe('online');
    expect(r.values['a']).toMatchObject({ quality: 'good', value: 7, raw: [7], reason: null });
    expect(r.values['b']).toMatchObject({ quality: 'bad', value: null, raw: [0x7fc0, 0], ts: 0 });
    expect(r.values['b']!.reason).toMatch(/"b".*NaN/);
    expect(r.values['far']).toEqual({
      value: null,
      raw: [],
      quality: 'bad',
      ts: 0,
      reason: 'illegal data address (exception 2) reading holding register 500',
    });
    expect(r.link).toMatchObject({ pollsOk: 0, pollsFailed: 1, consecutiveFailures: 0 });
    expect(['DECODE_FAILED', 'MODBUS_EXCEPTION']).toContain(r.link.lastError?.code);

    // Once the value is a number again, it is good again; the exception block stays bad.
    server.regs.input[1] = 0x4120; // 10.0f
    const ok = await waitFor(poller, (x) => x.values['b']?.quality === 'good', 2000);
    expect(ok.values['b']!.value).toBe(10);
    expect(ok.values['far']!.quality).toBe('bad');
    expect(ok.link.state).toBe('online');
  });

  it('drops the connection after a timeout, so a late answer never reaches a later request', async () => {
    const server = track(await startFaultServer('late-first'));
    const conn = new ModbusTcpConnection({ host: '127.0.0.1', port: server.port, timeoutMs: 150 });
    cleanups.push(() => conn.close());
    await expect(conn.read('holding', 0, 2, 1)).rejects.toMatchObject({
      code: 'MODBUS_TIMEOUT',
      message: `no answer from 127.0.0.1:${server.port} unit 1 within 150 ms`,
    });
    // Queued reads run one at a time, each on the fresh connection, each with its own answer.
    const [r2, r3] = await Promise.all([conn.read('holding', 0, 2, 1), conn.read('input', 5, 1, 1)]);
    expect(r2).toEqual([2, 2]);
    expect(r3).toEqual([3]);
    // Past the moment the late answer was due: it went to the dropped socket, not to us.
    await sleep(LATE_FIRST_MS);
    expect(await conn.read('coil', 0, 3, 1)).toEqual([0, 0, 1]); // 4 = 0b100, bits LSB first
    expect(server.connections()).toBe(2);
    expect(conn.state).toBe('online');
    await conn.close();
    expect(conn.state).toBe('closed');
    await expect(conn.read('holding', 0, 1, 1)).rejects.toMatchObject({ code: 'MODBUS_CLOSED' });
  });

  it('polls start-to-start: a cycle that runs into the next slots skips them, counted as overruns, and lateness is kept', async () => {
    const server = track(await startFaultServer('late-first'));
    const mini = ProfileSchema.parse({
      model: 'mini',
      title: 'Mini',
      idealCycleTimeS: 1,
      points: [{ id: 'a', name: 'A', function: 'holding', address: 0, type: 'uint16' }],
    });
    const poller = track(createTcpPoller(device('slow', server.port, mini, { pollIntervalMs: 100, timeoutMs: 2000, retries: 0 })));
    const results: PollResult[] = [];
    poller.onResult((r) => results.push(r));
    poller.start();
    // The first answer takes LATE_FIRST_MS (300 ms): the slots at 100, 200 (and 300) ms pass meanwhile.
    const first = await waitFor(poller, online, 3000);
    expect(first.link.overruns).toBeGreaterThanOrEqual(Math.floor(LATE_FIRST_MS / 100) - 1);
    await waitFor(poller, (r) => r.link.pollsOk >= 4, 5000);
    const last = results.at(-1)!;
    // Skipped, not run late: the second cycle started on the grid, after the first ended.
    const second = results[1]!;
    expect(second.ts - (second.link.lastPollMs ?? 0)).toBeGreaterThanOrEqual(first.ts);
    expect(last.link.lateness).toMatchObject({ count: results.length });
    expect(last.link.overruns).toBeGreaterThanOrEqual(first.link.overruns!);
    expect(poller.link().overruns).toBe(last.link.overruns);
  });

  it('a healthy device keeps its rate next to a silent and a garbage device', async () => {
    const profile = demoProfile('im250');
    const { tables } = fillTables(profile);
    const healthyServer = track(await startVectorServer(tables));
    const windowMs = 2000;

    /** Results of the healthy device per second over a window starting at its first result. */
    async function measure(): Promise<number> {
      const poller = createTcpPoller(device('healthy', healthyServer.port, profile, { pollIntervalMs: 100 }));
      const ts: number[] = [];
      poller.onResult((r) => {
        if (r.link.state === 'online') ts.push(r.ts);
      });
      const first = waitFor(poller, online, 3000);
      poller.start();
      const t0 = (await first).ts;
      await sleep(windowMs + 50);
      await poller.stop();
      const inWindow = ts.filter((t) => t >= t0 && t <= t0 + windowMs);
      // Intervals per second between the first and the last result of the window.
      return (inWindow.length - 1) / ((inWindow.at(-1)! - t0) / 1000);
    }

    const alone = await measure();

    const silent = track(await startFaultServer('silent'));
    const garbage = track(await startFaultServer('garbage'));
    const bad = [
      createTcpPoller(device('silent', silent.port, profile, { pollIntervalMs: 100, timeoutMs: 300, retries: 2 })),
      createTcpPoller(
        device('garbage', garbage.port, profile, {
          pollIntervalMs: 100,
          retries: 2,
          backoff: { initialDelayMs: 10, maxDelayMs: 20, randomisationFactor: 0 },
        }),
      ),
    ];
    for (const p of bad) {
      track(p);
      p.start();
    }
    await waitUntil(() => silent.requests() > 0 && garbage.requests() > 0, 2000, 'faulty devices polled');
    const together = await measure();
    console.log(
      `healthy device: ${alone.toFixed(1)} results/s alone, ${together.toFixed(1)} results/s next to silent+garbage (garbage requests ${garbage.requests()}, silent ${silent.requests()})`,
    );
    expect(alone).toBeGreaterThanOrEqual(8);
    expect(together).toBeGreaterThanOrEqual(0.8 * alone);
  });

  it('stop() leaves no timer or socket behind and emits nothing more', async () => {
    const kinds = ['Timeout', 'TCPSocketWrap', 'TCPServerWrap'];
    const count = () => {
      const all = process.getActiveResourcesInfo();
      return Object.fromEntries(kinds.map((k) => [k, all.filter((x) => x === k).length]));
    };
    // Handles closed by earlier tests finish closing in libuv one loop turn after their 'close'.
    await settle();
    const before = count();
    const silent = await startFaultServer('silent');
    const exc = await startFaultServer('exception');
    const pollers = [
      createTcpPoller(device('s', silent.port, mini, { timeoutMs: 5000 })),
      createTcpPoller(device('e', exc.port, mini, { pollIntervalMs: 50 })),
    ];
    let emitted = 0;
    for (const p of pollers) {
      p.onResult(() => emitted++);
      p.start();
    }
    // Stop while the silent device's request is pending (its 5 s timer and socket are live).
    await waitUntil(() => silent.requests() > 0 && exc.requests() > 2, 3000, 'both devices polled');
    await Promise.all(pollers.map((p) => p.stop()));
    const afterStop = count();
    // The poller's timers are gone at once (these raw servers use no timers of their own).
    // At most as many as before: vitest's own may have ended meanwhile.
    expect(afterStop['Timeout']).toBeLessThanOrEqual(before['Timeout']!);
    // Our client sockets are gone at once; only server-side ends may still be closing.
    expect(afterStop['TCPSocketWrap']).toBeLessThanOrEqual(before['TCPSocketWrap']! + silent.openConnections() + exc.openConnections());
    const emittedAtStop = emitted;
    // The servers see the connections closed: the client sockets really were closed.
    await waitUntil(() => silent.openConnections() === 0 && exc.openConnections() === 0, 2000, 'server-side sockets closed');
    await silent.stop();
    await exc.stop();
    await sleep(100);
    expect(emitted).toBe(emittedAtStop);
    const sameAsBefore = async () => {
      await settle();
      const now = count();
      expect(now['TCPSocketWrap']).toBe(before['TCPSocketWrap']);
      expect(now['TCPServerWrap']).toBe(before['TCPServerWrap']);
      expect(now['Timeout']).toBeLessThanOrEqual(before['Timeout']!);
    };
    await sameAsBefore();
    // stop() is idempotent and start() after stop() does nothing.
    await pollers[0]!.stop();
    pollers[0]!.start();
    await sleep(50);
    await sameAsBefore();
    expect(emitted).toBe(emittedAtStop);
  });
});
