/**
 * Read planning: which Modbus requests cover a profile's points. Fewer, larger requests keep a
 * poll cycle short (each request costs a round trip), but a request must stay within what the
 * device accepts and should not read through long unused gaps (some devices answer an
 * exception for unmapped addresses in the gap).
 */
import { ConsoleError } from '../core/errors';
import type { PointFunction } from '../../src-preload/contract';
import type { PointDef, Profile } from '../config/schema';
import { registerCount } from './codec';

/** One read request and where each of its points lies in the answer. */
export interface ReadBlock {
  function: PointFunction;
  /** First register (or bit) address. */
  start: number;
  /** Registers (or bits) to read. */
  count: number;
  /** `offset` is the point's first register (or bit) relative to `start`. */
  points: { point: PointDef; offset: number }[];
}

export type ReadLimits = Profile['limits'];

/** Output order of the functions: bits first, then registers, as the brief's grouping lists them. */
const FUNCTION_ORDER: readonly PointFunction[] = ['coil', 'discrete', 'input', 'holding'];

/** Largest count one request of this function may carry. */
function limitFor(fn: PointFunction, limits: ReadLimits): number {
  return fn === 'coil' || fn === 'discrete' ? limits.maxBitsPerRead : limits.maxRegistersPerRead;
}

/** Groups points into read blocks per function, merging neighbours within the profile's limits. */
export function planReads(points: readonly PointDef[], limits: ReadLimits): ReadBlock[] {
  const blocks: ReadBlock[] = [];
  for (const fn of FUNCTION_ORDER) {
    const limit = limitFor(fn, limits);
    const unit = fn === 'coil' || fn === 'discrete' ? 'bit(s)' : 'register(s)';
    // Ties broken by size (larger first, so a block starts with its widest point) then id, so
    // the plan does not depend on the order points appear in the profile.
    const group = points
      .filter((p) => p.function === fn)
      .map((p) => ({ p, n: registerCount(p) }))
      .sort((a, b) => a.p.address - b.p.address || b.n - a.n || (a.p.id < b.p.id ? -1 : a.p.id > b.p.id ? 1 : 0));
    let current: (ReadBlock & { end: number }) | null = null;
    for (const { p, n } of group) {
      if (n > limit) {
        throw new ConsoleError(
          'PROFILE_INVALID',
          `Point "${p.id}" occupies ${n} ${unit}, more than the ${limit} the profile allows per read (limits.${fn === 'coil' || fn === 'discrete' ? 'maxBitsPerRead' : 'maxRegistersPerRead'})`,
        );
      }
      const pEnd = p.address + n;
      if (pEnd > 0x10000) {
        throw new ConsoleError('PROFILE_INVALID', `Point "${p.id}" at address ${p.address} runs past the last Modbus address 65535`);
      }
      if (current) {
        const gap = p.address - current.end;
        const mergedEnd = Math.max(current.end, pEnd);
        if (gap <= limits.maxGap && mergedEnd - current.start <= limit) {
          current.end = mergedEnd;
          current.count = mergedEnd - current.start;
          current.points.push({ point: p, offset: p.address - current.start });
          continue;
        }
        blocks.push(finish(current));
      }
      current = { function: fn, start: p.address, count: n, end: pEnd, points: [{ point: p, offset: 0 }] };
    }
    if (current) blocks.push(finish(current));
  }
  return blocks;
}

function finish(b: ReadBlock & { end: number }): ReadBlock {
  return { function: b.function, start: b.start, count: b.count, points: b.points };
}
