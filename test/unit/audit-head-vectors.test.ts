/** The audit-head report's test vectors (docs/uplink.md §17): deterministic, opened by the library, and the page shows them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeAuditHeadVectors, writeAuditHeadVectors } from '../../scripts/make-audit-head-vectors';
import { boxKeyPair, canonicalJson, openAuditHead, verifyWitnessedHead } from '../../src-main/protocol';

const root = join(import.meta.dirname, '../..');
const fixturePath = join(root, 'test/fixtures/audit-head-vectors.json');
if (process.env.WRITE_AUDIT_HEAD_VECTORS === '1') writeAuditHeadVectors(fixturePath);

const vectors = JSON.parse(readFileSync(fixturePath, 'utf8')) as {
  inputs: Record<string, string | number>;
  keys: { plantSigning: { publicKey: string; kid: string }; cloudBox: { kid: string } };
  plant: string;
  headSigned: string;
  headSig: string;
  body: string;
  header: string;
  wire: string;
};

describe('audit-head test vectors', () => {
  it('the fixture is exactly what the generator makes (every byte deterministic)', () => {
    expect(makeAuditHeadVectors()).toEqual(vectors);
  });

  it('the library opens the vector to its body, and the head inside verifies with the plant key', () => {
    const cloud = boxKeyPair(Buffer.from(String(vectors.inputs.cloudBoxSeed), 'hex'));
    const plantPk = Buffer.from(vectors.keys.plantSigning.publicKey, 'hex');
    const r = openAuditHead(Buffer.from(vectors.wire, 'utf8'), {
      plant: vectors.plant,
      plantKeys: (kid) => (kid === vectors.keys.plantSigning.kid ? plantPk : null),
      cloudBox: (kid) => (kid === cloud.kid ? cloud : null),
    });
    expect(r.ok && canonicalJson(r.body)).toBe(vectors.body);
    if (!r.ok) return;
    expect(verifyWitnessedHead(r.body.head, plantPk)).toBe(true);
    expect(verifyWitnessedHead({ ...r.body.head, seq: r.body.head.seq - 1 }, plantPk)).toBe(false);
    expect(
      openAuditHead(Buffer.from(vectors.wire.replace(vectors.plant, 'aaaaaaaaaaaaaaaa'), 'utf8'), {
        plant: vectors.plant,
        plantKeys: () => plantPk,
        cloudBox: () => cloud,
      }),
    ).toMatchObject({ ok: false, code: 'bad_signature' });
  });

  it('docs/uplink.md §17 shows them', () => {
    const doc = readFileSync(join(root, 'docs/uplink.md'), 'utf8');
    for (const text of [vectors.headSigned, vectors.headSig, vectors.body, vectors.header, vectors.wire]) expect(doc).toContain(text);
  });
});
