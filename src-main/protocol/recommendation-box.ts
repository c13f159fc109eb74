/**
 * The sealed, signed JSON document that carries recommendations (supplier → plant) and the
 * plant's reports on them (plant → cloud); docs/recommendations.md §3 is the specification.
 * Encrypt-then-sign, like the uplink's sealed batches, but in JSON so that it travels on the
 * downlink beside the other signed documents:
 *
 *   header = UTF-8( JCS( the document's clear members: type, v, plant, enc, kid [, id] ) )
 *   key    = base64( crypto_box_seal( content key(32) ‖ BLAKE2b-256(header), recipient X25519 pk ) )
 *   nonce  = base64( 24 random bytes )
 *   ct     = base64( XChaCha20-Poly1305-IETF( UTF-8 JCS(body), AD = header, nonce, content key ) )
 *   sig    = hex( Ed25519( "<label>\0" ‖ UTF-8( JCS(document without sig) ) ) )
 *
 * The signature covers every member; the AEAD binds the body to the clear header; the header's
 * hash sealed with the key tells a re-signed header from a damaged ciphertext.
 */
import { ConsoleError } from '../core/errors';
import { canonicalBytes, signJson, type Signed } from './canonical';
import type { FixedRandomness } from './envelope';
import { sealTo } from './envelope';
import { PUBLIC_KEY_BYTES, keyId, type SigningKeyPair } from './keys';
import { blake2b, randomBytes, sodium, wipe } from './sodium';

export const CONTENT_KEY_BYTES = 32;
export const BOX_NONCE_BYTES = 24;
export const BOX_TAG_BYTES = 16;
/** crypto_box_seal of (content key ‖ header hash): 32-byte ephemeral key + 64 + 16-byte tag. */
export const BOX_KEY_BLOCK_BYTES = 32 + CONTENT_KEY_BYTES + 32 + 16;

/** The clear members every box document has besides `key`, `nonce`, `ct` and `sig`. */
export interface BoxClear {
  type: string;
  v: 1;
  plant: string;
  [member: string]: string | number;
}

/** A box document as it travels (before or after canonical serialisation). */
export type BoxDocument<C extends BoxClear> = Signed<C & { enc: string; key: string; nonce: string; ct: string }>;

/** Standard base64 (RFC 4648 §4, padded). */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Bytes of canonical padded base64 (exactly `len` bytes when given), or null: no other spelling is accepted. */
export function fromBase64(text: unknown, len?: number): Buffer | null {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const b = Buffer.from(text, 'base64');
  if (b.toString('base64') !== text) return null;
  return len === undefined || b.length === len ? b : null;
}

/** The header bytes of a box document: its clear members (`names`), canonical. */
export function boxHeader(doc: Record<string, unknown>, names: readonly string[]): Buffer {
  const clear: Record<string, unknown> = {};
  for (const n of names) if (doc[n] !== undefined) clear[n] = doc[n];
  return canonicalBytes(clear);
}

/**
 * Seals `body` to `recipientPublicKey` and signs the whole document under `label`. `clear`
 * holds the header members except `enc` and `kid`, which come from the keys. `fixed` is for
 * test vectors only: reusing a content key, nonce or ephemeral seed destroys confidentiality.
 */
export function sealBox<C extends BoxClear>(p: {
  label: string;
  clear: C;
  body: unknown;
  recipientPublicKey: Uint8Array;
  signer: SigningKeyPair;
  maxBodyBytes: number;
  fixed?: FixedRandomness;
}): BoxDocument<C> {
  if (p.recipientPublicKey.byteLength !== PUBLIC_KEY_BYTES)
    throw new ConsoleError('PROTOCOL_INVALID', 'The recipient X25519 public key must be 32 bytes.');
  if (p.fixed && (p.fixed.batchKey.length !== CONTENT_KEY_BYTES || p.fixed.nonce.length !== BOX_NONCE_BYTES))
    throw new ConsoleError('PROTOCOL_INVALID', 'A fixed content key has 32 bytes and a nonce 24.');
  const header = { ...p.clear, enc: keyId(p.recipientPublicKey, 'x25519'), kid: p.signer.kid };
  const headerBytes = canonicalBytes(header);
  const plain = canonicalBytes(p.body);
  if (plain.length > p.maxBodyBytes) {
    wipe(plain);
    throw new ConsoleError('PROTOCOL_INVALID', `A body of ${plain.length} bytes exceeds the ${p.maxBodyBytes}-byte limit.`);
  }
  const contentKey = p.fixed ? Buffer.from(p.fixed.batchKey) : randomBytes(CONTENT_KEY_BYTES);
  const nonce = p.fixed ? Buffer.from(p.fixed.nonce) : randomBytes(BOX_NONCE_BYTES);
  const keyPlain = Buffer.concat([contentKey, blake2b(headerBytes, 32)]);
  const ct = Buffer.alloc(plain.length + BOX_TAG_BYTES);
  try {
    const keyBlock = sealTo(keyPlain, p.recipientPublicKey, p.fixed?.ephemeralSeed);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(ct, plain, headerBytes, null, nonce, contentKey);
    const doc = { ...header, key: toBase64(keyBlock), nonce: toBase64(nonce), ct: toBase64(ct) };
    return signJson(p.label, doc, p.signer) as BoxDocument<C>;
  } finally {
    wipe(contentKey, keyPlain, plain);
  }
}

/** What opening the encrypted part found. */
export type BoxOpenResult = { ok: true; plaintext: Buffer } | { ok: false; message: string };

/**
 * Decrypts a box document whose signature was already verified: opens the key block with the
 * recipient's key pair, checks the header hash sealed in it, then the AEAD. The caller wipes
 * `plaintext` once it has parsed it.
 */
export function openBox(
  doc: Record<string, unknown>,
  headerNames: readonly string[],
  recipient: { publicKey: Uint8Array; secretKey: Uint8Array },
  maxBodyBytes: number,
): BoxOpenResult {
  const keyBlock = fromBase64(doc.key, BOX_KEY_BLOCK_BYTES);
  const nonce = fromBase64(doc.nonce, BOX_NONCE_BYTES);
  const ct = fromBase64(doc.ct);
  if (!keyBlock || !nonce || !ct || ct.length < BOX_TAG_BYTES)
    return { ok: false, message: 'the key, nonce or ciphertext is not well formed' };
  if (ct.length - BOX_TAG_BYTES > maxBodyBytes) return { ok: false, message: `the ciphertext exceeds the ${maxBodyBytes}-byte body limit` };
  const header = boxHeader(doc, headerNames);
  const keyPlain = Buffer.alloc(CONTENT_KEY_BYTES + 32);
  const plaintext = Buffer.alloc(ct.length - BOX_TAG_BYTES);
  try {
    if (!sodium.crypto_box_seal_open(keyPlain, keyBlock, recipient.publicKey, recipient.secretKey)) {
      wipe(plaintext);
      return { ok: false, message: `the content key does not open with X25519 key ${String(doc.enc)}` };
    }
    if (!keyPlain.subarray(CONTENT_KEY_BYTES).equals(blake2b(header, 32))) {
      wipe(plaintext);
      return { ok: false, message: 'the clear header differs from the one the content key was sealed with' };
    }
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plaintext, null, ct, header, nonce, keyPlain.subarray(0, CONTENT_KEY_BYTES));
    } catch {
      wipe(plaintext);
      return { ok: false, message: 'the body does not decrypt (AEAD tag mismatch)' };
    }
    return { ok: true, plaintext };
  } finally {
    wipe(keyPlain);
  }
}
