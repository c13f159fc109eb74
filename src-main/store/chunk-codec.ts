/**
 * The compressed encoding of a history chunk: a run of (t, v) samples of one series, or the
 * one-minute rollup rows of one series. Lossless: every timestamp and every float64 bit pattern
 * (NaN, ±Infinity, −0 included) comes back as it went in. Byte by byte in docs/history.md.
 *
 * Timestamps (integer ms, non-decreasing, |t| < 2^50): the first one, then either each delta minus
 * the chunk's median delta (a poll schedule with a few ms of jitter) or each delta of deltas (the
 * Gorilla scheme), whichever is shorter, in a bucket code sized from the data (bits.ts).
 *
 * Values: Modbus registers are integers times a decimal scale, so a column is first tried as
 * decimals — integers k with v = k / 10^e or v = k × 10^−e (how `raw * 0.1` computes), their deltas
 * or deltas of deltas bucket-coded, the few values that do not fit (gaps as NaN, −0, 0.1 + 0.2)
 * patched in raw — and otherwise as Gorilla XOR floats; the shorter one is kept.
 */
import { BitReader, BitWriter, bitLength, chooseWidths, lengthHistogram, readWidths, unzigzag, writeWidths, zigzag } from './bits';

/** First byte of a chunk: what it holds. */
export const CHUNK_SAMPLES = 1;
export const CHUNK_ROLLUP = 2;

/** Timestamps outside ±2^50 ms (about ±35,000 years) are not recorded. */
export const MAX_ABS_TIME = 2 ** 50;
/** Decimal integers beyond this are patched in raw, so deltas of deltas stay safe integers. */
const MAX_ABS_DECIMAL = 2 ** 50;
const MAX_EXPONENT = 9;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
const INV10 = [1, 0.1, 0.01, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9];

const VALUES_DIV = 0;
const VALUES_MUL = 1;
const VALUES_XOR = 2;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** Index of the high and low word of a float64 in `u32` (platform byte order). */
const [HI, LO] = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? [1, 0] : [0, 1];

/** How a series of integers is best written: deltas or deltas of deltas, its bucket widths, and the bits it takes. */
interface IntegerPlan {
  dod: boolean;
  widths: Uint8Array;
  bits: number;
}

const dHist = lengthHistogram();
const ddHist = lengthHistogram();

/** Plans a series of integers (|x| < 2^51): first value, then deltas (minus `base`) or deltas of deltas, whichever is shorter. */
function planIntegers(xs: ArrayLike<number>, n: number, base: number): IntegerPlan {
  if (n === 1) return { dod: false, widths: new Uint8Array(0), bits: 53 };
  dHist.fill(0);
  ddHist.fill(0);
  let prev = xs[1]! - xs[0]!;
  dHist[bitLength(zigzag(prev - base))]!++;
  ddHist[bitLength(zigzag(prev))]!++;
  for (let i = 2; i < n; i++) {
    const d = xs[i]! - xs[i - 1]!;
    dHist[bitLength(zigzag(d - base))]!++;
    ddHist[bitLength(zigzag(d - prev))]!++;
    prev = d;
  }
  const byDelta = chooseWidths(dHist);
  const byDod = chooseWidths(ddHist);
  const dod = byDod.bits < byDelta.bits;
  return { dod, widths: dod ? byDod.widths : byDelta.widths, bits: 53 + 1 + (dod ? byDod.bits : byDelta.bits) };
}

function writeIntegers(w: BitWriter, xs: ArrayLike<number>, n: number, base: number, plan: IntegerPlan): void {
  w.uint(zigzag(xs[0]!), 53);
  if (n === 1) return;
  w.bit(plan.dod);
  writeWidths(w, plan.widths);
  if (!plan.dod) {
    for (let i = 1; i < n; i++) w.bucket(zigzag(xs[i]! - xs[i - 1]! - base), plan.widths);
    return;
  }
  let prev = 0;
  for (let i = 1; i < n; i++) {
    const d = xs[i]! - xs[i - 1]!;
    w.bucket(zigzag(d - prev), plan.widths);
    prev = d;
  }
}

function readIntegers(r: BitReader, out: Float64Array, n: number, base: number): void {
  out[0] = unzigzag(r.uint(53));
  if (n === 1) return;
  const dod = r.bit() === 1;
  const widths = readWidths(r);
  let d = 0;
  for (let i = 1; i < n; i++) {
    const x = unzigzag(r.bucket(widths));
    d = dod ? d + x : x + base;
    out[i] = out[i - 1]! + d;
  }
}

const MEDIAN_SAMPLE = 63;
const medianScratch = new Float64Array(MEDIAN_SAMPLE);

/** The median step of non-decreasing times (of up to 63 steps spread over the chunk), so a jittered schedule costs a few bits per step. */
function medianDelta(t: ArrayLike<number>, n: number): number {
  const m = Math.min(MEDIAN_SAMPLE, n - 1);
  for (let k = 0; k < m; k++) {
    const i = 1 + Math.floor((k * (n - 1)) / m);
    medianScratch[k] = t[i]! - t[i - 1]!;
  }
  const d = medianScratch.subarray(0, m).sort();
  return d[(m - 1) >> 1]!;
}

function writeTimes(w: BitWriter, t: ArrayLike<number>, n: number): void {
  const base = n > 2 ? medianDelta(t, n) : 0;
  w.uint(base, 51);
  writeIntegers(w, t, n, base, planIntegers(t, n, base));
}

function readTimes(r: BitReader, n: number): Float64Array {
  const out = new Float64Array(n);
  const base = r.uint(51);
  readIntegers(r, out, n, base);
  return out;
}

/** k for v in the decimal variant (v = k / 10^e or k × 10^−e), or NaN when v is not one (bit for bit). */
function decimalOf(v: number, variant: number, e: number): number {
  // −0 would come back as the integer 0, that is +0: it is patched in raw like NaN.
  if (!Number.isFinite(v) || Object.is(v, -0)) return NaN;
  const k = Math.round(v * POW10[e]!);
  if (!(Math.abs(k) < MAX_ABS_DECIMAL)) return NaN;
  const back = variant === VALUES_DIV ? k / POW10[e]! : k * INV10[e]!;
  return Object.is(back, v) ? k : NaN;
}

/** The smallest exponent at which v is a decimal of the variant, or −1. */
function leastExponent(v: number, variant: number): number {
  for (let e = 0; e <= MAX_EXPONENT; e++) if (!Number.isNaN(decimalOf(v, variant, e))) return e;
  return -1;
}

/** The exponent for a decimal column: for `div` the largest needed (exactness carries upwards), for `mul` the most common. */
function columnExponent(v: ArrayLike<number>, n: number, variant: number): number {
  if (variant === VALUES_DIV) {
    let e = 0;
    for (let i = 0; i < n; i++) e = Math.max(e, leastExponent(v[i]!, variant));
    return e;
  }
  const votes = new Uint32Array(MAX_EXPONENT + 1);
  for (let i = 0; i < n; i++) {
    const e = leastExponent(v[i]!, variant);
    if (e >= 0) votes[e]!++;
  }
  let best = 0;
  for (let e = 1; e <= MAX_EXPONENT; e++) if (votes[e]! > votes[best]!) best = e;
  return best;
}

/** Integers of a decimal column (a patched value repeats the previous integer) and the positions patched. */
function decimals(v: ArrayLike<number>, n: number, variant: number, e: number): { ks: Float64Array; patched: number[] } {
  const ks = new Float64Array(n);
  const patched: number[] = [];
  let last = 0;
  for (let i = 0; i < n; i++) {
    const k = decimalOf(v[i]!, variant, e);
    if (Number.isNaN(k)) patched.push(i);
    else last = k;
    ks[i] = Number.isNaN(k) ? last : k;
  }
  // Leading patched values take the first integer, so the column does not start with a jump.
  if (patched.length > 0 && patched.length < n) {
    let first = 0;
    while (patched[first] === first) first++;
    for (let i = 0; i < first; i++) ks[i] = ks[first]!;
  }
  return { ks, patched };
}

function writeRaw(w: BitWriter, v: number): void {
  f64[0] = v;
  w.bits(u32[HI]!, 32);
  w.bits(u32[LO]!, 32);
}

function readRaw(r: BitReader): number {
  u32[HI] = r.bits(32);
  u32[LO] = r.bits(32);
  return f64[0]!;
}

/** Gorilla's XOR float encoding (Pelkonen et al., VLDB 2015, §4.1.2), 64-bit words as two halves. */
function writeXor(w: BitWriter, v: ArrayLike<number>, n: number): void {
  writeRaw(w, v[0]!);
  f64[0] = v[0]!;
  let prevHi = u32[HI]!;
  let prevLo = u32[LO]!;
  let lead = -1;
  let trail = 0;
  for (let i = 1; i < n; i++) {
    f64[0] = v[i]!;
    const hi = u32[HI]!;
    const lo = u32[LO]!;
    const xh = (hi ^ prevHi) >>> 0;
    const xl = (lo ^ prevLo) >>> 0;
    prevHi = hi;
    prevLo = lo;
    if (xh === 0 && xl === 0) {
      w.bit(0);
      continue;
    }
    w.bit(1);
    const l = Math.min(31, xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl));
    const t = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
    if (lead >= 0 && l >= lead && t >= trail) {
      // The meaningful bits fit in the previous window.
      w.bit(0);
      writeWindow(w, xh, xl, lead, trail);
      continue;
    }
    lead = l;
    trail = t;
    w.bit(1);
    w.bits(lead, 5);
    // 64 meaningful bits are written as 0 in six bits.
    w.bits((64 - lead - trail) & 63, 6);
    writeWindow(w, xh, xl, lead, trail);
  }
}

function ctz32(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

/** Writes bits [trail, 64 − lead) of the 64-bit word (xh:xl), most significant first. */
function writeWindow(w: BitWriter, xh: number, xl: number, lead: number, trail: number): void {
  const top = 64 - lead;
  if (top > 32) {
    const lo = Math.max(trail, 32) - 32;
    w.bits((xh >>> lo) & maskOf(top - 32 - lo), top - 32 - lo);
  }
  if (trail < 32) {
    const hi = Math.min(top, 32);
    w.bits((xl >>> trail) & maskOf(hi - trail), hi - trail);
  }
}

function maskOf(bits: number): number {
  return bits >= 32 ? 0xffffffff : (1 << bits) - 1;
}

function readXor(r: BitReader, out: Float64Array, n: number): void {
  out[0] = readRaw(r);
  f64[0] = out[0];
  let hi = u32[HI]!;
  let lo = u32[LO]!;
  let lead = 0;
  let trail = 0;
  for (let i = 1; i < n; i++) {
    if (r.bit() === 1) {
      if (r.bit() === 1) {
        lead = r.bits(5);
        const len = r.bits(6) || 64;
        trail = 64 - lead - len;
        if (trail < 0) throw new RangeError('history chunk corrupt (XOR window)');
      }
      const [xh, xl] = readWindow(r, lead, trail);
      hi = (hi ^ xh) >>> 0;
      lo = (lo ^ xl) >>> 0;
    }
    u32[HI] = hi;
    u32[LO] = lo;
    out[i] = f64[0]!;
  }
}

function readWindow(r: BitReader, lead: number, trail: number): [number, number] {
  const top = 64 - lead;
  let xh = 0;
  let xl = 0;
  if (top > 32) {
    const lo = Math.max(trail, 32) - 32;
    xh = (r.bits(top - 32 - lo) * 2 ** lo) >>> 0;
  }
  if (trail < 32) {
    const hi = Math.min(top, 32);
    xl = (r.bits(hi - trail) * 2 ** trail) >>> 0;
  }
  return [xh, xl];
}

/** Bits the XOR encoding would take (to compare with the decimal one without writing it). */
function xorBits(v: ArrayLike<number>, n: number): number {
  f64[0] = v[0]!;
  let prevHi = u32[HI]!;
  let prevLo = u32[LO]!;
  let lead = -1;
  let trail = 0;
  let bits = 64;
  for (let i = 1; i < n; i++) {
    f64[0] = v[i]!;
    const xh = (u32[HI]! ^ prevHi) >>> 0;
    const xl = (u32[LO]! ^ prevLo) >>> 0;
    prevHi = u32[HI]!;
    prevLo = u32[LO]!;
    if (xh === 0 && xl === 0) {
      bits += 1;
      continue;
    }
    const l = Math.min(31, xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl));
    const t = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
    if (lead >= 0 && l >= lead && t >= trail) bits += 2 + 64 - lead - trail;
    else {
      lead = l;
      trail = t;
      bits += 13 + 64 - lead - trail;
    }
  }
  return bits;
}

/** Below this many bits per value a decimal column is kept without comparing it with XOR floats. */
const CLEARLY_DECIMAL_BITS = 8;

/** Writes a column of float64 values, as decimals or XOR floats, whichever is shorter. */
export function writeValues(w: BitWriter, v: ArrayLike<number>, n: number): void {
  let best: { variant: number; e: number; ks: Float64Array; patched: number[] } | null = null;
  for (const variant of [VALUES_DIV, VALUES_MUL]) {
    const e = columnExponent(v, n, variant);
    const d = decimals(v, n, variant, e);
    if (!best || d.patched.length < best.patched.length) best = { variant, e, ...d };
    if (d.patched.length === 0) break;
  }
  // A decimal column is worth it unless most values need patching; then compare sizes exactly.
  if (best && best.patched.length <= n / 2) {
    const plan = planIntegers(best.ks, n, 0);
    const bits = 2 + 4 + plan.bits + bitLength(n) + best.patched.length * (bitLength(n) + 64);
    if (bits <= CLEARLY_DECIMAL_BITS * n || bits <= xorBits(v, n)) {
      w.bits(best.variant, 2);
      writeDecimals(w, v, n, best, plan);
      return;
    }
  }
  w.bits(VALUES_XOR, 2);
  writeXor(w, v, n);
}

function writeDecimals(
  w: BitWriter,
  v: ArrayLike<number>,
  n: number,
  d: { e: number; ks: Float64Array; patched: number[] },
  plan: IntegerPlan,
): void {
  w.bits(d.e, 4);
  writeIntegers(w, d.ks, n, 0, plan);
  w.uint(d.patched.length, bitLength(n));
  let at = -1;
  for (const i of d.patched) {
    // Positions as gaps from the previous one; a zero-width bucket code would not do for one value.
    w.uint(i - at - 1, bitLength(n));
    at = i;
    writeRaw(w, v[i]!);
  }
}

/** Reads a column of n float64 values. */
export function readValues(r: BitReader, n: number): Float64Array {
  const out = new Float64Array(n);
  const kind = r.bits(2);
  if (kind === VALUES_XOR) {
    readXor(r, out, n);
    return out;
  }
  if (kind !== VALUES_DIV && kind !== VALUES_MUL) throw new RangeError('history chunk corrupt (value column kind)');
  const e = r.bits(4);
  if (e > MAX_EXPONENT) throw new RangeError('history chunk corrupt (decimal exponent)');
  readIntegers(r, out, n, 0);
  if (kind === VALUES_DIV) for (let i = 0; i < n; i++) out[i] = out[i]! / POW10[e]!;
  else for (let i = 0; i < n; i++) out[i] = out[i]! * INV10[e]!;
  const patched = r.uint(bitLength(n));
  if (patched > n) throw new RangeError('history chunk corrupt (patch count)');
  let at = -1;
  for (let p = 0; p < patched; p++) {
    at += r.uint(bitLength(n)) + 1;
    if (at >= n) throw new RangeError('history chunk corrupt (patch position)');
    out[at] = readRaw(r);
  }
  return out;
}

/** Samples of one series in time order; v NaN is a gap. */
export interface SampleRun {
  t: Float64Array;
  v: Float64Array;
}

/** Encodes n ≥ 1 samples (integer ms times, non-decreasing, |t| < 2^50). */
export function encodeSamples(t: ArrayLike<number>, v: ArrayLike<number>, n: number): Uint8Array {
  if (n < 1) throw new RangeError('a history chunk holds at least one sample');
  const w = new BitWriter(n * 2 + 32);
  w.bits(CHUNK_SAMPLES, 8);
  w.uint(n, 32);
  writeTimes(w, t, n);
  writeValues(w, v, n);
  return w.finish();
}

/** Decodes a samples chunk; throws a RangeError when it is corrupt. */
export function decodeSamples(bytes: Uint8Array): SampleRun {
  const r = new BitReader(bytes);
  if (r.bits(8) !== CHUNK_SAMPLES) throw new RangeError('not a history samples chunk');
  const n = r.uint(32);
  if (n < 1 || n > bytes.length * 8) throw new RangeError('history chunk corrupt (count)');
  const t = readTimes(r, n);
  const v = readValues(r, n);
  return { t, v };
}

export { BitReader, BitWriter, readTimes, writeTimes };
