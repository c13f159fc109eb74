import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VECTOR_INPUTS, makeUplinkVectors, writeUplinkVectors } from '../../scripts/make-uplink-vectors';
import type { BoxVector } from '../../scripts/make-recommendation-vectors';
import { openHealthEvent, openPlain, openSealed } from '../../src-main/protocol';
import type { SodiumApi } from '../../src-main/protocol/sodium';

const root = join(import.meta.dirname, '../..');
const fixturePath = join(root, 'test/fixtures/uplink-vectors.json');
const docPath = join(root, 'docs/uplink.md');
if (process.env.WRITE_UPLINK_VECTORS === '1') writeUplinkVectors(fixturePath);

interface Vectors {
  inputs: Record<string, string | number>;
  keys: Record<string, { publicKey: string; kid: string; fingerprint: string }>;
  pseudonyms: { plant: string; machine: string };
  sealed: Record<string, string>;
  plain: { json: string; signedJson: string; sig: string };
  cloudKeyAnnouncement: string;
  plantKeysAnnouncement: string;
  moduleHealth: BoxVector;
}
const vectors = JSON.parse(readFileSync(fixturePath, 'utf8')) as Vectors;
const hex = (s: string | number | undefined): Buffer => Buffer.from(String(s), 'hex');
// The raw binding, not the library: this side follows docs/uplink.md step by step.
const sodium = createRequire(import.meta.url)('sodium-native') as SodiumApi;

describe('uplink test vectors', () => {
  it('the fixture is exactly what the generator makes (every byte deterministic)', () => {
    expect(makeUplinkVectors()).toEqual(vectors);
  });

  it('the library opens the vector envelope to its payload', () => {
    const plantPk = hex(vectors.keys.plantSigning!.publicKey);
    const cloudPk = hex(vectors.keys.cloudBox!.publicKey);
    const cloudSk = Buffer.alloc(32);
    sodium.crypto_box_seed_keypair(Buffer.alloc(32), cloudSk, hex(vectors.inputs.cloudBoxSeed));
    const r = openSealed(hex(vectors.sealed.envelope), {
      plantPublicKeys: new Map([[vectors.keys.plantSigning!.kid, { publicKey: plantPk, plant: vectors.pseudonyms.plant }]]),
      cloudSecretKeys: new Map([[vectors.keys.cloudBox!.kid, { publicKey: cloudPk, secretKey: cloudSk }]]),
      lastSequence: () => null,
      now: Number(vectors.inputs.to),
    });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.payload).toEqual(JSON.parse(vectors.sealed.payloadJson!));
      expect(r.header.seq).toBe(VECTOR_INPUTS.seq);
    }
    const p = openPlain(vectors.plain.json, {
      plantPublicKeys: new Map([[vectors.keys.plantSigning!.kid, { publicKey: plantPk, plant: vectors.pseudonyms.plant }]]),
      lastSequence: () => VECTOR_INPUTS.seq,
      now: 0,
    });
    expect(p.ok).toBe(true);
  });

  it('raw libsodium following the document verifies and decrypts the vector', () => {
    const s = vectors.sealed;
    const env = hex(s.envelope);
    const plantPk = Buffer.alloc(32);
    sodium.crypto_sign_seed_keypair(plantPk, Buffer.alloc(64), hex(vectors.inputs.plantSigningSeed));
    expect(plantPk.toString('hex')).toBe(vectors.keys.plantSigning!.publicKey);
    const cloudPk = Buffer.alloc(32);
    const cloudSk = Buffer.alloc(32);
    sodium.crypto_box_seed_keypair(cloudPk, cloudSk, hex(vectors.inputs.cloudBoxSeed));

    // Key ids: first 8 bytes of BLAKE2b-256("plant-console/key/v1/<alg>\0" ‖ pk).
    const kid = (alg: string, pk: Buffer): string => {
      const out = Buffer.alloc(32);
      sodium.crypto_generichash(out, Buffer.concat([Buffer.from(`plant-console/key/v1/${alg}\0`), pk]));
      return out.subarray(0, 8).toString('hex');
    };
    expect(kid('ed25519', plantPk)).toBe(env.subarray(24, 32).toString('hex'));
    expect(kid('x25519', cloudPk)).toBe(env.subarray(32, 40).toString('hex'));

    // Parts by offset.
    const L = env.readUInt32BE(64);
    expect(env.length).toBe(284 + L);
    const header = env.subarray(0, 68);
    const keyBlock = env.subarray(68, 180);
    const nonce = env.subarray(180, 204);
    const ciphertext = env.subarray(204, 204 + L + 16);
    const signature = env.subarray(220 + L);
    expect([header, keyBlock, nonce, ciphertext, signature].map((b) => b.toString('hex'))).toEqual([
      s.header,
      s.keyBlock,
      s.nonce,
      s.ciphertext,
      s.signature,
    ]);

    const signed = Buffer.concat([Buffer.from('plant-console/uplink/v1\0'), env.subarray(0, 220 + L)]);
    expect(signed.toString('hex')).toBe(s.signingMessage);
    expect(sodium.crypto_sign_verify_detached(signature, signed, plantPk)).toBe(true);

    const keyPlain = Buffer.alloc(64);
    expect(sodium.crypto_box_seal_open(keyPlain, keyBlock, cloudPk, cloudSk)).toBe(true);
    expect(keyPlain.toString('hex')).toBe(s.keyBlockPlaintext);
    const hh = Buffer.alloc(32);
    sodium.crypto_generichash(hh, header);
    expect(keyPlain.subarray(32).equals(hh)).toBe(true);

    const payload = Buffer.alloc(L);
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(payload, null, ciphertext, header, nonce, keyPlain.subarray(0, 32));
    expect(payload.toString('utf8')).toBe(s.payloadJson);
  });

  it('the deterministic parts are byte-exact from the inputs alone', () => {
    const s = vectors.sealed;
    const header = hex(s.header);
    // AEAD under the fixed batch key and nonce.
    const payload = hex(s.payload);
    const ct = Buffer.alloc(payload.length + 16);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(ct, payload, header, null, hex(vectors.inputs.nonce), hex(vectors.inputs.batchKey));
    expect(ct.toString('hex')).toBe(s.ciphertext);
    // Ed25519 is deterministic: re-signing the recorded message gives the recorded signature.
    const pk = Buffer.alloc(32);
    const sk = Buffer.alloc(64);
    sodium.crypto_sign_seed_keypair(pk, sk, hex(vectors.inputs.plantSigningSeed));
    const sig = Buffer.alloc(64);
    sodium.crypto_sign_detached(sig, hex(s.signingMessage), sk);
    expect(sig.toString('hex')).toBe(s.signature);
    // The plain batch signature over its documented signed text.
    const psig = Buffer.alloc(64);
    sodium.crypto_sign_detached(
      psig,
      Buffer.concat([Buffer.from('plant-console/plain/v1\0'), Buffer.from(vectors.plain.signedJson, 'utf8')]),
      sk,
    );
    expect(psig.toString('hex')).toBe(vectors.plain.sig);
  });

  it('the library opens the module health vector (§16)', () => {
    const cloud = { publicKey: Buffer.alloc(32), secretKey: Buffer.alloc(32) };
    sodium.crypto_box_seed_keypair(cloud.publicKey, cloud.secretKey, hex(vectors.inputs.cloudBoxSeed));
    const plantPk = hex(vectors.keys.plantSigning!.publicKey);
    const r = openHealthEvent(Buffer.from(vectors.moduleHealth.wire, 'utf8'), {
      plantKeys: (kid) => (kid === vectors.keys.plantSigning!.kid ? plantPk : null),
      cloudBox: (kid) => (kid === vectors.keys.cloudBox!.kid ? cloud : null),
      plant: vectors.pseudonyms.plant,
    });
    expect(r).toEqual({ ok: true, body: JSON.parse(vectors.moduleHealth.bodyJson), kid: vectors.keys.plantSigning!.kid });
    // It took the plant's sequence number after the sealed (42) and plain (43) batches.
    expect(r.ok && r.body.seq).toBe(44);
  });

  it('raw libsodium following §16 verifies, opens and rebuilds the module health vector byte for byte', () => {
    const h = vectors.moduleHealth;
    const doc = JSON.parse(h.wire) as Record<string, string | number>;
    const b64 = (x: unknown) => Buffer.from(String(x), 'base64');
    // The header: the clear members type, v, plant, enc, kid, names sorted, no whitespace.
    const header = Buffer.from(JSON.stringify({ enc: doc.enc, kid: doc.kid, plant: doc.plant, type: doc.type, v: doc.v }), 'utf8');
    expect(header.toString('utf8')).toBe(h.headerJson);
    expect(doc.type).toBe('module-health');
    // The signature: label ‖ the document without sig, canonical (the wire text is canonical already).
    const { sig, ...unsigned } = doc;
    const signedText = JSON.stringify(unsigned);
    expect(signedText).toBe(h.signedJson);
    const plant = { pk: Buffer.alloc(32), sk: Buffer.alloc(64) };
    sodium.crypto_sign_seed_keypair(plant.pk, plant.sk, hex(vectors.inputs.plantSigningSeed));
    const signed = Buffer.concat([Buffer.from('plant-console/module-health/v1\0'), Buffer.from(signedText, 'utf8')]);
    expect(sodium.crypto_sign_verify_detached(hex(String(sig)), signed, plant.pk)).toBe(true);
    const resigned = Buffer.alloc(64);
    sodium.crypto_sign_detached(resigned, signed, plant.sk);
    expect(resigned.toString('hex')).toBe(h.sig);
    // The key block opens to contentKey ‖ BLAKE2b-256(header): 64 bytes.
    const cloud = { pk: Buffer.alloc(32), sk: Buffer.alloc(32) };
    sodium.crypto_box_seed_keypair(cloud.pk, cloud.sk, hex(vectors.inputs.cloudBoxSeed));
    const keyPlain = Buffer.alloc(64);
    expect(sodium.crypto_box_seal_open(keyPlain, b64(doc.key), cloud.pk, cloud.sk)).toBe(true);
    expect(keyPlain.toString('hex')).toBe(h.keyBlockPlaintext);
    const hh = Buffer.alloc(32);
    sodium.crypto_generichash(hh, header);
    expect(keyPlain.subarray(32).equals(hh)).toBe(true);
    // The body: AEAD with AD = header, under the content key and nonce; rebuilt from the inputs alone.
    const ct = b64(doc.ct);
    const body = Buffer.alloc(ct.length - 16);
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(body, null, ct, header, b64(doc.nonce), keyPlain.subarray(0, 32));
    expect(body.toString('utf8')).toBe(h.bodyJson);
    const again = Buffer.alloc(ct.length);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
      again,
      body,
      header,
      null,
      hex(vectors.inputs.healthNonce),
      hex(vectors.inputs.healthContentKey),
    );
    expect(again.toString('hex')).toBe(h.ciphertext);
  });

  it('docs/uplink.md shows the vectors as they are in the fixture', () => {
    expect(existsSync(docPath)).toBe(true);
    const doc = readFileSync(docPath, 'utf8').replace(/\s+/g, '');
    const shown = [
      ...Object.values(vectors.inputs).map(String),
      ...Object.values(vectors.keys).flatMap((k) => [k.publicKey, k.kid, k.fingerprint.replace(/\s+/g, '')]),
      vectors.pseudonyms.plant,
      vectors.pseudonyms.machine,
      ...['payloadJson', 'header', 'headerHash', 'keyBlock', 'nonce', 'ciphertext', 'signature', 'envelope'].map((k) =>
        vectors.sealed[k]!.replace(/\s+/g, ''),
      ),
      vectors.plain.json.replace(/\s+/g, ''),
      vectors.cloudKeyAnnouncement.replace(/\s+/g, ''),
      vectors.plantKeysAnnouncement.replace(/\s+/g, ''),
      ...(['bodyJson', 'headerJson', 'headerHash', 'keyBlock', 'nonce', 'ciphertext', 'sig', 'wire'] as const).map((k) =>
        vectors.moduleHealth[k].replace(/\s+/g, ''),
      ),
    ];
    for (const item of shown) expect(doc, `docs/uplink.md lacks ${item.slice(0, 40)}…`).toContain(item);
  });
});
