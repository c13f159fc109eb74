/**
 * What the module manager keeps of each module, release and rollout, beyond what the Modules
 * page shows (src-preload/contract/firmware.ts): the paired key, the last verified heartbeat,
 * each rollout's per-module progress and download capability. Rows in the store are JSON of
 * these shapes and are read back through the same schemas (a row edited by hand is skipped,
 * never half-read).
 */
import { z } from 'zod';
import { HeartbeatSchema } from '../../device-agent/heartbeat';
import { ModuleEventSchema, ModuleUpdateStateSchema, RolloutSchema, type ModuleUpdateState } from '../../src-preload/contract';

/** The heartbeat as it was verified (without kid and sig). */
export type LastHeartbeat = z.infer<typeof HeartbeatSchema>;

const HistorySchema = z.object({
  at: z.number(),
  version: z.string(),
  outcome: z.enum(['committed', 'rolled-back', 'failed', 'cancelled']),
  message: z.string(),
});
export type UpdateHistoryEntry = z.infer<typeof HistorySchema>;

/** Histories kept per module (the newest). */
export const MODULE_HISTORY_KEEP = 50;

export const ModuleRecordSchema = z.object({
  id: z.string(),
  model: z.string(),
  pairing: z.enum(['pending', 'paired', 'rejected']),
  /** The module's Ed25519 public key, base64. */
  publicKey: z.string(),
  kid: z.string(),
  fingerprint: z.string(),
  requestedAt: z.number(),
  decidedAt: z.number().nullable(),
  decidedBy: z.string().nullable(),
  /** Source address of the last verified heartbeat (downloads must come from it). */
  address: z.string().nullable(),
  /** When the last verified heartbeat arrived (console clock). */
  lastAt: z.number().nullable(),
  last: HeartbeatSchema.nullable(),
  history: z.array(HistorySchema),
});
export type ModuleRecord = z.infer<typeof ModuleRecordSchema>;

export const StoredEventSchema = ModuleEventSchema.extend({
  /** How often a momentary event repeated while its alarm still stood. */
  count: z.number().int().min(1),
});
export type StoredEvent = z.infer<typeof StoredEventSchema>;

export const TargetSchema = z.object({
  moduleId: z.string(),
  state: ModuleUpdateStateSchema,
  since: z.number(),
  message: z.string().nullable(),
  /** The download capability handed to this module in heartbeat answers (`<release>.<token>`). */
  token: z.string(),
  startedAt: z.number().nullable(),
  /** The module's boot count when its update started (a later boot is the update's reboot). */
  bootAtStart: z.number().nullable(),
  /** The update progress the module reported when its update started (a refusal seen then is not this update's). */
  progressAtStart: z.string().nullable(),
  /** The module's boot count when it committed the release (a later boot during the soak is a restart). */
  bootAtCommit: z.number().nullable(),
  transferred: z.number().int(),
  size: z.number().int(),
});
export type Target = z.infer<typeof TargetSchema>;

export const RolloutRecordSchema = z.object({
  rollout: RolloutSchema,
  targets: z.array(TargetSchema),
  /** When the first module's soak ends (set once it committed). */
  soakUntil: z.number().nullable(),
});
export type RolloutRecord = z.infer<typeof RolloutRecordSchema>;

/** Update states in which a module is being updated right now. */
export const IN_FLIGHT: readonly ModuleUpdateState[] = ['downloading', 'installing', 'trial'];
/** Update states that end a module's part in a rollout. */
export const FINISHED: readonly ModuleUpdateState[] = ['committed', 'rolled-back', 'failed', 'cancelled'];
