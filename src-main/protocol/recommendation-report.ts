/**
 * The plant's reports on a recommendation (docs/recommendations.md §6), on
 * `pc/v1/<plant>/up/reco`: the decision people took (by role, never by name), the result of
 * applying, the measured outcome, or why the console refused it. The same sealed, signed JSON
 * as recommendations (recommendation-box.ts), sealed to the cloud's X25519 key and signed by the
 * plant's Ed25519 key, sent as the UTF-8 bytes of its canonical JSON. Pure; never throws on input.
 */
import { z } from 'zod';
import type { FixedRandomness } from './envelope';
import type { SigningKeyPair } from './keys';
import { POINT_ID } from './payload';
import { isPseudonym } from './pseudonym';
import { RECO_ID } from './recommendation';
import {
  openPlantReport,
  PLANT_REPORT_HEADER,
  sealPlantReport,
  type PlantReportKeys,
  type PlantReportKind,
  type PlantReportOpenResult,
} from './plant-report';

export const RECO_REPORT_LABEL = 'plant-console/reco-report/v1';
export const RECO_REPORT_LIMITS = { bodyBytes: 64 * 1024, documentBytes: 128 * 1024, steps: 32, guards: 8, text: 1000 } as const;

/** A report on one recommendation; exactly the member named by `kind` is present. */
export interface RecoReportBody {
  v: 1;
  plant: string;
  /** Machine pseudonym; "" when a refused recommendation named none that could be read. */
  machine: string;
  /** The recommendation's id (for a refused one whose id was unreadable: the console's reference). */
  recommendation: string;
  /** The plant's uplink sequence number this report travels with (docs/uplink.md §7): the cloud checks it like a batch's. */
  seq: number;
  at: number;
  kind: 'decision' | 'result' | 'outcome' | 'refused';
  /** Roles only, never a person's name. */
  decision?: { action: 'apply' | 'reject' | 'defer' | 'revert'; role: string; reason: string | null };
  result?: { ok: boolean; summary: string; steps: { point: string; action: 'write' | 'revert'; outcome: string; code: string | null }[] };
  outcome?: {
    state: string;
    expected: { kpi: string; before: number | null; after: number | null; relative: number | null } | null;
    expectMet: boolean | null;
    guards: { kpi: string; before: number | null; after: number | null; breached: boolean }[];
    revertProposed: boolean;
    autoReverted: boolean;
  };
  refusal?: { code: string; message: string };
}

const text = (max: number) => z.string().max(max);
const word = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1–64 characters [A-Za-z0-9_.:-]');
const num = z.number().nullable();

/** The report body, strictly (unknown members anywhere are refused). */
export const RecoReportBodySchema: z.ZodType<RecoReportBody> = z
  .object({
    v: z.literal(1),
    plant: z.string().refine(isPseudonym, 'must be a pseudonym token'),
    machine: z.string().refine((m) => m === '' || isPseudonym(m), 'must be a pseudonym token or ""'),
    recommendation: z.string().regex(RECO_ID, 'must be 1–64 characters [A-Za-z0-9._-]'),
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    at: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    kind: z.enum(['decision', 'result', 'outcome', 'refused']),
    decision: z
      .object({
        action: z.enum(['apply', 'reject', 'defer', 'revert']),
        // A role ("maintenance", "system"), lowercase: the cloud never learns who.
        role: z.string().regex(/^[a-z][a-z-]{0,31}$/, 'must be a role name (a–z and "-")'),
        reason: text(RECO_REPORT_LIMITS.text).nullable(),
      })
      .strict()
      .optional(),
    result: z
      .object({
        ok: z.boolean(),
        summary: text(RECO_REPORT_LIMITS.text),
        steps: z
          .array(
            z
              .object({
                point: z.string().regex(POINT_ID),
                action: z.enum(['write', 'revert']),
                outcome: word,
                code: word.nullable(),
              })
              .strict(),
          )
          .max(RECO_REPORT_LIMITS.steps),
      })
      .strict()
      .optional(),
    outcome: z
      .object({
        state: word,
        expected: z.object({ kpi: word, before: num, after: num, relative: num }).strict().nullable(),
        expectMet: z.boolean().nullable(),
        guards: z.array(z.object({ kpi: word, before: num, after: num, breached: z.boolean() }).strict()).max(RECO_REPORT_LIMITS.guards),
        revertProposed: z.boolean(),
        autoReverted: z.boolean(),
      })
      .strict()
      .optional(),
    refusal: z
      .object({ code: word, message: text(RECO_REPORT_LIMITS.text) })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    for (const k of ['decision', 'result', 'outcome', 'refusal'] as const) {
      const wanted = (r.kind === 'refused' ? 'refusal' : r.kind) === k;
      if (wanted && r[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `a ${r.kind} report needs "${k}"` });
      if (!wanted && r[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `a ${r.kind} report has no "${k}"` });
    }
    if (r.machine === '' && r.kind !== 'refused')
      ctx.addIssue({ code: 'custom', path: ['machine'], message: 'only a refusal may name no machine' });
  });

/** The clear members of a report: its header. */
export const RECO_REPORT_HEADER = PLANT_REPORT_HEADER;

const RECO_REPORT_KIND: PlantReportKind<RecoReportBody> = {
  type: 'reco-report',
  label: RECO_REPORT_LABEL,
  noun: 'report',
  bodySchema: RecoReportBodySchema,
  limits: RECO_REPORT_LIMITS,
};

/**
 * The plant seals a report to the cloud's X25519 key and signs it with its Ed25519 key: the
 * UTF-8 bytes of the canonical JSON document (the MQTT payload). `fixed` is for test vectors only.
 */
export function sealRecoReport(
  body: RecoReportBody,
  keys: { plant: SigningKeyPair; cloudBox: { kid: string; publicKey: Uint8Array } },
  fixed?: FixedRandomness,
): Uint8Array {
  return sealPlantReport(RECO_REPORT_KIND, body, keys, fixed);
}

export type RecoReportOpenResult = PlantReportOpenResult<RecoReportBody>;

/**
 * The cloud checks a report, in order: malformed (JSON, members) → unknown key (not a key of
 * the plant the topic names) → bad signature → wrong plant (clear) → undecryptable (cloud key,
 * key block, header hash, AEAD) → malformed (body) → wrong plant (body).
 */
export function openRecoReport(bytes: Uint8Array, ctx: PlantReportKeys): RecoReportOpenResult {
  return openPlantReport(RECO_REPORT_KIND, bytes, ctx);
}
