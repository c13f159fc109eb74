/**
 * Pseudonyms: what topics and headers carry instead of plant and machine identifiers.
 *
 * pseudonym bytes = the first 10 bytes of BLAKE2b-256, keyed with the plant's 32-byte
 *                   pseudonym key, of "plant-console/pseudonym/v1/<kind>\0" ‖ UTF-8(identifier)
 *                   kind: plant | machine
 * token           = RFC 4648 base32 of those 10 bytes, lowercase, unpadded: 16 characters a–z 2–7
 *
 * The key is secret and per plant: without it nobody can test a guessed serial number against a
 * topic, and two plants' pseudonyms of the same machine model never correlate. 80 bits keep
 * collisions out of reach for any realistic number of plants and machines.
 */
import { ConsoleError } from '../core/errors';
import { domain, fromBase32, toBase32 } from './encoding';
import { blake2b } from './sodium';

export type PseudonymKind = 'plant' | 'machine';

export const PSEUDONYM_BYTES = 10;
export const PSEUDONYM_KEY_BYTES = 32;
const TOKEN = /^[a-z2-7]{16}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `id` can be pseudonymised: 1–256 characters, well-formed Unicode (UTF-8 is then unique). */
export function isIdentifier(id: unknown): id is string {
  return typeof id === 'string' && id.length >= 1 && id.length <= 256 && !LONE_SURROGATE.test(id);
}

/** The 10 pseudonym bytes of an identifier. */
export function pseudonymBytes(key: Uint8Array, kind: PseudonymKind, id: string): Buffer {
  if (key.byteLength !== PSEUDONYM_KEY_BYTES) {
    throw new ConsoleError('PROTOCOL_INVALID', `A pseudonym key has ${PSEUDONYM_KEY_BYTES} bytes, not ${key.byteLength}.`);
  }
  if (!isIdentifier(id)) throw new ConsoleError('PROTOCOL_INVALID', `A ${kind} identifier must be 1–256 characters of well-formed text.`);
  const input = Buffer.concat([domain(`plant-console/pseudonym/v1/${kind}`), Buffer.from(id, 'utf8')]);
  return blake2b(input, 32, key).subarray(0, PSEUDONYM_BYTES);
}

/** The pseudonym token of a plant identifier (used in topics and JSON). */
export function plantPseudonym(key: Uint8Array, plantId: string): string {
  return toBase32(pseudonymBytes(key, 'plant', plantId));
}

/** The pseudonym token of a machine identifier (used in topics and JSON). */
export function machinePseudonym(key: Uint8Array, machineId: string): string {
  return toBase32(pseudonymBytes(key, 'machine', machineId));
}

/** True for a pseudonym token (16 base32 characters). */
export function isPseudonym(token: unknown): token is string {
  return typeof token === 'string' && TOKEN.test(token) && fromBase32(token) !== null;
}

/** The 10 bytes of a token, or null when it is not one. */
export function pseudonymFromToken(token: string): Buffer | null {
  if (!TOKEN.test(token)) return null;
  const b = fromBase32(token);
  return b && b.length === PSEUDONYM_BYTES ? b : null;
}

/** The token of 10 pseudonym bytes. */
export function pseudonymToken(bytes: Uint8Array): string {
  if (bytes.byteLength !== PSEUDONYM_BYTES) throw new ConsoleError('PROTOCOL_INVALID', `A pseudonym has ${PSEUDONYM_BYTES} bytes.`);
  return toBase32(bytes);
}
