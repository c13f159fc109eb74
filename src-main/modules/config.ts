/**
 * The `modules` section of the plant configuration: the pinned firmware root (provisioning), the
 * module channel's address, how often modules report, the plant's maintenance window, the soak
 * time of a staged rollout and which module sits on which machine. Absent: no module manager.
 *
 * Kept apart from config/schema.ts (which imports it) so the module manager owns its settings;
 * it must not import config/schema.ts back (the two would load in a cycle).
 */
import { z } from 'zod';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)');

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** When updates may be applied: weekdays and a wall-clock span in the plant's time zone, or always. */
export const MaintenanceWindowSchema = z.union([
  z.literal('always'),
  z
    .object({
      /** The days the window opens on (a window past midnight ends on the next day). */
      days: z
        .array(z.enum(WEEKDAYS))
        .min(1)
        .max(7)
        .refine((d) => new Set(d).size === d.length, 'days must be distinct'),
      start: hhmm,
      end: hhmm,
    })
    .strict()
    .refine((w) => w.start !== w.end, { message: 'start and end must differ', path: ['end'] }),
]);
export type MaintenanceWindow = z.infer<typeof MaintenanceWindowSchema>;

/** A module id as heartbeats carry it (the module's key id unless it was given another). */
import { MODULE_ID } from '../protocol/module-health';

export { MODULE_ID };

export const ModulesConfigSchema = z
  .object({
    /** The pinned firmware root of trust (root.json), relative to the config file; copied into the store at first start. */
    root: z.string().min(1),
    /** Interface the module channel (HTTPS) listens on. */
    host: z.string().min(1).max(253).default('127.0.0.1'),
    /** Port of the module channel; 0 picks a free one (tests). */
    port: z.number().int().min(0).max(65535).default(8443),
    /** Names and addresses the channel's certificate must carry besides `host` (what modules dial). */
    certificateNames: z.array(z.string().min(1).max(253)).max(16).default([]),
    /** How often a module reports, in seconds. */
    heartbeatS: z.number().int().min(1).max(3600).default(10),
    /** Silence after which a heartbeat counts as missed (default three intervals). */
    missedAfterS: z.number().int().min(1).max(86_400).optional(),
    /** Largest tolerated difference between a module's clock and the console's, in seconds. */
    maxClockSkewS: z.number().int().min(1).max(86_400).default(120),
    maintenanceWindow: MaintenanceWindowSchema,
    /** How long the first module of a rollout must report healthy before the rest start, in seconds. */
    soakS: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(600),
    /** How long one module's update may take, from its start to committed, before it counts as failed. */
    updateTimeoutS: z.number().int().min(30).max(86_400).default(1800),
    /** Addresses the console polls from, when not its own interfaces' (behind NAT): any other Modbus client on a module is foreign. */
    consoleAddresses: z.array(z.string().min(1).max(64)).max(32).optional(),
    /** Which module sits on which machine: its alarms go there, and updates wait for that machine to be idle. */
    assignments: z
      .array(
        z.object({ moduleId: z.string().regex(MODULE_ID, 'must be 1–64 of A–Z a–z 0–9 . _ -'), machineId: z.string().min(1) }).strict(),
      )
      .max(1024)
      .default([]),
  })
  .strict()
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.assignments.forEach((a, i) => {
      if (seen.has(a.moduleId))
        ctx.addIssue({ code: 'custom', path: ['assignments', i, 'moduleId'], message: `module "${a.moduleId}" is assigned twice` });
      seen.add(a.moduleId);
    });
  });
export type ModulesConfig = z.infer<typeof ModulesConfigSchema>;

/** The silence after which a heartbeat is missed, in ms. */
export function missedAfterMs(c: Pick<ModulesConfig, 'heartbeatS' | 'missedAfterS'>): number {
  return (c.missedAfterS ?? 3 * c.heartbeatS) * 1000;
}
