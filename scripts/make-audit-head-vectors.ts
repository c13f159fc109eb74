/**
 * Generates the test vectors of the audit-head report (test/fixtures/audit-head-vectors.json,
 * shown in docs/uplink.md §17). Every input is fixed, the sealed box's ephemeral key included,
 * so every byte is reproducible; the keys and pseudonym are those of the uplink vectors (§12).
 * Rewrite the fixture with:
 *   WRITE_AUDIT_HEAD_VECTORS=1 npx vitest run --project unit test/unit/audit-head-vectors.test.ts
 * The seeds are public test values: never use them for a real plant or cloud.
 */
import { writeFileSync } from 'node:fs';
import { headMessage, sealAuditHead, type AuditHeadBody } from '../src-main/protocol/audit-head';
import { canonicalJson } from '../src-main/protocol/canonical';
import { boxKeyPair, signDetached, signingKeyPair } from '../src-main/protocol/keys';
import { plantPseudonym } from '../src-main/protocol/pseudonym';
import { AUDIT_HEAD_SIGNATURE_LABEL } from '../src-main/protocol/audit-head';
import { VECTOR_INPUTS } from './make-uplink-vectors';

/** The head: record 1234 of the chain, its hash, when and by which key it was signed. */
export const AUDIT_HEAD_INPUTS = {
  recordSeq: 1234,
  recordHash: '5f0c8e1a9d3b7e2c4a6f8091b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5',
  signedAt: 1_767_225_660_000,
  uplinkSeq: 44,
  contentKey: Buffer.alloc(32, 0x5a),
  nonce: Buffer.alloc(24, 0xa5),
  ephemeralSeed: Buffer.alloc(32, 0x3c),
};

/** The vectors as stored in the fixture. */
export function makeAuditHeadVectors(): Record<string, unknown> {
  const v = VECTOR_INPUTS;
  const a = AUDIT_HEAD_INPUTS;
  const plant = signingKeyPair(v.plantSigningSeed);
  const cloud = boxKeyPair(v.cloudBoxSeed);
  const pseudonym = plantPseudonym(v.pseudonymKey, v.plantId);
  const head = { seq: a.recordSeq, hash: a.recordHash, signedAt: a.signedAt, kid: plant.kid };
  const headSigned = headMessage(head).toString('utf8');
  const sig = signDetached(AUDIT_HEAD_SIGNATURE_LABEL, headMessage(head), plant.secretKey).toString('hex');
  const body: AuditHeadBody = { v: 1, plant: pseudonym, seq: a.uplinkSeq, head: { ...head, sig } };
  const wire = Buffer.from(
    sealAuditHead(
      body,
      { plant, cloudBox: { kid: cloud.kid, publicKey: cloud.publicKey } },
      {
        batchKey: a.contentKey,
        nonce: a.nonce,
        ephemeralSeed: a.ephemeralSeed,
      },
    ),
  ).toString('utf8');
  return {
    inputs: {
      plantSigningSeed: v.plantSigningSeed.toString('hex'),
      cloudBoxSeed: v.cloudBoxSeed.toString('hex'),
      pseudonymKey: v.pseudonymKey.toString('hex'),
      plantId: v.plantId,
      recordSeq: a.recordSeq,
      recordHash: a.recordHash,
      signedAt: a.signedAt,
      uplinkSeq: a.uplinkSeq,
      contentKey: a.contentKey.toString('hex'),
      nonce: a.nonce.toString('hex'),
      ephemeralSeed: a.ephemeralSeed.toString('hex'),
    },
    keys: { plantSigning: { publicKey: plant.publicKey.toString('hex'), kid: plant.kid }, cloudBox: { kid: cloud.kid } },
    plant: pseudonym,
    headSigned,
    headSig: sig,
    body: canonicalJson(body),
    header: canonicalJson({ type: 'audit-head', v: 1, plant: pseudonym, enc: cloud.kid, kid: plant.kid }),
    wire,
  };
}

/** Writes the fixture. */
export function writeAuditHeadVectors(path: string): void {
  writeFileSync(path, JSON.stringify(makeAuditHeadVectors(), null, 2) + '\n');
}
