/**
 * minisign-compatible keys and signatures: round trips, the file formats byte by byte, every
 * refusal of verifyMinisign, and the legacy-algorithm replay of minisign issue #104.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ConsoleError } from '../../src-main/core/errors';
import {
  formatPublicKey,
  formatSecretKey,
  generateMinisignKeyPair,
  minisignPrehash,
  parsePublicKey,
  parseSecretKey,
  parseSignature,
  publicKeyLine,
  signMinisign,
  verifyMinisign,
  type MinisignSecretKey,
} from '../../src-main/firmware';
import type { SodiumApi } from '../../src-main/protocol/sodium';

const sodium = createRequire(import.meta.url)('sodium-native') as SodiumApi;
const data = Buffer.from('plant-console firmware test data\n');
const { pub, sec } = generateMinisignKeyPair();

function invalid(fn: () => unknown, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConsoleError);
  expect((err as ConsoleError).code).toBe('FIRMWARE_INVALID');
  expect((err as ConsoleError).message).toMatch(message);
}

/** A signature line (base64 of alg ‖ keynum ‖ sig) with its parts replaced. */
function sigLine(alg: string, keynum: Buffer, sig: Buffer): string {
  return Buffer.concat([Buffer.from(alg, 'latin1'), keynum, sig]).toString('base64');
}

/** A whole .minisig text made by hand: `signed` is what the first signature covers. */
function handMade(alg: 'ED' | 'Ed', signed: Uint8Array, key: MinisignSecretKey, tc: string): string {
  const sig = Buffer.alloc(64);
  sodium.crypto_sign_detached(sig, signed, key.secretKey);
  const global = Buffer.alloc(64);
  sodium.crypto_sign_detached(global, Buffer.concat([sig, Buffer.from(tc)]), key.secretKey);
  const keynum = Buffer.from(key.keyId, 'hex').reverse();
  return `untrusted comment: x\n${sigLine(alg, keynum, sig)}\ntrusted comment: ${tc}\n${global.toString('base64')}\n`;
}

describe('minisign keys', () => {
  it('key ids are 16 uppercase hex digits: the key-id bytes little-endian, as minisign prints them', () => {
    const fixed = generateMinisignKeyPair({ seed: Buffer.alloc(32, 7), keyIdBytes: Buffer.from('0102030405060708', 'hex') });
    expect(fixed.pub.keyId).toBe('0807060504030201');
    const raw = Buffer.from(publicKeyLine(fixed.pub), 'base64');
    expect(raw.length).toBe(42);
    expect(raw.subarray(0, 2).toString('latin1')).toBe('Ed');
    expect(raw.subarray(2, 10).toString('hex')).toBe('0102030405060708');
    expect(raw.subarray(10).equals(Buffer.from(fixed.pub.publicKey))).toBe(true);
    expect(pub.keyId).toMatch(/^[0-9A-F]{16}$/);
    expect(generateMinisignKeyPair().pub.keyId).not.toBe(pub.keyId);
  });

  it('a public key file round-trips, and its base64 line alone parses too', () => {
    const text = formatPublicKey(pub);
    expect(text).toBe(`untrusted comment: minisign public key ${pub.keyId}\n${publicKeyLine(pub)}\n`);
    expect(parsePublicKey(text)).toEqual({ keyId: pub.keyId, publicKey: Buffer.from(pub.publicKey) });
    expect(parsePublicKey(publicKeyLine(pub))).toEqual(parsePublicKey(text));
    expect(parsePublicKey(text.replace(/\n/g, '\r\n'))).toEqual(parsePublicKey(text));
    expect(formatPublicKey(pub, 'release key A')).toMatch(/^untrusted comment: release key A\n/);
  });

  it('refuses public keys that are not minisign Ed25519 keys', () => {
    invalid(() => parsePublicKey('not a key'), /not base64/);
    invalid(() => parsePublicKey(`comment\n${publicKeyLine(pub)}\n`), /starts with "untrusted comment:"/);
    invalid(() => parsePublicKey(Buffer.from(publicKeyLine(pub), 'base64').subarray(0, 41).toString('base64')), /41 bytes, not 42/);
    const other = Buffer.from(publicKeyLine(pub), 'base64');
    other.write('ED', 0, 'latin1');
    invalid(() => parsePublicKey(other.toString('base64')), /algorithm is not "Ed"/);
    invalid(() => parsePublicKey(`${formatPublicKey(pub)}extra\n`), /must have 2 lines, not 3/);
  });

  it("a secret key file round-trips with its checksum; the layout is minisign's", () => {
    const text = formatSecretKey(sec);
    const [comment, line] = text.split('\n');
    expect(comment).toBe(`untrusted comment: minisign unencrypted secret key ${sec.keyId}`);
    const raw = Buffer.from(line!, 'base64');
    expect(raw.length).toBe(158);
    expect(raw.subarray(0, 6)).toEqual(Buffer.from([0x45, 0x64, 0, 0, 0x42, 0x32])); // "Ed" "\0\0" "B2"
    expect(raw.subarray(6, 54).equals(Buffer.alloc(48))).toBe(true); // salt, opslimit, memlimit unused
    expect(raw.subarray(62, 126).equals(Buffer.from(sec.secretKey))).toBe(true);
    const chk = Buffer.alloc(32);
    sodium.crypto_generichash(chk, Buffer.concat([Buffer.from('Ed'), raw.subarray(54, 62), raw.subarray(62, 126)]));
    expect(raw.subarray(126).equals(chk)).toBe(true);
    const back = parseSecretKey(text);
    expect(back.keyId).toBe(sec.keyId);
    expect(Buffer.from(back.publicKey).equals(Buffer.from(pub.publicKey))).toBe(true);
    expect(Buffer.from(back.secretKey).equals(Buffer.from(sec.secretKey))).toBe(true);
  });

  it('reads minisign -W keys (zero checksum) and refuses damaged, encrypted or foreign ones', () => {
    const raw = Buffer.from(formatSecretKey(sec).split('\n')[1]!, 'base64');
    const file = (b: Buffer) => `untrusted comment: minisign encrypted secret key\n${b.toString('base64')}\n`;
    const zeroChk = Buffer.from(raw);
    zeroChk.fill(0, 126);
    expect(parseSecretKey(file(zeroChk)).keyId).toBe(sec.keyId);
    const badChk = Buffer.from(raw);
    badChk[130]! ^= 1;
    invalid(() => parseSecretKey(file(badChk)), /damaged \(checksum mismatch\)/);
    const badSeed = Buffer.from(zeroChk);
    badSeed[62]! ^= 1;
    invalid(() => parseSecretKey(file(badSeed)), /public half does not match/);
    const encrypted = Buffer.from(raw);
    encrypted.write('Sc', 2, 'latin1');
    invalid(() => parseSecretKey(file(encrypted)), /encrypted with a password.*minisign -C -W/);
    const unknownKdf = Buffer.from(raw);
    unknownKdf.write('Xx', 2, 'latin1');
    invalid(() => parseSecretKey(file(unknownKdf)), /unknown key derivation/);
    invalid(() => parseSecretKey(formatPublicKey(pub)), /42 bytes, not 158/);
  });
});

describe('minisign signatures', () => {
  it('signs with algorithm ED over BLAKE2b-512 of the data and the trusted comment over signature ‖ comment', () => {
    const text = signMinisign(data, sec, 'release 1.2.3', 'by A');
    const lines = text.split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe('untrusted comment: by A');
    expect(lines[2]).toBe('trusted comment: release 1.2.3');
    expect(lines[4]).toBe('');
    const raw = Buffer.from(lines[1]!, 'base64');
    expect(raw.subarray(0, 2).toString('latin1')).toBe('ED');
    expect(raw.subarray(2, 10).equals(Buffer.from(publicKeyLine(pub), 'base64').subarray(2, 10))).toBe(true);
    expect(sodium.crypto_sign_verify_detached(raw.subarray(10), minisignPrehash(data), pub.publicKey)).toBe(true);
    const global = Buffer.from(lines[3]!, 'base64');
    expect(sodium.crypto_sign_verify_detached(global, Buffer.concat([raw.subarray(10), Buffer.from('release 1.2.3')]), pub.publicKey)).toBe(
      true,
    );
    const sig = parseSignature(text);
    expect(sig).toMatchObject({ keyId: pub.keyId, algorithm: 'ED', trustedComment: 'release 1.2.3' });
    expect(verifyMinisign(data, sig, pub)).toEqual({ ok: true, trustedComment: 'release 1.2.3' });
    expect(verifyMinisign(data, parseSignature(text.replace(/\n/g, '\r\n')), pub).ok).toBe(true);
  });

  it('refuses other data, an altered trusted comment, another key and a swapped key id', () => {
    const sig = parseSignature(signMinisign(data, sec, 'tc'));
    expect(verifyMinisign(Buffer.concat([data, Buffer.from('x')]), sig, pub)).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(verifyMinisign(data, { ...sig, trustedComment: 'tc2' }, pub)).toMatchObject({
      ok: false,
      code: 'bad_signature',
      message: expect.stringMatching(/trusted comment signature/) as string,
    });
    const other = generateMinisignKeyPair();
    expect(verifyMinisign(data, sig, other.pub)).toMatchObject({ ok: false, code: 'unknown_key' });
    // Claiming the other key's id does not make the signature verify under that key.
    expect(verifyMinisign(data, { ...sig, keyId: other.pub.keyId }, other.pub)).toMatchObject({ ok: false, code: 'bad_signature' });
  });

  it('refuses a legacy Ed signature, even a valid one', () => {
    const legacy = parseSignature(handMade('Ed', data, sec, 'tc'));
    expect(legacy.algorithm).toBe('Ed');
    expect(verifyMinisign(data, legacy, pub)).toMatchObject({ ok: false, code: 'legacy_signature' });
  });

  it('minisign #104: an ED signature with its tag flipped to Ed "signs" the file holding the hash, and is refused', () => {
    const text = signMinisign(data, sec, 'tc');
    const raw = Buffer.from(text.split('\n')[1]!, 'base64');
    raw.write('Ed', 0, 'latin1');
    const flipped = parseSignature(text.replace(text.split('\n')[1]!, raw.toString('base64')));
    const forgedFile = minisignPrehash(data);
    // The attack works on a verifier that trusts the tag: the raw signature covers these 64 bytes…
    expect(sodium.crypto_sign_verify_detached(flipped.signature, forgedFile, pub.publicKey)).toBe(true);
    // …and so does the trusted comment signature, which never covered the tag.
    expect(verifyMinisign(forgedFile, { ...flipped, algorithm: 'ED' }, pub).ok).toBe(false); // ED would hash it again
    expect(verifyMinisign(forgedFile, flipped, pub)).toMatchObject({ ok: false, code: 'legacy_signature' });
  });

  it('refuses malformed signature files with the reason', () => {
    const text = signMinisign(data, sec, 'tc');
    const l = text.split('\n');
    invalid(() => parseSignature(l.slice(0, 3).join('\n')), /must have 4 lines, not 3/);
    invalid(() => parseSignature(`${text}more\n`), /must have 4 lines, not 5/);
    invalid(() => parseSignature(['comment', ...l.slice(1)].join('\n')), /starts with "untrusted comment:"/);
    invalid(() => parseSignature([l[0], l[1], 'comment: tc', l[3], ''].join('\n')), /"trusted comment: …"/);
    invalid(() => parseSignature([l[0], 'AAAA', l[2], l[3], ''].join('\n')), /3 bytes, not 74/);
    invalid(() => parseSignature([l[0], '!!!!', l[2], l[3], ''].join('\n')), /not base64/);
    invalid(() => parseSignature([l[0], l[1], l[2], 'AAAA', ''].join('\n')), /trusted-comment signature has 3 bytes, not 64/);
    // Non-canonical base64 (a bit set beside the padding) is refused: one signature, one text.
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const g = l[3]!;
    expect(g.endsWith('==')).toBe(true);
    const tweaked = g.slice(0, -3) + B64[B64.indexOf(g.at(-3)!) ^ 1]! + '==';
    expect(Buffer.from(tweaked, 'base64').equals(Buffer.from(g, 'base64'))).toBe(true); // Node alone would accept it
    invalid(() => parseSignature([l[0], l[1], l[2], tweaked, ''].join('\n')), /trusted-comment signature is not base64/);
    const raw = Buffer.from(l[1]!, 'base64');
    raw.write('XY', 0, 'latin1');
    invalid(() => parseSignature([l[0], raw.toString('base64'), l[2], l[3], ''].join('\n')), /Unknown minisign signature algorithm "XY"/);
  });

  it('refuses multi-line and oversized comments when signing', () => {
    invalid(() => signMinisign(data, sec, 'a\nb'), /trusted comment must be one line/);
    invalid(() => signMinisign(data, sec, 'tc', 'a\rb'), /untrusted comment must be one line/);
    invalid(() => signMinisign(data, sec, 'x'.repeat(8200)), /longer than/);
    expect(verifyMinisign(data, parseSignature(signMinisign(data, sec, 'é ünïcødé')), pub)).toEqual({
      ok: true,
      trustedComment: 'é ünïcødé',
    });
  });
});
