/** Text encodings shared by the protocol: lowercase hex, RFC 4648 base32, domain strings. */

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Bytes of a lowercase hex string of exactly `len` bytes, or null when it is not one. */
export function fromHex(text: unknown, len?: number): Buffer | null {
  if (typeof text !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(text)) return null;
  if (len !== undefined && text.length !== len * 2) return null;
  return Buffer.from(text, 'hex');
}

/** RFC 4648 base32, lowercase, without padding (topic-safe: a–z, 2–7). */
export function toBase32(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

/** Bytes of a lowercase unpadded base32 string, or null when it is not canonical base32. */
export function fromBase32(text: string): Buffer | null {
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    const v = BASE32.indexOf(ch);
    if (v < 0) return null;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bytes.push((acc >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  }
  // Leftover bits must be zero padding and fewer than a whole character, or two strings
  // would decode to the same bytes.
  if (bits >= 5 || acc !== 0) return null;
  return Buffer.from(bytes);
}

/** ASCII bytes of a domain-separation string, NUL-terminated. */
export function domain(label: string): Buffer {
  return Buffer.from(`${label}\0`, 'latin1');
}

/** True for an integer that JSON numbers and u64 fields both carry exactly (0 … 2^53−1). */
export function isSafeTime(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export const U64_MAX = (1n << 64n) - 1n;
