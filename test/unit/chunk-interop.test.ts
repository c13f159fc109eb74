/**
 * An independent reader of history chunks (Python, written from docs/history.md alone) decodes
 * the test vectors of docs/history.md and chunks our encoder makes of every kind of column, bit
 * for bit; the vectors are also pinned here, so the document and the encoder cannot drift apart.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSamples } from '../../src-main/store/chunk-codec';
import { encodeRollup, type RollupColumns } from '../../src-main/store/history-rollup';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, '../fixtures/history_chunk.py');

/** The vectors of docs/history.md §6: inputs and the chunk bytes. */
const VECTORS: { name: string; t: number[]; v: number[]; hex: string }[] = [
  {
    name: 'A: a jittered register scaled by 0.1',
    t: [1_000, 1_050, 1_100, 1_150],
    v: [20.5, 20.5, 20.6, 20.4],
    hex: '0100000004000000000006400000000007d000000000000000400000000003340820820820820980',
  },
  {
    name: 'B: a gap (NaN) patched into a decimal column',
    t: Array.from({ length: 24 }, (_, i) => i * 1000),
    v: Array.from({ length: 24 }, (_, i) => (i === 5 ? NaN : (2150 + (i % 4)) / 100)),
    hex: '010000001800000000007d000000000000000000000000000000000800000000021980830c30c30c34954515525549552554904afff0000000000000',
  },
  { name: 'C: one sample, −0', t: [5], v: [-0], hex: '01000000010000000000000000000000000aa00000000000000000' },
  {
    name: 'D: XOR floats',
    t: [0, 1, 2, 3],
    v: [Math.PI, Math.E, Math.PI, Math.SQRT2],
    hex: '01000000040000000000002000000000000000000000000009002487ed5110b46366993de3bea0f4e364f78efa83d38e1fffffc0b2991d8b6a80',
  },
];
const ROLLUP: RollupColumns = {
  t: [0, 60_000],
  n: [3, 0],
  gaps: [0, 2],
  min: [1, NaN],
  max: [3, NaN],
  sum: [6, NaN],
  minFirst: [1, 0],
  means: false,
};
const ROLLUP_HEX =
  '0200000002000000000000000000000000001145145145145d4c090020000000000003099003000000000000000061071ff8000000000000622bff8ffc00000000000030990032004000000000000622bff90060000000000003113ff0';

function bitsOf(v: ArrayLike<number>): string[] {
  const f = new Float64Array(1);
  const u = new BigUint64Array(f.buffer);
  return Array.from(v, (x) => {
    f[0] = x;
    return u[0]!.toString(16).padStart(16, '0');
  });
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function python(chunks: string[]): Record<string, unknown>[] {
  const r = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(chunks), encoding: 'utf8', timeout: 20_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`history_chunk.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
}

describe('history chunks', () => {
  it('encodes the vectors of docs/history.md', () => {
    for (const x of VECTORS) expect(hex(encodeSamples(x.t, x.v, x.t.length)), x.name).toBe(x.hex);
    expect(hex(encodeRollup(ROLLUP))).toBe(ROLLUP_HEX);
  });

  it.skipIf(!existsSync(PYTHON))('are read bit for bit by a reader written from the document', () => {
    // Columns of every kind: registers, scaled registers, gaps, arbitrary floats, specials, jumps.
    const cols: { t: number[]; v: number[] }[] = VECTORS.map(({ t, v }) => ({ t, v }));
    const n = 300;
    const t = Array.from({ length: n }, (_, i) => 1_780_000_000_000 + i * 50 + (i % 7 === 0 ? 3 : 0) + (i > 200 ? 86_400_000 : 0));
    const f = Math.fround;
    for (const v of [
      t.map((_, i) => (i * 7919) % 65_536),
      t.map((_, i) => (2000 + ((i * 37) % 500)) * 0.1),
      t.map((_, i) => (i % 50 === 3 ? NaN : (i * 13) / 100)),
      t.map((_, i) => Math.sin(i / 10) * 1e3),
      t.map((_, i) => f(i / 3)),
      t.map((_, i) => [0, -0, Infinity, -Infinity, NaN, 1e308, 5e-324][i % 7]!),
    ])
      cols.push({ t, v });
    const chunks = cols.map(({ t, v }) => hex(encodeSamples(t, v, t.length)));
    const out = python([...chunks, ROLLUP_HEX, chunks[0]!.slice(0, 20)]);
    cols.forEach(({ t, v }, i) => {
      expect(out[i]).toEqual({ kind: 'samples', t, v: bitsOf(v) });
    });
    expect(out[cols.length]).toEqual({
      kind: 'rollup',
      means: false,
      t: ROLLUP.t,
      columns: [ROLLUP.n, ROLLUP.gaps, ROLLUP.minFirst, ROLLUP.min, ROLLUP.max, ROLLUP.sum].map(bitsOf),
    });
    expect(out[cols.length + 1]).toEqual({ error: 'truncated' });
  });
});
