import { describe, expect, it } from 'vitest';
import { decode, encode, registerCount } from '../../src-main/modbus/codec';

const base = { id: 'p', wordOrder: 'big', byteOrder: 'big', scale: 1, offset: 0 } as const;

describe('codec', () => {
  it('decodes float32 in all four orders to the same value', () => {
    // 123.456f = 0x42F6E979 → ABCD
    const cases = [
      { wordOrder: 'big', byteOrder: 'big', regs: [0x42f6, 0xe979] },
      { wordOrder: 'little', byteOrder: 'big', regs: [0xe979, 0x42f6] },
      { wordOrder: 'big', byteOrder: 'little', regs: [0xf642, 0x79e9] },
      { wordOrder: 'little', byteOrder: 'little', regs: [0x79e9, 0xf642] },
    ] as const;
    for (const c of cases) {
      const p = { ...base, type: 'float32', wordOrder: c.wordOrder, byteOrder: c.byteOrder } as const;
      expect(decode(p, c.regs)).toBeCloseTo(123.456, 3);
      expect(encode(p, decode(p, c.regs) as number)).toEqual(c.regs);
    }
  });
  it('applies scale and offset', () => {
    const p = { ...base, type: 'int16', scale: 0.1, offset: -10 } as const;
    expect(decode(p, [0xfff6])).toBeCloseTo(-11, 6);
    expect(encode(p, -11)).toEqual([0xfff6]);
  });
  it('counts registers', () => {
    expect(registerCount({ type: 'float64' })).toBe(4);
    expect(registerCount({ type: 'string', length: 6 })).toBe(6);
  });
});
