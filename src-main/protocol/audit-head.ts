/**
 * The audit log's witness outside the plant (docs/uplink.md §17): every head of the audit hash
 * chain the plant signs (src-main/audit/record.ts) goes to the supplier cloud on
 * `pc/v1/<plant>/up/audit`, in the plant reports' sealed, signed JSON (plant-report.ts), and the
 * cloud keeps it append-only. Someone who later holds the plant's store key can rewrite the
 * chain and sign new heads, but not the heads the cloud already holds: `plant-console audit
 * verify --witness` compares them (src-main/audit/witness-check.ts).
 *
 * The body carries the head exactly as the plant signed it, its own Ed25519 signature
 * included, so the witness can be checked with the plant's public key alone, without the cloud.
 * Pure; `open` never throws on input.
 */
import { z } from 'zod';
import { canonicalBytes } from './canonical';
import type { FixedRandomness } from './envelope';
import { isKeyId, verifyDetached, type SigningKeyPair } from './keys';
import { isPseudonym } from './pseudonym';
import {
  openPlantReport,
  PLANT_REPORT_HEADER,
  sealPlantReport,
  type PlantReportKeys,
  type PlantReportKind,
  type PlantReportOpenResult,
} from './plant-report';

export const AUDIT_HEAD_REPORT_LABEL = 'plant-console/audit-head-report/v1';
/** The label of the head's own signature (src-main/audit/record.ts AUDIT_HEAD_LABEL). */
export const AUDIT_HEAD_SIGNATURE_LABEL = 'plant-console/audit-head/v1';
export const AUDIT_HEAD_LIMITS = { bodyBytes: 1024, documentBytes: 4096 } as const;

/** A signed head of the audit chain: record `seq` has hash `hash`, vouched for by key `kid` at `signedAt`. */
export interface WitnessedHead {
  seq: number;
  hash: string;
  signedAt: number;
  kid: string;
  sig: string;
}

/** The report body: one head, and the uplink sequence number it travels with (docs/uplink.md §7). */
export interface AuditHeadBody {
  v: 1;
  plant: string;
  seq: number;
  head: WitnessedHead;
}

const count = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

export const WitnessedHeadSchema: z.ZodType<WitnessedHead> = z
  .object({
    seq: count,
    hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'),
    signedAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    kid: z.string().refine(isKeyId, 'must be a key id'),
    sig: z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 lowercase hex characters'),
  })
  .strict();

export const AuditHeadBodySchema: z.ZodType<AuditHeadBody> = z
  .object({
    v: z.literal(1),
    plant: z.string().refine(isPseudonym, 'must be a pseudonym token'),
    seq: count,
    head: WitnessedHeadSchema,
  })
  .strict();

const AUDIT_HEAD_KIND: PlantReportKind<AuditHeadBody> = {
  type: 'audit-head',
  label: AUDIT_HEAD_REPORT_LABEL,
  noun: 'audit head',
  bodySchema: AuditHeadBodySchema,
  limits: AUDIT_HEAD_LIMITS,
};

export const AUDIT_HEAD_HEADER = PLANT_REPORT_HEADER;

/** What a head's signature covers after its label "plant-console/audit-head/v1\0": UTF-8(JCS({seq, hash, signedAt, kid})). */
export function headMessage(h: Pick<WitnessedHead, 'seq' | 'hash' | 'signedAt' | 'kid'>): Buffer {
  return canonicalBytes({ seq: h.seq, hash: h.hash, signedAt: h.signedAt, kid: h.kid });
}

/** True when the head's own signature verifies with `publicKey` (the plant key its kid names). */
export function verifyWitnessedHead(h: WitnessedHead, publicKey: Uint8Array): boolean {
  return /^[0-9a-f]{128}$/.test(h.sig) && verifyDetached(AUDIT_HEAD_SIGNATURE_LABEL, headMessage(h), Buffer.from(h.sig, 'hex'), publicKey);
}

/** Seals one head for the cloud: the bytes published on `pc/v1/<plant>/up/audit`. `fixed` is for test vectors only. */
export function sealAuditHead(
  body: AuditHeadBody,
  keys: { plant: SigningKeyPair; cloudBox: { kid: string; publicKey: Uint8Array } },
  fixed?: FixedRandomness,
): Uint8Array {
  return sealPlantReport(AUDIT_HEAD_KIND, body, keys, fixed);
}

export type AuditHeadOpenResult = PlantReportOpenResult<AuditHeadBody>;

/** The cloud's checks, in the plant reports' order (docs/recommendations.md §7); the head's own signature is the caller's. */
export function openAuditHead(bytes: Uint8Array, ctx: PlantReportKeys): AuditHeadOpenResult {
  return openPlantReport(AUDIT_HEAD_KIND, bytes, ctx);
}
