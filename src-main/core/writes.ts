/**
 * The one path by which the console changes a value on a machine. In this order: writes
 * enabled for the plant, the point exists and is writable, the value has the point's type and
 * lies inside its limits, the machine is online, the current value read fresh from the device,
 * the change no larger than the largest step, the machine-state interlock met; then encoded,
 * written with the function code the device takes, read back and compared. Every outcome,
 * refusals included, is returned as a WriteResult and kept in the write log. Writes to one
 * machine run one at a time, so a check and its write are never separated by another write.
 */
import { randomUUID } from 'node:crypto';
import {
  MACHINE_STATE_WORDS,
  machineStatesInWords,
  type Caller,
  type MachineState,
  type PointValue,
  type WriteResult,
} from '../../src-preload/contract';
import { auditActor, type AuditSink } from '../audit/record';
import type { PointDef, ResolvedDevice } from '../config/schema';
import { encode } from '../modbus/codec';
import { ConsoleError, toErrorInfo } from './errors';
import { silentLogger, type Logger } from './log';
import { deriveState, initialLink } from './machine';
import type { Clock, ModbusWriteRequest, Poller } from './types';
import { createMemoryWriteLog, type WriteLogStore } from './write-log';

/** What the write service needs from the plant core (PlantCore provides it). */
export interface WriteHost {
  readonly config: { readonly writes: { readonly enabled: boolean }; readonly devices: readonly ResolvedDevice[] };
  readonly clock: Clock;
  /** The machine's state as the core sees it; undefined for an unknown machine. */
  machineState(machineId: string): MachineState | undefined;
  /** The poller of the machine's device; undefined before the core started it. */
  pollerFor(machineId: string): Poller | undefined;
}

/** Options of the write service. */
export interface WriteServiceOptions {
  host: WriteHost;
  /** Default: an in-memory log. */
  store?: WriteLogStore;
  log?: Logger;
  /** Ids of write log entries; random UUIDs unless given. */
  newId?: () => string;
  /** The audit log: every write and revert, refusals included, with before and after values. */
  audit?: AuditSink;
}

/** Codes of a refused write; failed writes carry the device's error code (MODBUS_*). */
export type RefusalCode = 'WRITES_DISABLED' | 'NOT_WRITABLE' | 'BAD_VALUE' | 'LIMIT_EXCEEDED' | 'STEP_EXCEEDED' | 'INTERLOCK' | 'OFFLINE';

/** Entries `log` returns unless told otherwise. */
export const DEFAULT_LOG_LIMIT = 100;

type Value = number | boolean;

/** Everything one write needs while it runs. */
interface Attempt {
  base: WriteResult;
  device: ResolvedDevice;
  point: PointDef;
  value: Value;
}

/** Float slack for comparisons against limits and steps (212.3 + 5 must not exceed 217.3). */
const slack = (bound: number): number => 1e-9 * Math.max(1, Math.abs(bound));

/** A value for people: "214.0 °C", "on". */
export function formatWriteValue(v: Value | null, point: Pick<PointDef, 'decimals' | 'unit'>): string {
  if (v === null) return '—';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  const text = v.toFixed(point.decimals).replace(/^-(0(?:\.0*)?)$/, '$1');
  return point.unit ? `${text} ${point.unit}` : text;
}

/** True when the read-back value equals the requested one within half the point's resolution. */
export function readbackMatches(point: Pick<PointDef, 'type' | 'scale'>, requested: Value, readback: Value): boolean {
  if (typeof requested === 'boolean' || typeof readback === 'boolean') return requested === readback;
  const diff = Math.abs(requested - readback);
  if (point.type === 'float32' || point.type === 'float64') return diff <= 1e-6 * Math.max(1, Math.abs(requested));
  return diff <= (Math.abs(point.scale) / 2) * (1 + 1e-9);
}

/** The Modbus function code for writing `count` registers or coils the way the device wants. */
export function writeFunctionCode(fn: 'coil' | 'holding', count: number, writeFunction: 'single' | 'multiple'): ModbusWriteRequest['fc'] {
  if (fn === 'coil') return writeFunction === 'multiple' || count > 1 ? 15 : 5;
  return writeFunction === 'multiple' || count > 1 ? 16 : 6;
}

function asValue(v: PointValue['value']): Value | null {
  return typeof v === 'number' || typeof v === 'boolean' ? v : null;
}

/** Bounded, interlocked, read-back writes of setpoints, and their log. */
export class WriteService {
  private readonly host: WriteHost;
  private readonly store: WriteLogStore;
  private readonly logger: Logger;
  private readonly newId: () => string;
  private readonly audit: AuditSink | undefined;
  /** The tail of each machine's queue of writes. */
  private readonly tails = new Map<string, Promise<void>>();

  constructor(opts: WriteServiceOptions) {
    this.host = opts.host;
    this.store = opts.store ?? createMemoryWriteLog();
    this.logger = opts.log ?? silentLogger;
    this.newId = opts.newId ?? randomUUID;
    this.audit = opts.audit;
  }

  /** Writes `value` to a point through every check; NOT_FOUND for an unknown machine or point, otherwise a logged WriteResult. */
  write(caller: Caller, machineId: string, pointId: string, value: Value): Promise<WriteResult> {
    return this.audited(caller, this.run(caller, machineId, pointId, value, null));
  }

  /** Writes back the value read before a past write, through the same checks. */
  async revert(caller: Caller, writeId: string): Promise<WriteResult> {
    const entry = this.store.get(writeId);
    if (!entry) throw new ConsoleError('NOT_FOUND', `No write "${writeId}" in the write log`);
    if (entry.outcome !== 'written' && entry.outcome !== 'readback-mismatch') {
      throw new ConsoleError('BAD_REQUEST', `Write "${writeId}" was ${entry.outcome}: it changed nothing that could be undone`);
    }
    if (entry.before === null) throw new ConsoleError('BAD_REQUEST', `Write "${writeId}" has no value from before to go back to`);
    return this.audited(caller, this.run(caller, entry.machineId, entry.pointId, entry.before, entry.id));
  }

  /** Records the finished write or revert in the audit log (NOT_FOUND and bad requests are no write). */
  private async audited(caller: Caller, pending: Promise<WriteResult>): Promise<WriteResult> {
    const r = await pending;
    this.audit?.record({
      kind: r.revertOf === null ? 'write' : 'revert',
      ...auditActor(caller),
      machineId: r.machineId,
      at: r.at,
      detail: {
        writeId: r.id,
        pointId: r.pointId,
        before: r.before,
        requested: r.requested,
        readback: r.readback,
        unit: r.unit,
        outcome: r.outcome,
        code: r.code,
        reason: r.reason,
        revertOf: r.revertOf,
      },
    });
    return r;
  }

  /** Past writes, newest first, of one machine or all. */
  log(query: { machineId?: string | undefined; limit?: number | undefined } = {}): WriteResult[] {
    return this.store.list({ machineId: query.machineId, limit: query.limit ?? DEFAULT_LOG_LIMIT });
  }

  private async run(caller: Caller, machineId: string, pointId: string, value: Value, revertOf: string | null): Promise<WriteResult> {
    const device = this.host.config.devices.find((d) => d.id === machineId);
    const point = device?.profileDef.points.find((p) => p.id === pointId);
    const base: WriteResult = {
      id: this.newId(),
      machineId,
      pointId,
      user: caller.user,
      at: this.host.clock.now(),
      before: null,
      requested: value,
      readback: null,
      outcome: 'refused',
      code: null,
      reason: null,
      revertOf,
      unit: point?.unit ?? '',
    };
    if (!this.host.config.writes.enabled) {
      return this.finish(base, {
        code: 'WRITES_DISABLED',
        reason: 'Setpoint changes are turned off for this plant (writes.enabled in the configuration)',
      });
    }
    if (!device) throw new ConsoleError('NOT_FOUND', `No machine "${machineId}" in this plant`);
    if (!point) throw new ConsoleError('NOT_FOUND', `Machine "${machineId}" has no point "${pointId}"`);
    return this.exclusive(machineId, () => this.checkAndWrite({ base, device, point, value }));
  }

  private async checkAndWrite(a: Attempt): Promise<WriteResult> {
    const { base, device, point, value } = a;
    const w = point.writable;
    if (!w) return this.refuse(a, 'NOT_WRITABLE', `${point.name} is read-only: the device profile gives it no write limits`);
    const typeProblem = this.typeProblem(point, value);
    if (typeProblem) return this.refuse(a, 'BAD_VALUE', typeProblem);
    const num = Number(value);
    if (num < w.min - slack(w.min)) {
      return this.refuse(a, 'LIMIT_EXCEEDED', `${formatWriteValue(value, point)} is below the minimum ${formatWriteValue(w.min, point)}`);
    }
    if (num > w.max + slack(w.max)) {
      return this.refuse(a, 'LIMIT_EXCEEDED', `${formatWriteValue(value, point)} is above the maximum ${formatWriteValue(w.max, point)}`);
    }
    // Offline before the device read: a refusal in words beats waiting for a timeout.
    const poller = this.host.pollerFor(device.id);
    if (this.host.machineState(device.id) === 'offline' || !poller) {
      return this.refuse(a, 'OFFLINE', `${device.name} is offline: setpoints can only be changed while the console reaches the machine`);
    }

    const current = await this.readValue(poller, point, 'could not read the current value');
    if ('error' in current) return this.finish(base, { outcome: 'failed', ...current.error });
    const before = current.value;
    base.before = before;
    const step = Math.abs(num - Number(before));
    if (step > w.maxStep + slack(w.maxStep)) {
      return this.refuse(
        a,
        'STEP_EXCEEDED',
        `a change of ${formatWriteValue(step, point)} is larger than the largest allowed step of ${formatWriteValue(w.maxStep, point)}`,
      );
    }
    if (point.interlock) {
      const state = await this.freshState(poller, device);
      if ('error' in state) return this.finish(base, { outcome: 'failed', ...state.error });
      if (!point.interlock.states.includes(state.value as Exclude<MachineState, 'offline' | 'unknown'>)) {
        return this.refuse(
          a,
          'INTERLOCK',
          `only while the machine is ${machineStatesInWords(point.interlock.states)}; it is ${MACHINE_STATE_WORDS[state.value]}`,
        );
      }
    }

    let words: number[];
    try {
      words = encode(point, value);
    } catch (err) {
      return this.refuse(a, 'BAD_VALUE', toErrorInfo(err).message);
    }
    const fn = point.function === 'coil' ? 'coil' : 'holding';
    const req: ModbusWriteRequest = {
      function: fn,
      address: point.address,
      values: words,
      fc: writeFunctionCode(fn, words.length, device.writeFunction),
    };
    try {
      await poller.write(req);
    } catch (err) {
      const info = toErrorInfo(err);
      // A timed-out or cut-off write may still have been applied: say what the device holds now.
      const ambiguous = info.code === 'MODBUS_TIMEOUT' || info.code === 'MODBUS_CLOSED';
      const after = ambiguous ? await this.readValue(poller, point, 'could not read back') : null;
      if (after && 'value' in after) base.readback = after.value;
      const now = after && 'value' in after ? `; the device now reports ${formatWriteValue(after.value, point)}` : '';
      return this.finish(base, {
        outcome: 'failed',
        code: info.code,
        reason: `the device did not confirm the write (${info.message})${now}`,
      });
    }

    const after = await this.readValue(poller, point, 'the device took the write, but the value could not be read back');
    if ('error' in after) return this.finish(base, { outcome: 'failed', ...after.error });
    base.readback = after.value;
    if (readbackMatches(point, value, after.value)) return this.finish(base, { outcome: 'written' });
    return this.finish(base, {
      outcome: 'readback-mismatch',
      code: 'READBACK_MISMATCH',
      reason: `written, but the device reports ${formatWriteValue(after.value, point)} instead of ${formatWriteValue(value, point)}`,
    });
  }

  private typeProblem(point: PointDef, value: Value): string | null {
    if (point.type === 'string') return `${point.name} holds text, which the console does not write`;
    if (point.type === 'bool' && typeof value !== 'boolean') return `${point.name} is on/off: it takes true or false, not ${String(value)}`;
    if (point.type !== 'bool' && typeof value !== 'number') return `${point.name} takes a number, not ${String(value)}`;
    return null;
  }

  /** Reads one point now; an error becomes the code and a reason for the log. */
  private async readValue(
    poller: Poller,
    point: PointDef,
    what: string,
  ): Promise<{ value: Value } | { error: { code: string; reason: string } }> {
    try {
      const pv = await poller.readPoint(point.id);
      const v = asValue(pv.value);
      if (v === null || pv.quality !== 'good') {
        return {
          error: { code: 'DECODE_FAILED', reason: `${what} of ${point.name}: the device answered with ${pv.reason ?? 'no usable value'}` },
        };
      }
      return { value: v };
    } catch (err) {
      const info = toErrorInfo(err);
      return { error: { code: info.code, reason: `${what} of ${point.name} (${info.message})` } };
    }
  }

  /**
   * The machine state read from the device now, so an interlock is checked against the state
   * at the moment of writing rather than at the last poll; the core's state when the profile
   * has no state point.
   */
  private async freshState(
    poller: Poller,
    device: ResolvedDevice,
  ): Promise<{ value: MachineState } | { error: { code: string; reason: string } }> {
    const statePoint = device.profileDef.points.find((p) => p.role === 'state');
    if (!statePoint) return { value: this.host.machineState(device.id) ?? 'offline' };
    try {
      const pv = await poller.readPoint(statePoint.id);
      const link = { ...initialLink(this.host.clock.now()), state: 'online' as const };
      return { value: deriveState(device.profileDef, link, { [statePoint.id]: pv }).state };
    } catch (err) {
      const info = toErrorInfo(err);
      return { error: { code: info.code, reason: `could not read the machine state for the interlock (${info.message})` } };
    }
  }

  private refuse(a: Attempt, code: RefusalCode, reason: string): WriteResult {
    return this.finish(a.base, { code, reason });
  }

  private finish(base: WriteResult, how: { outcome?: WriteResult['outcome']; code?: string; reason?: string }): WriteResult {
    const result: WriteResult = {
      ...base,
      at: this.host.clock.now(),
      outcome: how.outcome ?? 'refused',
      code: how.code ?? null,
      reason: how.reason ?? null,
    };
    this.store.append(result);
    const show = (v: Value | null): string => (v === null ? '—' : String(v));
    this.logger.log(
      'info',
      `Write ${result.outcome}: ${result.user} ${result.machineId}/${result.pointId} ${show(result.before)} → ${show(result.requested)} → ${show(result.readback)}${result.unit ? ` ${result.unit}` : ''}`,
      {
        writeId: result.id,
        user: result.user,
        machine: result.machineId,
        point: result.pointId,
        before: result.before,
        requested: result.requested,
        readback: result.readback,
        outcome: result.outcome,
        code: result.code,
        reason: result.reason,
        revertOf: result.revertOf,
      },
    );
    return result;
  }

  /** Runs `fn` after every earlier write to the same machine has finished. */
  private async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
