/** The audit log as the audit page reads it. */
import { z } from 'zod';
import { RoleSchema } from './values';

/** One audit record as the audit page reads it (prevHash stays in the store; `audit verify` checks the chain). */
export const AuditRecordSchema = z.object({
  seq: z.number().int(),
  at: z.number(),
  kind: z.string(),
  user: z.string().nullable(),
  role: RoleSchema.nullable(),
  origin: z.enum(['local', 'remote']).nullable(),
  sessionId: z.string().nullable(),
  machineId: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()),
  hash: z.string(),
});
export type AuditRecordView = z.infer<typeof AuditRecordSchema>;

/** A page of the audit log, newest first; `points` names the points the records mention (`machineId/pointId`). */
export const AuditPageSchema = z.object({
  records: z.array(AuditRecordSchema),
  /** Pass as `beforeSeq` for the next older page; null when this was the oldest. */
  nextBeforeSeq: z.number().int().nullable(),
  points: z.record(z.string(), z.object({ name: z.string(), unit: z.string(), decimals: z.number().int() })),
});
export type AuditPage = z.infer<typeof AuditPageSchema>;
