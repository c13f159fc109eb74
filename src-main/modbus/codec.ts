/**
 * Decoding and encoding of Modbus register contents by point type, word order and byte order.
 * Shared by the console's poller and by the device agent, so both sides agree by construction
 * (and interop tests check them against other implementations).
 *
 * wordOrder `big`: the most significant register comes first (AB CD).
 * byteOrder `big`: inside each register the high byte comes first.
 * float32 orders: big/big = ABCD, little/big = CDAB, big/little = BADC, little/little = DCBA.
 */
import { ConsoleError } from '../core/errors';
import type { ByteOrder, PointType } from '../../src-preload/contract';

/** What the codec needs of a point definition. */
export interface CodecPoint {
  id: string;
  type: PointType;
  length?: number | undefined;
  wordOrder: ByteOrder;
  byteOrder: ByteOrder;
  scale: number;
  offset: number;
}

/** Number of registers (or bits, for bool) a point occupies. */
export function registerCount(p: Pick<CodecPoint, 'type' | 'length'>): number {
  switch (p.type) {
    case 'bool':
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'float64':
      return 4;
    case 'string':
      return p.length ?? 1;
  }
}

/** Registers → bytes in big-endian reading order, undoing the point's word and byte order. */
function registersToBytes(regs: readonly number[], wordOrder: ByteOrder, byteOrder: ByteOrder): Buffer {
  const words = wordOrder === 'big' ? regs : [...regs].reverse();
  const buf = Buffer.alloc(words.length * 2);
  words.forEach((w, i) => {
    const hi = (w >> 8) & 0xff;
    const lo = w & 0xff;
    buf[i * 2] = byteOrder === 'big' ? hi : lo;
    buf[i * 2 + 1] = byteOrder === 'big' ? lo : hi;
  });
  return buf;
}

/** Big-endian bytes → registers in the point's word and byte order. */
function bytesToRegisters(buf: Buffer, wordOrder: ByteOrder, byteOrder: ByteOrder): number[] {
  const words: number[] = [];
  for (let i = 0; i < buf.length; i += 2) {
    const a = buf[i] ?? 0;
    const b = buf[i + 1] ?? 0;
    words.push(byteOrder === 'big' ? (a << 8) | b : (b << 8) | a);
  }
  return wordOrder === 'big' ? words : words.reverse();
}

/** Eight bytes the numeric decoder lays registers out in (decoding is synchronous: one is enough). */
const scratch = new DataView(new ArrayBuffer(8));

/** Registers into `scratch` in big-endian reading order, undoing the word and byte order (no allocation). */
function wordsToScratch(regs: readonly number[], wordOrder: ByteOrder, byteOrder: ByteOrder): void {
  const n = regs.length;
  for (let i = 0; i < n; i++) {
    const w = regs[wordOrder === 'big' ? i : n - 1 - i]!;
    scratch.setUint16(i * 2, byteOrder === 'big' ? w : ((w & 0xff) << 8) | (w >> 8));
  }
}

/** The unscaled value held in `regs` (bool: `regs[0]` is a bit 0/1). */
export function decodeRaw(p: CodecPoint, regs: readonly number[]): number | boolean | string {
  const need = registerCount(p);
  if (regs.length !== need) {
    throw new ConsoleError('DECODE_FAILED', `Point "${p.id}": expected ${need} register(s) for ${p.type}, got ${regs.length}`);
  }
  for (const r of regs) {
    if (!Number.isInteger(r) || r < 0 || r > 0xffff) {
      throw new ConsoleError('DECODE_FAILED', `Point "${p.id}": register value ${r} is not a 16-bit word`);
    }
  }
  if (p.type === 'bool') return regs[0] !== 0;
  if (p.type === 'string') {
    // Word order does not apply to text: characters follow register order.
    const buf = registersToBytes(regs, 'big', p.byteOrder);
    let end = buf.length;
    while (end > 0 && (buf[end - 1] === 0 || buf[end - 1] === 0x20)) end--;
    return buf.subarray(0, end).toString('latin1');
  }
  // Numbers are decoded without allocating: this runs for every point of every poll.
  wordsToScratch(regs, p.wordOrder, p.byteOrder);
  switch (p.type) {
    case 'int16':
      return scratch.getInt16(0);
    case 'uint16':
      return scratch.getUint16(0);
    case 'int32':
      return scratch.getInt32(0);
    case 'uint32':
      return scratch.getUint32(0);
    case 'float32':
      return scratch.getFloat32(0);
    case 'float64':
      return scratch.getFloat64(0);
  }
}

/** Engineering value: raw × scale + offset for numbers; booleans and text unchanged. */
export function decode(p: CodecPoint, regs: readonly number[]): number | boolean | string {
  const raw = decodeRaw(p, regs);
  if (typeof raw !== 'number') return raw;
  return raw * p.scale + p.offset;
}

const INT_RANGES: Partial<Record<PointType, [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};

/** Registers (or a single 0/1 bit for bool) holding the engineering value `value`. */
export function encode(p: CodecPoint, value: number | boolean | string): number[] {
  if (p.type === 'bool') {
    if (typeof value !== 'boolean' && value !== 0 && value !== 1) {
      throw new ConsoleError('ENCODE_FAILED', `Point "${p.id}": a bool takes true/false, not ${JSON.stringify(value)}`);
    }
    return [value === true || value === 1 ? 1 : 0];
  }
  if (p.type === 'string') {
    if (typeof value !== 'string') throw new ConsoleError('ENCODE_FAILED', `Point "${p.id}": expected text`);
    const n = registerCount(p);
    const bytes = Buffer.from(value, 'latin1');
    if (bytes.length > n * 2) {
      throw new ConsoleError('ENCODE_FAILED', `Point "${p.id}": text of ${bytes.length} bytes exceeds ${n * 2}`);
    }
    const buf = Buffer.alloc(n * 2);
    bytes.copy(buf);
    return bytesToRegisters(buf, 'big', p.byteOrder);
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ConsoleError('ENCODE_FAILED', `Point "${p.id}": expected a finite number, got ${JSON.stringify(value)}`);
  }
  const raw = (value - p.offset) / p.scale;
  const buf = Buffer.alloc(registerCount(p) * 2);
  const range = INT_RANGES[p.type];
  if (range) {
    const int = Math.round(raw);
    if (int < range[0] || int > range[1]) {
      throw new ConsoleError('ENCODE_FAILED', `Point "${p.id}": ${value} is outside what ${p.type} can hold`);
    }
    if (p.type === 'int16') buf.writeInt16BE(int, 0);
    else if (p.type === 'uint16') buf.writeUInt16BE(int, 0);
    else if (p.type === 'int32') buf.writeInt32BE(int, 0);
    else buf.writeUInt32BE(int, 0);
  } else if (p.type === 'float32') {
    buf.writeFloatBE(raw, 0);
  } else {
    buf.writeDoubleBE(raw, 0);
  }
  return bytesToRegisters(buf, p.wordOrder, p.byteOrder);
}
