/**
 * docs/uplink.md §17 read by someone else: test/fixtures/audit_head_verify.py (PyNaCl, written
 * from the page) opens the documented audit-head vector and one our code seals now, checks the
 * head's own signature, and refuses a tampered head.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  boxKeyPair,
  canonicalJson,
  plantPseudonym,
  randomBytes,
  sealAuditHead,
  signDetached,
  signingKeyPair,
} from '../../src-main/protocol';
import { AUDIT_HEAD_SIGNATURE_LABEL, headMessage, type AuditHeadBody } from '../../src-main/protocol/audit-head';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, '../fixtures/audit_head_verify.py');
const probe = spawnSync(PYTHON, ['-c', 'import nacl'], { encoding: 'utf8' });
if (probe.status !== 0) throw new Error(`audit-head interop needs PyNaCl (apt-get install python3-nacl): ${probe.stderr}`);

function python(request: Record<string, unknown>): { ok: boolean; body?: string; reason?: string } {
  const r = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(request), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`audit_head_verify.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ok: boolean; body?: string; reason?: string };
}

describe('audit heads read by an independent implementation (PyNaCl)', () => {
  it('opens the documented vector and checks the head inside', () => {
    const v = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/audit-head-vectors.json'), 'utf8')) as {
      inputs: { cloudBoxSeed: string };
      keys: { plantSigning: { publicKey: string } };
      plant: string;
      body: string;
      wire: string;
    };
    const cloud = boxKeyPair(Buffer.from(v.inputs.cloudBoxSeed, 'hex'));
    const request = {
      json: v.wire,
      plantPublicKey: v.keys.plantSigning.publicKey,
      cloudSecretKey: cloud.secretKey.toString('hex'),
      plant: v.plant,
    };
    expect(python(request)).toEqual({ ok: true, body: v.body, head: 'verified' });
    expect(python({ ...request, plant: 'aaaaaaaaaaaaaaaa' }).reason).toBe('wrong_plant');
  });

  it('opens a head our code seals now, and refuses one whose head was signed by another key', () => {
    const plant = signingKeyPair();
    const cloud = boxKeyPair();
    const pseudonym = plantPseudonym(randomBytes(32), 'plant-x');
    const head = { seq: 77, hash: 'ab'.repeat(32), signedAt: 1_767_225_600_000, kid: plant.kid };
    const seal = (signer = plant) => {
      const sig = signDetached(AUDIT_HEAD_SIGNATURE_LABEL, headMessage(head), signer.secretKey).toString('hex');
      const body: AuditHeadBody = { v: 1, plant: pseudonym, seq: 9, head: { ...head, sig } };
      const json = Buffer.from(sealAuditHead(body, { plant, cloudBox: cloud })).toString('utf8');
      return {
        json,
        body,
        plantPublicKey: plant.publicKey.toString('hex'),
        cloudSecretKey: cloud.secretKey.toString('hex'),
        plant: pseudonym,
      };
    };
    const good = seal();
    expect(python(good)).toEqual({ ok: true, body: canonicalJson(good.body), head: 'verified' });
    // A report correctly sealed by the plant, over a head another key signed: the head is refused.
    expect(python(seal(signingKeyPair())).reason).toBe('bad_head_signature');
  });
});
