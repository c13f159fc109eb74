/**
 * What a batch carries: the samples of one machine's points over one interval, and for sealed
 * batches the real identifiers behind the pseudonyms. Shared by sealed and plain batches.
 */
import { z } from 'zod';
import { ConsoleError } from '../core/errors';
import { isIdentifier } from './pseudonym';

/** Point ids: ASCII, so every JSON library sorts and escapes them alike (and never `__proto__`). */
export const POINT_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const MAX_SAMPLES_PER_POINT = 100_000;

const timeMs = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const identifier = z.string().refine(isIdentifier, 'must be 1–256 characters of well-formed text');

/** A sample value: what a point reads (numbers finite; strings for text registers; null when bad). */
export const SampleValueSchema = z.union([z.number(), z.boolean(), z.string().max(1024), z.null()]);
export type SampleValue = z.infer<typeof SampleValueSchema>;

/** `[t, v]`: t in ms since the Unix epoch (UTC). */
export const SampleSchema = z.tuple([timeMs, SampleValueSchema]);
export type Sample = z.infer<typeof SampleSchema>;

export const PointSeriesSchema = z.object({ unit: z.string().max(32), samples: z.array(SampleSchema).max(MAX_SAMPLES_PER_POINT) }).strict();
export type PointSeries = z.infer<typeof PointSeriesSchema>;

/** Point id → its unit and samples. */
export const PointsSchema = z.record(z.string().regex(POINT_ID, 'point ids are 1–64 ASCII characters [A-Za-z0-9_.:-]'), PointSeriesSchema);
export type Points = z.infer<typeof PointsSchema>;

/** The plaintext of a sealed batch (JSON, canonical form, UTF-8). */
export const SealedPayloadSchema = z
  .object({
    v: z.literal(1),
    plant: z.object({ id: identifier, name: z.string().max(256).optional() }).strict(),
    machine: z
      .object({
        id: identifier,
        name: z.string().max(256).optional(),
        model: z.string().max(64).optional(),
        serial: z.string().max(64).optional(),
      })
      .strict(),
    points: PointsSchema,
  })
  .strict();
export type SealedPayload = z.infer<typeof SealedPayloadSchema>;

/** The first sample whose time lies outside [from, to], as a message, or null. */
export function sampleOutsideRange(points: Points, from: number, to: number): string | null {
  for (const [id, series] of Object.entries(points)) {
    for (const [t] of series.samples) {
      if (t < from || t > to) return `point ${id} has a sample at ${t} outside the batch's time range [${from}, ${to}]`;
    }
  }
  return null;
}

/** One line naming the first schema problem (never echoes values: they may be sealed data). */
export function schemaProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  return `${path}: ${issue.message}`;
}

/** Validates a batch's points and time range on the sending side; throws PROTOCOL_INVALID. */
export function checkOutgoingPoints(points: Points, from: number, to: number): void {
  const parsed = PointsSchema.safeParse(points);
  if (!parsed.success) throw new ConsoleError('PROTOCOL_INVALID', `Batch points are invalid: ${schemaProblem(parsed.error)}.`);
  checkBatchRange(points, from, to);
}

/** Validates a batch's time range and that every sample lies in it, for points already checked against PointsSchema. */
export function checkBatchRange(points: Points, from: number, to: number): void {
  if (!timeMs.safeParse(from).success || !timeMs.safeParse(to).success || from > to) {
    throw new ConsoleError('PROTOCOL_INVALID', `A batch's time range must be integer ms with 0 ≤ from ≤ to ≤ 2^53−1 (got ${from}, ${to}).`);
  }
  const outside = sampleOutsideRange(points, from, to);
  if (outside) throw new ConsoleError('PROTOCOL_INVALID', `Cannot send the batch: ${outside}.`);
}
