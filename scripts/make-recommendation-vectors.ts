/**
 * The recommendation test vectors shown in docs/recommendations.md §8. Every input is fixed,
 * the sealed box's ephemeral key included, so every byte is reproducible;
 * test/unit/recommendation-vectors.test.ts checks that the page shows exactly these values.
 * Print them (to update the page) with:
 *   PRINT_RECO_VECTORS=1 npx vitest run test/unit/recommendation-vectors.test.ts
 * The seeds are public test values: never use them for real keys.
 */
import { canonicalBytes, canonicalJson } from '../src-main/protocol/canonical';
import { toHex } from '../src-main/protocol/encoding';
import { boxKeyPair, fingerprint, signingKeyPair } from '../src-main/protocol/keys';
import { machinePseudonym, plantPseudonym } from '../src-main/protocol/pseudonym';
import { sealRecommendation, type RecommendationBody } from '../src-main/protocol/recommendation';
import { boxHeader, fromBase64 } from '../src-main/protocol/recommendation-box';
import { RECOMMENDATION_HEADER } from '../src-main/protocol/recommendation';
import { RECO_REPORT_HEADER, sealRecoReport, type RecoReportBody } from '../src-main/protocol/recommendation-report';
import { blake2b } from '../src-main/protocol/sodium';

/** 32 (or n) bytes counting up from `start`: readable, obviously not secret. */
function counting(start: number, n = 32): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (start + i) & 0xff));
}

export const RECO_VECTOR_INPUTS = {
  // The uplink's vector keys (docs/uplink.md §12), so both pages name the same parties.
  plantSigningSeed: counting(0x00),
  cloudBoxSeed: counting(0x20),
  supplierSigningSeed: counting(0x40),
  pseudonymKey: counting(0x60),
  plantBoxSeed: Buffer.alloc(32, 0x22),
  recoContentKey: Buffer.alloc(32, 0x44),
  recoNonce: Buffer.alloc(24, 0x55),
  recoEphemeralSeed: Buffer.alloc(32, 0x66),
  reportContentKey: Buffer.alloc(32, 0x77),
  reportNonce: Buffer.alloc(24, 0x88),
  reportEphemeralSeed: Buffer.alloc(32, 0x99),
  plantId: 'acme-lyon-plant-7',
  machineId: 'IM250-SN-004711',
  issuedAt: 1_767_225_600_000, // 2026-01-01T00:00:00Z
};

/** One sealed document, part by part (bytes as hex, texts as they are). */
export interface BoxVector {
  bodyJson: string;
  headerJson: string;
  headerHash: string;
  keyBlockPlaintext: string;
  keyBlock: string;
  nonce: string;
  ciphertext: string;
  signedJson: string;
  sig: string;
  wire: string;
}

/** A sealed document (recommendations.md §3) taken apart: what its page shows, part by part. */
export function boxParts(wire: string, bodyJson: string, headerNames: readonly string[], contentKey: Buffer): BoxVector {
  const doc = JSON.parse(wire) as Record<string, unknown>;
  const header = boxHeader(doc, headerNames);
  const { sig, ...unsigned } = doc;
  return {
    bodyJson,
    headerJson: header.toString('utf8'),
    headerHash: toHex(blake2b(header, 32)),
    keyBlockPlaintext: toHex(Buffer.concat([contentKey, blake2b(header, 32)])),
    keyBlock: toHex(fromBase64(doc.key)!),
    nonce: toHex(fromBase64(doc.nonce)!),
    ciphertext: toHex(fromBase64(doc.ct)!),
    signedJson: canonicalJson(unsigned),
    sig: String(sig),
    wire,
  };
}

/** The vectors: keys, the recommendation and a report, each part by part. */
export function makeRecommendationVectors() {
  const v = RECO_VECTOR_INPUTS;
  const supplier = signingKeyPair(v.supplierSigningSeed);
  const plantSign = signingKeyPair(v.plantSigningSeed);
  const plantBox = boxKeyPair(v.plantBoxSeed);
  const cloudBox = boxKeyPair(v.cloudBoxSeed);
  const plant = plantPseudonym(v.pseudonymKey, v.plantId);
  const machine = machinePseudonym(v.pseudonymKey, v.machineId);
  const body: RecommendationBody = {
    v: 1,
    id: 'r-2026-0001',
    plant,
    machine,
    issuedAt: v.issuedAt,
    validUntil: v.issuedAt + 2 * 3_600_000,
    changes: [{ point: 'zone2-sp', expected: 212, proposed: 218 }],
    rationale: 'Zone 2 runs 4 °C below its setpoint while the cycle is 6 % above ideal: raise it to 218 °C.',
    expect: { kpi: 'cycleTime', change: -0.04 },
    windowS: 1800,
    guards: [{ kpi: 'scrapRate', direction: 'rise', by: 0.01 }],
    autoRevert: false,
  };
  const recoWire = sealRecommendation(
    body,
    { supplier, plantBox },
    { batchKey: Buffer.from(v.recoContentKey), nonce: Buffer.from(v.recoNonce), ephemeralSeed: Buffer.from(v.recoEphemeralSeed) },
  );
  const report: RecoReportBody = {
    v: 1,
    plant,
    machine,
    recommendation: body.id,
    seq: 4711,
    at: v.issuedAt + 3 * 3_600_000,
    kind: 'outcome',
    outcome: {
      state: 'done',
      expected: { kpi: 'cycleTime', before: 19.08, after: 18.3, relative: -0.0409 },
      expectMet: true,
      guards: [{ kpi: 'scrapRate', before: 0.021, after: 0.019, breached: false }],
      revertProposed: false,
      autoReverted: false,
    },
  };
  const reportWire = Buffer.from(
    sealRecoReport(
      report,
      { plant: plantSign, cloudBox },
      { batchKey: Buffer.from(v.reportContentKey), nonce: Buffer.from(v.reportNonce), ephemeralSeed: Buffer.from(v.reportEphemeralSeed) },
    ),
  ).toString('utf8');
  const key = (pk: Buffer, kid: string, alg: 'ed25519' | 'x25519') => ({ publicKey: toHex(pk), kid, fingerprint: fingerprint(pk, alg) });
  return {
    inputs: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Buffer.isBuffer(x) ? toHex(x) : x])) as Record<
      string,
      string | number
    >,
    keys: {
      supplierSigning: key(supplier.publicKey, supplier.kid, 'ed25519'),
      plantSigning: key(plantSign.publicKey, plantSign.kid, 'ed25519'),
      plantBox: key(plantBox.publicKey, plantBox.kid, 'x25519'),
      cloudBox: key(cloudBox.publicKey, cloudBox.kid, 'x25519'),
    },
    pseudonyms: { plant, machine },
    recommendation: boxParts(recoWire, canonicalBytes(body).toString('utf8'), RECOMMENDATION_HEADER, v.recoContentKey),
    report: boxParts(reportWire, canonicalBytes(report).toString('utf8'), RECO_REPORT_HEADER, v.reportContentKey),
  };
}

/** Hex in lines of 64 characters (32 bytes), as the page shows it. */
export function hexLines(hex: string): string {
  return (hex.match(/.{1,64}/g) ?? []).join('\n');
}

/** The §8.1 inputs table. */
export function formatVectorInputs(): string {
  const x = makeRecommendationVectors();
  return ['| input | value |', '| --- | --- |', ...Object.entries(x.inputs).map(([k, v]) => `| ${k} | \`${v}\` |`)].join('\n');
}

/** The §8.2 keys and pseudonyms tables. */
export function formatVectorKeys(): string {
  const x = makeRecommendationVectors();
  return [
    '| key | public key | key id | fingerprint |',
    '| --- | --- | --- | --- |',
    ...Object.entries(x.keys).map(([k, v]) => `| ${k} | \`${v.publicKey}\` | \`${v.kid}\` | \`${v.fingerprint}\` |`),
    '',
    '| identifier | pseudonym |',
    '| --- | --- |',
    `| plant \`${x.inputs.plantId}\` | \`${x.pseudonyms.plant}\` |`,
    `| machine \`${x.inputs.machineId}\` | \`${x.pseudonyms.machine}\` |`,
  ].join('\n');
}

/** The §8.3 parts as the page shows them (for updating the page by hand). */
export function formatRecommendationVectors(): string {
  const x = makeRecommendationVectors();
  const box = (name: string, b: BoxVector) =>
    [
      `#### ${name}`,
      '',
      'Body (canonical JSON):',
      '',
      '```json',
      b.bodyJson,
      '```',
      '',
      'Header (canonical JSON of the clear members):',
      '',
      '```json',
      b.headerJson,
      '```',
      '',
      '```text',
      `# headerHash = BLAKE2b-256(header) — 32 bytes`,
      hexLines(b.headerHash),
      '',
      `# keyBlockPlaintext = contentKey ‖ headerHash — 64 bytes`,
      hexLines(b.keyBlockPlaintext),
      '',
      `# keyBlock — 112 bytes (base64 in "key")`,
      hexLines(b.keyBlock),
      '',
      `# nonce — 24 bytes (base64 in "nonce")`,
      hexLines(b.nonce),
      '',
      `# ciphertext, tag included — ${b.ciphertext.length / 2} bytes (base64 in "ct")`,
      hexLines(b.ciphertext),
      '```',
      '',
      'Signed text (the document without `sig`, canonical):',
      '',
      '```json',
      b.signedJson,
      '```',
      '',
      'Wire text:',
      '',
      '```json',
      b.wire,
      '```',
    ].join('\n');
  return [box('Recommendation', x.recommendation), '', box('Report', x.report)].join('\n');
}
