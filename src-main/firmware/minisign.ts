/**
 * minisign-compatible keys and signatures (https://jedisct1.github.io/minisign/), so that the
 * supplier's release engineers can sign and check releases with the standard `minisign` tool and
 * the console and the modules verify them with libsodium alone. Byte layouts: docs/firmware.md §3.
 *
 * Only the prehashed algorithm `ED` (Ed25519 over BLAKE2b-512 of the file) is ever produced or
 * accepted. The algorithm tag is not covered by the signature (minisign issue #104): a legacy
 * `Ed` signature (over the raw file) could be a prehashed signature with its tag flipped, which
 * would then "sign" a 64-byte file holding the hash. Parsing keeps the tag so callers can say why.
 */
import { ConsoleError } from '../core/errors';
import { blake2b, randomBytes, sodium, wipe } from '../protocol/sodium';

const ALG_ED25519 = Buffer.from('Ed', 'latin1');
const ALG_PREHASHED = Buffer.from('ED', 'latin1');
const KDF_SCRYPT = Buffer.from('Sc', 'latin1');
const KDF_NONE = Buffer.from([0, 0]);
const CHK_BLAKE2B = Buffer.from('B2', 'latin1');

const KEYNUM_BYTES = 8;
const PUBLIC_KEY_FILE_BYTES = 2 + KEYNUM_BYTES + 32; // 42
const SECRET_KEY_FILE_BYTES = 2 + 2 + 2 + 32 + 8 + 8 + KEYNUM_BYTES + 64 + 32; // 158
const SIGNATURE_BYTES = 2 + KEYNUM_BYTES + 64; // 74
const UNTRUSTED_PREFIX = 'untrusted comment: ';
const TRUSTED_PREFIX = 'trusted comment: ';
/** minisign's own limits (COMMENTMAXBYTES, TRUSTEDCOMMENTMAXBYTES less the prefix). */
const MAX_UNTRUSTED_COMMENT = 1024 - UNTRUSTED_PREFIX.length - 1;
const MAX_TRUSTED_COMMENT = 8192 - TRUSTED_PREFIX.length - 1;

/** A minisign public key: the key id as minisign prints it and the Ed25519 public key. */
export interface MinisignPublicKey {
  /** 16 uppercase hex digits: the 8 key-id bytes read as a little-endian integer, as minisign prints it. */
  keyId: string;
  publicKey: Uint8Array;
}

/** A minisign secret key (unencrypted in memory). */
export interface MinisignSecretKey {
  keyId: string;
  /** libsodium's 64-byte Ed25519 secret key (seed ‖ public key). */
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/** A parsed `.minisig` file. */
export interface MinisignSignature {
  keyId: string;
  signature: Uint8Array;
  trustedComment: string;
  globalSignature: Uint8Array;
  algorithm: 'ED' | 'Ed';
}

function invalid(message: string): ConsoleError {
  return new ConsoleError('FIRMWARE_INVALID', message);
}

/** The key id text of 8 key-id bytes (little-endian, as minisign's `%016" PRIX64 "` shows it). */
export function keyIdText(keynum: Uint8Array): string {
  return Buffer.from(keynum).reverse().toString('hex').toUpperCase();
}

function keynumBytes(keyId: string): Buffer {
  if (!/^[0-9A-F]{16}$/.test(keyId)) throw invalid(`"${keyId}" is not a minisign key id (16 uppercase hex digits).`);
  return Buffer.from(keyId, 'hex').reverse();
}

/** Strict base64 (padded, canonical), as libsodium's original variant decodes it. */
function fromBase64(text: string, bytes: number, what: string): Buffer {
  const b = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : null;
  if (!b || b.toString('base64') !== text) throw invalid(`${what} is not base64.`);
  if (b.length !== bytes) throw invalid(`${what} has ${b.length} bytes, not ${bytes}.`);
  return b;
}

/** Splits a minisign text file into its lines (LF or CRLF; one final newline optional). */
function lines(text: string, count: number, what: string): string[] {
  const all = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (all.length > 1 && all[all.length - 1] === '') all.pop();
  if (all.length !== count) throw invalid(`${what} must have ${count} lines, not ${all.length}.`);
  return all;
}

function checkComment(comment: string, max: number, what: string): void {
  if (/[\r\n\0]/.test(comment)) throw invalid(`The ${what} must be one line.`);
  if (Buffer.byteLength(comment, 'utf8') > max) throw invalid(`The ${what} is longer than ${max} bytes.`);
}

/** A fresh key pair (random, or from a 32-byte seed and 8 key-id bytes for test vectors). */
export function generateMinisignKeyPair(fixed?: { seed: Uint8Array; keyIdBytes: Uint8Array }): {
  pub: MinisignPublicKey;
  sec: MinisignSecretKey;
} {
  const publicKey = Buffer.alloc(32);
  const secretKey = Buffer.alloc(64);
  let keynum: Buffer;
  if (fixed) {
    if (fixed.seed.byteLength !== 32 || fixed.keyIdBytes.byteLength !== KEYNUM_BYTES)
      throw invalid('A fixed minisign key needs a 32-byte seed and 8 key-id bytes.');
    sodium.crypto_sign_seed_keypair(publicKey, secretKey, fixed.seed);
    keynum = Buffer.from(fixed.keyIdBytes);
  } else {
    sodium.crypto_sign_keypair(publicKey, secretKey);
    // minisign draws the key id at random too; it names the key, it proves nothing.
    keynum = randomBytes(KEYNUM_BYTES);
  }
  const keyId = keyIdText(keynum);
  return { pub: { keyId, publicKey: Buffer.from(publicKey) }, sec: { keyId, secretKey, publicKey } };
}

/** The base64 line of a public key (what `minisign -P` takes and a root document lists). */
export function publicKeyLine(k: MinisignPublicKey): string {
  if (k.publicKey.byteLength !== 32) throw invalid('An Ed25519 public key has 32 bytes.');
  return Buffer.concat([ALG_ED25519, keynumBytes(k.keyId), k.publicKey]).toString('base64');
}

/** The text of a `NAME.pub` file. */
export function formatPublicKey(k: MinisignPublicKey, comment = `minisign public key ${k.keyId}`): string {
  checkComment(comment, MAX_UNTRUSTED_COMMENT, 'untrusted comment');
  return `${UNTRUSTED_PREFIX}${comment}\n${publicKeyLine(k)}\n`;
}

/** Reads a `NAME.pub` file, or only its base64 line; throws FIRMWARE_INVALID with the reason. */
export function parsePublicKey(text: string): MinisignPublicKey {
  const trimmed = text.replace(/\r?\n$/, '');
  const line = trimmed.includes('\n') ? lines(text, 2, 'A minisign public key file') : [null, trimmed];
  if (line[0] !== null && !line[0]!.startsWith(UNTRUSTED_PREFIX))
    throw invalid(`A minisign public key file starts with "${UNTRUSTED_PREFIX.trim()}".`);
  const b = fromBase64(line[1]!.trim(), PUBLIC_KEY_FILE_BYTES, 'The public key');
  if (!b.subarray(0, 2).equals(ALG_ED25519)) throw invalid('The public key is not an Ed25519 minisign key (its algorithm is not "Ed").');
  return { keyId: keyIdText(b.subarray(2, 10)), publicKey: Buffer.from(b.subarray(10)) };
}

function secretChecksum(keynum: Uint8Array, secretKey: Uint8Array): Buffer {
  return blake2b(Buffer.concat([ALG_ED25519, keynum, secretKey]), 32);
}

/**
 * The text of an unencrypted `NAME.key` file, as `minisign -G -W` writes one (KDF "\0\0"), but
 * with the BLAKE2b-256 checksum filled in so that a damaged file is noticed.
 */
export function formatSecretKey(k: MinisignSecretKey): string {
  if (k.secretKey.byteLength !== 64) throw invalid('An Ed25519 secret key has 64 bytes.');
  const keynum = keynumBytes(k.keyId);
  const raw = Buffer.concat([
    ALG_ED25519,
    KDF_NONE,
    CHK_BLAKE2B,
    Buffer.alloc(32 + 8 + 8),
    keynum,
    k.secretKey,
    secretChecksum(keynum, k.secretKey),
  ]);
  try {
    return `${UNTRUSTED_PREFIX}minisign unencrypted secret key ${k.keyId}\n${raw.toString('base64')}\n`;
  } finally {
    wipe(raw);
  }
}

/** Reads an unencrypted minisign secret key file (ours, or `minisign -G -W`'s). */
export function parseSecretKey(text: string): MinisignSecretKey {
  const [comment, line] = lines(text, 2, 'A minisign secret key file');
  if (!comment!.startsWith(UNTRUSTED_PREFIX)) throw invalid(`A minisign secret key file starts with "${UNTRUSTED_PREFIX.trim()}".`);
  const b = fromBase64(line!.trim(), SECRET_KEY_FILE_BYTES, 'The secret key');
  try {
    if (!b.subarray(0, 2).equals(ALG_ED25519)) throw invalid('The secret key is not an Ed25519 minisign key.');
    if (!b.subarray(4, 6).equals(CHK_BLAKE2B)) throw invalid('The secret key has an unknown checksum algorithm.');
    const kdf = b.subarray(2, 4);
    if (kdf.equals(KDF_SCRYPT))
      throw invalid(
        'The secret key is encrypted with a password. Remove the password with "minisign -C -W -s FILE" ' +
          '(keep that file offline) or generate one with "supplier-cloud firmware keygen".',
      );
    if (!kdf.equals(KDF_NONE)) throw invalid('The secret key uses an unknown key derivation.');
    const keynum = b.subarray(54, 62);
    const secretKey = Buffer.from(b.subarray(62, 126));
    const chk = b.subarray(126, 158);
    // minisign -W (0.11) leaves the checksum zero; ours fills it in. Anything else is damage.
    const expected = secretChecksum(keynum, secretKey);
    if (!chk.equals(Buffer.alloc(32)) && !chk.equals(expected)) throw invalid('The secret key file is damaged (checksum mismatch).');
    const publicKey = Buffer.alloc(32);
    const derived = Buffer.alloc(64);
    sodium.crypto_sign_seed_keypair(publicKey, derived, secretKey.subarray(0, 32));
    const consistent = derived.equals(secretKey);
    wipe(derived, expected);
    if (!consistent) throw invalid('The secret key file is damaged (its public half does not match its seed).');
    return { keyId: keyIdText(keynum), secretKey, publicKey };
  } finally {
    wipe(b);
  }
}

/** BLAKE2b-512 of a file: what an `ED` signature signs. */
export function minisignPrehash(data: Uint8Array): Buffer {
  return blake2b(data, 64);
}

function globalMessage(signature: Uint8Array, trustedComment: string): Buffer {
  return Buffer.concat([signature, Buffer.from(trustedComment, 'utf8')]);
}

/** The `.minisig` text for `data`: algorithm ED, the trusted comment signed with it. */
export function signMinisign(
  data: Uint8Array,
  key: MinisignSecretKey,
  trustedComment: string,
  untrustedComment = 'signature from minisign secret key',
): string {
  checkComment(trustedComment, MAX_TRUSTED_COMMENT, 'trusted comment');
  checkComment(untrustedComment, MAX_UNTRUSTED_COMMENT, 'untrusted comment');
  const sig = Buffer.alloc(64);
  sodium.crypto_sign_detached(sig, minisignPrehash(data), key.secretKey);
  const global = Buffer.alloc(64);
  sodium.crypto_sign_detached(global, globalMessage(sig, trustedComment), key.secretKey);
  const sigLine = Buffer.concat([ALG_PREHASHED, keynumBytes(key.keyId), sig]).toString('base64');
  return `${UNTRUSTED_PREFIX}${untrustedComment}\n${sigLine}\n${TRUSTED_PREFIX}${trustedComment}\n${global.toString('base64')}\n`;
}

/** Reads a `.minisig` file (either algorithm; verifyMinisign refuses `Ed`); throws FIRMWARE_INVALID. */
export function parseSignature(text: string): MinisignSignature {
  const [untrusted, sigLine, trusted, globalLine] = lines(text, 4, 'A minisign signature file');
  if (!untrusted!.startsWith(UNTRUSTED_PREFIX)) throw invalid(`A minisign signature file starts with "${UNTRUSTED_PREFIX.trim()}".`);
  if (!trusted!.startsWith(TRUSTED_PREFIX)) throw invalid(`The third line of a minisign signature is "${TRUSTED_PREFIX}…".`);
  const trustedComment = trusted!.slice(TRUSTED_PREFIX.length);
  checkComment(trustedComment, MAX_TRUSTED_COMMENT, 'trusted comment');
  const b = fromBase64(sigLine!.trim(), SIGNATURE_BYTES, 'The signature');
  const alg = b.subarray(0, 2).toString('latin1');
  if (alg !== 'ED' && alg !== 'Ed') throw invalid(`Unknown minisign signature algorithm "${alg}".`);
  return {
    keyId: keyIdText(b.subarray(2, 10)),
    signature: Buffer.from(b.subarray(10)),
    trustedComment,
    globalSignature: fromBase64(globalLine!.trim(), 64, 'The trusted-comment signature'),
    algorithm: alg,
  };
}

/** Why a signature did not verify. */
export type MinisignFailure = 'legacy_signature' | 'unknown_key' | 'bad_signature';

/**
 * Verifies a parsed signature of `data` with `key`: algorithm ED only, the key id, the signature
 * over BLAKE2b-512(data) and the signature over signature ‖ trusted comment. Never throws.
 */
export function verifyMinisign(
  data: Uint8Array,
  sig: MinisignSignature,
  key: MinisignPublicKey,
): { ok: true; trustedComment: string } | { ok: false; code: MinisignFailure; message: string } {
  if (sig.algorithm !== 'ED')
    return {
      ok: false,
      code: 'legacy_signature',
      message: `The signature by key ${sig.keyId} uses minisign's legacy "Ed" algorithm; only prehashed "ED" signatures are accepted (sign without -l).`,
    };
  if (sig.keyId !== key.keyId)
    return { ok: false, code: 'unknown_key', message: `The signature was made by key ${sig.keyId}, not by key ${key.keyId}.` };
  const bad = (what: string) => ({
    ok: false as const,
    code: 'bad_signature' as const,
    message: `${what} by key ${sig.keyId} does not verify.`,
  });
  if (sig.signature.byteLength !== 64 || sig.globalSignature.byteLength !== 64 || key.publicKey.byteLength !== 32)
    return bad('The signature');
  if (!sodium.crypto_sign_verify_detached(sig.signature, minisignPrehash(data), key.publicKey)) return bad('The signature');
  if (!sodium.crypto_sign_verify_detached(sig.globalSignature, globalMessage(sig.signature, sig.trustedComment), key.publicKey))
    return bad('The trusted comment signature');
  return { ok: true, trustedComment: sig.trustedComment };
}
