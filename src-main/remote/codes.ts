/**
 * One-time join codes of remote support grants: 8 random digits, read out by phone. Only a
 * keyed BLAKE2b hash is kept (the key lives in the encrypted store, or in memory for the life
 * of the process without one), so the code itself exists only on the screen of the person who
 * granted the session.
 */
import { randomInt, timingSafeEqual } from 'node:crypto';
import { domain } from '../protocol/encoding';
import { blake2b, randomBytes } from '../protocol/sodium';

export const JOIN_CODE_DIGITS = 8;
const LABEL = 'plant-console/remote-join-code/v1';

/** Hashes and checks join codes with a key: the store's (codes outlive a restart), or one of this process. */
export class JoinCodes {
  private readonly key: Buffer;

  constructor(key?: Buffer) {
    if (key !== undefined && key.length !== 32) throw new RangeError('A join code key has 32 bytes');
    this.key = key ?? randomBytes(32);
  }

  /** A fresh code, uniformly random over the 10^8 codes. */
  create(): string {
    let code = '';
    for (let i = 0; i < JOIN_CODE_DIGITS; i++) code += String(randomInt(10));
    return code;
  }

  /** The stored form of a code (spaces and dashes people type are ignored). */
  hash(code: string): Buffer {
    const digits = normalizeJoinCode(code);
    return blake2b(Buffer.concat([domain(LABEL), Buffer.from(digits, 'utf8')]), 32, this.key);
  }

  /** True when `code` is the one `hash` was made from. */
  matches(hash: Buffer, code: string): boolean {
    return timingSafeEqual(hash, this.hash(code));
  }
}

/** "1234 5678", "1234-5678" → "12345678". */
export function normalizeJoinCode(code: string): string {
  return code.replace(/[\s-]/g, '');
}
