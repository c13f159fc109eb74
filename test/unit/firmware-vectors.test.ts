/**
 * The firmware test vectors of docs/firmware.md §10: the document shows exactly what
 * scripts/make-firmware-vectors.ts makes, raw libsodium following the document verifies them, and
 * the library accepts the release and the rotation they describe.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FIRMWARE_VECTOR_INPUTS,
  VECTORS_BEGIN,
  VECTORS_END,
  makeFirmwareVectors,
  renderFirmwareVectors,
  writeFirmwareVectors,
} from '../../scripts/make-firmware-vectors';
import { parseRoot, readBundle, verifyManifest, verifyRootRotation, writeBundle } from '../../src-main/firmware';
import type { SodiumApi } from '../../src-main/protocol/sodium';

const docPath = join(import.meta.dirname, '../../docs/firmware.md');
if (process.env.WRITE_FIRMWARE_VECTORS === '1') writeFirmwareVectors(docPath);
const doc = readFileSync(docPath, 'utf8');
const x = makeFirmwareVectors();
// The raw binding, not the library: this side follows docs/firmware.md step by step.
const sodium = createRequire(import.meta.url)('sodium-native') as SodiumApi;
const b64 = (s: string) => Buffer.from(s, 'base64');
const hash = (data: Uint8Array, len: number) => {
  const out = Buffer.alloc(len);
  sodium.crypto_generichash(out, data);
  return out;
};

describe('firmware test vectors', () => {
  it('are deterministic', () => {
    expect(makeFirmwareVectors()).toEqual(x);
  });

  it('docs/firmware.md shows exactly the generated section', () => {
    const start = doc.indexOf(VECTORS_BEGIN);
    const end = doc.indexOf(VECTORS_END);
    expect(start, 'vector markers missing').toBeGreaterThan(0);
    expect(doc.slice(start + VECTORS_BEGIN.length, end)).toBe('\n' + renderFirmwareVectors(x) + '\n');
    for (const text of [x.manifest.json, x.manifest.minisigA, x.root.v1, x.root.v2MinisigB, x.keys.c.pub])
      expect(doc).toContain(text.trimEnd());
  });

  it('raw libsodium following the document verifies the manifest signature', () => {
    const [, sigLine, tcLine, globalLine] = x.manifest.minisigA.split('\n');
    const pub = b64(x.keys.a.pub.split('\n')[1]!);
    expect(pub.subarray(0, 2).toString()).toBe('Ed');
    const pk = Buffer.alloc(32);
    sodium.crypto_sign_seed_keypair(pk, Buffer.alloc(64), Buffer.from(x.inputs.seedA, 'hex'));
    expect(pub.subarray(10).equals(pk)).toBe(true);
    // Key id: the stored bytes, printed reversed in uppercase.
    expect(pub.subarray(2, 10).toString('hex')).toBe(x.inputs.keyIdBytesA);
    expect(Buffer.from(x.inputs.keyIdBytesA, 'hex').reverse().toString('hex').toUpperCase()).toBe(x.keys.a.keyId);

    const sig = b64(sigLine!);
    expect(sig.subarray(0, 2).toString()).toBe('ED');
    expect(sig.subarray(2, 10).equals(pub.subarray(2, 10))).toBe(true);
    const manifest = Buffer.from(x.manifest.json, 'utf8');
    const prehash = hash(manifest, 64);
    expect(prehash.toString('hex')).toBe(x.manifest.prehash);
    expect(sodium.crypto_sign_verify_detached(sig.subarray(10), prehash, pk)).toBe(true);
    const tc = tcLine!.replace('trusted comment: ', '');
    expect(tc).toBe(x.manifest.trustedComment);
    expect(sodium.crypto_sign_verify_detached(b64(globalLine!), Buffer.concat([sig.subarray(10), Buffer.from(tc)]), pk)).toBe(true);
    // Ed25519 is deterministic: signing the documented message again gives the documented bytes.
    const sk = Buffer.alloc(64);
    sodium.crypto_sign_seed_keypair(Buffer.alloc(32), sk, Buffer.from(x.inputs.seedA, 'hex'));
    const again = Buffer.alloc(64);
    sodium.crypto_sign_detached(again, prehash, sk);
    expect(again.toString('hex')).toBe(x.manifest.signatureA);
    // The image hash in the manifest is BLAKE2b-512 of the image.
    expect(JSON.parse(x.manifest.json)).toMatchObject({ image: { blake2b512: hash(FIRMWARE_VECTOR_INPUTS.image, 64).toString('hex') } });
    // The secret key file's checksum is BLAKE2b-256("Ed" ‖ key id bytes ‖ secret key).
    const raw = b64(x.keys.a.key.split('\n')[1]!);
    expect(raw.subarray(62, 126).equals(sk)).toBe(true);
    expect(raw.subarray(126).equals(hash(Buffer.concat([Buffer.from('Ed'), raw.subarray(54, 62), sk]), 32))).toBe(true);
  });

  it('the library accepts the release under root v1 and the rotation to v2', () => {
    const root = parseRoot(Buffer.from(x.root.v1));
    const release = { manifest: Buffer.from(x.manifest.json), signatures: [x.manifest.minisigA, x.manifest.minisigB] };
    expect(verifyManifest(release, root, { now: x.inputs.now, model: 'hp200', installed: null })).toMatchObject({
      ok: true,
      signers: ['a', 'b'],
    });
    const r = verifyRootRotation(root, { root: Buffer.from(x.root.v2), signatures: [x.root.v2MinisigA, x.root.v2MinisigB] });
    expect(r).toMatchObject({ ok: true, root: { version: 2, threshold: 1 } });
    // Under v2, a's signature no longer counts; b's alone meets its threshold of 1.
    if (r.ok)
      expect(verifyManifest(release, r.root, { now: x.inputs.now, model: 'hp200', installed: null })).toMatchObject({
        ok: true,
        signers: ['b'],
      });
  });

  it('the bundle is the documented bytes', () => {
    const bundle = Buffer.from(
      writeBundle({
        manifest: Buffer.from(x.manifest.json),
        signatures: [x.manifest.minisigA, x.manifest.minisigB],
        image: FIRMWARE_VECTOR_INPUTS.image,
      }),
    );
    expect(bundle.length).toBe(x.bundle.bytes);
    expect(hash(bundle, 32).toString('hex')).toBe(x.bundle.blake2b256);
    expect(readBundle(bundle).signatures).toEqual([x.manifest.minisigA, x.manifest.minisigB]);
  });
});
