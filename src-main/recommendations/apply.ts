/**
 * Applying a recommendation as one unit. Each change goes through the one bounded-write path
 * (core/writes.ts: limits, step, interlock, write, readback) in the order the supplier gave;
 * when one is refused or fails, the changes already written are put back through the same
 * path's revert, newest first, and the result says in words which were written, which failed
 * and why, which were put back, and, loudly, any that could not be put back.
 *
 * The statuses, reports and audit records around it are the inbox's (inbox.ts); this file only
 * writes, reverts and describes.
 */
import type { Caller, RecoApplyResult, RecoApplyStep, WriteResult } from '../../src-preload/contract';
import type { PointDef, ResolvedDevice } from '../config/schema';
import { ConsoleError } from '../core/errors';
import { readbackMatches } from '../core/writes';
import type { RecoHost, RecoRecord } from './types';
import { currentValue, interlockNow, showValue } from './view';

type Point = Pick<PointDef, 'name' | 'type' | 'scale' | 'decimals' | 'unit'>;

/** The smallest difference a point can show: a bit, one scaled register step, or its last decimal. */
export function resolutionOf(point: Pick<PointDef, 'type' | 'scale' | 'decimals'>): number {
  if (point.type === 'bool') return 1;
  if (point.type === 'float32' || point.type === 'float64') return 10 ** -point.decimals;
  return Math.abs(point.scale);
}

function pointOf(device: ResolvedDevice, pointId: string): Point {
  return device.profileDef.points.find((p) => p.id === pointId) ?? { name: pointId, type: 'float64', scale: 1, decimals: 1, unit: '' };
}

const show = (p: Point, v: number | boolean | null): string => (v === null ? '—' : showValue(p, typeof v === 'boolean' ? (v ? 1 : 0) : v));

/**
 * Refuses (BAD_REQUEST, the recommendation stays open) what would fail before anything is
 * written: writes turned off, an interlock the machine's state does not meet now, and a value
 * the console reads now that differs from what the supplier expected by more than half the
 * point's resolution (or cannot be read): the recommendation was made for another starting point.
 */
export function checkExpected(rec: RecoRecord, device: ResolvedDevice, host: Pick<RecoHost, 'snapshot' | 'config' | 'machineState'>): void {
  if (host.config.writes?.enabled === false) {
    throw new ConsoleError('BAD_REQUEST', 'Setpoint changes are turned off for this plant (writes.enabled in the configuration)');
  }
  const lock = interlockNow(
    device,
    rec.body.changes.map((c) => c.point),
    host.machineState(rec.machineId) ?? 'offline',
  );
  if (!lock.ok) throw new ConsoleError('BAD_REQUEST', lock.message ?? 'The interlock does not allow a write now');
  for (const c of rec.body.changes) {
    const p = pointOf(device, c.point);
    const now = currentValue(host, rec.machineId, c.point);
    if (now === null) {
      throw new ConsoleError(
        'BAD_REQUEST',
        `${p.name} cannot be read now, so it cannot be compared with the value the recommendation expected: try again when ${device.name} is online`,
      );
    }
    if (Math.abs(now - c.expected) > (resolutionOf(p) / 2) * (1 + 1e-9)) {
      throw new ConsoleError(
        'BAD_REQUEST',
        `${p.name} is ${show(p, now)} now, the recommendation expected ${show(p, c.expected)}: ask the supplier for a new one`,
      );
    }
  }
}

/** One step from a write result. */
function stepOf(r: WriteResult, action: 'write' | 'revert'): RecoApplyStep {
  return { pointId: r.pointId, action, writeId: r.id, outcome: r.outcome, code: r.code, message: r.reason };
}

/** A step for something thrown instead of a WriteResult (an unknown point after a profile change). */
function thrownStep(pointId: string, action: 'write' | 'revert', err: unknown): RecoApplyStep {
  const e = err instanceof ConsoleError ? err : null;
  return {
    pointId,
    action,
    writeId: null,
    outcome: 'failed',
    code: e?.code ?? 'INTERNAL',
    message: err instanceof Error ? err.message : String(err),
  };
}

/** Why a write step did not succeed, in words. */
function failureText(p: Point, r: WriteResult): string {
  if (r.outcome === 'readback-mismatch') return `${p.name} read back ${show(p, r.readback)} (asked ${show(p, r.requested)})`;
  if (r.outcome === 'refused') return `${p.name} was refused: ${r.reason ?? r.code ?? 'no reason given'}`;
  return `${p.name} failed: ${r.reason ?? r.code ?? 'no reason given'}`;
}

const changes = (n: number): string => `${n} change${n === 1 ? '' : 's'}`;

/** What a list of revert steps did, in words: "1 change reverted", and loudly any that failed. */
export function revertText(
  device: ResolvedDevice,
  reverts: readonly { step: RecoApplyStep; result: WriteResult | null; was: number | boolean | null }[],
): string {
  const ok = reverts.filter((r) => r.step.outcome === 'written').length;
  const failed = reverts.filter((r) => r.step.outcome !== 'written');
  let text = `${changes(ok)} reverted`;
  for (const f of failed) {
    const p = pointOf(device, f.step.pointId);
    const holds = f.result?.before ?? null;
    text += `; REVERT FAILED: ${p.name} could not be put back to ${show(p, f.was)} (${f.step.message ?? f.step.code ?? 'no reason given'})${holds !== null ? `: it still holds ${show(p, holds)}` : ''}, check the machine`;
  }
  return text;
}

/** A write to undo: the write log entry, or (for a failed write the device may have taken) the value to write back. */
interface Undo {
  pointId: string;
  writeId: string | null;
  was: number | boolean | null;
}

/** Puts back each write, newest first, through the bounded path; returns the revert steps. */
export async function undoWrites(
  host: Pick<RecoHost, 'writes'>,
  caller: Caller,
  machineId: string,
  undos: readonly Undo[],
): Promise<{ step: RecoApplyStep; result: WriteResult | null; was: number | boolean | null }[]> {
  const out: { step: RecoApplyStep; result: WriteResult | null; was: number | boolean | null }[] = [];
  for (const u of [...undos].reverse()) {
    try {
      const r =
        u.writeId !== null
          ? await host.writes.revert(caller, u.writeId)
          : await host.writes.write(caller, machineId, u.pointId, u.was ?? 0);
      out.push({ step: stepOf(r, 'revert'), result: r, was: u.was });
    } catch (err) {
      out.push({ step: thrownStep(u.pointId, 'revert', err), result: null, was: u.was });
    }
  }
  return out;
}

/** What a write left on the device that must be undone when the unit fails (null: nothing). */
function undoOf(device: ResolvedDevice, r: WriteResult): Undo | null {
  if (r.outcome === 'written') return { pointId: r.pointId, writeId: r.id, was: r.before };
  const point = device.profileDef.points.find((p) => p.id === r.pointId);
  // The device reports what it held before: it did not take the write, nothing to undo.
  const unchanged = point !== undefined && r.before !== null && r.readback !== null && readbackMatches(point, r.before, r.readback);
  if (r.outcome === 'readback-mismatch') return unchanged ? null : { pointId: r.pointId, writeId: r.id, was: r.before };
  // A write that timed out may still have been applied: the readback tells; the log cannot revert it, a write of the old value can.
  if (r.outcome === 'failed' && r.readback !== null && r.before !== null && !unchanged)
    return { pointId: r.pointId, writeId: null, was: r.before };
  return null;
}

/**
 * Writes every change in order; on the first that does not end `written`, undoes what the
 * device took and skips the rest. `progress` is called after every step with the steps so far
 * (the inbox keeps them durable for the recovery after a crash).
 */
export async function applyUnit(
  host: Pick<RecoHost, 'writes' | 'clock'>,
  caller: Caller,
  rec: RecoRecord,
  device: ResolvedDevice,
  progress: (steps: RecoApplyStep[]) => void,
): Promise<RecoApplyResult> {
  const steps: RecoApplyStep[] = [];
  const undos: Undo[] = [];
  let failure: string | null = null;
  for (const c of rec.body.changes) {
    const p = pointOf(device, c.point);
    if (failure !== null) {
      steps.push({
        pointId: c.point,
        action: 'write',
        writeId: null,
        outcome: 'skipped',
        code: null,
        message: 'not attempted: an earlier change failed',
      });
      continue;
    }
    const value = p.type === 'bool' ? c.proposed === 1 : c.proposed;
    try {
      const r = await host.writes.write(caller, rec.machineId, c.point, value);
      steps.push(stepOf(r, 'write'));
      const undo = undoOf(device, r);
      if (undo) undos.push(undo);
      if (r.outcome !== 'written') failure = failureText(p, r);
    } catch (err) {
      steps.push(thrownStep(c.point, 'write', err));
      failure = `${p.name} failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    progress([...steps]);
  }
  const n = rec.body.changes.length;
  if (failure === null) {
    return {
      ok: true,
      summary: n === 1 ? '1 change written and read back' : `All ${n} changes written and read back`,
      steps,
      at: host.clock.now(),
    };
  }
  if (undos.length === 0) return { ok: false, summary: `${failure}: nothing was changed`, steps, at: host.clock.now() };
  const reverts = await undoWrites(host, caller, rec.machineId, undos);
  steps.push(...reverts.map((r) => r.step));
  return { ok: false, summary: `${failure}: ${revertText(device, reverts)}`, steps, at: host.clock.now() };
}

/** Undoes an applied recommendation's writes (reco.revert, or a guard's automatic revert). */
export async function revertUnit(
  host: Pick<RecoHost, 'writes' | 'clock'>,
  caller: Caller,
  rec: RecoRecord,
  device: ResolvedDevice,
): Promise<{ ok: boolean; summary: string; steps: RecoApplyStep[] }> {
  const written = (rec.apply?.steps ?? []).filter((s) => s.action === 'write' && s.outcome === 'written' && s.writeId !== null);
  const befores = new Map(rec.body.changes.map((c) => [c.point, c.expected]));
  const reverts = await undoWrites(
    host,
    caller,
    rec.machineId,
    written.map((s) => ({ pointId: s.pointId, writeId: s.writeId, was: befores.get(s.pointId) ?? null })),
  );
  const ok = reverts.every((r) => r.step.outcome === 'written');
  return { ok, summary: revertText(device, reverts), steps: reverts.map((r) => r.step) };
}

/**
 * After a crash during an apply: reverts what the write log says this apply wrote (writes by
 * its user to its points since it started, not yet reverted), newest first.
 */
export async function recoverUnit(
  host: Pick<RecoHost, 'writes' | 'clock'>,
  caller: Caller,
  rec: RecoRecord,
  device: ResolvedDevice,
): Promise<RecoApplyResult> {
  const started = rec.progress?.startedAt ?? rec.decision?.at ?? rec.updatedAt;
  const user = rec.progress?.user ?? rec.decision?.user ?? '';
  const points = new Set(rec.body.changes.map((c) => c.point));
  const log = host.writes.log({ machineId: rec.machineId, limit: 500 }).filter((e) => e.at >= started);
  const reverted = new Set(log.map((e) => e.revertOf).filter((id): id is string => id !== null));
  // Newest first in the log; undoWrites reverses, so hand it oldest first.
  const undos = log
    .filter((e) => e.revertOf === null && e.user === user && points.has(e.pointId) && !reverted.has(e.id))
    .map((e) => undoOf(device, e))
    .filter((u): u is Undo => u !== null)
    .reverse();
  const steps = [...(rec.progress?.steps ?? [])];
  if (undos.length === 0) {
    return {
      ok: false,
      summary: 'Interrupted: the console stopped during the apply; nothing had been written',
      steps,
      at: host.clock.now(),
    };
  }
  const reverts = await undoWrites(host, caller, rec.machineId, undos);
  steps.push(...reverts.map((r) => r.step));
  return {
    ok: false,
    summary: `Interrupted: the console stopped during the apply; ${revertText(device, reverts)}`,
    steps,
    at: host.clock.now(),
  };
}

/** Resolves when the machine is not offline any more, or after `timeoutMs` (false). */
export function waitOnline(host: Pick<RecoHost, 'machineState' | 'onMachine'>, machineId: string, timeoutMs: number): Promise<boolean> {
  if ((host.machineState(machineId) ?? 'offline') !== 'offline') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      off();
      resolve(false);
    }, timeoutMs);
    timer.unref?.();
    const off = host.onMachine((snap) => {
      if (snap.id !== machineId || snap.state === 'offline') return;
      clearTimeout(timer);
      off();
      resolve(true);
    });
  });
}
