/**
 * A stored recommendation as the inbox shows it: each change with the value the console reads
 * now and the point's limits, the machine's state and the interlock in words.
 */
import {
  MACHINE_STATE_WORDS,
  machineStatesInWords,
  type MachineState,
  type RecoChangeView,
  type Recommendation,
} from '../../src-preload/contract';
import type { PointDef, ResolvedDevice } from '../config/schema';
import { formatWriteValue } from '../core/writes';
import type { RecoHost, RecoRecord } from './types';

/** "idle", "idle or in fault", "running, idle or in fault". */
export const statesInWords = machineStatesInWords;

/** The machine state in words. */
export function stateWord(state: MachineState): string {
  return MACHINE_STATE_WORDS[state];
}

/** The value the console reads now (null: not read, not good, or text). */
export function currentValue(host: Pick<RecoHost, 'snapshot'>, machineId: string, pointId: string): number | null {
  const pv = host.snapshot(machineId)?.values[pointId];
  if (!pv || pv.quality !== 'good') return null;
  if (typeof pv.value === 'number') return Number.isFinite(pv.value) ? pv.value : null;
  if (typeof pv.value === 'boolean') return pv.value ? 1 : 0;
  return null;
}

/** A number of a point for people ("212.0 °C", "on"). */
export function showValue(point: Pick<PointDef, 'decimals' | 'unit' | 'type'>, v: number): string {
  return formatWriteValue(point.type === 'bool' ? v === 1 : v, point);
}

/** Whether the interlocks of the changed points allow a write in the machine's state now, in words. */
export function interlockNow(
  device: ResolvedDevice,
  pointIds: readonly string[],
  state: MachineState,
): { ok: boolean; message: string | null } {
  if (state === 'offline') return { ok: false, message: `${device.name} is offline: nothing can be written until the console reaches it` };
  for (const id of pointIds) {
    const p = device.profileDef.points.find((x) => x.id === id);
    const allowed = p?.interlock?.states;
    if (p && allowed && !allowed.includes(state as Exclude<MachineState, 'offline' | 'unknown'>)) {
      return {
        ok: false,
        message: `${p.name} can only be changed while the machine is ${statesInWords(allowed)}; it is ${MACHINE_STATE_WORDS[state]}`,
      };
    }
  }
  return { ok: true, message: null };
}

/** The contract's view of one stored recommendation. */
export function recommendationView(rec: RecoRecord, host: RecoHost): Recommendation {
  const device = host.config.devices.find((d) => d.id === rec.machineId);
  const state = host.machineState(rec.machineId) ?? 'offline';
  const changes: RecoChangeView[] = rec.body.changes.map((c) => {
    const p = device?.profileDef.points.find((x) => x.id === c.point);
    return {
      pointId: c.point,
      name: p?.name ?? c.point,
      unit: p?.unit ?? '',
      decimals: p?.decimals ?? 1,
      expected: c.expected,
      current: currentValue(host, rec.machineId, c.point),
      proposed: c.proposed,
      // A profile changed since arrival may have dropped the limits: shown as none (the write path refuses then).
      limits: p?.writable ? { ...p.writable } : { min: 0, max: 0, maxStep: 0 },
    };
  });
  const d = rec.decision;
  return {
    id: rec.id,
    machineId: rec.machineId,
    machineName: device?.name ?? rec.machineId,
    issuedAt: rec.body.issuedAt,
    validUntil: rec.body.validUntil,
    receivedAt: rec.receivedAt,
    status: rec.status,
    changes,
    rationale: rec.body.rationale,
    expect: { ...rec.body.expect },
    windowS: rec.body.windowS,
    guards: rec.body.guards.map((g) => ({ ...g })),
    autoRevert: rec.body.autoRevert,
    machineState: MACHINE_STATE_WORDS[state],
    interlock: device
      ? interlockNow(
          device,
          rec.body.changes.map((c) => c.point),
          state,
        )
      : { ok: false, message: `Machine "${rec.machineId}" is no longer configured` },
    decision: d ? { action: d.action, user: d.user, at: d.at, reason: d.reason, deferredUntil: d.deferredUntil } : null,
    apply: rec.apply,
    outcome: rec.outcome,
  };
}
