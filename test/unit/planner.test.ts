import { describe, expect, it } from 'vitest';
import { loadProfile, packageRoot } from '../../src-main/config/load';
import { PointSchema, type PointDef } from '../../src-main/config/schema';
import { registerCount } from '../../src-main/modbus/codec';
import { planReads, type ReadBlock } from '../../src-main/modbus/planner';

const limits = { maxRegistersPerRead: 125, maxBitsPerRead: 2000, maxGap: 8 };

function pt(id: string, fn: PointDef['function'], address: number, type: PointDef['type'] = 'uint16', length?: number): PointDef {
  return PointSchema.parse({ id, name: id, function: fn, address, type: fn === 'coil' || fn === 'discrete' ? 'bool' : type, length });
}

/** Every point lies inside its block, at the right offset, and blocks respect the limits. */
function checkInvariants(blocks: ReadBlock[], points: PointDef[], lim = limits): void {
  const seen = new Set<string>();
  for (const b of blocks) {
    const max = b.function === 'coil' || b.function === 'discrete' ? lim.maxBitsPerRead : lim.maxRegistersPerRead;
    expect(b.count).toBeGreaterThan(0);
    expect(b.count).toBeLessThanOrEqual(max);
    for (const { point, offset } of b.points) {
      expect(point.function).toBe(b.function);
      expect(offset).toBe(point.address - b.start);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset + registerCount(point)).toBeLessThanOrEqual(b.count);
      seen.add(point.id);
    }
  }
  expect([...seen].sort()).toEqual(points.map((p) => p.id).sort());
}

describe('planReads', () => {
  it('merges neighbours and splits on function', () => {
    const points = [pt('a', 'holding', 0), pt('b', 'holding', 1, 'float32'), pt('c', 'input', 0), pt('d', 'coil', 5), pt('e', 'coil', 6)];
    const blocks = planReads(points, limits);
    expect(blocks.map((b) => [b.function, b.start, b.count])).toEqual([
      ['coil', 5, 2],
      ['input', 0, 1],
      ['holding', 0, 3],
    ]);
    checkInvariants(blocks, points);
  });

  it('reads through a gap up to maxGap and splits beyond it', () => {
    const lim = { ...limits, maxGap: 4 };
    // a ends at 1; b at 5 → gap 4 (merge); c at 14, block ends at 6 → gap 8 (split)
    const points = [pt('a', 'holding', 0), pt('b', 'holding', 5), pt('c', 'holding', 14)];
    const blocks = planReads(points, lim);
    expect(blocks.map((b) => [b.start, b.count])).toEqual([
      [0, 6],
      [14, 1],
    ]);
    checkInvariants(blocks, points, lim);
  });

  it('maxGap 0 merges only adjacent points', () => {
    const lim = { ...limits, maxGap: 0 };
    const blocks = planReads([pt('a', 'input', 0), pt('b', 'input', 1), pt('c', 'input', 3)], lim);
    expect(blocks.map((b) => [b.start, b.count])).toEqual([
      [0, 2],
      [3, 1],
    ]);
  });

  it('splits when the merged span would exceed maxRegistersPerRead', () => {
    const lim = { ...limits, maxRegistersPerRead: 10 };
    const points = [pt('a', 'input', 0, 'float64'), pt('b', 'input', 4, 'float64'), pt('c', 'input', 8, 'float32'), pt('d', 'input', 10)];
    const blocks = planReads(points, lim);
    expect(blocks.map((b) => [b.start, b.count])).toEqual([
      [0, 10],
      [10, 1],
    ]);
    checkInvariants(blocks, points, lim);
  });

  it('splits bits on maxBitsPerRead', () => {
    const lim = { ...limits, maxBitsPerRead: 16 };
    const points = Array.from({ length: 40 }, (_, i) => pt(`c${i}`, 'discrete', i));
    const blocks = planReads(points, lim);
    expect(blocks.map((b) => [b.start, b.count])).toEqual([
      [0, 16],
      [16, 16],
      [32, 8],
    ]);
    checkInvariants(blocks, points, lim);
  });

  it('allows overlapping points (same registers read as two types)', () => {
    const points = [pt('whole', 'holding', 10, 'uint32'), pt('hi', 'holding', 10, 'uint16'), pt('lo', 'holding', 11, 'int16')];
    const blocks = planReads(points, limits);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatchObject({ start: 10, count: 2 });
    expect(blocks[0]!.points.map((p) => [p.point.id, p.offset])).toEqual([
      ['whole', 0],
      ['hi', 0],
      ['lo', 1],
    ]);
  });

  it('keeps a point that overlaps the end of a full block inside the limit', () => {
    const lim = { ...limits, maxRegistersPerRead: 4 };
    const points = [pt('a', 'input', 0, 'float64'), pt('b', 'input', 2, 'float32'), pt('c', 'input', 3, 'float32')];
    const blocks = planReads(points, lim);
    expect(blocks.map((b) => [b.start, b.count])).toEqual([
      [0, 4],
      [3, 2],
    ]);
    checkInvariants(blocks, points, lim);
  });

  it('rejects a single point larger than the limit', () => {
    const lim = { ...limits, maxRegistersPerRead: 8 };
    expect(() => planReads([pt('s', 'holding', 0, 'string', 10)], lim)).toThrow(/"s" occupies 10 register\(s\).*8/);
    try {
      planReads([pt('s', 'holding', 0, 'string', 10)], lim);
    } catch (e) {
      expect((e as { code?: string }).code).toBe('PROFILE_INVALID');
    }
  });

  it('rejects a point running past address 65535', () => {
    expect(() => planReads([pt('x', 'input', 65535, 'uint32')], limits)).toThrow(/65535/);
  });

  it('is deterministic whatever the order of the points', () => {
    const points = [
      pt('a', 'holding', 7),
      pt('b', 'holding', 0, 'uint32'),
      pt('c', 'coil', 3),
      pt('d', 'holding', 7, 'int16'),
      pt('e', 'holding', 30),
    ];
    const ref = planReads(points, limits);
    const ids = (bs: ReadBlock[]) => bs.map((b) => [b.function, b.start, b.count, b.points.map((p) => p.point.id)]);
    // A few fixed permutations rather than random ones, so a failure is reproducible.
    for (const perm of [
      [4, 3, 2, 1, 0],
      [2, 0, 4, 1, 3],
      [1, 3, 0, 4, 2],
    ]) {
      expect(
        ids(
          planReads(
            perm.map((i) => points[i]!),
            limits,
          ),
        ),
      ).toEqual(ids(ref));
    }
    expect(planReads([], limits)).toEqual([]);
  });

  it('plans the demo profiles within their limits', () => {
    for (const model of ['im250', 'hp200', 'pk60']) {
      const prof = loadProfile(`builtin:${model}`, packageRoot());
      const blocks = planReads(prof.points, prof.limits);
      checkInvariants(blocks, prof.points, prof.limits);
    }
    const im = loadProfile('builtin:im250', packageRoot());
    // input 0–14, the serial at 20 and energy at 30 are each within maxGap 8 of the previous end;
    // the recipe at 110 is 7 past the setpoints' end (103).
    expect(planReads(im.points, im.limits).map((b) => [b.function, b.start, b.count])).toEqual([
      ['coil', 0, 1],
      ['discrete', 0, 2],
      ['input', 0, 34],
      ['holding', 100, 16],
    ]);
  });
});
