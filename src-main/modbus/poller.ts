/**
 * Polls one Modbus TCP device: every pollIntervalMs it reads the planned blocks, decodes every
 * point and emits a PollResult covering every point of the profile, with its quality.
 *
 * Quality rules: decoded → good; block answered with a Modbus exception, or a value that does
 * not decode → bad (the device is still online); link lost (connect failure, timeout after
 * retries, connection closed, malformed answers) → offline, every point stale with its last
 * good value. Malformed answers count as a lost link because the connection is dropped to
 * resynchronise and the device is not delivering usable data.
 *
 * Each poller owns its connection and timers, so one device's failure never delays another.
 */
import type { Link, PointValue } from '../../src-preload/contract';
import type { ResolvedDevice, PointDef } from '../config/schema';
import { ConsoleError, toErrorInfo } from '../core/errors';
import type { LogLevel } from '../core/log';
import { systemClock, type Clock, type PollResult, type Poller } from '../core/types';
import { backoffDelay } from './backoff';
import { decode, registerCount } from './codec';
import { ModbusTcpConnection } from './connection';
import { planReads } from './planner';

export interface TcpPollerOptions {
  clock?: Clock;
  random?: () => number;
  onLog?: (level: LogLevel, msg: string) => void;
}

/** Errors after which the link counts as lost (retried first, then backoff). */
const LINK_ERRORS = new Set(['MODBUS_TIMEOUT', 'MODBUS_CONNECT', 'MODBUS_CLOSED', 'MODBUS_MALFORMED']);

function asConsoleError(err: unknown): ConsoleError {
  if (err instanceof ConsoleError) return err;
  return new ConsoleError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
}

interface LastGood {
  value: number | boolean | string;
  raw: number[];
  ts: number;
}

/** A poller for one device over its own Modbus TCP connection. */
export function createTcpPoller(device: ResolvedDevice, opts: TcpPollerOptions = {}): Poller {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const log = opts.onLog ?? (() => undefined);
  const points = device.profileDef.points;
  // Planned once: a profile that cannot be read is a configuration error, raised at creation.
  const blocks = planReads(points, device.profileDef.limits);
  const transport = device.transport;
  if (transport.type !== 'tcp') {
    throw new ConsoleError('CONFIG_INVALID', `Device "${device.id}": the TCP poller cannot reach a ${transport.type} line`);
  }
  const where = `${transport.host}:${transport.port} unit ${device.unitId}`;
  const conn = new ModbusTcpConnection({
    host: transport.host,
    port: transport.port,
    timeoutMs: device.timeoutMs,
  });
  const handlers = new Set<(r: PollResult) => void>();
  const lastGood = new Map<string, LastGood>();
  const link: Link = {
    state: 'connecting',
    since: clock.now(),
    lastOkAt: null,
    lastError: null,
    consecutiveFailures: 0,
    pollsOk: 0,
    pollsFailed: 0,
    lastPollMs: null,
  };
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let started = false;
  let stopped = false;
  let due = 0;

  const snapshotLink = (): Link => ({ ...link, lastError: link.lastError ? { ...link.lastError } : null });

  function notGood(p: PointDef, quality: 'bad' | 'stale', reason: string, raw?: number[]): PointValue {
    const last = lastGood.get(p.id);
    if (quality === 'stale' && last) return { value: last.value, raw: [...last.raw], quality, ts: last.ts, reason };
    return { value: null, raw: raw ?? [], quality, ts: last?.ts ?? 0, reason };
  }

  function decodePoint(p: PointDef, raw: number[], ts: number): { pv: PointValue; err: ConsoleError | null } {
    try {
      const value = decode(p, raw);
      if (typeof value === 'number' && !Number.isFinite(value)) {
        throw new ConsoleError('DECODE_FAILED', `Point "${p.id}": registers hold ${String(value)}, not a usable number`);
      }
      // A copy: consumers get `raw` in the result and must not be able to alter our history.
      lastGood.set(p.id, { value, raw: [...raw], ts });
      return { pv: { value, raw, quality: 'good', ts, reason: null }, err: null };
    } catch (e) {
      const err = asConsoleError(e);
      return { pv: notGood(p, 'bad', err.message, raw), err };
    }
  }

  /** Reads one block, retrying link failures while the link is (believed) up. */
  async function readBlock(fn: PointDef['function'], start: number, count: number): Promise<number[] | ConsoleError> {
    // An offline link is probed once per backoff slot; retries are for a link that just hiccupped.
    const attempts = link.state === 'offline' ? 1 : device.retries + 1;
    let last: ConsoleError | null = null;
    for (let i = 0; i < attempts && !stopped; i++) {
      try {
        return await conn.read(fn, start, count, device.unitId);
      } catch (e) {
        last = asConsoleError(e);
        if (!LINK_ERRORS.has(last.code)) return last;
      }
    }
    return last ?? new ConsoleError('MODBUS_CLOSED', `polling of ${where} stopped`);
  }

  async function cycle(): Promise<void> {
    const t0 = clock.now();
    const values: Record<string, PointValue> = {};
    let lost: ConsoleError | null = null;
    let firstError: ConsoleError | null = null;
    for (const block of blocks) {
      const res = await readBlock(block.function, block.start, block.count);
      if (stopped) return;
      if (res instanceof ConsoleError) {
        if (LINK_ERRORS.has(res.code)) {
          lost = res;
          break;
        }
        firstError ??= res;
        for (const { point } of block.points) values[point.id] = notGood(point, 'bad', res.message);
        continue;
      }
      const ts = clock.now();
      for (const { point, offset } of block.points) {
        const { pv, err } = decodePoint(point, res.slice(offset, offset + registerCount(point)), ts);
        values[point.id] = pv;
        if (err) firstError ??= err;
      }
    }
    const now = clock.now();
    link.lastPollMs = now - t0;
    if (lost) {
      for (const p of points) values[p.id] = notGood(p, 'stale', lost.message);
      link.pollsFailed++;
      link.consecutiveFailures++;
      link.lastError = toErrorInfo(lost);
      if (link.state !== 'offline') {
        link.state = 'offline';
        link.since = now;
        log('warn', `${device.name} (${device.id}) offline: ${lost.message}`);
      }
    } else {
      if (firstError) {
        link.pollsFailed++;
        link.lastError = toErrorInfo(firstError);
      } else {
        link.pollsOk++;
      }
      link.lastOkAt = now;
      link.consecutiveFailures = 0;
      if (link.state !== 'online') {
        link.state = 'online';
        link.since = now;
        log('info', `${device.name} (${device.id}) online at ${where}`);
      }
    }
    emit({ deviceId: device.id, ts: now, values, link: snapshotLink() });
    scheduleNext(now);
  }

  function emit(r: PollResult): void {
    for (const h of [...handlers]) {
      try {
        h(r);
      } catch (e) {
        // A consumer's bug must not stop polling.
        log('error', `poll result handler failed for ${device.id}: ${asConsoleError(e).message}`);
      }
    }
  }

  function scheduleNext(now: number): void {
    if (stopped) return;
    const interval = device.pollIntervalMs;
    let delay: number;
    if (link.state === 'offline') {
      delay = backoffDelay(link.consecutiveFailures, device.backoff, random);
      due = now + delay;
    } else {
      // A fixed grid, so the rate does not drift by the cycle's duration. A slot we are only
      // a little late for runs at once; slots missed entirely (a cycle longer than the
      // interval) are skipped rather than run back to back.
      due += interval;
      if (now - due >= interval) due += Math.floor((now - due) / interval) * interval;
      delay = Math.min(interval, Math.max(0, due - now));
    }
    arm(delay);
  }

  function arm(delay: number): void {
    timer = setTimeout(() => {
      timer = null;
      const run: Promise<void> = cycle()
        .catch((e: unknown) => {
          // Only a bug lands here; keep polling rather than go silent.
          log('error', `poll cycle of ${device.id} failed: ${asConsoleError(e).message}`);
          scheduleNext(clock.now());
        })
        .finally(() => {
          if (running === run) running = null;
        });
      running = run;
    }, delay);
  }

  return {
    start() {
      if (started || stopped) return;
      started = true;
      due = clock.now();
      arm(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await conn.close();
      await running;
    },
    onResult(handler) {
      handlers.add(handler);
      return () => void handlers.delete(handler);
    },
    link: snapshotLink,
  };
}
