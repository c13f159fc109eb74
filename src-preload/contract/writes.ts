/** Bounded setpoint writes, as kept in the write log. */
import { z } from 'zod';

/** The outcome of one bounded write (or revert), as kept in the write log. */
export const WriteResultSchema = z.object({
  id: z.string(),
  machineId: z.string(),
  pointId: z.string(),
  user: z.string(),
  at: z.number(),
  /** Value read from the device just before the write (null when it could not be read). */
  before: z.union([z.number(), z.boolean(), z.null()]),
  requested: z.union([z.number(), z.boolean()]),
  /** Value read back after the write (null when not written or unreadable). */
  readback: z.union([z.number(), z.boolean(), z.null()]),
  outcome: z.enum(['written', 'refused', 'readback-mismatch', 'failed']),
  /** For refused/failed: LIMIT_EXCEEDED, STEP_EXCEEDED, INTERLOCK, WRITES_DISABLED, NOT_WRITABLE, MODBUS_*… */
  code: z.string().nullable(),
  reason: z.string().nullable(),
  /** Set on a revert: the write it undid. */
  revertOf: z.string().nullable(),
  unit: z.string(),
});
export type WriteResult = z.infer<typeof WriteResultSchema>;
