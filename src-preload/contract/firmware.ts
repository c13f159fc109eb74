/**
 * IoT modules (device-agent) as the console shows them: pairing, health, firmware and slots,
 * updates and their staged rollout, and the threat events the console raised. The bundle and
 * root formats are in src-main/firmware/ and docs/firmware.md.
 */
import { z } from 'zod';

/** Why a firmware bundle or an update step was refused (src-main/firmware FirmwareRefusal, plus the console's own). */
export const FirmwareRefusalCodeSchema = z.enum([
  'malformed',
  'wrong_kind',
  'legacy_signature',
  'bad_signature',
  'unknown_key',
  'below_threshold',
  'expired',
  'not_yet_valid',
  'wrong_model',
  'version_rollback',
  'version_reissued',
  'counter_rollback',
  'image_too_large',
  'image_mismatch',
  'root_rollback',
  'duplicate',
]);
export type FirmwareRefusalCode = z.infer<typeof FirmwareRefusalCodeSchema>;

/** A release the console holds (imported from a file or received over the downlink). */
export const FirmwareReleaseSchema = z.object({
  id: z.string(),
  models: z.array(z.string()),
  version: z.string(),
  securityCounter: z.number().int(),
  size: z.number().int(),
  /** BLAKE2b-512 of the image, hex (first 16 shown in the UI). */
  imageHash: z.string(),
  created: z.number(),
  expires: z.number(),
  notes: z.string(),
  /** Names of the root keys whose signatures counted, and the threshold. */
  signers: z.array(z.string()),
  threshold: z.number().int(),
  source: z.enum(['file', 'downlink']),
  importedAt: z.number(),
  importedBy: z.string(),
});
export type FirmwareRelease = z.infer<typeof FirmwareReleaseSchema>;

/** A bundle the console refused, with the reason in words. */
export const RefusedFirmwareSchema = z.object({
  ref: z.string(),
  at: z.number(),
  source: z.enum(['file', 'downlink']),
  fileName: z.string().nullable(),
  code: FirmwareRefusalCodeSchema,
  message: z.string(),
});
export type RefusedFirmware = z.infer<typeof RefusedFirmwareSchema>;

export const ModuleUpdateStateSchema = z.enum([
  'none',
  /** Approved, waiting for the maintenance window, an idle machine, or its turn in the rollout. */
  'waiting',
  'downloading',
  'installing',
  /** Running the new slot on trial: health check not yet passed. */
  'trial',
  'committed',
  'rolled-back',
  'failed',
  'cancelled',
]);
export type ModuleUpdateState = z.infer<typeof ModuleUpdateStateSchema>;

/** Threat and health events the console raises for a module (each also an alarm and an audit record). */
export const ModuleEventKindSchema = z.enum([
  'heartbeat-missed',
  'unknown-firmware',
  'unexpected-restart',
  'rollback',
  'tamper',
  'foreign-modbus-client',
  'setpoint-changed-outside',
  'bad-heartbeat-signature',
  'clock-skew',
]);
export type ModuleEventKind = z.infer<typeof ModuleEventKindSchema>;

export const ModuleEventSchema = z.object({
  id: z.string(),
  moduleId: z.string(),
  machineId: z.string().nullable(),
  kind: ModuleEventKindSchema,
  at: z.number(),
  /** In words: "Enclosure opened", "Modbus client 10.0.0.9 connected besides the console". */
  message: z.string(),
  active: z.boolean(),
});
export type ModuleEvent = z.infer<typeof ModuleEventSchema>;

/** One module, as the Modules page shows it. */
export const ModuleViewSchema = z.object({
  id: z.string(),
  /** The machine the module sits on (config), or null when not assigned. */
  machineId: z.string().nullable(),
  model: z.string(),
  pairing: z.enum(['pending', 'paired', 'rejected']),
  /** The module's Ed25519 key fingerprint, to compare with what the module shows. */
  fingerprint: z.string(),
  health: z.enum(['ok', 'warning', 'alarm', 'unknown']),
  lastHeartbeatAt: z.number().nullable(),
  version: z.string().nullable(),
  imageHash: z.string().nullable(),
  /** The running firmware matches a signed release the console knows. */
  knownRelease: z.boolean(),
  slot: z.enum(['a', 'b']).nullable(),
  bootCount: z.number().int().nullable(),
  uptimeS: z.number().nullable(),
  tamper: z.boolean(),
  modbusClients: z.array(z.string()),
  update: z.object({
    state: ModuleUpdateStateSchema,
    releaseId: z.string().nullable(),
    version: z.string().nullable(),
    /** Bytes transferred of the image, for the progress bar. */
    transferred: z.number().int(),
    size: z.number().int(),
    message: z.string().nullable(),
    since: z.number().nullable(),
  }),
  history: z.array(
    z.object({
      at: z.number(),
      version: z.string(),
      outcome: z.enum(['committed', 'rolled-back', 'failed', 'cancelled']),
      message: z.string(),
    }),
  ),
  events: z.array(ModuleEventSchema),
});
export type ModuleView = z.infer<typeof ModuleViewSchema>;

/** A staged rollout of one release to modules: one first, the rest after it has been healthy for a while. */
export const RolloutSchema = z.object({
  id: z.string(),
  releaseId: z.string(),
  version: z.string(),
  moduleIds: z.array(z.string()),
  approvedBy: z.string(),
  approvedAt: z.number(),
  state: z.enum(['waiting-window', 'first-module', 'soaking', 'rest', 'done', 'stopped']),
  /** Why it stopped or waits, in words. */
  message: z.string().nullable(),
  soakS: z.number().int(),
});
export type Rollout = z.infer<typeof RolloutSchema>;

/** Everything the Modules page shows. */
export const ModulesStateSchema = z.object({
  modules: z.array(ModuleViewSchema),
  releases: z.array(FirmwareReleaseSchema),
  refused: z.array(RefusedFirmwareSchema),
  rollouts: z.array(RolloutSchema),
  /** The plant's maintenance window in words ("Sat 06:00–14:00") and whether it is open now. */
  maintenanceWindow: z.object({ text: z.string(), openNow: z.boolean() }),
  /** The pinned root: version, threshold and key names. */
  root: z.object({ version: z.number().int(), threshold: z.number().int(), keys: z.array(z.string()) }).nullable(),
  /** How long the first module of a new rollout must run healthy before the rest (config modules.soakS), for the approval dialog. */
  soakS: z.number().int().optional(),
});
export type ModulesState = z.infer<typeof ModulesStateSchema>;
