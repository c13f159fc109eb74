/**
 * Supplier tuning recommendations on the plant's downlink (docs/recommendations.md): the body
 * the supplier writes, sealed to the plant's X25519 key and signed by a pinned supplier key
 * (recommendation-box.ts), and the checks the plant makes before anyone sees it. Whether the
 * points exist, are writable and the values within the profile's limits is the plant's own
 * judgement (src-main/reco); this file answers only "is it genuine, for us, and current".
 * Pure functions, no I/O; refusals are values, bad input never throws.
 */
import { z } from 'zod';
import { ConsoleError } from '../core/errors';
import { RecoKpiSchema, type RecoKpi } from '../../src-preload/contract/recommendations';
import { canonicalJson, parseJsonObject, verifySignedJson } from './canonical';
import type { FixedRandomness } from './envelope';
import { isKeyId, type SigningKeyPair } from './keys';
import { POINT_ID, schemaProblem } from './payload';
import { isPseudonym } from './pseudonym';
import { BOX_KEY_BLOCK_BYTES, BOX_NONCE_BYTES, openBox, sealBox } from './recommendation-box';
import { findKey } from './refusal';
import { wipe } from './sodium';

export type { RecoKpi };

export const RECOMMENDATION_LABEL = 'plant-console/recommendation/v1';
/** Recommendation ids: what the supplier names them by, unique per plant (replays are refused by id). */
export const RECO_ID = /^[A-Za-z0-9._-]{1,64}$/;
export const RECO_LIMITS = {
  changes: 8,
  guards: 4,
  rationale: 2000,
  windowS: { min: 10, max: 7 * 86_400 },
  /** validUntil − issuedAt at most (a recommendation is about the machine as it is now). */
  validityMs: 30 * 86_400_000,
  /** The canonical body, in bytes. */
  bodyBytes: 32 * 1024,
  /** The whole downlink document, in bytes. */
  documentBytes: 64 * 1024,
} as const;
/** How far ahead of the plant's clock `issuedAt` may be (clocks differ). */
export const DEFAULT_CLOCK_SKEW_MS = 5 * 60_000;

/** One change: the point, the value the supplier expects it to hold now, and the one it proposes. */
export interface RecoChange {
  point: string;
  expected: number;
  proposed: number;
}

/**
 * A KPI that must not move the wrong way by more than `by`, in KPI units: ratios as fractions
 * (1 point of scrap rate = 0.01), cycleTime in s, throughput in parts per hour.
 */
export interface RecoGuard {
  kpi: RecoKpi;
  direction: 'rise' | 'fall';
  by: number;
}

/** What the supplier recommends (the encrypted body). */
export interface RecommendationBody {
  v: 1;
  id: string;
  /** Plant pseudonym token. */
  plant: string;
  /** Machine pseudonym token. */
  machine: string;
  issuedAt: number;
  validUntil: number;
  changes: RecoChange[];
  rationale: string;
  /** The effect expected: the KPI and its relative change (−0.04 = 4 % lower). */
  expect: { kpi: RecoKpi; change: number };
  /** The observation window after applying, in seconds. */
  windowS: number;
  guards: RecoGuard[];
  /** Revert by itself when a guard is breached (if the plant allows it). */
  autoRevert: boolean;
}

const timeMs = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const pseudonym = z.string().refine(isPseudonym, 'must be a pseudonym token (16 base32 characters)');
const recoId = z.string().regex(RECO_ID, 'must be 1–64 characters [A-Za-z0-9._-]');

const RecoChangeSchema = z
  .object({
    point: z.string().regex(POINT_ID, 'point ids are 1–64 ASCII characters [A-Za-z0-9_.:-]'),
    expected: z.number(),
    proposed: z.number(),
  })
  .strict();

const RecoGuardSchema = z.object({ kpi: RecoKpiSchema, direction: z.enum(['rise', 'fall']), by: z.number().positive().max(1e9) }).strict();

/** The body, strictly: unknown members anywhere are refused. */
export const RecommendationBodySchema: z.ZodType<RecommendationBody> = z
  .object({
    v: z.literal(1),
    id: recoId,
    plant: pseudonym,
    machine: pseudonym,
    issuedAt: timeMs,
    validUntil: timeMs,
    changes: z.array(RecoChangeSchema).min(1).max(RECO_LIMITS.changes),
    rationale: z.string().min(1).max(RECO_LIMITS.rationale),
    expect: z.object({ kpi: RecoKpiSchema, change: z.number().min(-1).max(1) }).strict(),
    windowS: z.number().int().min(RECO_LIMITS.windowS.min).max(RECO_LIMITS.windowS.max),
    guards: z.array(RecoGuardSchema).max(RECO_LIMITS.guards),
    autoRevert: z.boolean(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.validUntil <= b.issuedAt) ctx.addIssue({ code: 'custom', path: ['validUntil'], message: 'must be after issuedAt' });
    else if (b.validUntil - b.issuedAt > RECO_LIMITS.validityMs)
      ctx.addIssue({ code: 'custom', path: ['validUntil'], message: 'must be at most 30 days after issuedAt' });
    const seen = new Set<string>();
    b.changes.forEach((c, i) => {
      if (seen.has(c.point)) ctx.addIssue({ code: 'custom', path: ['changes', i, 'point'], message: `point ${c.point} is changed twice` });
      seen.add(c.point);
    });
  });

const b64 = (bytes: number) => z.string().length(Math.ceil(bytes / 3) * 4);

/** The document on the downlink (clear members, sealed body, signature), strictly. */
export const RecommendationDocSchema = z
  .object({
    type: z.literal('recommendation'),
    v: z.literal(1),
    plant: pseudonym,
    id: recoId,
    enc: z.string().refine(isKeyId, 'must be a key id (16 hex characters)'),
    kid: z.string().refine(isKeyId, 'must be a key id (16 hex characters)'),
    key: b64(BOX_KEY_BLOCK_BYTES),
    nonce: b64(BOX_NONCE_BYTES),
    ct: z
      .string()
      .min(24)
      .max(Math.ceil((RECO_LIMITS.bodyBytes + 16) / 3) * 4),
    sig: z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 hex characters'),
  })
  .strict();
export type RecommendationDoc = z.infer<typeof RecommendationDocSchema>;

/** The clear members that form the header (AD of the body, hashed into the key block). */
export const RECOMMENDATION_HEADER = ['type', 'v', 'plant', 'id', 'enc', 'kid'] as const;

/**
 * The supplier seals a recommendation to the plant's X25519 key and signs it: the downlink
 * message text (canonical JSON). Throws PROTOCOL_INVALID for a body the format cannot carry.
 * `fixed` is for test vectors only.
 */
export function sealRecommendation(
  body: RecommendationBody,
  keys: { supplier: SigningKeyPair; plantBox: { kid: string; publicKey: Uint8Array } },
  fixed?: FixedRandomness,
): string {
  const parsed = RecommendationBodySchema.safeParse(body);
  if (!parsed.success) throw new ConsoleError('PROTOCOL_INVALID', `The recommendation is invalid: ${schemaProblem(parsed.error)}.`);
  const doc = sealBox({
    label: RECOMMENDATION_LABEL,
    clear: { type: 'recommendation', v: 1 as const, plant: body.plant, id: body.id },
    body,
    recipientPublicKey: keys.plantBox.publicKey,
    signer: keys.supplier,
    maxBodyBytes: RECO_LIMITS.bodyBytes,
    ...(fixed ? { fixed } : {}),
  });
  if (doc.enc !== keys.plantBox.kid)
    throw new ConsoleError('PROTOCOL_INVALID', `Key id ${keys.plantBox.kid} is not the id of the plant's X25519 key (${doc.enc}).`);
  return canonicalJson(doc);
}

/** Why a recommendation was refused (the first check that failed), or the opened body. */
export type RecoOpenResult =
  | { ok: true; body: RecommendationBody; kid: string }
  | {
      ok: false;
      code: 'malformed' | 'bad_signature' | 'unknown_key' | 'undecryptable' | 'wrong_plant' | 'expired' | 'not_yet_valid';
      message: string;
      /** The id when the document names a well-formed one (unauthenticated before the signature). */
      id: string | null;
    };

type Refused = Extract<RecoOpenResult, { ok: false }>;

/** What the plant checks a recommendation against. */
export interface RecoOpenContext {
  /** The pinned supplier Ed25519 keys by key id (`notAfter`: accepted until, ms; null: no end). */
  supplierKeys: ReadonlyMap<string, { publicKey: Uint8Array; notAfter: number | null }>;
  /** The plant's X25519 key pair by key id (current and still-accepted older ones), or null. */
  plantBox: (kid: string) => { publicKey: Uint8Array; secretKey: Uint8Array } | null;
  /** This plant's pseudonym. */
  plant: string;
  now: number;
  clockSkewMs?: number;
}

/**
 * Verifies, decrypts and checks a recommendation, in the order docs/recommendations.md §5 gives:
 * malformed (members) → unknown key (signer) → bad signature → wrong plant (clear) →
 * undecryptable (plant key, key block, header hash, AEAD) → malformed (body) → wrong plant
 * (body) → expired → not yet valid. `doc` is the parsed downlink JSON whose type is
 * 'recommendation'. Never throws.
 */
export function openRecommendation(doc: Record<string, unknown>, ctx: RecoOpenContext): RecoOpenResult {
  const id = typeof doc.id === 'string' && RECO_ID.test(doc.id) ? doc.id : null;
  const refuse = (code: Refused['code'], message: string): Refused => ({ ok: false, code, message, id });
  if (doc.v !== 1) return refuse('malformed', `format version ${JSON.stringify(doc.v) ?? 'missing'} (this console reads 1)`);
  const outer = RecommendationDocSchema.safeParse(doc);
  if (!outer.success) return refuse('malformed', schemaProblem(outer.error));
  const d = outer.data;

  const signer = findKey(ctx.supplierKeys, d.kid, ctx.now);
  if (!signer.ok) return refuse('unknown_key', `supplier ${signer.detail}: not a pinned supplier key`);
  if (!verifySignedJson(RECOMMENDATION_LABEL, doc, signer.key.publicKey))
    return refuse('bad_signature', `the signature does not verify with supplier key ${d.kid}`);
  // From here the document is exactly what the holder of a pinned supplier key signed.
  if (d.plant !== ctx.plant) return refuse('wrong_plant', `the recommendation is addressed to plant ${d.plant}, not ${ctx.plant}`);

  const box = ctx.plantBox(d.enc);
  if (!box) return refuse('undecryptable', `it is sealed to X25519 key ${d.enc}, which this plant does not hold`);
  const opened = openBox(doc, RECOMMENDATION_HEADER, box, RECO_LIMITS.bodyBytes);
  if (!opened.ok) return refuse('undecryptable', opened.message);
  let json: Record<string, unknown> | null;
  try {
    json = parseJsonObject(opened.plaintext, RECO_LIMITS.bodyBytes);
  } finally {
    wipe(opened.plaintext);
  }
  if (!json) return refuse('malformed', 'the body is not a JSON object in UTF-8');
  const body = RecommendationBodySchema.safeParse(json);
  if (!body.success) return refuse('malformed', `body: ${schemaProblem(body.error)}`);
  const b = body.data;
  if (b.id !== d.id) return refuse('malformed', `the body's id ${b.id} differs from the document's ${d.id}`);
  if (b.plant !== ctx.plant) return refuse('wrong_plant', `the body names plant ${b.plant}, not ${ctx.plant} (re-addressed after sealing)`);

  if (ctx.now > b.validUntil) return refuse('expired', `valid until ${new Date(b.validUntil).toISOString()}`);
  const skew = ctx.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  if (b.issuedAt > ctx.now + skew)
    return refuse('not_yet_valid', `issued at ${new Date(b.issuedAt).toISOString()}, ahead of this plant's clock by more than ${skew} ms`);
  return { ok: true, body: b, kid: d.kid };
}

/** The recommendation's wire text parsed into the object `openRecommendation` takes, or null. */
export function parseRecommendationText(text: string | Uint8Array): Record<string, unknown> | null {
  return parseJsonObject(text, RECO_LIMITS.documentBytes);
}
