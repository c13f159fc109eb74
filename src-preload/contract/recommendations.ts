/**
 * Supplier tuning recommendations as the console shows them: the inbox (pending, decided,
 * measured) and the refused list. The wire format (signed, encrypted to the plant) is in
 * src-main/protocol/recommendation.ts and docs/recommendations.md.
 */
import { z } from 'zod';

/** The KPIs a recommendation may expect to move or guard (ISO 22400 names in the KPI engine). */
export const RecoKpiSchema = z.enum(['cycleTime', 'scrapRate', 'oee', 'availability', 'performance', 'quality', 'throughput']);
export type RecoKpi = z.infer<typeof RecoKpiSchema>;

/** Why the console refused a recommendation; refused items are never actionable. */
export const RecoRefusalCodeSchema = z.enum([
  'malformed',
  'bad_signature',
  'unknown_key',
  'undecryptable',
  'wrong_plant',
  'expired',
  'not_yet_valid',
  'replayed',
  'unknown_machine',
  'unknown_point',
  'not_writable',
  'out_of_limits',
  'step_too_large',
]);
export type RecoRefusalCode = z.infer<typeof RecoRefusalCodeSchema>;

/** Where a recommendation stands. */
export const RecoStatusSchema = z.enum([
  'pending',
  'deferred',
  /** Apply running: writes in progress. */
  'applying',
  /** All changes written and read back; the outcome is being measured or is known. */
  'applied',
  /** A write or readback failed; what was written was reverted (see `apply`). */
  'apply-failed',
  'rejected',
  /** valid-until passed before anyone decided. */
  'expired',
  /** Applied, then put back (a guard was breached, or by hand). */
  'reverted',
]);
export type RecoStatus = z.infer<typeof RecoStatusSchema>;

const numberOrNull = z.number().nullable();

/** One proposed change as shown for review. */
export const RecoChangeViewSchema = z.object({
  pointId: z.string(),
  name: z.string(),
  unit: z.string(),
  decimals: z.number().int(),
  /** What the supplier expects the value to be now. */
  expected: z.number(),
  /** What the console reads now (null: unknown or not readable). */
  current: numberOrNull,
  proposed: z.number(),
  limits: z.object({ min: z.number(), max: z.number(), maxStep: z.number() }),
});
export type RecoChangeView = z.infer<typeof RecoChangeViewSchema>;

/** One step of an apply: a write, or the revert of one. */
export const RecoApplyStepSchema = z.object({
  pointId: z.string(),
  action: z.enum(['write', 'revert']),
  /** The write-log entry (absent when nothing was attempted). */
  writeId: z.string().nullable(),
  outcome: z.enum(['written', 'refused', 'readback-mismatch', 'failed', 'skipped']),
  code: z.string().nullable(),
  message: z.string().nullable(),
});
export type RecoApplyStep = z.infer<typeof RecoApplyStepSchema>;

/** The outcome of an apply, in words and steps. */
export const RecoApplyResultSchema = z.object({
  ok: z.boolean(),
  /** "All 2 changes written and read back" / "Zone 2 read back 215 (asked 218): 1 change reverted". */
  summary: z.string(),
  steps: z.array(RecoApplyStepSchema),
  at: z.number(),
});
export type RecoApplyResult = z.infer<typeof RecoApplyResultSchema>;

/** One KPI measured before and after. */
export const RecoKpiMeasureSchema = z.object({
  kpi: RecoKpiSchema,
  before: numberOrNull,
  after: numberOrNull,
  /** after − before, in the KPI's unit (ratios as fractions, cycle time in s, throughput per hour). */
  delta: numberOrNull,
  /** (after − before) / before; null when before is 0 or unknown. */
  relative: numberOrNull,
});
export type RecoKpiMeasure = z.infer<typeof RecoKpiMeasureSchema>;

/** The measured outcome over the observation window, compared with the same window before. */
export const RecoOutcomeSchema = z.object({
  state: z.enum(['measuring', 'done', 'no-data']),
  windowS: z.number().int(),
  beforeFrom: z.number(),
  appliedAt: z.number(),
  /** When the measurement ends (appliedAt + window). */
  until: z.number(),
  expected: RecoKpiMeasureSchema.nullable(),
  /** Whether the expected effect was reached in direction and at least half its size (null until done). */
  expectMet: z.boolean().nullable(),
  guards: z.array(RecoKpiMeasureSchema.extend({ limit: z.number(), breached: z.boolean() })),
  /** A guard was breached: the revert is proposed (or was performed, `autoReverted`). */
  revertProposed: z.boolean(),
  autoReverted: z.boolean(),
});
export type RecoOutcome = z.infer<typeof RecoOutcomeSchema>;

/** A recommendation in the inbox. */
export const RecommendationSchema = z.object({
  id: z.string(),
  machineId: z.string(),
  machineName: z.string(),
  issuedAt: z.number(),
  validUntil: z.number(),
  receivedAt: z.number(),
  status: RecoStatusSchema,
  changes: z.array(RecoChangeViewSchema),
  rationale: z.string(),
  /** The effect the supplier expects: KPI and relative change (−0.04: 4 % lower). */
  expect: z.object({ kpi: RecoKpiSchema, change: z.number() }),
  windowS: z.number().int(),
  /** KPIs that must not move the wrong way by more than `by` (KPI units; direction: which way is bad). */
  guards: z.array(z.object({ kpi: RecoKpiSchema, direction: z.enum(['rise', 'fall']), by: z.number() })),
  /** The supplier asks for an automatic revert when a guard is breached (performed only when the plant allows it). */
  autoRevert: z.boolean(),
  /** The machine's state and the interlock, as now (for the review). */
  machineState: z.string(),
  interlock: z.object({ ok: z.boolean(), message: z.string().nullable() }),
  decision: z
    .object({
      action: z.enum(['apply', 'reject', 'defer', 'revert']),
      user: z.string(),
      at: z.number(),
      reason: z.string().nullable(),
      deferredUntil: z.number().nullable(),
    })
    .nullable(),
  apply: RecoApplyResultSchema.nullable(),
  outcome: RecoOutcomeSchema.nullable(),
});
export type Recommendation = z.infer<typeof RecommendationSchema>;

/** A refused recommendation: why, and what could be read of it. */
export const RefusedRecommendationSchema = z.object({
  /** The id when it could be read, else a hash of the message. */
  ref: z.string(),
  receivedAt: z.number(),
  code: RecoRefusalCodeSchema,
  /** The reason in words: "the signature does not verify with any pinned supplier key". */
  message: z.string(),
  machineId: z.string().nullable(),
});
export type RefusedRecommendation = z.infer<typeof RefusedRecommendationSchema>;

/** The inbox: open and decided recommendations (newest first) and the refused list. */
export const RecoInboxSchema = z.object({
  items: z.array(RecommendationSchema),
  refused: z.array(RefusedRecommendationSchema),
  /** The plant allows automatic reverts on a guard breach (config recommendations.autoRevert). */
  autoRevertAllowed: z.boolean(),
});
export type RecoInbox = z.infer<typeof RecoInboxSchema>;
