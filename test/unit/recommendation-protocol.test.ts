/**
 * Recommendations and reports on the wire (docs/recommendations.md): every refusal reason of
 * `openRecommendation` and `openRecoReport`, each produced the way an attacker or a buggy
 * signer would, and the round trips.
 */
import { describe, expect, it } from 'vitest';
import {
  RECOMMENDATION_LABEL,
  RECO_REPORT_LABEL,
  boxKeyPair,
  canonicalBytes,
  canonicalJson,
  fromBase64,
  machinePseudonym,
  openRecoReport,
  openRecommendation,
  parseRecommendationText,
  parseTopic,
  plantTopics,
  plantPseudonym,
  randomBytes,
  sealBox,
  sealRecoReport,
  sealRecommendation,
  signJson,
  signingKeyPair,
  toBase64,
  type RecoReportBody,
  type RecommendationBody,
} from '../../src-main/protocol';

const T0 = 1_767_225_600_000;
const HOUR = 3_600_000;

function world() {
  const supplier = signingKeyPair();
  const plantSign = signingKeyPair();
  const plantBox = boxKeyPair();
  const cloudBox = boxKeyPair();
  const pk = randomBytes(32);
  const plant = plantPseudonym(pk, 'acme-lyon-7');
  const other = plantPseudonym(pk, 'acme-lyon-8');
  const machine = machinePseudonym(pk, 'im-1');
  const body: RecommendationBody = {
    v: 1,
    id: 'r-2026-0001',
    plant,
    machine,
    issuedAt: T0,
    validUntil: T0 + 2 * HOUR,
    changes: [
      { point: 'zone2-sp', expected: 212, proposed: 218 },
      { point: 'zone1-sp', expected: 215, proposed: 217.5 },
    ],
    rationale: 'Zone 2 runs 4 °C below its setpoint while the cycle is 6 % above ideal.',
    expect: { kpi: 'cycleTime', change: -0.04 },
    windowS: 1800,
    guards: [{ kpi: 'scrapRate', direction: 'rise', by: 0.01 }],
    autoRevert: false,
  };
  const ctx = {
    supplierKeys: new Map<string, { publicKey: Uint8Array; notAfter: number | null }>([
      [supplier.kid, { publicKey: supplier.publicKey, notAfter: null }],
    ]),
    plantBox: (kid: string) => (kid === plantBox.kid ? { publicKey: plantBox.publicKey, secretKey: plantBox.secretKey } : null),
    plant,
    now: T0 + 60_000,
  };
  const seal = (b: RecommendationBody = body) => sealRecommendation(b, { supplier, plantBox });
  const open = (text: string, over: Partial<typeof ctx> & { clockSkewMs?: number } = {}) =>
    openRecommendation(parseRecommendationText(text)!, { ...ctx, ...over });
  return { supplier, plantSign, plantBox, cloudBox, plant, other, machine, body, ctx, seal, open };
}

type Doc = Record<string, unknown>;
const parse = (text: string): Doc => JSON.parse(text) as Doc;
/** Re-signs an edited document with `signer` (what only a key holder can do). */
const resign = (doc: Doc, signer: ReturnType<typeof signingKeyPair>, label = RECOMMENDATION_LABEL): Doc => {
  const { sig: _s, ...rest } = doc;
  return signJson(label, { ...rest }, signer);
};

describe('recommendations: seal and open', () => {
  it('opens what the supplier sealed: body, signer, canonical text with no body in clear', () => {
    const w = world();
    const text = w.seal();
    expect(text).toBe(canonicalJson(JSON.parse(text)));
    const doc = parse(text);
    expect(Object.keys(doc).sort()).toEqual(['ct', 'enc', 'id', 'key', 'kid', 'nonce', 'plant', 'sig', 'type', 'v']);
    expect(doc).toMatchObject({ type: 'recommendation', v: 1, plant: w.plant, id: w.body.id, enc: w.plantBox.kid, kid: w.supplier.kid });
    expect(text).not.toContain('zone2-sp');
    expect(text).not.toContain('Zone 2');
    expect(w.open(text)).toEqual({ ok: true, body: w.body, kid: w.supplier.kid });
    // Formatting added on the way does not matter: the signature is over the canonical form.
    expect(w.open(JSON.stringify(doc, null, 2)).ok).toBe(true);
  });

  it('refuses a forged signature (bad_signature), with the id it read', () => {
    const w = world();
    const doc = parse(w.seal());
    const mallory = signingKeyPair();
    const forged = { ...resign(doc, mallory), kid: w.supplier.kid };
    // Mallory's signature under the pinned kid: the kid changed after signing.
    expect(openRecommendation(forged, w.ctx)).toMatchObject({ ok: false, code: 'bad_signature', id: w.body.id });
    const flipped = { ...doc, sig: (doc.sig as string).replace(/^./, (c) => (c === '0' ? '1' : '0')) };
    expect(openRecommendation(flipped, w.ctx)).toMatchObject({ ok: false, code: 'bad_signature' });
  });

  it('refuses a signer that is not pinned, or whose key was retired (unknown_key)', () => {
    const w = world();
    const stranger = signingKeyPair();
    const text = sealRecommendation(w.body, { supplier: stranger, plantBox: w.plantBox });
    expect(w.open(text)).toMatchObject({ ok: false, code: 'unknown_key', id: w.body.id });
    const retired = new Map([[w.supplier.kid, { publicKey: w.supplier.publicKey, notAfter: T0 }]]);
    expect(w.open(w.seal(), { supplierKeys: retired })).toMatchObject({ ok: false, code: 'unknown_key' });
    expect(
      w.open(w.seal(), { supplierKeys: new Map([[w.supplier.kid, { publicKey: w.supplier.publicKey, notAfter: T0 + HOUR }]]) }).ok,
    ).toBe(true);
  });

  it('refuses a tampered ciphertext: bad_signature, or undecryptable when the supplier key signed it', () => {
    const w = world();
    const doc = parse(w.seal());
    const ct = fromBase64(doc.ct)!;
    ct[3]! ^= 1;
    const tampered = { ...doc, ct: toBase64(ct) };
    expect(openRecommendation(tampered, w.ctx)).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(openRecommendation(resign(tampered, w.supplier), w.ctx)).toMatchObject({ ok: false, code: 'undecryptable' });
    // A clear header edited and re-signed (the id): the header hash sealed with the key tells.
    expect(openRecommendation(resign({ ...doc, id: 'r-other' }, w.supplier), w.ctx)).toMatchObject({
      ok: false,
      code: 'undecryptable',
      message: expect.stringContaining('header') as string,
    });
    const key = fromBase64(doc.key)!;
    key[50]! ^= 1;
    expect(openRecommendation(resign({ ...doc, key: toBase64(key) }, w.supplier), w.ctx)).toMatchObject({ code: 'undecryptable' });
  });

  it('refuses one sealed to a key this plant does not hold (undecryptable)', () => {
    const w = world();
    const text = sealRecommendation(w.body, { supplier: w.supplier, plantBox: boxKeyPair() });
    expect(w.open(text)).toMatchObject({ ok: false, code: 'undecryptable', message: expect.stringContaining('does not hold') as string });
  });

  it('refuses another plant: addressed outside, or re-addressed inside (wrong_plant)', () => {
    const w = world();
    // A genuine recommendation for the other plant, published on ours.
    expect(w.open(w.seal({ ...w.body, plant: w.other }))).toMatchObject({ ok: false, code: 'wrong_plant', id: w.body.id });
    // The clear plant says ours, the sealed body says the other one (re-encrypted for us).
    const doc = sealBox({
      label: RECOMMENDATION_LABEL,
      clear: { type: 'recommendation', v: 1, plant: w.plant, id: w.body.id },
      body: { ...w.body, plant: w.other },
      recipientPublicKey: w.plantBox.publicKey,
      signer: w.supplier,
      maxBodyBytes: 32 * 1024,
    });
    expect(openRecommendation(doc, w.ctx)).toMatchObject({
      ok: false,
      code: 'wrong_plant',
      message: expect.stringContaining('body') as string,
    });
  });

  it('refuses an expired one and one issued too far ahead (expired, not_yet_valid)', () => {
    const w = world();
    const text = w.seal();
    expect(w.open(text, { now: T0 + 2 * HOUR }).ok).toBe(true);
    expect(w.open(text, { now: T0 + 2 * HOUR + 1 })).toMatchObject({ ok: false, code: 'expired' });
    expect(w.open(text, { now: T0 - 5 * 60_000 }).ok).toBe(true);
    expect(w.open(text, { now: T0 - 5 * 60_000 - 1 })).toMatchObject({ ok: false, code: 'not_yet_valid' });
    expect(w.open(text, { now: T0 - 10_000, clockSkewMs: 5_000 })).toMatchObject({ ok: false, code: 'not_yet_valid' });
  });

  it('refuses unknown members outside and inside, a wrong version and unreadable members (malformed)', () => {
    const w = world();
    const doc = parse(w.seal());
    expect(openRecommendation(resign({ ...doc, note: 'x' }, w.supplier), w.ctx)).toMatchObject({ ok: false, code: 'malformed' });
    expect(openRecommendation({ ...doc, v: 2 }, w.ctx)).toMatchObject({ ok: false, code: 'malformed' });
    expect(openRecommendation({ ...doc, key: 'AAAA' }, w.ctx)).toMatchObject({ ok: false, code: 'malformed' });
    expect(openRecommendation({ ...doc, id: 'has space' }, w.ctx)).toMatchObject({ ok: false, code: 'malformed', id: null });
    const sealedBody = (body: unknown) =>
      sealBox({
        label: RECOMMENDATION_LABEL,
        clear: { type: 'recommendation', v: 1, plant: w.plant, id: w.body.id },
        body,
        recipientPublicKey: w.plantBox.publicKey,
        signer: w.supplier,
        maxBodyBytes: 32 * 1024,
      });
    const cases: [string, unknown][] = [
      ['unknown body member', { ...w.body, extra: true }],
      ['unknown change member', { ...w.body, changes: [{ ...w.body.changes[0], unit: '°C' }] }],
      ['too many changes', { ...w.body, changes: Array.from({ length: 9 }, (_, i) => ({ point: `p${i}`, expected: 1, proposed: 2 })) }],
      ['no change', { ...w.body, changes: [] }],
      ['a point twice', { ...w.body, changes: [w.body.changes[0], w.body.changes[0]] }],
      ['unknown KPI', { ...w.body, expect: { kpi: 'happiness', change: 0.1 } }],
      ['too many guards', { ...w.body, guards: Array.from({ length: 5 }, () => w.body.guards[0]) }],
      ['window too short', { ...w.body, windowS: 9 }],
      ['valid before issued', { ...w.body, validUntil: T0 }],
      ['rationale too long', { ...w.body, rationale: 'x'.repeat(2001) }],
      ['another id inside', { ...w.body, id: 'r-other' }],
    ];
    for (const [what, body] of cases)
      expect([what, openRecommendation(sealedBody(body), w.ctx)]).toMatchObject([what, { ok: false, code: 'malformed' }]);
    expect(openRecommendation(sealedBody(w.body), w.ctx).ok).toBe(true);
  });

  it('will not seal what the plant would refuse as malformed', () => {
    const w = world();
    const nine = Array.from({ length: 9 }, (_, i) => ({ point: `p${i}`, expected: 1, proposed: 2 }));
    expect(() => w.seal({ ...w.body, changes: nine })).toThrow(/changes/);
    expect(() => w.seal({ ...w.body, guards: [{ kpi: 'oee', direction: 'fall', by: -1 }] })).toThrow(/guards/);
    expect(() =>
      sealRecommendation(w.body, { supplier: w.supplier, plantBox: { kid: '0000000000000000', publicKey: w.plantBox.publicKey } }),
    ).toThrow(/not the id/);
  });

  it('is deterministic with fixed randomness, and fresh without', () => {
    const w = world();
    const fixed = () => ({ batchKey: Buffer.alloc(32, 1), nonce: Buffer.alloc(24, 2), ephemeralSeed: Buffer.alloc(32, 3) });
    const a = sealRecommendation(w.body, { supplier: w.supplier, plantBox: w.plantBox }, fixed());
    expect(sealRecommendation(w.body, { supplier: w.supplier, plantBox: w.plantBox }, fixed())).toBe(a);
    expect(w.open(a).ok).toBe(true);
    expect(parse(w.seal()).nonce).not.toBe(parse(w.seal()).nonce);
  });
});

describe('the reports topic', () => {
  it('is pc/v1/<plant>/up/reco, inside what the plant may publish, and parses back', () => {
    const { plant } = world();
    const t = plantTopics(plant);
    expect(t.reco).toBe(`pc/v1/${plant}/up/reco`);
    expect(t.reco.startsWith(t.publishPrefix)).toBe(true);
    expect(parseTopic(t.reco)).toEqual({ kind: 'reco', plant });
    expect(parseTopic(`${t.reco}/extra`)).toBeNull();
  });
});

describe('reports on recommendations: seal and open', () => {
  function reports(w: ReturnType<typeof world>): RecoReportBody[] {
    const base = { v: 1 as const, plant: w.plant, machine: w.machine, recommendation: w.body.id, seq: 42, at: T0 + HOUR };
    return [
      { ...base, kind: 'decision', decision: { action: 'apply', role: 'maintenance', reason: null } },
      {
        ...base,
        kind: 'result',
        result: {
          ok: false,
          summary: 'Zone 2 read back 215 (asked 218): 1 change reverted',
          steps: [
            { point: 'zone1-sp', action: 'write', outcome: 'written', code: null },
            { point: 'zone2-sp', action: 'write', outcome: 'readback-mismatch', code: 'READBACK_MISMATCH' },
            { point: 'zone1-sp', action: 'revert', outcome: 'written', code: null },
          ],
        },
      },
      {
        ...base,
        kind: 'outcome',
        outcome: {
          state: 'done',
          expected: { kpi: 'cycleTime', before: 19.1, after: 18.4, relative: -0.0366 },
          expectMet: true,
          guards: [{ kpi: 'scrapRate', before: 0.02, after: 0.021, breached: false }],
          revertProposed: false,
          autoReverted: false,
        },
      },
      {
        ...base,
        machine: '',
        recommendation: 'a'.repeat(64),
        kind: 'refused',
        refusal: { code: 'bad_signature', message: 'the signature does not verify' },
      },
    ];
  }
  const ctxOf = (w: ReturnType<typeof world>) => ({
    plantKeys: (kid: string) => (kid === w.plantSign.kid ? w.plantSign.publicKey : null),
    cloudBox: (kid: string) => (kid === w.cloudBox.kid ? { publicKey: w.cloudBox.publicKey, secretKey: w.cloudBox.secretKey } : null),
    plant: w.plant,
  });

  it('round-trips every kind, sealed (no body in clear) and signed by the plant', () => {
    const w = world();
    for (const r of reports(w)) {
      const bytes = sealRecoReport(r, { plant: w.plantSign, cloudBox: w.cloudBox });
      const text = Buffer.from(bytes).toString('utf8');
      expect(text).not.toContain(r.recommendation);
      expect(Object.keys(parse(text)).sort()).toEqual(['ct', 'enc', 'key', 'kid', 'nonce', 'plant', 'sig', 'type', 'v']);
      expect(openRecoReport(bytes, ctxOf(w))).toEqual({ ok: true, body: r, kid: w.plantSign.kid });
    }
  });

  it('refuses every way a report can be wrong', () => {
    const w = world();
    const [decision] = reports(w);
    const bytes = sealRecoReport(decision!, { plant: w.plantSign, cloudBox: w.cloudBox });
    const doc = parse(Buffer.from(bytes).toString('utf8'));
    const enc = (d: Doc) => canonicalBytes(d);
    const open = (b: Uint8Array, over = {}) => openRecoReport(b, { ...ctxOf(w), ...over });
    expect(open(Buffer.from('not json'))).toMatchObject({ code: 'malformed' });
    expect(open(enc({ ...doc, extra: 1 }))).toMatchObject({ code: 'malformed' });
    expect(open(enc(resign(doc, signingKeyPair(), RECO_REPORT_LABEL)))).toMatchObject({ code: 'unknown_key' });
    expect(open(bytes, { plantKeys: () => null })).toMatchObject({ code: 'unknown_key' });
    const ct = fromBase64(doc.ct)!;
    ct[0]! ^= 1;
    expect(open(enc({ ...doc, ct: toBase64(ct) }))).toMatchObject({ code: 'bad_signature' });
    expect(open(enc(resign({ ...doc, ct: toBase64(ct) }, w.plantSign, RECO_REPORT_LABEL)))).toMatchObject({ code: 'undecryptable' });
    expect(open(bytes, { plant: w.other })).toMatchObject({ code: 'wrong_plant' });
    expect(open(bytes, { cloudBox: () => null })).toMatchObject({ code: 'undecryptable' });
    // Signed with a label of another document type: never taken for a report.
    expect(open(enc(resign(doc, w.plantSign, RECOMMENDATION_LABEL)))).toMatchObject({ code: 'bad_signature' });
    const inner = (body: unknown) =>
      canonicalBytes(
        sealBox({
          label: RECO_REPORT_LABEL,
          clear: { type: 'reco-report', v: 1, plant: w.plant },
          body,
          recipientPublicKey: w.cloudBox.publicKey,
          signer: w.plantSign,
          maxBodyBytes: 65536,
        }),
      );
    expect(open(inner({ ...decision, plant: w.other }))).toMatchObject({ code: 'wrong_plant' });
    expect(open(inner({ ...decision, kind: 'outcome' }))).toMatchObject({ code: 'malformed' });
    expect(open(inner({ ...decision, decision: { action: 'apply', role: 'Jane Doe', reason: null } }))).toMatchObject({
      code: 'malformed',
    });
    expect(open(inner(decision)).ok).toBe(true);
  });

  it('will not seal a report naming a person or missing its member', () => {
    const w = world();
    const [decision] = reports(w);
    const keys = { plant: w.plantSign, cloudBox: w.cloudBox };
    expect(() => sealRecoReport({ ...decision!, decision: { action: 'reject', role: 'J. Doe', reason: 'no' } }, keys)).toThrow(/role/);
    expect(() => sealRecoReport({ ...decision!, kind: 'result' }, keys)).toThrow(/result/);
  });
});
