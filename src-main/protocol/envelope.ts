/**
 * Sealed batches: build (plant) and open (cloud). Layout, checks and their order are specified
 * in docs/uplink.md; this is the reference implementation. Pure functions over bytes, no I/O.
 *
 * envelope  = header(68) ‖ key block(112) ‖ nonce(24) ‖ ciphertext(L+16) ‖ signature(64)
 * key block = crypto_box_seal( batch key(32) ‖ BLAKE2b-256(header), cloud X25519 public key )
 * ciphertext= XChaCha20-Poly1305-IETF( payload, AD = header, nonce, batch key )
 * signature = Ed25519( "plant-console/uplink/v1\0" ‖ everything before the signature )
 */
import { ConsoleError } from '../core/errors';
import { canonicalBytes, parseJsonObject } from './canonical';
import {
  BATCH_KEY_BYTES,
  HEADER_BYTES,
  HEADER_HASH_BYTES,
  KEY_BLOCK_BYTES,
  MAX_PAYLOAD_BYTES,
  NONCE_BYTES,
  TAG_BYTES,
  decodeHeader,
  encodeHeader,
  envelopeLayout,
  type SealedHeader,
} from './header';
import { PUBLIC_KEY_BYTES, keyId, signDetached, verifyDetached, type SigningKeyPair } from './keys';
import { SealedPayloadSchema, checkBatchRange, sampleOutsideRange, schemaProblem, type SealedPayload } from './payload';
import {
  findKey,
  judgeSequence,
  sequenceRefusal,
  type CloudKeyRecord,
  type KeyLookup,
  type PlantKeyRecord,
  type Refusal,
  type SequenceCheck,
} from './refusal';
import { blake2b, randomBytes, sodium, wipe } from './sodium';

/** The domain label of envelope signatures. */
export const UPLINK_SIGNATURE_LABEL = 'plant-console/uplink/v1';

/**
 * Fixed "random" inputs, for test vectors only. Reusing a batch key, nonce or ephemeral seed
 * for a second batch destroys its confidentiality: production code never passes these.
 */
export interface FixedRandomness {
  batchKey: Buffer;
  nonce: Buffer;
  /** Seed of the sealed box's ephemeral X25519 key pair (libsodium otherwise draws it). */
  ephemeralSeed?: Buffer;
}

/** What the plant seals: pseudonyms, the sequence it assigned, the interval and its samples. */
export interface SealBatchInput {
  plant: string;
  machine: string;
  seq: bigint;
  from: number;
  to: number;
  payload: SealedPayload;
  /** The plant's current Ed25519 key pair. */
  signer: SigningKeyPair;
  /** The cloud's current X25519 public key. */
  cloudPublicKey: Uint8Array;
  fixed?: FixedRandomness;
}

/** BLAKE2b-256 of the header bytes, sealed with the batch key to bind them together. */
export function headerHash(header: Uint8Array): Buffer {
  return blake2b(header, HEADER_HASH_BYTES);
}

/**
 * crypto_box_seal, or for vectors its definition with a fixed ephemeral key:
 * epk ‖ crypto_box_easy(m, nonce = BLAKE2b-192(epk ‖ pk), pk, esk).
 */
export function sealTo(message: Uint8Array, publicKey: Uint8Array, ephemeralSeed?: Uint8Array): Buffer {
  const out = Buffer.alloc(message.byteLength + sodium.crypto_box_SEALBYTES);
  if (!ephemeralSeed) {
    sodium.crypto_box_seal(out, message, publicKey);
    return out;
  }
  const epk = Buffer.alloc(PUBLIC_KEY_BYTES);
  const esk = Buffer.alloc(sodium.crypto_box_SECRETKEYBYTES);
  sodium.crypto_box_seed_keypair(epk, esk, ephemeralSeed);
  const nonce = blake2b(Buffer.concat([epk, publicKey]), sodium.crypto_box_NONCEBYTES);
  epk.copy(out, 0);
  sodium.crypto_box_easy(out.subarray(PUBLIC_KEY_BYTES), message, nonce, publicKey, esk);
  wipe(esk);
  return out;
}

/** The bytes an envelope signature covers: the label, NUL, then everything before the signature. */
export function uplinkSigningMessage(unsigned: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${UPLINK_SIGNATURE_LABEL}\0`, 'latin1'), unsigned]);
}

/**
 * Builds a sealed batch. The batch key (an injected one too) is zeroed before returning, as
 * are the plaintext buffers. Throws PROTOCOL_INVALID for input the format cannot carry.
 */
export function sealBatch(input: SealBatchInput): Buffer {
  const parsed = SealedPayloadSchema.safeParse(input.payload);
  if (!parsed.success) throw new ConsoleError('PROTOCOL_INVALID', `Sealed payload is invalid: ${schemaProblem(parsed.error)}.`);
  // The points were checked with the payload above; parsing thousands of samples again would only double that cost.
  checkBatchRange(input.payload.points, input.from, input.to);
  if (input.cloudPublicKey.byteLength !== PUBLIC_KEY_BYTES)
    throw new ConsoleError('PROTOCOL_INVALID', 'The cloud public key must be 32 bytes.');
  if (input.fixed && (input.fixed.batchKey.length !== BATCH_KEY_BYTES || input.fixed.nonce.length !== NONCE_BYTES)) {
    throw new ConsoleError('PROTOCOL_INVALID', 'A fixed batch key has 32 bytes and a nonce 24.');
  }
  const payload = canonicalBytes(input.payload);
  if (payload.length > MAX_PAYLOAD_BYTES) {
    wipe(payload);
    throw new ConsoleError(
      'PROTOCOL_INVALID',
      `A sealed payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}: batch more often.`,
    );
  }
  const header = encodeHeader({
    plant: input.plant,
    machine: input.machine,
    signingKid: input.signer.kid,
    encryptionKid: keyId(input.cloudPublicKey, 'x25519'),
    seq: input.seq,
    from: input.from,
    to: input.to,
    payloadLength: payload.length,
  });
  const batchKey = input.fixed?.batchKey ?? randomBytes(BATCH_KEY_BYTES);
  const nonce = input.fixed ? Buffer.from(input.fixed.nonce) : randomBytes(NONCE_BYTES);
  const keyPlain = Buffer.concat([batchKey, headerHash(header)]);
  const ciphertext = Buffer.alloc(payload.length + TAG_BYTES);
  try {
    const keyBlock = sealTo(keyPlain, input.cloudPublicKey, input.fixed?.ephemeralSeed);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(ciphertext, payload, header, null, nonce, batchKey);
    const unsigned = Buffer.concat([header, keyBlock, nonce, ciphertext]);
    const sig = signDetached(UPLINK_SIGNATURE_LABEL, unsigned, input.signer.secretKey);
    return Buffer.concat([unsigned, sig]);
  } finally {
    wipe(batchKey, keyPlain, payload);
  }
}

/** Everything a receiver (the cloud) needs to open sealed batches. */
export interface OpenSealedOptions extends SequenceCheck {
  /** The cloud's X25519 key pairs by key id (old ones until their grace ends). */
  cloudSecretKeys: KeyLookup<CloudKeyRecord>;
  /** Registered plant Ed25519 public keys by key id (old ones until their grace ends). */
  plantPublicKeys: KeyLookup<PlantKeyRecord>;
  /** The receiver's clock (ms), against which keys' `notAfter` is judged. */
  now: number;
  /** Pseudonyms from the MQTT topic the message came on; they must match the header. */
  topic?: { plant: string; machine?: string };
}

/** An accepted sealed batch. */
export interface OpenedSealedBatch {
  ok: true;
  header: SealedHeader;
  payload: SealedPayload;
}

export type OpenSealedResult = OpenedSealedBatch | (Refusal & { header?: SealedHeader });

function refuse(reason: Refusal['reason'], detail: string, header?: SealedHeader): Refusal & { header?: SealedHeader } {
  return header ? { ok: false, reason, detail, header } : { ok: false, reason, detail };
}

/**
 * Verifies and decrypts a sealed batch, in the order docs/uplink.md specifies:
 * malformed → unsupported version → malformed (v1 framing) → unknown key id (signing, then
 * encryption) → bad signature → ciphertext tampered (key block) → header tampered →
 * ciphertext tampered (AEAD) → malformed (payload) → wrong plant → duplicate / replay.
 * A refusal carries the header when it could be read (unauthenticated before the signature).
 */
export function openSealed(bytes: Uint8Array, opts: OpenSealedOptions): OpenSealedResult {
  const decoded = decodeHeader(bytes);
  if (!decoded.ok) return refuse(decoded.reason, decoded.detail, decoded.header);
  const h = decoded.header;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = envelopeLayout(h.payloadLength);

  const plantKey = findKey(opts.plantPublicKeys, h.signingKid, opts.now);
  if (!plantKey.ok) return refuse('unknown_key_id', `signing ${plantKey.detail}`, h);
  const cloudKey = findKey(opts.cloudSecretKeys, h.encryptionKid, opts.now);
  if (!cloudKey.ok) return refuse('unknown_key_id', `encryption ${cloudKey.detail}`, h);

  if (!verifyDetached(UPLINK_SIGNATURE_LABEL, b.subarray(0, at.signature), b.subarray(at.signature), plantKey.key.publicKey)) {
    return refuse('bad_signature', `the signature does not verify with plant key ${h.signingKid}`, h);
  }

  // From here the bytes are exactly what the holder of the plant key signed: a failure below
  // means that signer built a bad envelope (a bug, or its key is in someone else's hands).
  const header = b.subarray(0, HEADER_BYTES);
  const keyPlain = Buffer.alloc(BATCH_KEY_BYTES + HEADER_HASH_BYTES);
  const payload = Buffer.alloc(h.payloadLength);
  try {
    const keyBlock = b.subarray(at.keyBlock, at.keyBlock + KEY_BLOCK_BYTES);
    if (!sodium.crypto_box_seal_open(keyPlain, keyBlock, cloudKey.key.publicKey, cloudKey.key.secretKey)) {
      return refuse('ciphertext_tampered', `the batch key does not open with cloud key ${h.encryptionKid}`, h);
    }
    if (!keyPlain.subarray(BATCH_KEY_BYTES).equals(headerHash(header))) {
      return refuse('header_tampered', 'the header differs from the one the batch key was sealed with', h);
    }
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        payload,
        null,
        b.subarray(at.ciphertext, at.signature),
        header,
        b.subarray(at.nonce, at.ciphertext),
        keyPlain.subarray(0, BATCH_KEY_BYTES),
      );
    } catch {
      return refuse('ciphertext_tampered', 'the payload does not decrypt (AEAD tag mismatch)', h);
    }
    return afterDecrypt(h, payload, plantKey.key, opts);
  } finally {
    wipe(keyPlain, payload);
  }
}

function afterDecrypt(h: SealedHeader, payloadBytes: Buffer, plantKey: PlantKeyRecord, opts: OpenSealedOptions): OpenSealedResult {
  const json = parseJsonObject(payloadBytes, MAX_PAYLOAD_BYTES);
  if (!json) return refuse('malformed', 'the payload is not a JSON object in UTF-8', h);
  const parsed = SealedPayloadSchema.safeParse(json);
  if (!parsed.success) return refuse('malformed', `payload: ${schemaProblem(parsed.error)}`, h);
  const outside = sampleOutsideRange(parsed.data.points, h.from, h.to);
  if (outside) return refuse('malformed', outside, h);

  if (h.plant !== plantKey.plant)
    return refuse('wrong_plant', `key ${h.signingKid} signs for plant ${plantKey.plant}, the header names ${h.plant}`, h);
  if (plantKey.plantId !== undefined && parsed.data.plant.id !== plantKey.plantId) {
    return refuse('wrong_plant', `the payload names another plant than the one registered for key ${h.signingKid}`, h);
  }
  if (opts.topic && (opts.topic.plant !== h.plant || (opts.topic.machine !== undefined && opts.topic.machine !== h.machine))) {
    return refuse(
      'wrong_plant',
      `published under ${opts.topic.plant}/${opts.topic.machine ?? '*'} but the header names ${h.plant}/${h.machine}`,
      h,
    );
  }

  const seqRefusal = sequenceRefusal(judgeSequence(opts, h.plant, h.seq), h.plant, h.seq);
  if (seqRefusal) return { ...seqRefusal, header: h };
  return { ok: true, header: h, payload: parsed.data };
}
