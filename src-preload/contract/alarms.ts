/** Alarms (ISA-18.2 states), their history and summaries. */
import { z } from 'zod';

export const AlarmPrioritySchema = z.enum(['critical', 'high', 'medium', 'low']);
export type AlarmPriority = z.infer<typeof AlarmPrioritySchema>;

/** ISA-18.2 alarm states (`normal` = cleared and acknowledged: gone from the active list). */
export const AlarmStateSchema = z.enum(['active-unacked', 'active-acked', 'cleared-unacked', 'normal']);
export type AlarmState = z.infer<typeof AlarmStateSchema>;

export const AlarmSchema = z.object({
  /** `machineId/ruleId`. */
  id: z.string(),
  machineId: z.string(),
  ruleId: z.string(),
  /** `module`: a health or threat event of the IoT module on the machine (src-main/modules/). */
  kind: z.enum(['high', 'low', 'state', 'link', 'module', 'uplink', 'line', 'audit', 'history', 'storage']),
  pointId: z.string().nullable(),
  priority: AlarmPrioritySchema,
  message: z.string(),
  state: AlarmStateSchema,
  /** The value that raised it, and the limit, for high/low alarms. */
  value: z.number().nullable(),
  limit: z.number().nullable(),
  unit: z.string(),
  raisedAt: z.number(),
  clearedAt: z.number().nullable(),
  ackedAt: z.number().nullable(),
  ackedBy: z.string().nullable(),
});
export type Alarm = z.infer<typeof AlarmSchema>;

export const AlarmEventSchema = z.object({
  at: z.number(),
  alarmId: z.string(),
  machineId: z.string(),
  event: z.enum(['raised', 'acknowledged', 'cleared', 'normal']),
  state: AlarmStateSchema,
  priority: AlarmPrioritySchema,
  message: z.string(),
  user: z.string().nullable(),
  value: z.number().nullable(),
  /** Unit of `value` (the watched point's), so history shows units without the alarm at hand. */
  unit: z.string().optional(),
});
export type AlarmEvent = z.infer<typeof AlarmEventSchema>;

export const AlarmSummarySchema = z.object({
  alarms: z.array(AlarmSchema),
  counts: z.object({ active: z.number().int(), unacknowledged: z.number().int() }),
});
export type AlarmSummary = z.infer<typeof AlarmSummarySchema>;
