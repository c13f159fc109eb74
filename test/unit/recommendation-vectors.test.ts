/**
 * The recommendation test vectors: docs/recommendations.md §8 shows exactly what the code makes,
 * raw libsodium calls following the page open and rebuild them byte for byte, and the library
 * opens them. Print the page's §8 sections with PRINT_RECO_VECTORS=1.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatRecommendationVectors,
  formatVectorInputs,
  formatVectorKeys,
  makeRecommendationVectors,
  type BoxVector,
} from '../../scripts/make-recommendation-vectors';
import { openRecoReport, openRecommendation, parseRecommendationText } from '../../src-main/protocol';
import type { SodiumApi } from '../../src-main/protocol/sodium';

const docPath = join(import.meta.dirname, '../../docs/recommendations.md');
const v = makeRecommendationVectors();
if (process.env.PRINT_RECO_VECTORS === '1')
  console.log([formatVectorInputs(), formatVectorKeys(), formatRecommendationVectors()].join('\n\n'));
// The raw binding, not the library: this side follows the page step by step.
const sodium = createRequire(import.meta.url)('sodium-native') as SodiumApi;
const hex = (s: string | number | undefined): Buffer => Buffer.from(String(s), 'hex');

function seeded(kind: 'sign' | 'box', seed: string): { pk: Buffer; sk: Buffer } {
  const pk = Buffer.alloc(32);
  const sk = Buffer.alloc(kind === 'sign' ? 64 : 32);
  if (kind === 'sign') sodium.crypto_sign_seed_keypair(pk, sk, hex(seed));
  else sodium.crypto_box_seed_keypair(pk, sk, hex(seed));
  return { pk, sk };
}

function b2b(input: Buffer, len = 32): Buffer {
  const out = Buffer.alloc(len);
  sodium.crypto_generichash(out, input);
  return out;
}

/** Checks one document against the page's construction (§3) with raw calls. */
function followThePage(
  b: BoxVector,
  label: string,
  signer: { pk: Buffer; sk: Buffer },
  recipient: { pk: Buffer; sk: Buffer },
  fixed: {
    key: string;
    nonce: string;
    seed: string;
  },
): void {
  const doc = JSON.parse(b.wire) as Record<string, string | number>;
  const b64 = (s: unknown) => Buffer.from(String(s), 'base64');
  // Header: the clear members, canonical (names sorted, no whitespace); the page's vector shows it.
  const header = Buffer.from(b.headerJson, 'utf8');
  const clear = JSON.parse(b.headerJson) as Record<string, unknown>;
  for (const [k, x] of Object.entries(clear)) expect(doc[k]).toEqual(x);
  expect(b2b(header).toString('hex')).toBe(b.headerHash);

  // The signature over the label, a zero byte and the signed text; the signed text is the wire without sig.
  const { sig, ...unsigned } = doc;
  expect(JSON.stringify(unsigned, Object.keys(unsigned).sort())).toBe(b.signedJson);
  const message = Buffer.concat([Buffer.from(`${label}\0`, 'latin1'), Buffer.from(b.signedJson, 'utf8')]);
  expect(sodium.crypto_sign_verify_detached(hex(String(sig)), message, signer.pk)).toBe(true);
  const again = Buffer.alloc(64);
  sodium.crypto_sign_detached(again, message, signer.sk);
  expect(again.toString('hex')).toBe(b.sig);

  // The key block: open it; and rebuild it by the sealed box's definition with the fixed ephemeral seed.
  const keyBlock = b64(doc.key);
  expect(keyBlock.toString('hex')).toBe(b.keyBlock);
  const keyPlain = Buffer.alloc(64);
  expect(sodium.crypto_box_seal_open(keyPlain, keyBlock, recipient.pk, recipient.sk)).toBe(true);
  expect(keyPlain.toString('hex')).toBe(b.keyBlockPlaintext);
  expect(keyPlain.subarray(0, 32).toString('hex')).toBe(fixed.key);
  expect(keyPlain.subarray(32).equals(b2b(header))).toBe(true);
  const eph = seeded('box', fixed.seed);
  const rebuilt = Buffer.alloc(112);
  eph.pk.copy(rebuilt);
  sodium.crypto_box_easy(rebuilt.subarray(32), keyPlain, b2b(Buffer.concat([eph.pk, recipient.pk]), 24), recipient.pk, eph.sk);
  expect(rebuilt.toString('hex')).toBe(b.keyBlock);

  // The body: AEAD with AD = header.
  const nonce = b64(doc.nonce);
  expect(nonce.toString('hex')).toBe(fixed.nonce);
  const ct = b64(doc.ct);
  expect(ct.toString('hex')).toBe(b.ciphertext);
  const body = Buffer.alloc(ct.length - 16);
  sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(body, null, ct, header, nonce, keyPlain.subarray(0, 32));
  expect(body.toString('utf8')).toBe(b.bodyJson);
  const ct2 = Buffer.alloc(ct.length);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(ct2, Buffer.from(b.bodyJson, 'utf8'), header, null, nonce, hex(fixed.key));
  expect(ct2.equals(ct)).toBe(true);
  // Base64 is the padded standard alphabet.
  for (const m of ['key', 'nonce', 'ct']) expect(String(doc[m])).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
}

describe('recommendation test vectors', () => {
  const i = v.inputs;
  const supplier = seeded('sign', String(i.supplierSigningSeed));
  const plantSign = seeded('sign', String(i.plantSigningSeed));
  const plantBox = seeded('box', String(i.plantBoxSeed));
  const cloudBox = seeded('box', String(i.cloudBoxSeed));

  it('keys and ids follow from the seeds (uplink.md §2)', () => {
    const kid = (alg: string, pk: Buffer) =>
      b2b(Buffer.concat([Buffer.from(`plant-console/key/v1/${alg}\0`), pk]))
        .subarray(0, 8)
        .toString('hex');
    expect([supplier.pk.toString('hex'), kid('ed25519', supplier.pk)]).toEqual([
      v.keys.supplierSigning.publicKey,
      v.keys.supplierSigning.kid,
    ]);
    expect([plantSign.pk.toString('hex'), kid('ed25519', plantSign.pk)]).toEqual([v.keys.plantSigning.publicKey, v.keys.plantSigning.kid]);
    expect([plantBox.pk.toString('hex'), kid('x25519', plantBox.pk)]).toEqual([v.keys.plantBox.publicKey, v.keys.plantBox.kid]);
    expect([cloudBox.pk.toString('hex'), kid('x25519', cloudBox.pk)]).toEqual([v.keys.cloudBox.publicKey, v.keys.cloudBox.kid]);
  });

  it('raw libsodium following the page opens and rebuilds the recommendation', () => {
    followThePage(v.recommendation, 'plant-console/recommendation/v1', supplier, plantBox, {
      key: String(i.recoContentKey),
      nonce: String(i.recoNonce),
      seed: String(i.recoEphemeralSeed),
    });
  });

  it('raw libsodium following the page opens and rebuilds the report', () => {
    followThePage(v.report, 'plant-console/reco-report/v1', plantSign, cloudBox, {
      key: String(i.reportContentKey),
      nonce: String(i.reportNonce),
      seed: String(i.reportEphemeralSeed),
    });
  });

  it('the library opens both vectors', () => {
    const r = openRecommendation(parseRecommendationText(v.recommendation.wire)!, {
      supplierKeys: new Map([[v.keys.supplierSigning.kid, { publicKey: supplier.pk, notAfter: null }]]),
      plantBox: (kid) => (kid === v.keys.plantBox.kid ? { publicKey: plantBox.pk, secretKey: plantBox.sk } : null),
      plant: v.pseudonyms.plant,
      now: Number(i.issuedAt) + 60_000,
    });
    expect(r.ok && r.body).toEqual(JSON.parse(v.recommendation.bodyJson));
    const p = openRecoReport(Buffer.from(v.report.wire, 'utf8'), {
      plantKeys: (kid) => (kid === v.keys.plantSigning.kid ? plantSign.pk : null),
      cloudBox: (kid) => (kid === v.keys.cloudBox.kid ? { publicKey: cloudBox.pk, secretKey: cloudBox.sk } : null),
      plant: v.pseudonyms.plant,
    });
    expect(p.ok && p.body).toEqual(JSON.parse(v.report.bodyJson));
  });

  it('docs/recommendations.md shows the vectors exactly as the code makes them', () => {
    const doc = readFileSync(docPath, 'utf8');
    const flat = doc.replace(/\s+/g, '');
    const shown = [
      ...Object.values(v.inputs).map(String),
      ...Object.values(v.keys).flatMap((k) => [k.publicKey, k.kid, k.fingerprint.replace(/\s+/g, '')]),
      v.pseudonyms.plant,
      v.pseudonyms.machine,
      ...[v.recommendation, v.report].flatMap((b) => Object.values(b).map((x) => x.replace(/\s+/g, ''))),
    ];
    for (const item of shown) expect(flat, `docs/recommendations.md lacks ${item.slice(0, 48)}…`).toContain(item);
    // And the generated sections verbatim (so a changed body shows where it changed).
    for (const section of [formatVectorInputs(), formatVectorKeys(), formatRecommendationVectors()]) expect(doc).toContain(section);
    for (const label of ['plant-console/recommendation/v1', 'plant-console/reco-report/v1']) expect(doc).toContain(label);
  });
});
