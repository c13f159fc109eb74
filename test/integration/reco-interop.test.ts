/**
 * An independent implementation (Python + PyNaCl, written from docs/recommendations.md) opens the
 * recommendations and reports our code builds, refuses tampered ones with the same reasons, and
 * builds a recommendation our code accepts.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { makeRecommendationVectors } from '../../scripts/make-recommendation-vectors';
import {
  boxKeyPair,
  canonicalJson,
  fromBase64,
  machinePseudonym,
  openRecommendation,
  parseRecommendationText,
  plantPseudonym,
  randomBytes,
  sealRecoReport,
  sealRecommendation,
  signingKeyPair,
  toBase64,
  type RecoReportBody,
  type RecommendationBody,
} from '../../src-main/protocol';
import { describeNeeding } from '../helpers/needs-package';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, '../fixtures/reco_verify.py');
const probe = spawnSync(PYTHON, ['-c', 'import nacl.bindings, nacl.public, nacl.signing'], { encoding: 'utf8' });
const hasNacl = probe.status === 0;

interface PyResult {
  ok: boolean;
  reason?: string;
  body?: string;
  header?: string;
  json?: string;
}

function python(request: Record<string, unknown>): PyResult {
  // Keys go through stdin, never argv.
  const r = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(request), encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`reco_verify.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PyResult;
}

const T0 = 1_767_225_600_000;

describeNeeding(['python3-nacl'], hasNacl, 'recommendation interoperability with PyNaCl', () => {
  const supplier = signingKeyPair();
  const plantSign = signingKeyPair();
  const plantBox = boxKeyPair();
  const cloudBox = boxKeyPair();
  const pk = randomBytes(32);
  const plant = plantPseudonym(pk, 'Usine de Lyon — Hall 3');
  const machine = machinePseudonym(pk, 'Presse 4');
  const body: RecommendationBody = {
    v: 1,
    id: 'r.2026_01-x',
    plant,
    machine,
    issuedAt: T0,
    validUntil: T0 + 3_600_000,
    changes: [
      { point: 'zone2-sp', expected: 212.5, proposed: 218 },
      { point: 'hold:sp.2', expected: 0.1 + 0.2, proposed: 1e21 },
      { point: 'Z', expected: -0.000001, proposed: 5e-324 },
    ],
    rationale: 'Zone 2 « froide » : +5,5 °C\n\t"quoted" \\ \u2028 😀 \u0001',
    expect: { kpi: 'cycleTime', change: -0.04 },
    windowS: 120,
    guards: [
      { kpi: 'scrapRate', direction: 'rise', by: 0.01 },
      { kpi: 'oee', direction: 'fall', by: 0.02 },
    ],
    autoRevert: true,
  };
  const recoRequest = (json: string, over: Record<string, unknown> = {}) => ({
    kind: 'recommendation',
    json,
    supplierPublicKey: supplier.publicKey.toString('hex'),
    plantBoxSecretKey: plantBox.secretKey.toString('hex'),
    plant,
    now: T0 + 1000,
    ...over,
  });

  it('opens a recommendation built by our code, body byte for byte', () => {
    const text = sealRecommendation(body, { supplier, plantBox });
    const r = python(recoRequest(JSON.stringify(JSON.parse(text), null, 2)));
    expect(r.ok).toBe(true);
    expect(r.body).toBe(canonicalJson(body));
    expect(r.header).toBe(canonicalJson({ enc: plantBox.kid, id: body.id, kid: supplier.kid, plant, type: 'recommendation', v: 1 }));
  });

  it('refuses tampered and misaddressed ones with the same reasons as ours', () => {
    const text = sealRecommendation(body, { supplier, plantBox });
    const doc = JSON.parse(text) as Record<string, string>;
    const ct = fromBase64(doc.ct)!;
    ct[5]! ^= 1;
    const ctx = {
      supplierKeys: new Map([[supplier.kid, { publicKey: supplier.publicKey, notAfter: null }]]),
      plantBox: (kid: string) => (kid === plantBox.kid ? plantBox : null),
      plant,
      now: T0 + 1000,
    };
    const cases: [string, string, Record<string, unknown>][] = [
      ['bad_signature', JSON.stringify({ ...doc, ct: toBase64(ct) }), {}],
      ['malformed', JSON.stringify({ ...doc, extra: 1 }), {}],
      ['unknown_key', sealRecommendation(body, { supplier: signingKeyPair(), plantBox }), {}],
      ['wrong_plant', sealRecommendation({ ...body, plant: plantPseudonym(pk, 'other') }, { supplier, plantBox }), {}],
      ['undecryptable', sealRecommendation(body, { supplier, plantBox: boxKeyPair() }), {}],
      ['expired', text, { now: T0 + 3_600_001 }],
      ['not_yet_valid', text, { now: T0 - 300_001 }],
    ];
    for (const [reason, json, over] of cases) {
      expect([reason, python(recoRequest(json, over)).reason]).toEqual([reason, reason]);
      const ours = openRecommendation(parseRecommendationText(json)!, { ...ctx, ...(over as { now?: number }) });
      expect([reason, ours.ok ? 'ok' : ours.code]).toEqual([reason, reason]);
    }
  });

  it('opens a report built by our code', () => {
    const report: RecoReportBody = {
      v: 1,
      plant,
      machine,
      recommendation: body.id,
      seq: 7,
      at: T0 + 7_200_000,
      kind: 'result',
      result: {
        ok: true,
        summary: 'All 3 changes written and read back',
        steps: [{ point: 'zone2-sp', action: 'write', outcome: 'written', code: null }],
      },
    };
    const bytes = sealRecoReport(report, { plant: plantSign, cloudBox });
    const request = {
      kind: 'report',
      json: Buffer.from(bytes).toString('utf8'),
      plantPublicKey: plantSign.publicKey.toString('hex'),
      cloudSecretKey: cloudBox.secretKey.toString('hex'),
      plant,
    };
    const r = python(request);
    expect(r.ok).toBe(true);
    expect(r.body).toBe(canonicalJson(report));
    expect(python({ ...request, plant: plantPseudonym(pk, 'other') }).reason).toBe('wrong_plant');
    expect(python({ ...request, plantPublicKey: signingKeyPair().publicKey.toString('hex') }).reason).toBe('unknown_key');
  });

  it('builds, from the page alone, a recommendation our code accepts', () => {
    const r = python({
      kind: 'seal-recommendation',
      body,
      supplierSecretSeed: supplier.secretKey.subarray(0, 32).toString('hex'),
      plantBoxPublicKey: plantBox.publicKey.toString('hex'),
    });
    expect(r.ok).toBe(true);
    const opened = openRecommendation(parseRecommendationText(r.json!)!, {
      supplierKeys: new Map([[supplier.kid, { publicKey: supplier.publicKey, notAfter: null }]]),
      plantBox: (kid) => (kid === plantBox.kid ? plantBox : null),
      plant,
      now: T0 + 1000,
    });
    expect(opened).toEqual({ ok: true, body, kid: supplier.kid });
  });

  it('opens the documented test vectors', () => {
    const v = makeRecommendationVectors();
    const seeded = (code: string, seed: string) => spawnSync(PYTHON, ['-c', code], { input: seed, encoding: 'utf8' }).stdout.trim();
    const boxSk = (seed: string) =>
      seeded(
        'import sys,nacl.public;print(nacl.public.PrivateKey.from_seed(bytes.fromhex(sys.stdin.read().strip())).encode().hex())',
        seed,
      );
    const r = python({
      kind: 'recommendation',
      json: v.recommendation.wire,
      supplierPublicKey: v.keys.supplierSigning.publicKey,
      plantBoxSecretKey: boxSk(String(v.inputs.plantBoxSeed)),
      plant: v.pseudonyms.plant,
      now: Number(v.inputs.issuedAt),
    });
    expect(r).toEqual({ ok: true, body: v.recommendation.bodyJson, header: v.recommendation.headerJson });
    const p = python({
      kind: 'report',
      json: v.report.wire,
      plantPublicKey: v.keys.plantSigning.publicKey,
      cloudSecretKey: boxSk(String(v.inputs.cloudBoxSeed)),
      plant: v.pseudonyms.plant,
    });
    expect(p).toEqual({ ok: true, body: v.report.bodyJson, header: v.report.headerJson });
  });
});
