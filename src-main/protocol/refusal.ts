/**
 * What a receiver answers when it refuses a message, and the lookups it needs (keys by id,
 * the plant's sequence). Receivers return these as values: bad input never throws.
 */
import { ConsoleError } from '../core/errors';

/** Every reason a received batch or key announcement can be refused for, in check order. */
export const REFUSAL_REASONS = [
  'malformed',
  'unsupported_version',
  'unknown_key_id',
  'bad_signature',
  'header_tampered',
  'ciphertext_tampered',
  'wrong_plant',
  'duplicate_sequence',
  'replay',
  'sequence_jump',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The words a person reads (logs, the receiver's one line per refused message). */
export const REFUSAL_TEXT: Record<RefusalReason, string> = {
  malformed: 'malformed',
  unsupported_version: 'unsupported version',
  unknown_key_id: 'unknown key id',
  bad_signature: 'bad signature',
  header_tampered: 'header tampered',
  ciphertext_tampered: 'ciphertext tampered',
  wrong_plant: 'wrong plant',
  duplicate_sequence: 'duplicate sequence',
  replay: 'replay of an old sequence',
  sequence_jump: 'sequence far beyond what the plant sent so far',
};

/** A refusal: the reason, a detail for logs (never secrets nor sealed values). */
export interface Refusal {
  ok: false;
  reason: RefusalReason;
  detail: string;
}

/** A refusal turned into the console's error type (code UPLINK_REFUSED), for callers that throw. */
export function refusalError(r: Refusal): ConsoleError {
  return new ConsoleError('UPLINK_REFUSED', `Refused: ${REFUSAL_TEXT[r.reason]} (${r.detail}).`);
}

/** Keys by key id: a Map or a function (a database lookup, a keyring adapter). */
export type KeyLookup<T> = ReadonlyMap<string, T> | ((kid: string) => T | undefined);

/** A key that is accepted until `notAfter` (ms, the receiver's clock; null or absent: no end). */
export interface Expiring {
  notAfter?: number | null;
}

/** A plant's Ed25519 public key as the cloud registered it. */
export interface PlantKeyRecord extends Expiring {
  publicKey: Uint8Array;
  /** The plant pseudonym this key signs for. */
  plant: string;
  /** The plant's real identifier, when the registry knows it: sealed payloads must name it. */
  plantId?: string;
}

/** One of the cloud's X25519 key pairs (the cloud's own secret keyring). */
export interface CloudKeyRecord extends Expiring {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export type SequenceVerdict = 'new' | 'duplicate' | 'replay';

/**
 * How a receiver judges a sequence number. With only `lastSequence` (the highest accepted for
 * the plant): above → new, equal → duplicate, below → replay. Receivers that remember every
 * accepted sequence (shared subscriptions deliver out of order, so a lower number may be a
 * late batch filling a gap) pass `classifySequence`, which then decides alone.
 */
export interface SequenceCheck {
  lastSequence: (plant: string) => bigint | null;
  classifySequence?: (plant: string, seq: bigint) => SequenceVerdict;
}

/** The verdict for one sequence number of one plant. */
export function judgeSequence(check: SequenceCheck, plant: string, seq: bigint): SequenceVerdict {
  if (check.classifySequence) return check.classifySequence(plant, seq);
  const last = check.lastSequence(plant);
  if (last === null || seq > last) return 'new';
  return seq === last ? 'duplicate' : 'replay';
}

/** The refusal for a sequence verdict, or null when the sequence is new. */
export function sequenceRefusal(verdict: SequenceVerdict, plant: string, seq: bigint): Refusal | null {
  if (verdict === 'new') return null;
  if (verdict === 'duplicate')
    return { ok: false, reason: 'duplicate_sequence', detail: `plant ${plant} sequence ${seq} was already accepted` };
  return { ok: false, reason: 'replay', detail: `plant ${plant} sequence ${seq} is older than what was accepted` };
}

/** Finds a key by id and checks it is still accepted at `now`. */
export function findKey<T extends Expiring>(
  lookup: KeyLookup<T>,
  kid: string,
  now: number,
): { ok: true; key: T } | { ok: false; detail: string } {
  const key = typeof lookup === 'function' ? lookup(kid) : lookup.get(kid);
  if (!key) return { ok: false, detail: `key id ${kid} is not known` };
  if (key.notAfter !== undefined && key.notAfter !== null && now > key.notAfter) {
    return { ok: false, detail: `key id ${kid} was retired at ${new Date(key.notAfter).toISOString()}` };
  }
  return { ok: true, key };
}
