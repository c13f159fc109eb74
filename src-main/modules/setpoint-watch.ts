/**
 * Setpoints that changed on a device without a write through the console: between two good
 * polls, a writable point's value moved, and the write log has no write (or revert) of that
 * point around that time. A write's log entry is appended only once it was read back, which
 * may be after a poll already saw the new value, so a change is judged only after a grace
 * period. When a machine restarts for an approved update its values may start over: its
 * baselines are dropped (`forget`).
 */
import type { MachineSnapshot, WriteResult } from '../../src-preload/contract';
import type { PointDef, ResolvedDevice } from '../config/schema';
import { formatWriteValue, readbackMatches } from '../core/writes';

/** A setpoint change nobody made through the console. */
export interface OutsideChange {
  machineId: string;
  pointId: string;
  message: string;
}

interface Seen {
  value: number | boolean;
  ts: number;
}

interface Pending {
  machineId: string;
  point: PointDef;
  from: Seen;
  to: Seen;
  due: number;
}

/** How far before the old value's poll a write may have been made and still explain the change. */
const MARGIN_MS = 5_000;

/** Watches the writable points of some machines. */
export class SetpointWatch {
  private readonly last = new Map<string, Seen>();
  private pending: Pending[] = [];

  constructor(
    private readonly o: {
      devices: readonly ResolvedDevice[];
      /** Machines to watch (those with a module). */
      machines: ReadonlySet<string>;
      /** The write log of a machine, newest first. */
      writes(machineId: string): WriteResult[];
      graceMs: number;
    },
  ) {}

  /** Feeds one snapshot; returns the changes whose grace ended without a matching write. */
  observe(snap: MachineSnapshot, now: number): OutsideChange[] {
    if (this.o.machines.has(snap.id)) {
      const device = this.o.devices.find((d) => d.id === snap.id);
      for (const point of device?.profileDef.points ?? []) {
        if (!point.writable) continue;
        const pv = snap.values[point.id];
        if (!pv || pv.quality !== 'good' || (typeof pv.value !== 'number' && typeof pv.value !== 'boolean')) continue;
        const key = `${snap.id}/${point.id}`;
        const prev = this.last.get(key);
        const cur = { value: pv.value, ts: pv.ts || snap.ts };
        this.last.set(key, cur);
        if (prev && !readbackMatches(point, prev.value, cur.value)) {
          this.pending.push({ machineId: snap.id, point, from: prev, to: cur, due: now + this.o.graceMs });
        }
      }
    }
    return this.judge(now);
  }

  /** Drops a machine's baselines and pending changes (it restarted for an approved update). */
  forget(machineId: string): void {
    for (const key of [...this.last.keys()]) if (key.startsWith(`${machineId}/`)) this.last.delete(key);
    this.pending = this.pending.filter((p) => p.machineId !== machineId);
  }

  /** Judges the pending changes whose grace has ended. */
  judge(now: number): OutsideChange[] {
    const out: OutsideChange[] = [];
    const keep: Pending[] = [];
    for (const p of this.pending) {
      if (this.explained(p)) continue;
      if (now < p.due) {
        keep.push(p);
        continue;
      }
      out.push({
        machineId: p.machineId,
        pointId: p.point.id,
        message: `${p.point.name} changed from ${formatWriteValue(p.from.value, p.point)} to ${formatWriteValue(p.to.value, p.point)} without a write through the console`,
      });
    }
    this.pending = keep;
    return out;
  }

  private explained(p: Pending): boolean {
    return this.o
      .writes(p.machineId)
      .some(
        (w) =>
          w.pointId === p.point.id &&
          w.outcome !== 'refused' &&
          w.at >= p.from.ts - MARGIN_MS &&
          (readbackMatches(p.point, w.requested, p.to.value) || (w.readback !== null && readbackMatches(p.point, w.readback, p.to.value))),
      );
  }
}
