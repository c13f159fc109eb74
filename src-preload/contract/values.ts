/** Shared value types: roles, the caller, points, machines, KPIs, links, plant info. */
import { z } from 'zod';
import { SyslogLinkSchema } from './trust';

export const RoleSchema = z.enum(['operator', 'maintenance', 'admin', 'supplier-support']);
export type Role = z.infer<typeof RoleSchema>;
export const ALL_ROLES: readonly Role[] = RoleSchema.options;

/**
 * The role a caller acts in: an account's role, or `viewer` — the local console viewed without
 * sign-in (access.localViewWithoutLogin), which may read the plant and change nothing. No
 * account has it, and a remote caller is never a viewer.
 */
export const CallerRoleSchema = z.enum([...RoleSchema.options, 'viewer']);
export type CallerRole = z.infer<typeof CallerRoleSchema>;

/** Who is calling: carried with every command from the start; enforced by the core. */
export const CallerSchema = z.object({
  user: z.string(),
  role: CallerRoleSchema,
  origin: z.enum(['local', 'remote']),
  /** The signed-in session the call comes from (absent: the local console's own caller). */
  sessionId: z.string().optional(),
});
export type Caller = z.infer<typeof CallerSchema>;

export const SensitivitySchema = z.enum(['local', 'sealed', 'plain']);
export type Sensitivity = z.infer<typeof SensitivitySchema>;

export const QualitySchema = z.enum(['good', 'bad', 'stale']);
export type Quality = z.infer<typeof QualitySchema>;

/**
 * `offline`: the console cannot reach the machine. `unknown`: it answers, but what it says does
 * not tell its state (the state point unreadable, or no point readable at all): neither counted
 * as production nor as downtime.
 */
export const MachineStateSchema = z.enum(['running', 'idle', 'fault', 'offline', 'unknown']);
export type MachineState = z.infer<typeof MachineStateSchema>;

export const PointFunctionSchema = z.enum(['coil', 'discrete', 'input', 'holding']);
export type PointFunction = z.infer<typeof PointFunctionSchema>;

export const PointTypeSchema = z.enum(['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64', 'string']);
export type PointType = z.infer<typeof PointTypeSchema>;

export const ByteOrderSchema = z.enum(['big', 'little']);
export type ByteOrder = z.infer<typeof ByteOrderSchema>;

export const PointRoleSchema = z.enum(['state', 'goodCount', 'scrapCount', 'cycleTime', 'process', 'setpoint', 'identity', 'info']);
export type PointRole = z.infer<typeof PointRoleSchema>;

export const ErrorInfoSchema = z.object({ code: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;

/** What the UI needs to know about a point (from the device profile). */
export const PointMetaSchema = z.object({
  id: z.string(),
  name: z.string(),
  function: PointFunctionSchema,
  address: z.number().int(),
  type: PointTypeSchema,
  registers: z.number().int(),
  wordOrder: ByteOrderSchema,
  byteOrder: ByteOrderSchema,
  scale: z.number(),
  offset: z.number(),
  unit: z.string(),
  decimals: z.number().int(),
  sensitivity: SensitivitySchema,
  role: PointRoleSchema,
  key: z.boolean(),
  normal: z.object({ low: z.number(), high: z.number() }).nullable(),
  writable: z.object({ min: z.number(), max: z.number(), maxStep: z.number() }).nullable(),
  /** Machine states in which writes are allowed (null: any). */
  interlock: z
    .array(z.enum(['running', 'idle', 'fault']))
    .nullable()
    .optional(),
});
export type PointMeta = z.infer<typeof PointMetaSchema>;

export const PointValueSchema = z.object({
  value: z.union([z.number(), z.boolean(), z.string(), z.null()]),
  /** Raw registers (or bits as 0/1) as read from the device. */
  raw: z.array(z.number()),
  quality: QualitySchema,
  /** When the value was read (ms since epoch); for stale/bad, when it was last good or 0. */
  ts: z.number(),
  /** Why the quality is not good. */
  reason: z.string().nullable(),
});
export type PointValue = z.infer<typeof PointValueSchema>;

export const LinkSchema = z.object({
  state: z.enum(['connecting', 'online', 'offline']),
  since: z.number(),
  lastOkAt: z.number().nullable(),
  lastError: ErrorInfoSchema.nullable(),
  consecutiveFailures: z.number().int(),
  pollsOk: z.number().int(),
  pollsFailed: z.number().int(),
  lastPollMs: z.number().nullable(),
  /** Demoted after repeated failures: polled only every demotion interval until it answers. */
  demoted: z.boolean().optional(),
  /** While demoted, the unit is probed this often. */
  demotedIntervalMs: z.number().int().optional(),
  /** Failures so far by error code (MODBUS_TIMEOUT, MODBUS_CRC, MODBUS_EXCEPTION…). */
  errorCounts: z.record(z.string(), z.number().int()).optional(),
  /** The line (port or gateway connection) this device is polled through. */
  line: z.string().optional(),
  /** Spoiled answers (bad CRC, cut or garbled frames) among the unit's last answers; `noisy` while the line-quality warning stands. */
  noise: z.object({ spoiled: z.number().int(), answers: z.number().int(), noisy: z.boolean() }).optional(),
  /** Poll slots skipped because the cycle before ran into them (pollIntervalMs is start-to-start). */
  overruns: z.number().int().optional(),
  /** How late poll cycles started against their slots over the last minute or so (ms). */
  lateness: z.object({ count: z.number().int(), p50Ms: z.number(), p99Ms: z.number(), maxMs: z.number() }).optional(),
});
export type Link = z.infer<typeof LinkSchema>;

/** KPIs after ISO 22400-2; ratios 0..1, null when there is nothing to compute from. */
export const KpisSchema = z.object({
  from: z.number(),
  to: z.number(),
  plannedTimeS: z.number(),
  runTimeS: z.number(),
  downTimeS: z.number(),
  offlineTimeS: z.number(),
  goodCount: z.number(),
  scrapCount: z.number(),
  availability: z.number().nullable(),
  performance: z.number().nullable(),
  quality: z.number().nullable(),
  oee: z.number().nullable(),
  idealCycleTimeS: z.number(),
  avgCycleTimeS: z.number().nullable(),
  throughputPerHour: z.number().nullable(),
  scrapRate: z.number().nullable(),
});
export type Kpis = z.infer<typeof KpisSchema>;

export const MachineSnapshotSchema = z.object({
  id: z.string(),
  name: z.string(),
  model: z.string(),
  modelTitle: z.string(),
  simulated: z.boolean(),
  state: MachineStateSchema,
  stateSince: z.number(),
  link: LinkSchema,
  /** Why the state is what it is when not simply read from the device (unknown, a value not in the table, offline's last error). */
  stateReason: z.string().nullable().optional(),
  shift: KpisSchema,
  rolling: KpisSchema,
  lastCycleTimeS: z.number().nullable(),
  values: z.record(z.string(), PointValueSchema),
  ts: z.number(),
  /** The machine's current alarms for the tile badge (priorities as AlarmPrioritySchema in ./alarms). */
  alarms: z
    .object({
      active: z.number().int(),
      unacknowledged: z.number().int(),
      highest: z.enum(['critical', 'high', 'medium', 'low']).nullable(),
    })
    .optional(),
});
export type MachineSnapshot = z.infer<typeof MachineSnapshotSchema>;

export const ShiftSchema = z.object({ name: z.string(), start: z.number(), end: z.number() });
export type Shift = z.infer<typeof ShiftSchema>;

export const PlantInfoSchema = z.object({
  name: z.string(),
  timezone: z.string(),
  simulated: z.boolean(),
  shift: ShiftSchema,
  machines: z.array(z.object({ id: z.string(), name: z.string(), model: z.string() })),
  caller: CallerSchema,
  version: z.string(),
  serverTime: z.number(),
  /** Setpoint writes turned on in the plant's configuration (absent: off). */
  writesEnabled: z.boolean().optional(),
  /** Web mode's address and its TLS certificate's SHA-256 fingerprint, to read out to a remote person. */
  webUrl: z.string().optional(),
  webFingerprint: z.string().nullable().optional(),
  /** SIMULATED demo only: its well-known accounts, for the banner's help (never for a configured plant). */
  demoAccounts: z.array(z.object({ name: z.string(), role: RoleSchema, password: z.string(), pin: z.string().nullable() })).optional(),
});
export type PlantInfo = z.infer<typeof PlantInfoSchema>;

export const MachineDetailSchema = z.object({
  snapshot: MachineSnapshotSchema,
  points: z.array(PointMetaSchema),
  device: z.object({
    transport: z.string(),
    address: z.string(),
    unitId: z.number().int(),
    pollIntervalMs: z.number().int(),
  }),
});
export type MachineDetail = z.infer<typeof MachineDetailSchema>;

export const SeriesSchema = z.object({
  pointId: z.string(),
  t: z.array(z.number()),
  v: z.array(z.number().nullable()),
});
export type Series = z.infer<typeof SeriesSchema>;

export const KpiSampleSchema = z.object({
  t: z.number(),
  availability: z.number().nullable(),
  performance: z.number().nullable(),
  quality: z.number().nullable(),
  oee: z.number().nullable(),
  goodCount: z.number(),
  scrapCount: z.number(),
});
export type KpiSample = z.infer<typeof KpiSampleSchema>;

export const HealthSchema = z.object({
  core: z.enum(['starting', 'running', 'stopping']),
  startedAt: z.number(),
  simulated: z.boolean(),
  machines: z.array(z.object({ id: z.string(), name: z.string(), state: MachineStateSchema, link: LinkSchema })),
  /** Present when the plant has an uplink configured. */
  uplink: z
    .object({
      state: z.string(),
      lastAckSeq: z.number().nullable(),
      outboxDepth: z.number().int(),
      /** ok, held (the broker delivers to nobody or refuses) or waiting (no acknowledgement from the cloud). */
      delivery: z.string(),
      /** Recording stopped: the outbox's budget or the disk is used up. */
      recording: z.boolean(),
    })
    .optional(),
  /** `ok`, or `degraded` while something in `problems` loses or withholds data. */
  status: z.enum(['ok', 'degraded']),
  /** What is wrong now (a full disk, batches not delivered, recording stopped), each with a code. */
  problems: z.array(z.object({ code: z.string(), message: z.string(), since: z.number().nullable() })),
  /** Present when audit records are forwarded to the plant's syslog collector (audit.syslog). */
  syslog: SyslogLinkSchema.optional(),
  /** Present with the persistent history: where it is written, the disk it uses, and what it lost. */
  history: z
    .object({
      writer: z.enum(['worker', 'in-process']),
      usedBytes: z.number(),
      budgetBytes: z.number(),
      overBudget: z.boolean(),
      samplesWritten: z.number(),
      /** Samples in memory, not yet written (at most one flush interval's worth). */
      buffered: z.number(),
      samplesDropped: z.number(),
      errors: z.number().int(),
      lastError: z.object({ at: z.number(), code: z.string(), message: z.string() }).nullable(),
    })
    .optional(),
});
export type Health = z.infer<typeof HealthSchema>;
