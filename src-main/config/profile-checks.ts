/**
 * Checks of a profile's points against the Modbus address space and the read limits: what
 * would otherwise pass the schema and fail only when the poller plans its reads (the machine
 * then never polled), refused at load with the file and the path; and points that share
 * registers, which a profile may do on purpose (a word of a 32-bit value read on its own) but
 * is more often a typing mistake, so it is a warning naming both points.
 */
import type { PointFunction } from '../../src-preload/contract';
import { registerCount } from '../modbus/codec';
import type { DeviceConfig, PointDef, Profile } from './schema';

/** One problem of a point, at `points[index].field`. */
export interface PointIssue {
  path: (string | number)[];
  message: string;
}

const isBits = (fn: PointFunction): boolean => fn === 'coil' || fn === 'discrete';

function span(p: PointDef, n: number): string {
  const unit = isBits(p.function) ? 'bit' : 'register';
  return n === 1 ? `${unit} ${p.address}` : `${unit}s ${p.address}–${p.address + n - 1}`;
}

/** Points running past address 65535, or larger than the profile's read limit allows in one request. */
export function pointExtentIssues(prof: Pick<Profile, 'points' | 'limits'>): PointIssue[] {
  const issues: PointIssue[] = [];
  prof.points.forEach((p, i) => {
    const n = registerCount(p);
    if (p.address + n > 0x10000) {
      issues.push({
        path: ['points', i, 'address'],
        message: `point "${p.id}" (${p.type}, ${n} registers from ${p.address}) runs past the last Modbus address 65535`,
      });
    }
    if (!isBits(p.function) && n > prof.limits.maxRegistersPerRead) {
      issues.push({
        path: ['points', i, p.type === 'string' ? 'length' : 'type'],
        message: `point "${p.id}" occupies ${n} registers, more than limits.maxRegistersPerRead (${prof.limits.maxRegistersPerRead}) allows in one read`,
      });
    }
  });
  return issues;
}

/** A device's own `limits.maxRegistersPerRead` smaller than a point of its profile (path relative to `devices[i]`). */
export function deviceLimitProblems(device: Pick<DeviceConfig, 'limits'>, profile: Profile, profileFile: string): string[] {
  const limit = device.limits?.maxRegistersPerRead;
  if (limit === undefined) return [];
  return profile.points
    .filter((p) => !isBits(p.function) && registerCount(p) > limit)
    .map(
      (p) =>
        `limits.maxRegistersPerRead: ${limit} is less than the ${registerCount(p)} registers of point "${p.id}" (${profileFile}: points[${profile.points.indexOf(p)}]), which must be read in one request`,
    );
}

/** One warning per pair of points of the same function that share a register or bit, naming both. */
export function profileWarnings(profile: Pick<Profile, 'points'>, file: string): string[] {
  const out: string[] = [];
  const byFunction = new Map<PointFunction, { p: PointDef; i: number; end: number }[]>();
  profile.points.forEach((p, i) => {
    const list = byFunction.get(p.function) ?? [];
    list.push({ p, i, end: p.address + registerCount(p) });
    byFunction.set(p.function, list);
  });
  for (const list of byFunction.values()) {
    list.sort((a, b) => a.p.address - b.p.address || a.i - b.i);
    // Sweep: `open` holds the points whose range has not ended before the current one starts.
    let open: typeof list = [];
    for (const cur of list) {
      open = open.filter((o) => o.end > cur.p.address);
      for (const o of open) {
        const [first, second] = o.i < cur.i ? [o, cur] : [cur, o];
        out.push(
          `${file}: points[${second.i}] "${second.p.id}" (${second.p.type}, ${second.p.function} ${span(second.p, second.end - second.p.address)}) overlaps points[${first.i}] "${first.p.id}" (${first.p.type}, ${first.p.function} ${span(first.p, first.end - first.p.address)})`,
        );
      }
      open.push(cur);
    }
  }
  return out;
}
