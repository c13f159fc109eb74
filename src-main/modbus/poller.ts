/**
 * Polls one Modbus unit through its line (a port or gateway connection shared with the other
 * units on it): every pollIntervalMs it reads the planned blocks, decodes every point and emits a
 * PollResult covering every point of the profile, with its quality.
 *
 * Quality rules: decoded → good; block answered with a Modbus exception, or a value that does
 * not decode → bad (the device is still online); answers spoiled on the line (bad CRC, cut or
 * garbled frames) even after retries → that block's points stale, the unit still online (it
 * answers: line-quality.ts); link lost (connect failure, timeout after retries, connection
 * closed, a gateway reporting the unit unreachable) → offline, every point stale with its last
 * good value.
 *
 * Per-unit policy: timeout, retries, inter-frame delay, and demotion. A unit whose cycles failed
 * `demotion.afterFailures` times in a row because it was silent (not a line that cannot be
 * opened at all, which every unit on it shares and backoff handles, nor a noisy line) is
 * demoted: polled only every `demotion.intervalMs`, one probe with a shorter timeout that the
 * line spaces out (line.ts), until it answers again, so that its timeouts do not eat the line
 * time of its neighbours. Demotion, recovery and the line-quality warning are logged once each.
 */
import type { Link, PointValue } from '../../src-preload/contract';
import { endpointOf, type PointDef, type ResolvedDevice } from '../config/schema';
import { ConsoleError, toErrorInfo } from '../core/errors';
import type { LogLevel } from '../core/log';
import { systemClock, type Clock, type ModbusWriteRequest, type PollResult, type Poller } from '../core/types';
import { backoffDelay } from './backoff';
import { NOISE_ERRORS, NOISE_RETRIES, NoiseMeter, noiseMessage, SILENCE_ERRORS } from './line-quality';
import { decode, registerCount } from './codec';
import { writeRequest } from './framing';
import { LinePool, type ModbusLine, type UnitPolicy } from './line';
import { planReads, type ReadLimits } from './planner';
import { nextSlot, RecentLateness } from './schedule';

export interface PollerOptions {
  clock?: Clock;
  random?: () => number;
  onLog?: (level: LogLevel, msg: string) => void;
  /** Where the device's line comes from; a private pool (a line of its own) unless given. */
  pool?: LinePool;
}

/** The options of the first, TCP-only poller; the same as PollerOptions. */
export type TcpPollerOptions = PollerOptions;

/** Errors after which the link counts as lost (retried first, then backoff or demotion); spoiled answers are not among them. */
const LINK_ERRORS = new Set(['MODBUS_TIMEOUT', 'MODBUS_CONNECT', 'MODBUS_CLOSED', 'MODBUS_GATEWAY']);

/** Lateness percentiles in Link cover the last one to two windows of this length. */
export const LATENESS_WINDOW_MS = 30_000;

/** Distinct keys kept in Link.errorCounts; codes are a closed set, this only guards against bugs. */
const MAX_ERROR_KEYS = 32;

function asConsoleError(err: unknown): ConsoleError {
  if (err instanceof ConsoleError) return err;
  return new ConsoleError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
}

/** The profile's read limits with the device's own override applied on top. */
export function effectiveLimits(device: ResolvedDevice): ReadLimits {
  const own = device.limits ?? {};
  const base = device.profileDef.limits;
  return {
    maxRegistersPerRead: own.maxRegistersPerRead ?? base.maxRegistersPerRead,
    maxBitsPerRead: own.maxBitsPerRead ?? base.maxBitsPerRead,
    maxGap: own.maxGap ?? base.maxGap,
  };
}

/** A poller for one unit on its (possibly shared) line. */
export function createPoller(device: ResolvedDevice, opts: PollerOptions = {}): Poller {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const log = opts.onLog ?? (() => undefined);
  const points = device.profileDef.points;
  // Planned once: a profile that cannot be read is a configuration error, raised at creation.
  const blocks = planReads(points, effectiveLimits(device)).map((b) => ({
    ...b,
    // Each point's register count once, not once per poll.
    points: b.points.map((x) => ({ ...x, count: registerCount(x.point) })),
  }));
  const pool = opts.pool ?? new LinePool();
  const line: ModbusLine = pool.acquire(device.transport);
  const where = `${endpointOf(device.transport)} unit ${device.unitId}`;
  const policy: UnitPolicy = { timeoutMs: device.timeoutMs, interFrameDelayMs: device.interFrameDelayMs };
  const handlers = new Set<(r: PollResult) => void>();
  /**
   * The last good value of each point: the very PointValue that went out (results are read-only by
   * contract: nothing in the console changes one), not a copy of it; a stale value gets its own copy.
   */
  const lastGood = new Map<string, PointValue>();
  const errorCounts = new Map<string, number>();
  const noise = new NoiseMeter();
  const link: Link = {
    state: 'connecting',
    since: clock.now(),
    lastOkAt: null,
    lastError: null,
    consecutiveFailures: 0,
    pollsOk: 0,
    pollsFailed: 0,
    lastPollMs: null,
    demoted: false,
    demotedIntervalMs: device.demotion.intervalMs,
    errorCounts: {},
    line: line.key,
    overruns: 0,
  };
  const lateness = new RecentLateness(LATENESS_WINDOW_MS, clock.now());
  /** Cycles in a row lost for a reason of the unit's own (what demotion counts). */
  let unitFailures = 0;
  /** Whether the unit answered anything in the current cycle. */
  let heard = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let started = false;
  let stopped = false;
  let released: Promise<void> | null = null;
  let due = 0;

  const snapshotLink = (): Link => ({
    ...link,
    lastError: link.lastError ? { ...link.lastError } : null,
    errorCounts: Object.fromEntries(errorCounts),
    noise: noise.snapshot(),
    lateness: lateness.summary(),
  });

  /** Books an answer (spoiled or not) for the line-quality warning; logs when it is raised or cleared. */
  function answered(spoiled: boolean): void {
    const change = noise.record(spoiled);
    if (change === 'raised') log('warn', noiseMessage(`${device.name} (${device.id})`, line.key, noise.snapshot()));
    else if (change === 'cleared') log('info', `Line ${line.key}: answers from ${device.name} (${device.id}) arrive clean again`);
  }

  function count(err: ConsoleError): void {
    const key = errorCounts.has(err.code) || errorCounts.size < MAX_ERROR_KEYS ? err.code : 'OTHER';
    errorCounts.set(key, (errorCounts.get(key) ?? 0) + 1);
  }

  function notGood(p: PointDef, quality: 'bad' | 'stale', reason: string, raw?: number[]): PointValue {
    const last = lastGood.get(p.id);
    if (quality === 'stale' && last) return { value: last.value, raw: [...last.raw], quality, ts: last.ts, reason };
    return { value: null, raw: raw ?? [], quality, ts: last?.ts ?? 0, reason };
  }

  function decodeValue(p: PointDef, raw: number[]): number | boolean | string {
    const value = decode(p, raw);
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new ConsoleError('DECODE_FAILED', `Point "${p.id}": registers hold ${String(value)}, not a usable number`);
    }
    return value;
  }

  /** The error of the last decodePoint that failed (kept here: this runs for every point of every poll, allocation-free). */
  let decodeError: ConsoleError | null = null;

  function decodePoint(p: PointDef, raw: number[], ts: number): PointValue {
    try {
      const value = decodeValue(p, raw);
      const pv: PointValue = { value, raw, quality: 'good', ts, reason: null };
      lastGood.set(p.id, pv);
      return pv;
    } catch (e) {
      decodeError = asConsoleError(e);
      return notGood(p, 'bad', decodeError.message, raw);
    }
  }

  /**
   * Reads one range; every failure is counted. Silence is retried while the link is (believed)
   * up; an offline unit is tried once, a demoted one probed once (line.ts keeps probes short and
   * spaced). A spoiled answer is retried a little more: the unit is there, the line is noisy.
   */
  async function readRange(fn: PointDef['function'], start: number, n: number): Promise<number[] | ConsoleError> {
    // Only the first request of a demoted unit's cycle probes; once it answered, the rest are reads.
    let probing = link.demoted === true && !heard;
    const silentTries = link.state === 'offline' || probing ? 1 : device.retries + 1;
    const spoiledTries = device.retries + 1 + NOISE_RETRIES;
    let silent = 0;
    let spoiled = 0;
    let last: ConsoleError | null = null;
    while (!stopped) {
      try {
        const values = await line.read(device.unitId, fn, start, n, probing ? { ...policy, probe: true } : policy);
        answered(false);
        heard = true;
        return values;
      } catch (e) {
        last = asConsoleError(e);
        if (!(stopped && last.code === 'MODBUS_CLOSED')) count(last);
        if (NOISE_ERRORS.has(last.code)) {
          answered(true);
          // It answered: no longer a probe of a unit believed dead.
          heard = true;
          probing = false;
          if (++spoiled >= spoiledTries) return last;
          continue;
        }
        if (last.code === 'MODBUS_EXCEPTION') {
          answered(false);
          heard = true;
        }
        if (!LINK_ERRORS.has(last.code) || ++silent >= silentTries) return last;
      }
    }
    return last ?? new ConsoleError('MODBUS_CLOSED', `polling of ${where} stopped`);
  }

  async function cycle(): Promise<void> {
    const t0 = clock.now();
    heard = false;
    const values: Record<string, PointValue> = {};
    let lost: ConsoleError | null = null;
    let firstError: ConsoleError | null = null;
    for (const block of blocks) {
      const res = await readRange(block.function, block.start, block.count);
      if (stopped) return;
      if (res instanceof ConsoleError) {
        if (LINK_ERRORS.has(res.code)) {
          lost = res;
          break;
        }
        firstError ??= res;
        // Spoiled on the line: the values are old, not wrong; an exception or undecodable value: bad.
        const quality = NOISE_ERRORS.has(res.code) ? 'stale' : 'bad';
        for (const { point } of block.points) values[point.id] = notGood(point, quality, res.message);
        continue;
      }
      const ts = clock.now();
      for (const { point, offset, count } of block.points) {
        decodeError = null;
        values[point.id] = decodePoint(point, res.slice(offset, offset + count), ts);
        if (decodeError) firstError ??= decodeError;
      }
    }
    const now = clock.now();
    link.lastPollMs = now - t0;
    if (lost) settleLost(lost, values, now);
    else settleAnswered(firstError, now);
    // Planned before the result goes out, so the result's link counts this cycle's overrun.
    const delay = planNext(now);
    emit({ deviceId: device.id, ts: now, values, link: snapshotLink() });
    if (!stopped) arm(delay);
  }

  function settleLost(lost: ConsoleError, values: Record<string, PointValue>, now: number): void {
    for (const p of points) values[p.id] = notGood(p, 'stale', lost.message);
    link.pollsFailed++;
    link.consecutiveFailures++;
    link.lastError = toErrorInfo(lost);
    // Only silence is the unit's own: a line that cannot be opened or a closed connection fails
    // every unit on it alike (backoff handles that), and a spoiled answer never gets here.
    if (SILENCE_ERRORS.has(lost.code)) unitFailures++;
    if (link.state !== 'offline') {
      link.state = 'offline';
      link.since = now;
      log('warn', `${device.name} (${device.id}) offline: ${lost.message}`);
    }
    if (!link.demoted && unitFailures >= device.demotion.afterFailures) {
      link.demoted = true;
      log(
        'warn',
        `${device.name} (${device.id}) demoted after ${unitFailures} failed polls: polled every ${fmtInterval(device.demotion.intervalMs)} until it answers, so the other units on ${line.key} keep their rate`,
      );
    }
  }

  function settleAnswered(firstError: ConsoleError | null, now: number): void {
    if (firstError) {
      link.pollsFailed++;
      link.lastError = toErrorInfo(firstError);
    } else {
      link.pollsOk++;
    }
    link.lastOkAt = now;
    link.consecutiveFailures = 0;
    unitFailures = 0;
    if (link.demoted) {
      link.demoted = false;
      log('info', `${device.name} (${device.id}) answers again: no longer demoted, polled every ${fmtInterval(device.pollIntervalMs)}`);
    }
    if (link.state !== 'online') {
      link.state = 'online';
      link.since = now;
      log('info', `${device.name} (${device.id}) online at ${where}`);
    }
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

  /** Sets when the next cycle is due (and counts the slots skipped); returns the delay until then. */
  function planNext(now: number): number {
    const interval = device.pollIntervalMs;
    let delay: number;
    if (link.demoted) {
      delay = device.demotion.intervalMs;
      due = now + delay;
    } else if (link.state === 'offline') {
      delay = backoffDelay(link.consecutiveFailures, device.backoff, random);
      due = now + delay;
    } else {
      // Start-to-start on a fixed grid (schedule.ts): a cycle that ran into the next slot skips
      // it, counted as an overrun, rather than start late or run two back to back.
      const next = nextSlot(due, interval, now);
      due = next.due;
      link.overruns = (link.overruns ?? 0) + next.skipped;
      delay = Math.max(0, due - now);
    }
    return delay;
  }

  function arm(delay: number): void {
    timer = setTimeout(() => {
      timer = null;
      // How late this start is against its slot: a busy event loop shows here first.
      const now = clock.now();
      lateness.add(now - due, now);
      const run: Promise<void> = cycle()
        .catch((e: unknown) => {
          // Only a bug lands here; keep polling rather than go silent.
          log('error', `poll cycle of ${device.id} failed: ${asConsoleError(e).message}`);
          if (!stopped) arm(planNext(clock.now()));
        })
        .finally(() => {
          if (running === run) running = null;
        });
      running = run;
    }, delay);
  }

  function closedError(): ConsoleError {
    return new ConsoleError('MODBUS_CLOSED', `polling of ${device.name} (${device.id}) at ${where} was stopped`);
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
      released ??= pool.release(line);
      await released;
      await running;
    },
    onResult(handler) {
      handlers.add(handler);
      return () => void handlers.delete(handler);
    },
    link: snapshotLink,
    async write(req: ModbusWriteRequest) {
      // Checked before queueing, so a malformed request never takes a turn on the line.
      writeRequest(req);
      if (stopped) throw closedError();
      try {
        await line.write(device.unitId, req, policy);
      } catch (e) {
        const err = asConsoleError(e);
        if (!stopped) count(err);
        throw err;
      }
    },
    async readPoint(pointId: string) {
      const p = points.find((x) => x.id === pointId);
      if (!p) throw new ConsoleError('NOT_FOUND', `${device.name} (${device.id}) has no point "${pointId}"`);
      if (stopped) throw closedError();
      const res = await readRange(p.function, p.address, registerCount(p));
      if (res instanceof ConsoleError) throw res;
      const value = decodeValue(p, res);
      return { value, raw: res, quality: 'good', ts: clock.now(), reason: null };
    },
  };
}

export { LinePool };

/** The poller of one device; every transport (the name predates RTU and gateways). */
export const createTcpPoller: (device: ResolvedDevice, opts?: PollerOptions) => Poller = createPoller;

function fmtInterval(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
