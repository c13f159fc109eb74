/**
 * Bit streams for the history chunks (chunk-codec.ts): a growable writer and a reader, MSB first,
 * integers up to 2^53, and the "bucket" code for unsigned integers whose bucket widths are chosen
 * per column from the data (a small dynamic programme over the values' bit lengths).
 *
 * Bucket code: K = 8 buckets of widths w0 ≤ … ≤ w7 (w7 = the longest value present). A value of
 * bit length L goes to the first bucket b with w_b ≥ L and is written as the unary prefix of b
 * (b ones then a zero; the last bucket's prefix is seven ones without the zero) followed by the
 * value in w_b bits.
 */

const TWO32 = 2 ** 32;
export const BUCKETS = 8;
/** Widths are written in 6 bits, so at most 63; values are below 2^53. */
const MAX_WIDTH = 53;

/** A growable MSB-first bit writer (bits gather in a 32-bit accumulator, bytes go out when it fills). */
export class BitWriter {
  private buf: Uint8Array;
  private pos = 0;
  /** Pending bits, right-aligned: the low `pending` bits of `acc`. */
  private acc = 0;
  private pending = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  /** Writes the low `n` (0..32) bits of `value`. */
  bits(value: number, n: number): void {
    if (n === 0) return;
    if (n > 24) {
      // Split, so the accumulator never needs more than 32 bits.
      this.bits(Math.floor((value >>> 0) / 65536), n - 16);
      this.bits(value & 0xffff, 16);
      return;
    }
    this.acc = ((this.acc << n) | (value & ((1 << n) - 1))) >>> 0;
    this.pending += n;
    while (this.pending >= 8) {
      this.pending -= 8;
      this.byte((this.acc >>> this.pending) & 0xff);
    }
    this.acc &= (1 << this.pending) - 1;
  }

  bit(b: boolean | number): void {
    this.bits(b ? 1 : 0, 1);
  }

  /** Writes an unsigned integer below 2^53 in `n` (0..53) bits. */
  uint(value: number, n: number): void {
    if (n > 32) {
      this.bits(Math.floor(value / TWO32), n - 32);
      this.bits(value >>> 0, 32);
    } else {
      this.bits(value >>> 0, n);
    }
  }

  /** Writes an unsigned integer in the bucket code of `widths`. */
  bucket(value: number, widths: Uint8Array): void {
    const len = bitLength(value);
    let b = 0;
    while (widths[b]! < len) b++;
    if (b < BUCKETS - 1) this.bits(((1 << (b + 1)) - 2) >>> 0, b + 1);
    else this.bits((1 << (BUCKETS - 1)) - 1, BUCKETS - 1);
    this.uint(value, widths[b]!);
  }

  private byte(x: number): void {
    if (this.pos === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.pos++] = x;
  }

  /** Bits written so far. */
  get length(): number {
    return this.pos * 8 + this.pending;
  }

  /** The bytes written (the last one padded with zeros). */
  finish(): Uint8Array {
    if (this.pending > 0) {
      this.byte((this.acc << (8 - this.pending)) & 0xff);
      this.pending = 0;
      this.acc = 0;
    }
    return this.buf.slice(0, this.pos);
  }
}

/** An MSB-first bit reader; reading past the end throws. */
export class BitReader {
  private pos = 0;
  private readonly end: number;

  constructor(private readonly buf: Uint8Array) {
    this.end = buf.length * 8;
  }

  /** Reads `n` (0..32) bits as an unsigned integer. */
  bits(n: number): number {
    if (this.pos + n > this.end) throw new RangeError('history chunk truncated');
    let out = 0;
    let left = n;
    while (left > 0) {
      const byte = this.buf[this.pos >>> 3]!;
      const off = this.pos & 7;
      const take = Math.min(8 - off, left);
      const part = (byte >>> (8 - off - take)) & ((1 << take) - 1);
      out = out * (1 << take) + part;
      this.pos += take;
      left -= take;
    }
    return out;
  }

  bit(): number {
    if (this.pos >= this.end) throw new RangeError('history chunk truncated');
    const b = (this.buf[this.pos >>> 3]! >>> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return b;
  }

  /** Reads an unsigned integer of `n` (0..53) bits. */
  uint(n: number): number {
    if (n > 32) {
      const hi = this.bits(n - 32);
      return hi * TWO32 + this.bits(32);
    }
    return this.bits(n);
  }

  /** Reads an unsigned integer in the bucket code of `widths`. */
  bucket(widths: Uint8Array): number {
    let b = 0;
    while (b < BUCKETS - 1 && this.bit() === 1) b++;
    return this.uint(widths[b]!);
  }
}

/** Bits needed for an unsigned integer below 2^53 (0 for 0). */
export function bitLength(value: number): number {
  if (value < TWO32) return 32 - Math.clz32(value);
  return 64 - Math.clz32(Math.floor(value / TWO32));
}

/** Zigzag: small magnitudes of either sign become small unsigned integers. */
export function zigzag(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

export function unzigzag(u: number): number {
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/** Counts of values per bit length (index 0..53), to size a bucket code. */
export type LengthHistogram = Float64Array;

export function lengthHistogram(): LengthHistogram {
  return new Float64Array(MAX_WIDTH + 1);
}

/** Bucket widths minimising the bits of the values counted in `hist`, and those bits. */
export function chooseWidths(hist: LengthHistogram): { widths: Uint8Array; bits: number } {
  // Only lengths that occur can be worth a bucket's width: the programme runs over those.
  const lens: number[] = [];
  const counts: number[] = [];
  for (let l = 0; l <= MAX_WIDTH; l++) {
    if (hist[l]! > 0) {
      lens.push(l);
      counts.push(hist[l]!);
    }
  }
  const k = lens.length;
  const widths = new Uint8Array(BUCKETS);
  if (k === 0) return { widths, bits: BUCKETS * 6 };
  const cum = [0];
  for (let i = 0; i < k; i++) cum.push(cum[i]! + counts[i]!);
  const prefix = (b: number): number => (b < BUCKETS - 1 ? b + 1 : BUCKETS - 1);
  // cost[b][j]: least bits for the lengths lens[0..j] in buckets 0..b, bucket b as wide as lens[j].
  const cost = new Float64Array(BUCKETS * k).fill(Infinity);
  const from = new Int8Array(BUCKETS * k).fill(-1);
  for (let j = 0; j < k; j++) cost[j] = cum[j + 1]! * (1 + lens[j]!);
  for (let b = 1; b < BUCKETS; b++) {
    const per = prefix(b);
    for (let j = 0; j < k; j++) {
      // The previous bucket ends at lens[jp] (jp = j: this bucket is unused and costs nothing more).
      let best = cost[(b - 1) * k + j]!;
      let arg = j;
      for (let jp = 0; jp < j; jp++) {
        const c = cost[(b - 1) * k + jp]! + (cum[j + 1]! - cum[jp + 1]!) * (per + lens[j]!);
        if (c < best) {
          best = c;
          arg = jp;
        }
      }
      cost[b * k + j] = best;
      from[b * k + j] = arg;
    }
  }
  let j = k - 1;
  for (let b = BUCKETS - 1; b >= 0; b--) {
    widths[b] = lens[j]!;
    if (b > 0) j = from[b * k + j]!;
  }
  return { widths, bits: cost[(BUCKETS - 1) * k + k - 1]! + BUCKETS * 6 };
}

/** Writes bucket widths (6 bits each). */
export function writeWidths(w: BitWriter, widths: Uint8Array): void {
  for (let b = 0; b < BUCKETS; b++) w.bits(widths[b]!, 6);
}

/** Reads bucket widths; a width beyond 53 bits means a corrupt chunk. */
export function readWidths(r: BitReader): Uint8Array {
  const widths = new Uint8Array(BUCKETS);
  for (let b = 0; b < BUCKETS; b++) {
    const x = r.bits(6);
    if (x > MAX_WIDTH || (b > 0 && x < widths[b - 1]!)) throw new RangeError('history chunk corrupt (bucket widths)');
    widths[b] = x;
  }
  return widths;
}
