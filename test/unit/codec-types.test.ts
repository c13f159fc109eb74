/** Every point type in every word/byte order, scaling, text, and the codec's error cases. */
import { describe, expect, it } from 'vitest';
import type { ByteOrder, PointType } from '../../src-preload/contract';
import { decode, decodeRaw, encode, registerCount, type CodecPoint } from '../../src-main/modbus/codec';

type Order = { wordOrder: ByteOrder; byteOrder: ByteOrder };
const ABCD: Order = { wordOrder: 'big', byteOrder: 'big' };
const CDAB: Order = { wordOrder: 'little', byteOrder: 'big' };
const BADC: Order = { wordOrder: 'big', byteOrder: 'little' };
const DCBA: Order = { wordOrder: 'little', byteOrder: 'little' };
const ORDERS = { ABCD, CDAB, BADC, DCBA } as const;

function point(type: PointType, order: Order = ABCD, extra: Partial<CodecPoint> = {}): CodecPoint {
  return { id: 'p', type, scale: 1, offset: 0, ...order, ...extra };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/**
 * Literal register vectors per order, written out by hand from the value's big-endian bytes
 * (not computed with the codec's own helpers).
 */
const VECTORS: { type: PointType; value: number; regs: Record<keyof typeof ORDERS, number[]> }[] = [
  { type: 'uint16', value: 0x1234, regs: { ABCD: [0x1234], CDAB: [0x1234], BADC: [0x3412], DCBA: [0x3412] } },
  { type: 'int16', value: -2, regs: { ABCD: [0xfffe], CDAB: [0xfffe], BADC: [0xfeff], DCBA: [0xfeff] } },
  { type: 'int16', value: -32768, regs: { ABCD: [0x8000], CDAB: [0x8000], BADC: [0x0080], DCBA: [0x0080] } },
  {
    type: 'uint32',
    value: 0x12345678,
    regs: { ABCD: [0x1234, 0x5678], CDAB: [0x5678, 0x1234], BADC: [0x3412, 0x7856], DCBA: [0x7856, 0x3412] },
  },
  {
    type: 'uint32',
    value: 0xffffffff,
    regs: { ABCD: [0xffff, 0xffff], CDAB: [0xffff, 0xffff], BADC: [0xffff, 0xffff], DCBA: [0xffff, 0xffff] },
  },
  {
    type: 'int32',
    value: -2,
    regs: { ABCD: [0xffff, 0xfffe], CDAB: [0xfffe, 0xffff], BADC: [0xffff, 0xfeff], DCBA: [0xfeff, 0xffff] },
  },
  {
    type: 'int32',
    value: -123456789, // 0xF8A432EB
    regs: { ABCD: [0xf8a4, 0x32eb], CDAB: [0x32eb, 0xf8a4], BADC: [0xa4f8, 0xeb32], DCBA: [0xeb32, 0xa4f8] },
  },
  {
    type: 'float32',
    value: 1.5, // 0x3FC00000
    regs: { ABCD: [0x3fc0, 0x0000], CDAB: [0x0000, 0x3fc0], BADC: [0xc03f, 0x0000], DCBA: [0x0000, 0xc03f] },
  },
  {
    type: 'float32',
    value: -0.15625, // 0xBE200000
    regs: { ABCD: [0xbe20, 0x0000], CDAB: [0x0000, 0xbe20], BADC: [0x20be, 0x0000], DCBA: [0x0000, 0x20be] },
  },
  {
    type: 'float64',
    value: 1, // 0x3FF0000000000000
    regs: { ABCD: [0x3ff0, 0, 0, 0], CDAB: [0, 0, 0, 0x3ff0], BADC: [0xf03f, 0, 0, 0], DCBA: [0, 0, 0, 0xf03f] },
  },
  {
    type: 'float64',
    value: -2.5, // 0xC004000000000000
    regs: { ABCD: [0xc004, 0, 0, 0], CDAB: [0, 0, 0, 0xc004], BADC: [0x04c0, 0, 0, 0], DCBA: [0, 0, 0, 0x04c0] },
  },
  {
    type: 'float64',
    value: Math.PI, // 0x400921FB54442D18
    regs: {
      ABCD: [0x4009, 0x21fb, 0x5444, 0x2d18],
      CDAB: [0x2d18, 0x5444, 0x21fb, 0x4009],
      BADC: [0x0940, 0xfb21, 0x4454, 0x182d],
      DCBA: [0x182d, 0x4454, 0xfb21, 0x0940],
    },
  },
];

describe('codec: numeric types in all four orders', () => {
  for (const v of VECTORS) {
    for (const [name, order] of Object.entries(ORDERS) as [keyof typeof ORDERS, Order][]) {
      it(`${v.type} ${v.value} as ${name}`, () => {
        const p = point(v.type, order);
        const regs = v.regs[name];
        expect(regs).toHaveLength(registerCount(p));
        expect(decode(p, regs)).toBe(v.value);
        expect(encode(p, v.value)).toEqual(regs);
      });
    }
  }

  it('round-trips extremes of every integer type in every order', () => {
    const extremes: [PointType, number[]][] = [
      ['int16', [-32768, -1, 0, 1, 32767]],
      ['uint16', [0, 1, 0x7fff, 0x8000, 0xffff]],
      ['int32', [-0x80000000, -1, 0, 0x7fffffff]],
      ['uint32', [0, 0x7fffffff, 0x80000000, 0xffffffff]],
    ];
    for (const [type, values] of extremes) {
      for (const order of Object.values(ORDERS)) {
        for (const value of values) expect(decode(point(type, order), encode(point(type, order), value))).toBe(value);
      }
    }
  });

  it('float32 keeps single precision; float64 keeps double precision', () => {
    for (const order of Object.values(ORDERS)) {
      expect(decode(point('float32', order), encode(point('float32', order), 0.1))).toBe(Math.fround(0.1));
      expect(decode(point('float64', order), encode(point('float64', order), 0.1))).toBe(0.1);
    }
  });

  it('decodes bool from a bit', () => {
    expect(decode(point('bool'), [0])).toBe(false);
    expect(decode(point('bool'), [1])).toBe(true);
    expect(encode(point('bool'), true)).toEqual([1]);
    expect(encode(point('bool'), 0)).toEqual([0]);
  });
});

describe('codec: scale and offset', () => {
  it('applies raw × scale + offset on decode and its inverse on encode, for every numeric type', () => {
    const cases: [PointType, number, number, number[], number][] = [
      // type, scale, offset, registers (ABCD), engineering value
      ['uint16', 0.1, 0, [2155], 215.5],
      ['int16', 0.1, -10, [0xfff6], -11],
      ['uint32', 0.01, 0, [0x0001, 0x0000], 655.36],
      ['int32', 0.01, 100, [0xffff, 0xff9c], 99],
      ['float32', 2, 1, [0x3fc0, 0x0000], 4],
      ['float64', 0.5, -1, [0x4000, 0, 0, 0], 0],
    ];
    for (const [type, scale, offset, regs, value] of cases) {
      const p = point(type, ABCD, { scale, offset });
      expect(decode(p, regs)).toBeCloseTo(value, 9);
      expect(decodeRaw(p, regs)).toBeCloseTo((value - offset) / scale, 6);
      expect(encode(p, value)).toEqual(regs);
    }
  });

  it('rounds integers to the nearest step on encode', () => {
    const p = point('uint16', ABCD, { scale: 0.1 });
    expect(encode(p, 215.54)).toEqual([2155]);
    expect(encode(p, 215.56)).toEqual([2156]);
  });

  it('works with word and byte order together with scaling', () => {
    const p = point('int32', DCBA, { scale: 0.01 });
    expect(decode(p, [0xeb32, 0xa4f8])).toBeCloseTo(-1234567.89, 6);
    expect(encode(p, -1234567.89)).toEqual([0xeb32, 0xa4f8]);
  });

  it('does not scale bools or text', () => {
    expect(decode(point('bool', ABCD, { scale: 10, offset: 3 }), [1])).toBe(true);
    expect(decode(point('string', ABCD, { length: 1, scale: 10, offset: 3 }), [0x4142])).toBe('AB');
  });
});

describe('codec: strings', () => {
  const str = (byteOrder: ByteOrder, length: number, wordOrder: ByteOrder = 'big') => point('string', { wordOrder, byteOrder }, { length });

  it('reads high byte first with byteOrder big, low byte first with little', () => {
    expect(decode(str('big', 2), [0x4142, 0x4344])).toBe('ABCD');
    expect(decode(str('little', 2), [0x4241, 0x4443])).toBe('ABCD');
    expect(encode(str('big', 2), 'ABCD')).toEqual([0x4142, 0x4344]);
    expect(encode(str('little', 2), 'ABCD')).toEqual([0x4241, 0x4443]);
  });

  it('ignores word order: characters follow register order', () => {
    expect(decode(str('big', 2, 'little'), [0x4142, 0x4344])).toBe('ABCD');
    expect(encode(str('little', 2, 'little'), 'ABCD')).toEqual([0x4241, 0x4443]);
  });

  it('pads with NUL on encode and trims trailing NUL and spaces on decode', () => {
    expect(encode(str('big', 3), 'ABC')).toEqual([0x4142, 0x4300, 0x0000]);
    expect(encode(str('little', 3), 'ABC')).toEqual([0x4241, 0x0043, 0x0000]);
    expect(decode(str('big', 3), [0x4142, 0x4300, 0x0000])).toBe('ABC');
    expect(decode(str('little', 3), [0x4241, 0x0043, 0x0000])).toBe('ABC');
    expect(decode(str('big', 3), [0x4142, 0x2020, 0x2000])).toBe('AB');
    expect(decode(str('big', 2), [0x0000, 0x0000])).toBe('');
    expect(encode(str('big', 2), '')).toEqual([0, 0]);
  });

  it('keeps leading and inner spaces', () => {
    expect(decode(str('big', 2), [0x2041, 0x2042])).toBe(' A B');
  });

  it('round-trips Latin-1 text of every length up to the field size', () => {
    const text = 'Zé-42 Ä';
    for (const bo of ['big', 'little'] as const) {
      for (let n = 0; n <= text.length; n++) {
        const p = str(bo, 4);
        expect(decode(p, encode(p, text.slice(0, n)))).toBe(text.slice(0, n).trimEnd());
      }
    }
  });
});

describe('codec: errors', () => {
  it('rejects values outside what an integer type can hold', () => {
    const out: [PointType, number][] = [
      ['int16', 32768],
      ['int16', -32769],
      ['uint16', -1],
      ['uint16', 65536],
      ['uint16', 65535.5],
      ['int32', 2 ** 31],
      ['int32', -(2 ** 31) - 1],
      ['uint32', -1],
      ['uint32', 2 ** 32],
    ];
    for (const [type, value] of out) {
      expect(
        codeOf(() => encode(point(type), value)),
        `${type} ${value}`,
      ).toBe('ENCODE_FAILED');
    }
    expect(codeOf(() => encode(point('uint16', ABCD, { scale: 0.1 }), 6553.6))).toBe('ENCODE_FAILED');
    expect(codeOf(() => encode(point('uint16', ABCD, { scale: 0.1 }), 6553.5))).toBeUndefined();
    expect(codeOf(() => encode(point('int16', ABCD, { offset: 100 }), 99 - 32768))).toBe('ENCODE_FAILED');
  });

  it('rejects non-finite numbers and wrong value kinds', () => {
    for (const type of ['int16', 'uint32', 'float32', 'float64'] as const) {
      expect(codeOf(() => encode(point(type), Number.NaN))).toBe('ENCODE_FAILED');
      expect(codeOf(() => encode(point(type), Number.POSITIVE_INFINITY))).toBe('ENCODE_FAILED');
      expect(codeOf(() => encode(point(type), 'x'))).toBe('ENCODE_FAILED');
      expect(codeOf(() => encode(point(type), true))).toBe('ENCODE_FAILED');
    }
    expect(codeOf(() => encode(point('bool'), 2))).toBe('ENCODE_FAILED');
    expect(codeOf(() => encode(point('bool'), 'true'))).toBe('ENCODE_FAILED');
    expect(codeOf(() => encode(point('string', ABCD, { length: 2 }), 42))).toBe('ENCODE_FAILED');
  });

  it('rejects text longer than the field', () => {
    const p = point('string', ABCD, { length: 2 });
    expect(codeOf(() => encode(p, 'ABCD'))).toBeUndefined();
    expect(codeOf(() => encode(p, 'ABCDE'))).toBe('ENCODE_FAILED');
  });

  it('rejects the wrong number of registers, naming the point and the counts', () => {
    const wrong: [CodecPoint, number[]][] = [
      [point('bool'), []],
      [point('bool'), [1, 0]],
      [point('int16'), [1, 2]],
      [point('uint32'), [1]],
      [point('float32'), [1, 2, 3]],
      [point('float64'), [1, 2]],
      [point('string', ABCD, { length: 4 }), [0x4142, 0x4344, 0x4546]],
    ];
    for (const [p, regs] of wrong) {
      expect(
        codeOf(() => decode(p, regs)),
        `${p.type} with ${regs.length}`,
      ).toBe('DECODE_FAILED');
    }
    expect(() => decode(point('float32'), [1])).toThrow(/"p".*expected 2 register\(s\) for float32, got 1/);
  });

  it('rejects register values that are not 16-bit words', () => {
    for (const bad of [-1, 0x10000, 1.5, Number.NaN]) {
      expect(
        codeOf(() => decode(point('uint16'), [bad])),
        String(bad),
      ).toBe('DECODE_FAILED');
    }
  });
});
