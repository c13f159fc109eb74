/**
 * The console API contract: every command (request and response schema, allowed roles) and
 * every event stream, defined once. The core implements it, the IPC and WebSocket adapters
 * carry it, the renderer consumes it without knowing which transport it has.
 */
import { z } from 'zod';
import type { CommandName, EventName } from './channels';

export { COMMAND_NAMES, EVENT_NAMES, BRIDGE_KEY, commandChannel, eventChannel } from './channels';
export type { CommandName, EventName } from './channels';

// ---------------------------------------------------------------------------------------------
// Shared value types

export const RoleSchema = z.enum(['operator', 'maintenance', 'admin', 'supplier-support']);
export type Role = z.infer<typeof RoleSchema>;
export const ALL_ROLES: readonly Role[] = RoleSchema.options;

/** Who is calling: carried with every command from the start; enforced by the core. */
export const CallerSchema = z.object({
  user: z.string(),
  role: RoleSchema,
  origin: z.enum(['local', 'remote']),
  /** The signed-in session the call comes from (absent: the local console's own caller). */
  sessionId: z.string().optional(),
});
export type Caller = z.infer<typeof CallerSchema>;

export const SensitivitySchema = z.enum(['local', 'sealed', 'plain']);
export type Sensitivity = z.infer<typeof SensitivitySchema>;

export const QualitySchema = z.enum(['good', 'bad', 'stale']);
export type Quality = z.infer<typeof QualitySchema>;

export const MachineStateSchema = z.enum(['running', 'idle', 'fault', 'offline']);
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
  shift: KpisSchema,
  rolling: KpisSchema,
  lastCycleTimeS: z.number().nullable(),
  values: z.record(z.string(), PointValueSchema),
  ts: z.number(),
  /** The machine's current alarms for the tile badge (priorities as AlarmPrioritySchema, declared below). */
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
  uplink: z.object({ state: z.string(), lastAckSeq: z.number().nullable(), outboxDepth: z.number().int() }).optional(),
});
export type Health = z.infer<typeof HealthSchema>;

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
  kind: z.enum(['high', 'low', 'state', 'link']),
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

/** What goes out for a point: nothing (local, or no uplink), encrypted (sealed) or readable (plain). */
export const UplinkLeavesSchema = z.enum(['nothing', 'encrypted', 'readable']);
export type UplinkLeaves = z.infer<typeof UplinkLeavesSchema>;

/** "What leaves this plant": every machine's points, their class and what goes out. */
export const UplinkPointsSchema = z.object({
  configured: z.boolean(),
  plainTcp: z.boolean(),
  machines: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      model: z.string(),
      /** The pseudonym topics carry instead of the machine id (null without an uplink). */
      pseudonym: z.string().nullable(),
      points: z.array(
        z.object({ id: z.string(), name: z.string(), unit: z.string(), sensitivity: SensitivitySchema, leaves: UplinkLeavesSchema }),
      ),
    }),
  ),
});
export type UplinkPoints = z.infer<typeof UplinkPointsSchema>;

/** The live uplink state (src-main/uplink/service.ts). */
export const UplinkStatusSchema = z.object({
  configured: z.boolean(),
  state: z.enum(['disabled', 'connecting', 'online', 'offline', 'closed']),
  /** When `state` last changed. */
  since: z.number(),
  broker: z.string().nullable(),
  protocolVersion: z.number().int().nullable(),
  tls: z.object({
    enabled: z.boolean(),
    servername: z.string().nullable(),
    clientCertificate: z.boolean(),
    serverFingerprint: z.string().nullable(),
  }),
  /** Configured as plain TCP: everything travels readable (a permanent warning). */
  plainTcp: z.boolean(),
  connectedSince: z.number().nullable(),
  /** Since when there has been no broker connection (null while online). */
  downSince: z.number().nullable(),
  lastError: ErrorInfoSchema.nullable(),
  plant: z.object({ pseudonym: z.string(), signingKeyId: z.string(), cloudKeyId: z.string() }).nullable(),
  outbox: z.object({
    depth: z.number().int(),
    bytes: z.number(),
    budgetBytes: z.number(),
    oldestCreatedAt: z.number().nullable(),
    /** Recording stopped: the disk budget is used up (sealed data is being lost). */
    full: z.boolean(),
    fullSince: z.number().nullable(),
  }),
  lastSeq: z.number(),
  lastAckSeq: z.number().nullable(),
  inflight: z.number().int(),
  published: z.number(),
  acknowledged: z.number(),
  drops: z.object({
    droppedPlain: z.number(),
    droppedBytes: z.number(),
    notRecordedSealed: z.number(),
    notRecordedPlain: z.number(),
    gapNotices: z.number(),
  }),
  downlink: z.object({ accepted: z.number(), refused: z.number(), lastRefusal: z.string().nullable() }),
  /** The UI's "uplink down" banner appears after this many seconds offline. */
  downBannerAfterS: z.number(),
  ts: z.number(),
});
export type UplinkStatus = z.infer<typeof UplinkStatusSchema>;

/** What a remote support session may do: look, propose changes, or have changes applied after on-site confirmation. */
export const RemoteScopeSchema = z.enum(['view', 'propose', 'apply']);
export type RemoteScope = z.infer<typeof RemoteScopeSchema>;

/** A grant of remote support and the session it became (src-main/remote/). */
export const RemoteGrantSchema = z.object({
  id: z.string(),
  /** The supplier-support account it is for. */
  account: z.string(),
  scope: RemoteScopeSchema,
  /** Machines the session may see (null: all). */
  machines: z.array(z.string()).nullable(),
  durationMs: z.number(),
  createdAt: z.number(),
  createdBy: z.string(),
  /** The join code is void after this unless used. */
  codeExpiresAt: z.number(),
  state: z.enum(['waiting', 'live', 'ended']),
  sessionId: z.string().nullable(),
  joinedAt: z.number().nullable(),
  /** joinedAt + durationMs: the session ends then at the latest. */
  endsAt: z.number().nullable(),
  /** The page the remote person has open, as their UI reports it. */
  page: z.string().nullable(),
  endedAt: z.number().nullable(),
  endReason: z.string().nullable(),
});
export type RemoteGrant = z.infer<typeof RemoteGrantSchema>;

/** A change the remote person asked for; it waits for someone on site. */
export const ChangeRequestSchema = z.object({
  id: z.string(),
  grantId: z.string(),
  sessionId: z.string(),
  requestedBy: z.string(),
  /** `change` (scope apply): written on the remote person's behalf once confirmed; `proposal` (scope propose): adopted by the site as its own write. */
  kind: z.enum(['change', 'proposal']),
  machineId: z.string(),
  machineName: z.string(),
  pointId: z.string(),
  pointName: z.string(),
  unit: z.string(),
  decimals: z.number().int(),
  from: z.union([z.number(), z.boolean(), z.null()]),
  to: z.union([z.number(), z.boolean()]),
  requestedAt: z.number(),
  state: z.enum(['pending', 'applying', 'written', 'refused', 'failed', 'rejected', 'expired']),
  decidedBy: z.string().nullable(),
  decidedAt: z.number().nullable(),
  /** Why it was rejected, refused or failed. */
  reason: z.string().nullable(),
  result: WriteResultSchema.nullable(),
});
export type ChangeRequest = z.infer<typeof ChangeRequestSchema>;

/** Remote support as the caller may see it (supplier support sees only its own session). */
export const RemoteStateSchema = z.object({
  grants: z.array(RemoteGrantSchema),
  requests: z.array(ChangeRequestSchema),
  defaultDurationMs: z.number(),
  maxDurationMs: z.number(),
  ts: z.number(),
});
export type RemoteState = z.infer<typeof RemoteStateSchema>;

/** A remote session's record: who, when, pages viewed, changes requested and their outcome. */
export const RemoteSummarySchema = z.object({
  grant: RemoteGrantSchema,
  pages: z.array(z.object({ at: z.number(), page: z.string() })),
  requests: z.array(ChangeRequestSchema),
  audit: z.array(
    z.object({ seq: z.number(), at: z.number(), kind: z.string(), user: z.string().nullable(), detail: z.record(z.string(), z.unknown()) }),
  ),
});
export type RemoteSummary = z.infer<typeof RemoteSummarySchema>;

/** Who the caller is, and the session behind it. */
export const SessionInfoSchema = z.object({
  caller: CallerSchema,
  session: z
    .object({
      id: z.string(),
      user: z.string(),
      role: RoleSchema,
      origin: z.enum(['local', 'remote']),
      createdAt: z.number(),
      expiresAt: z.number(),
      idleExpiresAt: z.number().nullable(),
      /** The account has a PIN: confirmations ask for it. */
      hasPin: z.boolean(),
    })
    .nullable(),
  /** The remote support session the caller is in (supplier support only). */
  remote: RemoteGrantSchema.nullable(),
});
export type SessionInfoView = z.infer<typeof SessionInfoSchema>;

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

// ---------------------------------------------------------------------------------------------
// Commands

const machineId = z.string().min(1).max(64);
const epochMs = z.number().int().nonnegative();

const Empty = z.object({}).strict();

/** Every command: request schema, response schema, roles that may call it. */
export const COMMANDS = {
  'plant.info': { request: Empty, response: PlantInfoSchema, roles: [...ALL_ROLES] },
  'machines.list': { request: Empty, response: z.array(MachineSnapshotSchema), roles: [...ALL_ROLES] },
  'machines.get': {
    request: z.object({ machineId }).strict(),
    response: MachineDetailSchema,
    roles: [...ALL_ROLES],
  },
  'history.query': {
    request: z
      .object({
        machineId,
        pointIds: z.array(z.string().min(1).max(64)).min(1).max(32),
        fromMs: epochMs,
        toMs: epochMs,
        maxPoints: z.number().int().min(2).max(4000),
      })
      .strict()
      .refine((r) => r.toMs >= r.fromMs, { message: 'toMs must not be before fromMs', path: ['toMs'] }),
    response: z.object({ series: z.array(SeriesSchema) }),
    roles: [...ALL_ROLES],
  },
  'kpi.history': {
    request: z.object({ machineId, fromMs: epochMs.optional() }).strict(),
    response: z.object({ samples: z.array(KpiSampleSchema) }),
    roles: [...ALL_ROLES],
  },
  'system.health': { request: Empty, response: HealthSchema, roles: [...ALL_ROLES] },
  // Writes change the plant: maintenance and admin only, and only when the plant enabled them.
  'points.write': {
    request: z
      .object({
        machineId,
        pointId: z.string().min(1).max(64),
        value: z.union([z.number().refine(Number.isFinite, 'must be a finite number'), z.boolean()]),
      })
      .strict(),
    response: WriteResultSchema,
    roles: ['maintenance', 'admin'],
  },
  'points.revert': {
    request: z.object({ writeId: z.string().min(1).max(64) }).strict(),
    response: WriteResultSchema,
    roles: ['maintenance', 'admin'],
  },
  'writes.log': {
    request: z.object({ machineId: machineId.optional(), limit: z.number().int().min(1).max(500).optional() }).strict(),
    response: z.object({ entries: z.array(WriteResultSchema) }),
    roles: ['operator', 'maintenance', 'admin'],
  },
  'alarms.list': {
    request: z.object({ machineId: machineId.optional() }).strict(),
    response: AlarmSummarySchema,
    roles: [...ALL_ROLES],
  },
  'alarms.ack': {
    request: z.object({ alarmIds: z.array(z.string().min(1).max(140)).min(1).max(200) }).strict(),
    response: z.object({ acknowledged: z.array(z.string()), unknown: z.array(z.string()) }),
    roles: ['operator', 'maintenance', 'admin'],
  },
  'alarms.history': {
    request: z.object({ machineId: machineId.optional(), fromMs: epochMs.optional() }).strict(),
    response: z.object({ events: z.array(AlarmEventSchema) }),
    roles: [...ALL_ROLES],
  },
  // Plant IT audits the console's promises here: every role may read them.
  'uplink.status': { request: Empty, response: UplinkStatusSchema, roles: [...ALL_ROLES] },
  'uplink.points': { request: Empty, response: UplinkPointsSchema, roles: [...ALL_ROLES] },
  'session.info': { request: Empty, response: SessionInfoSchema, roles: [...ALL_ROLES] },
  // Consent on site: maintenance and admin grant; anyone on site may end a session (ending is always safe).
  'remote.grant': {
    request: z
      .object({
        account: z.string().min(1).max(64),
        scope: RemoteScopeSchema,
        machines: z.array(machineId).min(1).max(64).optional(),
        durationMin: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .optional(),
      })
      .strict(),
    response: z.object({ grant: RemoteGrantSchema, joinCode: z.string() }),
    roles: ['maintenance', 'admin'],
  },
  'remote.end': {
    request: z.object({ grantId: z.string().min(1).max(64) }).strict(),
    response: RemoteGrantSchema,
    roles: ['operator', 'maintenance', 'admin'],
  },
  'remote.list': { request: Empty, response: RemoteStateSchema, roles: [...ALL_ROLES] },
  'remote.requests': {
    request: z.object({ grantId: z.string().min(1).max(64).optional() }).strict(),
    response: z.object({ requests: z.array(ChangeRequestSchema) }),
    roles: [...ALL_ROLES],
  },
  'remote.propose': {
    request: z
      .object({
        machineId,
        pointId: z.string().min(1).max(64),
        value: z.union([z.number().refine(Number.isFinite, 'must be a finite number'), z.boolean()]),
      })
      .strict(),
    response: ChangeRequestSchema,
    roles: ['supplier-support'],
  },
  'remote.confirm': {
    request: z.object({ requestId: z.string().min(1).max(64), pin: z.string().min(1).max(32).optional() }).strict(),
    response: ChangeRequestSchema,
    roles: ['maintenance', 'admin'],
  },
  'remote.reject': {
    request: z.object({ requestId: z.string().min(1).max(64), reason: z.string().max(200).optional() }).strict(),
    response: ChangeRequestSchema,
    roles: ['maintenance', 'admin'],
  },
  'remote.reportPage': {
    request: z.object({ page: z.string().min(1).max(200) }).strict(),
    response: z.object({ page: z.string() }),
    roles: ['supplier-support'],
  },
  'remote.summary': {
    request: z.object({ grantId: z.string().min(1).max(64) }).strict(),
    response: RemoteSummarySchema,
    roles: ['maintenance', 'admin'],
  },
  // Who did what: for the people who answer for the plant, not for everyone on the floor.
  'audit.query': {
    request: z
      .object({
        from: epochMs.optional(),
        to: epochMs.optional(),
        user: z.string().min(1).max(64).optional(),
        kinds: z.array(z.string().min(1).max(40)).max(32).optional(),
        machineId: machineId.optional(),
        beforeSeq: z.number().int().min(1).optional(),
        limit: z.number().int().min(1).max(500).optional(),
      })
      .strict(),
    response: AuditPageSchema,
    roles: ['maintenance', 'admin'],
  },
} as const satisfies Record<CommandName, { request: z.ZodType; response: z.ZodType; roles: readonly Role[] }>;

export type CommandRequest<K extends CommandName> = z.input<(typeof COMMANDS)[K]['request']>;
export type CommandResponse<K extends CommandName> = z.infer<(typeof COMMANDS)[K]['response']>;

// ---------------------------------------------------------------------------------------------
// Events

export const EVENTS = {
  'machines.update': MachineSnapshotSchema,
  'core.status': z.object({ state: z.enum(['starting', 'running', 'stopping']), ts: z.number() }),
  'alarms.update': AlarmSummarySchema,
  'uplink.update': UplinkStatusSchema,
  'remote.update': RemoteStateSchema,
} as const satisfies Record<EventName, z.ZodType>;

export type EventPayload<E extends EventName> = z.infer<(typeof EVENTS)[E]>;

// ---------------------------------------------------------------------------------------------
// Result envelope and transport

/** Error codes an API call can answer with. */
export type ApiErrorCode = 'BAD_REQUEST' | 'UNKNOWN_COMMAND' | 'FORBIDDEN' | 'NOT_FOUND' | 'UNAVAILABLE' | 'INTERNAL';

export type Result<T> = { ok: true; value: T } | { ok: false; error: { code: ApiErrorCode | string; message: string } };

export type TransportStatus = 'connecting' | 'connected' | 'disconnected';

/** What the renderer is given: IPC (Electron) or WebSocket (web mode) behind one interface. */
export interface Transport {
  readonly kind: 'ipc' | 'websocket';
  call<K extends CommandName>(name: K, request: CommandRequest<K>): Promise<Result<CommandResponse<K>>>;
  subscribe<E extends EventName>(name: E, handler: (payload: EventPayload<E>) => void): () => void;
  onStatus(handler: (status: TransportStatus) => void): () => void;
}

/** The object the preload puts on `window.plantConsole`: task-level methods only. */
export type Bridge = {
  [K in CommandName]: (request: CommandRequest<K>) => Promise<Result<CommandResponse<K>>>;
} & {
  on<E extends EventName>(name: E, handler: (payload: EventPayload<E>) => void): () => void;
};

// ---------------------------------------------------------------------------------------------
// WebSocket wire messages (web mode)

export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('call'), id: z.number().int().nonnegative(), name: z.string(), request: z.unknown() }),
  z.object({ type: z.literal('subscribe'), name: z.string() }),
  z.object({ type: z.literal('unsubscribe'), name: z.string() }),
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

export type ServerMessage =
  | { type: 'result'; id: number; result: Result<unknown> }
  | { type: 'event'; name: EventName; payload: unknown }
  | { type: 'error'; error: { code: string; message: string } };
