/**
 * The line's queue and the per-unit policy, on an injected channel and fake timers: one request
 * in flight, per-unit timeouts and inter-frame delays, the demotion schedule, bounded error
 * counts, and a long run (100k poll cycles) that leaves nothing growing behind.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProfileSchema, type ResolvedDevice } from '../../src-main/config/schema';
import { ConsoleError } from '../../src-main/core/errors';
import type { LogLevel } from '../../src-main/core/log';
import type { PollResult, Poller } from '../../src-main/core/types';
import type { Channel, ChannelState, Exchange } from '../../src-main/modbus/channel';
import { timeoutError } from '../../src-main/modbus/framing';
import { LinePool, ModbusLine } from '../../src-main/modbus/line';
import { createPoller } from '../../src-main/modbus/poller';
import { PROBE_SHARE } from '../../src-main/modbus/probes';

type Behaviour = 'ok' | 'silent' | 'exception' | 'garbage';

/** A channel that answers after `latencyMs` of (fake) time, as each unit's behaviour says. */
class FakeChannel implements Channel {
  readonly address = 'fake:1';
  readonly minGapMs = 0;
  state: ChannelState = 'offline';
  inFlight = 0;
  maxInFlight = 0;
  readonly sent: { unitId: number; at: number; count: number }[] = [];
  readonly behaviour = new Map<number, Behaviour>();
  latencyMs = 2;
  private last = -Infinity;
  private pending: { x: Exchange; reject: (e: ConsoleError) => void } | null = null;
  private answering: NodeJS.Timeout | null = null;

  lastActivity(): number {
    return this.last;
  }
  wireTimeMs(): number {
    return 0;
  }
  async open(): Promise<void> {
    this.state = 'online';
  }
  async prepare(): Promise<void> {}
  exchange(x: Exchange): Promise<Buffer> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.last = Date.now();
    if (this.sent.length < 10_000)
      this.sent.push({ unitId: x.unitId, at: Date.now(), count: x.expect.kind === 'read' ? x.expect.count : 0 });
    const b = this.behaviour.get(x.unitId) ?? 'ok';
    return new Promise<Buffer>((resolve, reject) => {
      if (b === 'silent') {
        this.pending = { x, reject };
        return;
      }
      this.answering = setTimeout(() => {
        this.answering = null;
        this.last = Date.now();
        if (b === 'exception') reject(new ConsoleError('MODBUS_EXCEPTION', 'illegal data address (exception 2)'));
        else if (b === 'garbage') reject(new ConsoleError('MODBUS_CRC', 'bad CRC'));
        else resolve(Buffer.alloc(x.expect.kind === 'read' ? x.expect.byteCount : 4, 0));
      }, this.latencyMs);
      this.pending = { x, reject };
    }).finally(() => this.inFlight--);
  }
  expire(timeoutMs: number): void {
    const p = this.pending;
    this.pending = null;
    if (this.answering) clearTimeout(this.answering);
    this.answering = null;
    p?.reject(timeoutError({ address: this.address, unitId: p.x.unitId }, timeoutMs));
  }
  async close(): Promise<void> {
    this.state = 'closed';
    if (this.answering) clearTimeout(this.answering);
    this.answering = null;
    this.pending?.reject(new ConsoleError('MODBUS_CLOSED', 'closed by the console'));
    this.pending = null;
  }
}

const profile = ProfileSchema.parse({
  model: 'mini',
  title: 'Mini',
  idealCycleTimeS: 1,
  points: [
    { id: 'a', name: 'A', function: 'input', address: 0, type: 'uint16' },
    { id: 'b', name: 'B', function: 'holding', address: 10, type: 'float32' },
  ],
});

function device(unitId: number, over: Partial<ResolvedDevice> = {}): ResolvedDevice {
  return {
    id: `u${unitId}`,
    name: `Unit ${unitId}`,
    profile: 'x',
    transport: { type: 'tcp', host: 'gw', port: 502 },
    unitId,
    pollIntervalMs: 100,
    timeoutMs: 100,
    retries: 1,
    backoff: { initialDelayMs: 50, maxDelayMs: 200, randomisationFactor: 0 },
    interFrameDelayMs: 0,
    demotion: { afterFailures: 3, intervalMs: 1000 },
    writeFunction: 'single',
    profileDef: profile,
    ...over,
  };
}

const TCP = { type: 'tcp', host: 'gw', port: 502 } as const;
let channel: FakeChannel;
const lineOpts = () => ({ now: () => Date.now(), channel: () => channel });

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 0, 5, 6, 0, 0) });
  channel = new FakeChannel();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ModbusLine queue', () => {
  it('keeps strictly one request in flight and serves them in arrival order', async () => {
    const line = new ModbusLine(TCP, lineOpts());
    const order: number[] = [];
    const all = Array.from({ length: 20 }, (_, i) => line.read((i % 4) + 1, 'input', i, 1, { timeoutMs: 100 }).then(() => order.push(i)));
    expect(line.queued).toBe(19);
    await vi.advanceTimersByTimeAsync(200);
    await Promise.all(all);
    expect(channel.maxInFlight).toBe(1);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(line.queued).toBe(0);
    await line.close();
  });

  it('gives each unit its own timeout; the next request goes out as soon as one expires', async () => {
    const line = new ModbusLine(TCP, lineOpts());
    channel.behaviour.set(3, 'silent');
    const t0 = Date.now();
    const dead = line.read(3, 'input', 0, 1, { timeoutMs: 150 }).catch((e: unknown) => ({ err: e as ConsoleError, at: Date.now() - t0 }));
    const live = line.read(1, 'input', 0, 1, { timeoutMs: 5000 }).then(() => Date.now() - t0);
    await vi.advanceTimersByTimeAsync(400);
    const d = await dead;
    expect(d).toMatchObject({ at: 150, err: { code: 'MODBUS_TIMEOUT', message: 'no answer from fake:1 unit 3 within 150 ms' } });
    expect(await live).toBe(152);
    await line.close();
  });

  it("keeps a unit's inter-frame delay after the last byte on the line", async () => {
    const line = new ModbusLine(TCP, lineOpts());
    await Promise.all([
      line.read(1, 'input', 0, 1, { timeoutMs: 100 }),
      line.read(2, 'input', 0, 1, { timeoutMs: 100, interFrameDelayMs: 40 }),
      vi.advanceTimersByTimeAsync(100),
    ]);
    const [a, b] = channel.sent;
    // Unit 1's answer ended at a.at + 2; unit 2 waited 40 ms of silence after it.
    expect(b!.at - (a!.at + channel.latencyMs)).toBe(40);
    await line.close();
  });

  it('close() fails what is queued and what is in flight, and refuses new requests', async () => {
    const line = new ModbusLine(TCP, lineOpts());
    channel.behaviour.set(1, 'silent');
    const results = Array.from({ length: 5 }, () =>
      line.read(1, 'input', 0, 1, { timeoutMs: 10_000 }).catch((e: unknown) => (e as ConsoleError).code),
    );
    await vi.advanceTimersByTimeAsync(1);
    await line.close();
    expect(await Promise.all(results)).toEqual(Array(5).fill('MODBUS_CLOSED'));
    await expect(line.read(1, 'input', 0, 1, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'MODBUS_CLOSED' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a pool hands out one line per key and closes it with its last user', async () => {
    const pool = new LinePool(lineOpts());
    const a = pool.acquire(TCP);
    const b = pool.acquire({ ...TCP });
    expect(a).toBe(b);
    expect(() => pool.acquire({ type: 'rtu', path: '/dev/x', baudRate: 9600, parity: 'even', dataBits: 8, stopBits: 1 })).not.toThrow();
    await pool.release(a);
    expect(a.state).not.toBe('closed');
    await pool.release(b);
    expect(a.state).toBe('closed');
    expect(pool.keys()).toEqual(['rtu:/dev/x']);
  });
});

describe('per-unit policy and demotion', () => {
  function poll(
    dev: ResolvedDevice,
    pool: LinePool,
    logs: { level: LogLevel; msg: string }[] = [],
  ): { poller: Poller; results: PollResult[] } {
    const poller = createPoller(dev, { pool, random: () => 0.5, onLog: (level, msg) => logs.push({ level, msg }) });
    const results: PollResult[] = [];
    poller.onResult((r) => results.push(r));
    return { poller, results };
  }

  it('demotes a dead unit after N failed cycles, probes it every interval, and its neighbour keeps its rate', async () => {
    const pool = new LinePool(lineOpts());
    channel.behaviour.set(2, 'silent');
    const logs: { level: LogLevel; msg: string }[] = [];
    const live = poll(device(1), pool);
    const dead = poll(device(2), pool, logs);
    live.poller.start();
    dead.poller.start();
    await vi.advanceTimersByTimeAsync(10_000);
    const deadSends = channel.sent.filter((s) => s.unitId === 2).map((s) => s.at - channel.sent[0]!.at);
    // Cycle 1: two attempts (retries 1); cycles 2, 3: one probe each (offline); then demoted.
    expect(dead.results.slice(0, 3).map((r) => r.link.demoted)).toEqual([false, false, true]);
    const demotedAt = deadSends[3]!;
    const probes = deadSends.slice(4);
    // Every demotion interval, but a 100 ms probe every second would take 10 % of the line:
    // the line spaces them so that they take at most 5 % of its time.
    for (let i = 1; i < probes.length; i++) expect(probes[i]! - probes[i - 1]!).toBeGreaterThanOrEqual(100 / PROBE_SHARE);
    expect(probes.length).toBeGreaterThanOrEqual(4);
    expect(demotedAt).toBeLessThan(1200);
    const link = dead.poller.link();
    expect(link).toMatchObject({ state: 'offline', demoted: true, line: 'tcp:gw:502' });
    expect(link.errorCounts).toEqual({ MODBUS_TIMEOUT: deadSends.length });
    // The neighbour: 10 polls a second, minus what the probes cost it.
    const liveOk = live.results.filter((r) => r.link.state === 'online').length;
    expect(liveOk).toBeGreaterThanOrEqual(90);
    expect(live.poller.link().demoted).toBe(false);

    // It answers again: promoted at the next probe, back to its own rate.
    channel.behaviour.set(2, 'ok');
    await vi.advanceTimersByTimeAsync(100 / PROBE_SHARE + 500);
    expect(dead.poller.link()).toMatchObject({ state: 'online', demoted: false, consecutiveFailures: 0 });
    const before = dead.results.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(dead.results.length - before).toBeGreaterThanOrEqual(9);
    // Demotion and recovery logged once each, next to offline/online.
    expect(logs.filter((l) => /demoted after/.test(l.msg))).toHaveLength(1);
    expect(logs.filter((l) => /no longer demoted/.test(l.msg))).toHaveLength(1);
    expect(logs.map((l) => l.level)).toEqual(['warn', 'warn', 'info', 'info']);
    await Promise.all([live.poller.stop(), dead.poller.stop()]);
    expect(pool.keys()).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a line that cannot be opened is backoff's business, not demotion's", async () => {
    const pool = new LinePool({
      now: () => Date.now(),
      channel: () => {
        const ch = new FakeChannel();
        ch.open = () => Promise.reject(new ConsoleError('MODBUS_CONNECT', 'cannot connect to gw:502: connection refused'));
        return ch;
      },
    });
    const { poller, results } = poll(device(1), pool);
    poller.start();
    await vi.advanceTimersByTimeAsync(3000);
    expect(results.length).toBeGreaterThan(10);
    expect(poller.link()).toMatchObject({ state: 'offline', demoted: false, lastError: { code: 'MODBUS_CONNECT' } });
    await poller.stop();
  });

  it("write and readPoint share the queue, use the unit's timeout, and throw specific errors", async () => {
    const pool = new LinePool(lineOpts());
    const { poller } = poll(device(4, { timeoutMs: 70 }), pool);
    poller.start();
    const w = poller.write({ function: 'holding', address: 10, values: [0x4120, 0], fc: 16 });
    const r = poller.readPoint('a');
    await vi.advanceTimersByTimeAsync(50);
    await w;
    expect(await r).toMatchObject({ value: 0, raw: [0], quality: 'good', reason: null });
    expect(channel.maxInFlight).toBe(1);
    await expect(poller.write({ function: 'holding', address: 10, values: [1], fc: 5 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(poller.readPoint('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    channel.behaviour.set(4, 'silent');
    const t0 = Date.now();
    const failed = poller.write({ function: 'holding', address: 10, values: [1], fc: 6 }).then(
      () => null,
      (e: unknown) => ({ e: e as ConsoleError, at: Date.now() - t0 }),
    );
    await vi.advanceTimersByTimeAsync(500);
    const f = (await failed)!;
    expect(f.e.code).toBe('MODBUS_TIMEOUT');
    expect(f.at).toBeLessThanOrEqual(70 + 70 + 2); // behind at most one poll request
    await poller.stop();
    await expect(poller.readPoint('a')).rejects.toMatchObject({ code: 'MODBUS_CLOSED' });
  });

  it("the device's read limits override the profile's", async () => {
    const wide = ProfileSchema.parse({
      model: 'wide',
      title: 'Wide',
      idealCycleTimeS: 1,
      limits: { maxRegistersPerRead: 125, maxBitsPerRead: 2000, maxGap: 8 },
      points: [0, 1, 2, 3, 4].map((a) => ({ id: `p${a}`, name: `P${a}`, function: 'input', address: a * 3, type: 'uint16' })),
    });
    const pool = new LinePool(lineOpts());
    const plain = poll(device(1, { profileDef: wide }), pool);
    const limited = poll(device(2, { profileDef: wide, limits: { maxRegistersPerRead: 4, maxGap: 2 } }), pool);
    plain.poller.start();
    limited.poller.start();
    await vi.advanceTimersByTimeAsync(50);
    const counts = (unitId: number) => channel.sent.filter((x) => x.unitId === unitId).map((x) => x.count);
    expect(counts(1).slice(0, 1)).toEqual([13]);
    expect(counts(2).slice(0, 5)).toEqual([4, 4, 1]);
    expect(limited.results[0]!.values['p4']).toMatchObject({ quality: 'good' });
    await Promise.all([plain.poller.stop(), limited.poller.stop()]);
  });

  it('100k poll cycles: no queue, timer, handler or counter grows', async () => {
    const pool = new LinePool(lineOpts());
    channel.latencyMs = 0;
    const fast = (unitId: number, over: Partial<ResolvedDevice> = {}) =>
      device(unitId, { pollIntervalMs: 1, timeoutMs: 5, demotion: { afterFailures: 2, intervalMs: 20 }, ...over });
    // Unit 3 answers garbage: never demoted (a noisy line), so it polls at the pace a demoted unit would.
    const pollers = [poll(fast(1), pool), poll(fast(2), pool), poll(fast(3, { pollIntervalMs: 20 }), pool)];
    channel.behaviour.set(2, 'silent');
    channel.behaviour.set(3, 'garbage');
    let cycles = 0;
    for (const p of pollers) {
      p.poller.onResult(() => cycles++);
      p.poller.start();
    }
    const line = pool.acquire(TCP);
    let maxTimers = 0;
    let maxQueued = 0;
    // Bounded: at most 10,000 steps of 50 ms of fake time.
    for (let step = 0; step < 10_000 && cycles < 100_000; step++) {
      await vi.advanceTimersByTimeAsync(50);
      maxTimers = Math.max(maxTimers, vi.getTimerCount());
      maxQueued = Math.max(maxQueued, line.queued);
      for (const p of pollers) p.results.length = 0;
    }
    expect(cycles).toBeGreaterThanOrEqual(100_000);
    // One poll timer per poller, one request timeout, one pending answer: nothing accumulates.
    expect(maxTimers).toBeLessThanOrEqual(pollers.length + 2);
    expect(maxQueued).toBeLessThanOrEqual(pollers.length);
    const counts = pollers.map((p) => Object.keys(p.poller.link().errorCounts ?? {}));
    expect(counts).toEqual([[], ['MODBUS_TIMEOUT'], ['MODBUS_CRC']]);
    expect(pollers[1]!.poller.link().demoted).toBe(true);
    // Answers that are all spoiled: a noisy line, never a dead unit.
    expect(pollers[2]!.poller.link()).toMatchObject({
      state: 'online',
      demoted: false,
      noise: { spoiled: 100, answers: 100, noisy: true },
    });
    await pool.release(line);
    await Promise.all(pollers.map((p) => p.poller.stop()));
    expect(vi.getTimerCount()).toBe(0);
    expect(pool.keys()).toEqual([]);
  }, 60_000);
});
