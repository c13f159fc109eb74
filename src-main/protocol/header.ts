/**
 * The sealed envelope's layout (format version 1) and its 68-byte header. All integers are
 * unsigned big-endian. docs/uplink.md is the normative description; these constants are it.
 */
import { ConsoleError } from '../core/errors';
import { U64_MAX, isSafeTime, toHex } from './encoding';
import { KEY_ID_BYTES } from './keys';
import { PSEUDONYM_BYTES, pseudonymFromToken, pseudonymToken } from './pseudonym';

export const MAGIC = Buffer.from('PCU', 'latin1');
export const FORMAT_VERSION = 1;
export const HEADER_BYTES = 68;
export const BATCH_KEY_BYTES = 32;
export const HEADER_HASH_BYTES = 32;
/** crypto_box_seal of (batch key ‖ BLAKE2b-256(header)): 32-byte ephemeral key + 64 + 16-byte tag. */
export const KEY_BLOCK_BYTES = 32 + BATCH_KEY_BYTES + HEADER_HASH_BYTES + 16;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;
export const SIG_BYTES = 64;
/** Envelope bytes besides the payload: 68 + 112 + 24 + 16 + 64. */
export const ENVELOPE_OVERHEAD = HEADER_BYTES + KEY_BLOCK_BYTES + NONCE_BYTES + TAG_BYTES + SIG_BYTES;
/** Largest payload a v1 envelope may carry (a batch is one machine's interval: far smaller). */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** Byte offsets of the header fields. */
export const HEADER_FIELDS = {
  magic: [0, 3],
  version: [3, 1],
  plant: [4, PSEUDONYM_BYTES],
  machine: [14, PSEUDONYM_BYTES],
  signingKid: [24, KEY_ID_BYTES],
  encryptionKid: [32, KEY_ID_BYTES],
  seq: [40, 8],
  from: [48, 8],
  to: [56, 8],
  payloadLength: [64, 4],
} as const;

/** The decoded header of a sealed batch. */
export interface SealedHeader {
  version: 1;
  /** Plant pseudonym token. */
  plant: string;
  /** Machine pseudonym token. */
  machine: string;
  /** Key id of the plant's Ed25519 key that signed the envelope. */
  signingKid: string;
  /** Key id of the cloud's X25519 key the batch key is sealed to. */
  encryptionKid: string;
  /** The plant's sequence number (one counter per plant, shared by sealed and plain batches). */
  seq: bigint;
  /** First and last instant the batch covers, ms since the Unix epoch (inclusive). */
  from: number;
  to: number;
  /** Plaintext payload length in bytes (the ciphertext is 16 bytes longer). */
  payloadLength: number;
}

/** Offsets of the envelope's parts for a given payload length. */
export function envelopeLayout(payloadLength: number): {
  keyBlock: number;
  nonce: number;
  ciphertext: number;
  signature: number;
  total: number;
} {
  const keyBlock = HEADER_BYTES;
  const nonce = keyBlock + KEY_BLOCK_BYTES;
  const ciphertext = nonce + NONCE_BYTES;
  const signature = ciphertext + payloadLength + TAG_BYTES;
  return { keyBlock, nonce, ciphertext, signature, total: signature + SIG_BYTES };
}

function invalid(message: string): ConsoleError {
  return new ConsoleError('PROTOCOL_INVALID', message);
}

/** The 68 header bytes; throws PROTOCOL_INVALID for a value the format cannot carry. */
export function encodeHeader(h: Omit<SealedHeader, 'version'>): Buffer {
  const plant = pseudonymFromToken(h.plant);
  const machine = pseudonymFromToken(h.machine);
  if (!plant || !machine) throw invalid('Plant and machine must be pseudonym tokens (16 base32 characters).');
  const signing = /^[0-9a-f]{16}$/.test(h.signingKid) ? Buffer.from(h.signingKid, 'hex') : null;
  const encryption = /^[0-9a-f]{16}$/.test(h.encryptionKid) ? Buffer.from(h.encryptionKid, 'hex') : null;
  if (!signing || !encryption) throw invalid('Key ids are 16 lowercase hex characters.');
  if (h.seq < 0n || h.seq > U64_MAX) throw invalid(`A sequence number is a u64, not ${h.seq}.`);
  if (!isSafeTime(h.from) || !isSafeTime(h.to) || h.from > h.to) throw invalid(`A time range needs integer ms 0 ≤ from ≤ to ≤ 2^53−1.`);
  if (!Number.isInteger(h.payloadLength) || h.payloadLength < 0 || h.payloadLength > MAX_PAYLOAD_BYTES) {
    throw invalid(`A payload of ${h.payloadLength} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte limit.`);
  }
  const b = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(b, 0);
  b[3] = FORMAT_VERSION;
  plant.copy(b, 4);
  machine.copy(b, 14);
  signing.copy(b, 24);
  encryption.copy(b, 32);
  b.writeBigUInt64BE(h.seq, 40);
  b.writeBigUInt64BE(BigInt(h.from), 48);
  b.writeBigUInt64BE(BigInt(h.to), 56);
  b.writeUInt32BE(h.payloadLength, 64);
  return b;
}

export type HeaderResult =
  { ok: true; header: SealedHeader } | { ok: false; reason: 'malformed' | 'unsupported_version'; detail: string; header?: SealedHeader };

/**
 * Reads and frames an envelope's header: magic (malformed), version (unsupported version),
 * then the v1 layout: total length, field ranges (malformed). Nothing here is authenticated yet.
 */
export function decodeHeader(bytes: Uint8Array): HeaderResult {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 4 || !b.subarray(0, 3).equals(MAGIC))
    return { ok: false, reason: 'malformed', detail: 'not a sealed batch (magic "PCU" missing)' };
  if (b[3] !== FORMAT_VERSION)
    return { ok: false, reason: 'unsupported_version', detail: `format version ${b[3]} (this receiver reads ${FORMAT_VERSION})` };
  if (b.length < ENVELOPE_OVERHEAD)
    return { ok: false, reason: 'malformed', detail: `${b.length} bytes is shorter than an empty v1 envelope (${ENVELOPE_OVERHEAD})` };
  const payloadLength = b.readUInt32BE(64);
  const seq = b.readBigUInt64BE(40);
  const from = b.readBigUInt64BE(48);
  const to = b.readBigUInt64BE(56);
  const header: SealedHeader = {
    version: 1,
    plant: pseudonymToken(b.subarray(4, 14)),
    machine: pseudonymToken(b.subarray(14, 24)),
    signingKid: toHex(b.subarray(24, 32)),
    encryptionKid: toHex(b.subarray(32, 40)),
    seq,
    from: Number(from),
    to: Number(to),
    payloadLength,
  };
  if (payloadLength > MAX_PAYLOAD_BYTES)
    return { ok: false, reason: 'malformed', detail: `payload length ${payloadLength} exceeds ${MAX_PAYLOAD_BYTES}`, header };
  const expected = ENVELOPE_OVERHEAD + payloadLength;
  if (b.length !== expected)
    return { ok: false, reason: 'malformed', detail: `${b.length} bytes, but the header's payload length makes ${expected}`, header };
  const maxTime = BigInt(Number.MAX_SAFE_INTEGER);
  if (from > maxTime || to > maxTime || from > to)
    return { ok: false, reason: 'malformed', detail: `time range [${from}, ${to}] is not 0 ≤ from ≤ to ≤ 2^53−1`, header };
  return { ok: true, header };
}
