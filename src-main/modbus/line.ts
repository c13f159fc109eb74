/**
 * A Modbus line: one physical port or gateway connection (key = `lineKey(transport)`), shared by
 * every unit on it, with ONE request queue and strictly one request in flight. Lines run in
 * parallel; units on one line take turns in arrival order, so a unit's poller that waits for
 * its answer never overtakes another's.
 *
 * Per request the line applies the unit's policy: the silent time kept before sending (the
 * unit's inter-frame delay, at least 3.5 characters on RTU) and the unit's timeout, counted from
 * the moment the request goes out (plus its time on the wire at the line's baud rate). The
 * channel underneath frames, checks and recovers (see mbap.ts, rtu.ts). The queue never holds
 * more than one request per caller that awaits it, and `close()` fails what is queued.
 *
 * A probe of a demoted unit (policy.probe) gets a shorter timeout and waits, outside the queue,
 * for a slot that keeps all probes on the line within a small share of its time (probes.ts).
 */
import { performance } from 'node:perf_hooks';
import type { PointFunction } from '../../src-preload/contract';
import { lineKey, type TransportConfig } from '../config/schema';
import { ConsoleError } from '../core/errors';
import type { ModbusWriteRequest } from '../core/types';
import { Sleeper, type Channel, type ChannelState, type Exchange, type ExchangeResult } from './channel';
import { answerValues, readRequest, writeRequest } from './framing';
import { MbapChannel } from './mbap';
import { ProbePlanner } from './probes';
import { RtuChannel } from './rtu';
import { SerialStream, TcpStream } from './streams';

/** What a unit asks of the line for each of its requests. */
export interface UnitPolicy {
  timeoutMs: number;
  /** Silent time kept before sending to this unit (slow serial devices). */
  interFrameDelayMs?: number;
  /** A probe of a unit believed dead: shorter timeout, spaced out with the line's other probes. */
  probe?: boolean;
}

export interface LineOptions {
  /** Monotonic ms clock for pacing; performance.now unless given (tests). */
  now?: () => number;
  /** RTU: how long the line must be quiet to end a frame or finish a resync (default 20 ms). */
  silenceMs?: number;
  /** A channel of one's own (tests); otherwise built from the transport. */
  channel?: (now: () => number, onState: (s: ChannelState) => void) => Channel;
  onState?: (s: ChannelState) => void;
}

interface Job {
  x: Exchange;
  policy: UnitPolicy;
  resolve: (data: ExchangeResult) => void;
  reject: (err: unknown) => void;
}

/** Pacing gives up after this many waits: activity that never stops must not hold the queue. */
const MAX_PACING_PASSES = 32;

/** Bits per character: start + 8 data + parity or not + stop bits. */
function bitsPerChar(t: Extract<TransportConfig, { type: 'rtu' }>): number {
  return 1 + t.dataBits + (t.parity === 'none' ? 0 : 1) + t.stopBits;
}

function buildChannel(t: TransportConfig, opts: LineOptions, now: () => number, onState: (s: ChannelState) => void): Channel {
  if (t.type === 'tcp') return new MbapChannel(new TcpStream(t.host, t.port), now, onState);
  if (t.type === 'rtu-tcp') return new RtuChannel(new TcpStream(t.host, t.port), { now, onState, silenceMs: opts.silenceMs });
  return new RtuChannel(new SerialStream(t), {
    now,
    onState,
    silenceMs: opts.silenceMs,
    baudRate: t.baudRate,
    bitsPerChar: bitsPerChar(t),
  });
}

/** One port or gateway connection with its request queue. */
export class ModbusLine {
  readonly key: string;
  readonly transport: TransportConfig;
  private readonly channel: Channel;
  private readonly now: () => number;
  private readonly sleeper = new Sleeper();
  private readonly queue: Job[] = [];
  private readonly probes = new ProbePlanner();
  private busy = false;
  private current: Promise<unknown> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | null = null;
  /** Requests sent so far (answered or not). */
  sent = 0;

  constructor(transport: TransportConfig, opts: LineOptions = {}) {
    this.transport = transport;
    this.key = lineKey(transport);
    this.now = opts.now ?? (() => performance.now());
    const onState = opts.onState ?? (() => undefined);
    this.channel = opts.channel ? opts.channel(this.now, onState) : buildChannel(transport, opts, this.now, onState);
  }

  /** `host:port` or the serial path, as messages name the line. */
  get address(): string {
    return this.channel.address;
  }

  get state(): ChannelState {
    return this.closed ? 'closed' : this.channel.state;
  }

  /** Requests waiting behind the one in flight. */
  get queued(): number {
    return this.queue.length;
  }

  /** True while a request is being paced, sent or awaited. */
  get inFlight(): boolean {
    return this.busy;
  }

  /** Reads `count` registers (or bits as 0/1) from `start` of unit `unitId`; queued behind earlier requests. */
  async read(unitId: number, fn: PointFunction, start: number, count: number, policy: UnitPolicy): Promise<number[]> {
    const req = readRequest(fn, start, count);
    const data = await this.submit({ ...req, unitId }, policy);
    return answerValues(req.expect, data);
  }

  /** Writes coils or holding registers of unit `unitId` (FC5/6/15/16); resolves once the device confirmed. */
  async write(unitId: number, w: ModbusWriteRequest, policy: UnitPolicy): Promise<void> {
    const req = writeRequest(w);
    await this.submit({ ...req, unitId }, policy);
  }

  /** Queues one exchange (a probe once its slot has come); resolves with the checked answer data. */
  async submit(x: Exchange, policy: UnitPolicy): Promise<ExchangeResult> {
    if (policy.probe && !this.closed) {
      const timeoutMs = this.probes.timeoutFor(x.unitId, policy.timeoutMs);
      policy = { ...policy, timeoutMs };
      const wait = this.probes.reserve(this.now(), timeoutMs + this.channel.wireTimeMs(x));
      if (wait > 0) await this.sleeper.sleep(wait);
    }
    if (this.closed) throw new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} is closed`);
    return new Promise<ExchangeResult>((resolve, reject) => {
      this.queue.push({ x, policy, resolve, reject });
      this.pump();
    });
  }

  /** Fails every queued request, closes the port or connection; resolves once nothing is left open. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      const err = new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed by the console`);
      for (const job of this.queue.splice(0)) job.reject(err);
      this.sleeper.cancelAll();
      await this.channel.close();
      await this.current.catch(() => undefined);
    })();
    return this.closing;
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    const job = this.queue.shift();
    if (!job) return;
    this.busy = true;
    const run = this.run(job).then(job.resolve, job.reject);
    this.current = run.finally(() => {
      this.busy = false;
      this.pump();
    });
  }

  private async run(job: Job): Promise<ExchangeResult> {
    const { x, policy } = job;
    const ch = this.channel;
    await ch.open(policy.timeoutMs);
    await ch.prepare(x, policy.timeoutMs);
    await this.pace(Math.max(ch.minGapMs, policy.interFrameDelayMs ?? 0), policy.timeoutMs);
    if (this.closed) throw new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed by the console`);
    const sentAt = this.now();
    const answer = ch.exchange(x);
    this.sent++;
    const timer = setTimeout(() => ch.expire(policy.timeoutMs), policy.timeoutMs + ch.wireTimeMs(x));
    try {
      const data = await answer;
      this.probes.answered(x.unitId, this.now() - sentAt);
      return data;
    } catch (err) {
      // An exception is the unit's answer too (a gateway's exception 10/11 is not: it took the gateway's own timeout).
      if (err instanceof ConsoleError && err.code === 'MODBUS_EXCEPTION') this.probes.answered(x.unitId, this.now() - sentAt);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Keeps the line silent for `gapMs` since its last byte (bounded by `capMs` and a pass count). */
  private async pace(gapMs: number, capMs: number): Promise<void> {
    if (gapMs <= 0) return;
    const start = this.now();
    for (let pass = 0; pass < MAX_PACING_PASSES && !this.closed; pass++) {
      const wait = this.channel.lastActivity() + gapMs - this.now();
      if (wait <= 0 || this.now() - start >= capMs) return;
      // Timers have whole-millisecond resolution: a fractional wait would take two turns.
      await this.sleeper.sleep(Math.ceil(wait));
    }
  }
}

/**
 * Hands out lines by key, so that every unit on a port or gateway shares one queue, and closes a
 * line when the last unit using it lets go.
 */
export class LinePool {
  private readonly lines = new Map<string, { line: ModbusLine; users: number; settings: string }>();

  constructor(private readonly opts: LineOptions = {}) {}

  /** The line for `transport`, opened on first use; pair every call with `release`. */
  acquire(transport: TransportConfig): ModbusLine {
    const key = lineKey(transport);
    const settings = JSON.stringify(transport);
    const entry = this.lines.get(key);
    if (entry) {
      if (entry.settings !== settings) {
        throw new ConsoleError('CONFIG_INVALID', `line ${key} is already in use with other settings (${entry.settings})`);
      }
      entry.users++;
      return entry.line;
    }
    const line = new ModbusLine(transport, this.opts);
    this.lines.set(key, { line, users: 1, settings });
    return line;
  }

  /** Lets go of a line; the last user's release closes it. */
  async release(line: ModbusLine): Promise<void> {
    const entry = this.lines.get(line.key);
    if (!entry || entry.line !== line) return;
    entry.users--;
    if (entry.users > 0) return;
    this.lines.delete(line.key);
    await line.close();
  }

  /** Lines currently open, by key. */
  keys(): string[] {
    return [...this.lines.keys()];
  }
}
