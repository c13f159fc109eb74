/** The history chunk encoding: lossless round trips on edge values, and the sizes it reaches on plant-like signals. */
import { describe, expect, it } from 'vitest';
import { BitReader, BitWriter, chooseWidths, lengthHistogram } from '../../src-main/store/bits';
import { decodeSamples, encodeSamples, MAX_ABS_TIME } from '../../src-main/store/chunk-codec';

const T0 = Date.UTC(2026, 10, 2, 6);

/** Bit patterns, so NaN, −0 and every payload compare exactly. */
function bitsOf(v: ArrayLike<number>): string[] {
  const f = new Float64Array(1);
  const u = new BigUint64Array(f.buffer);
  return Array.from(v, (x) => {
    f[0] = x;
    return u[0]!.toString(16);
  });
}

function roundTrip(t: number[], v: number[]): Uint8Array {
  const bytes = encodeSamples(t, v, t.length);
  const back = decodeSamples(bytes);
  expect(Array.from(back.t)).toEqual(t);
  expect(bitsOf(back.v)).toEqual(bitsOf(v));
  return bytes;
}

/** A small deterministic generator. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe('history chunk codec', () => {
  it('round-trips edge values bit for bit', () => {
    const edge = [
      0,
      -0,
      NaN,
      Infinity,
      -Infinity,
      1,
      -1,
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      Number.MIN_VALUE,
      2 ** 53,
      -(2 ** 53),
      2 ** 53 + 2,
      0.1 + 0.2,
      21.700000000000003,
      21.7,
      1e300,
      -1e-300,
      Math.fround(1700.123),
      123456789.125,
      NaN,
      0,
    ];
    const t = edge.map((_, i) => T0 + i * 1000);
    roundTrip(t, edge);
    // The same values in XOR mode (a column of arbitrary floats) and reversed.
    roundTrip(
      t,
      edge.map((x, i) => (i % 2 ? x : Math.PI * i)),
    );
    roundTrip(t, [...edge].reverse());
    // −0 in a column of decimals (where it would become the integer 0), and alone.
    roundTrip(
      t.concat(t.map((x) => x + 60_000)),
      Array.from({ length: 2 * t.length }, (_, i) => (i === 7 || i === 0 ? -0 : i % 10)),
    );
    roundTrip([T0], [-0]);
    // A NaN with another payload survives too.
    const f = new Float64Array(1);
    new BigUint64Array(f.buffer)[0] = 0x7ff8dead0000beefn;
    roundTrip([T0, T0 + 1], [f[0]!, 1]);
  });

  it('round-trips equal timestamps, huge jumps in time and value, counter rollover, one and two samples', () => {
    roundTrip([T0], [42]);
    roundTrip([T0], [NaN]);
    roundTrip([T0, T0], [1, 2]);
    roundTrip([T0, T0, T0, T0 + 1, T0 + 1, T0 + 86_400_000 * 365, T0 + 86_400_000 * 365], [1, 2, 3, 4, 5, 6, 7]);
    roundTrip([-(MAX_ABS_TIME - 1), 0, MAX_ABS_TIME - 1], [0, 1e308, -1e308]);
    roundTrip([0, 1, 2, 3], [2 ** 49, -(2 ** 49), 2 ** 50, -(2 ** 50)]);
    // A 16-bit and a 32-bit counter rolling over.
    const t = Array.from({ length: 40 }, (_, i) => T0 + i * 1000);
    roundTrip(
      t,
      t.map((_, i) => (65_520 + i) % 65_536),
    );
    roundTrip(
      t,
      t.map((_, i) => (4_294_967_280 + i * 3) % 4_294_967_296),
    );
    // Scaled registers: raw × 0.1 (not the nearest double to the decimal) and raw / 10.
    roundTrip(
      t,
      t.map((_, i) => (2000 + i) * 0.1),
    );
    roundTrip(
      t,
      t.map((_, i) => (2000 + i) / 10),
    );
    roundTrip(
      t,
      t.map((_, i) => i * 7 * 0.01 - 40),
    );
  });

  it('round-trips random data of every kind', () => {
    const r = rng(7);
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(r() * 300);
      const t: number[] = [];
      const v: number[] = [];
      let now = T0 + Math.floor(r() * 1e9);
      const kind = round % 5;
      for (let i = 0; i < n; i++) {
        now += r() < 0.05 ? Math.floor(r() * 1e7) : Math.floor(r() * 3) + 997;
        t.push(now);
        if (kind === 0) v.push(Math.floor(r() * 65_536));
        else if (kind === 1) v.push(r() * 1e6 - 5e5);
        else if (kind === 2) v.push(Math.fround(r() * 1000));
        else if (kind === 3) v.push(r() < 0.1 ? NaN : Math.round(r() * 10_000) / 100);
        else v.push([0, -0, Infinity, -Infinity, NaN, 1, 0.5][Math.floor(r() * 7)]!);
      }
      roundTrip(t, v);
    }
  });

  it('refuses a truncated or foreign chunk with an error, not garbage', () => {
    const t = Array.from({ length: 100 }, (_, i) => T0 + i * 1000);
    const bytes = encodeSamples(
      t,
      t.map((_, i) => i * 1.5),
      100,
    );
    expect(() => decodeSamples(bytes.subarray(0, bytes.length - 6))).toThrow(RangeError);
    expect(() => decodeSamples(Uint8Array.of(9, 0, 0))).toThrow(/not a history samples chunk/);
    expect(() => decodeSamples(new Uint8Array(0))).toThrow(RangeError);
  });

  it('compresses plant-like signals to about a byte per sample', () => {
    const r = rng(11);
    const n = 600;
    // A 1 Hz poll with a few ms of jitter, a noisy uint16 level (±3 counts), and a counter.
    const t = Array.from({ length: n }, (_, i) => T0 + i * 1000 + Math.floor(r() * 6));
    const level = t.map((_, i) => 2000 + Math.round(200 * Math.sin(i / 50)) + Math.floor(r() * 7) - 3);
    const counter = t.map((_, i) => (65_500 + i) % 65_536);
    const temp = t.map((_, i) => Math.round(2150 + 30 * Math.sin(i / 100) + r() * 2) * 0.1);
    expect(roundTrip(t, level).length / n).toBeLessThan(1.6);
    expect(roundTrip(t, counter).length / n).toBeLessThan(0.9);
    expect(roundTrip(t, temp).length / n).toBeLessThan(1.3);
    // A flat signal on a steady schedule: two bits per sample.
    const flat = Array.from({ length: n }, (_, i) => T0 + i * 1000);
    expect(
      roundTrip(
        flat,
        flat.map(() => 21.5),
      ).length / n,
    ).toBeLessThan(0.32);
  });

  it('chooses bucket widths that fit every value and writes them back', () => {
    const h = lengthHistogram();
    const values = [0, 0, 0, 1, 3, 7, 200, 2 ** 40, 2 ** 52 + 1];
    for (const x of values) h[x === 0 ? 0 : Math.floor(Math.log2(x)) + 1]!++;
    const { widths, bits } = chooseWidths(h);
    const w = new BitWriter();
    for (const x of values) w.bucket(x, widths);
    expect(w.length).toBe(bits - 8 * 6);
    const r = new BitReader(w.finish());
    expect(values.map(() => r.bucket(widths))).toEqual(values);
  });
});
