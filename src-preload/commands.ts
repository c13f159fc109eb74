/** Every command of the console API: request and response schema, roles that may call it. */
import { z } from 'zod';
import { FIRMWARE_UPLOAD_MAX_BYTES, type CommandName } from './channels';
import { AlarmEventSchema, AlarmSummarySchema } from './contract/alarms';
import { AuditPageSchema } from './contract/audit';
import { AuditLinksSchema, LockoutSchema } from './contract/trust';
import { FirmwareReleaseSchema, ModuleViewSchema, ModulesStateSchema, RolloutSchema } from './contract/firmware';
import { RecoInboxSchema, RecommendationSchema } from './contract/recommendations';
import {
  ChangeRequestSchema,
  RemoteGrantSchema,
  RemoteScopeSchema,
  RemoteStateSchema,
  RemoteSummarySchema,
  SessionInfoSchema,
} from './contract/remote';
import { UplinkPointsSchema, UplinkStatusSchema } from './contract/uplink';
import {
  ALL_ROLES,
  type CallerRole,
  HealthSchema,
  KpiSampleSchema,
  MachineDetailSchema,
  MachineSnapshotSchema,
  PlantInfoSchema,
  SeriesSchema,
} from './contract/values';
import { WriteResultSchema } from './contract/writes';

const machineId = z.string().min(1).max(64);
const epochMs = z.number().int().nonnegative();
const recoId = z.string().min(1).max(64);
const pin = z.string().min(1).max(32);

const Empty = z.object({}).strict();

/** Every account role, and the local console viewed without sign-in: for commands that only read. */
const VIEW_ROLES: readonly CallerRole[] = [...ALL_ROLES, 'viewer'];

/** Every command: request schema, response schema, roles that may call it. */
export const COMMANDS = {
  'plant.info': { request: Empty, response: PlantInfoSchema, roles: [...VIEW_ROLES] },
  'machines.list': { request: Empty, response: z.array(MachineSnapshotSchema), roles: [...VIEW_ROLES] },
  'machines.get': {
    request: z.object({ machineId }).strict(),
    response: MachineDetailSchema,
    roles: [...VIEW_ROLES],
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
    roles: [...VIEW_ROLES],
  },
  'kpi.history': {
    request: z.object({ machineId, fromMs: epochMs.optional() }).strict(),
    response: z.object({ samples: z.array(KpiSampleSchema) }),
    roles: [...VIEW_ROLES],
  },
  'system.health': { request: Empty, response: HealthSchema, roles: [...VIEW_ROLES] },
  // Writes change the plant: maintenance and admin only, and only when the plant enabled them.
  'points.write': {
    request: z
      .object({
        machineId,
        pointId: z.string().min(1).max(64),
        value: z.union([z.number().refine(Number.isFinite, 'must be a finite number'), z.boolean()]),
        /** The signed-in account's PIN, when it has one (auth/confirm-gate.ts). */
        pin: pin.optional(),
      })
      .strict(),
    response: WriteResultSchema,
    roles: ['maintenance', 'admin'],
  },
  'points.revert': {
    request: z.object({ writeId: z.string().min(1).max(64), pin: pin.optional() }).strict(),
    response: WriteResultSchema,
    roles: ['maintenance', 'admin'],
  },
  'writes.log': {
    request: z.object({ machineId: machineId.optional(), limit: z.number().int().min(1).max(500).optional() }).strict(),
    response: z.object({ entries: z.array(WriteResultSchema) }),
    roles: ['operator', 'maintenance', 'admin', 'viewer'],
  },
  'alarms.list': {
    request: z.object({ machineId: machineId.optional() }).strict(),
    response: AlarmSummarySchema,
    roles: [...VIEW_ROLES],
  },
  'alarms.ack': {
    request: z.object({ alarmIds: z.array(z.string().min(1).max(140)).min(1).max(200) }).strict(),
    response: z.object({ acknowledged: z.array(z.string()), unknown: z.array(z.string()) }),
    roles: ['operator', 'maintenance', 'admin'],
  },
  'alarms.history': {
    request: z.object({ machineId: machineId.optional(), fromMs: epochMs.optional() }).strict(),
    response: z.object({ events: z.array(AlarmEventSchema) }),
    roles: [...VIEW_ROLES],
  },
  // Plant IT audits the console's promises here: every role may read them.
  'uplink.status': { request: Empty, response: UplinkStatusSchema, roles: [...VIEW_ROLES] },
  'uplink.points': { request: Empty, response: UplinkPointsSchema, roles: [...VIEW_ROLES] },
  'session.info': { request: Empty, response: SessionInfoSchema, roles: [...VIEW_ROLES] },
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
  'remote.list': { request: Empty, response: RemoteStateSchema, roles: [...VIEW_ROLES] },
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
  // Where the audit log is witnessed outside the plant (syslog, the supplier cloud): its link states.
  'audit.links': { request: Empty, response: AuditLinksSchema, roles: ['maintenance', 'admin'] },
  // Sign-in lockouts: an admin sees them and lifts one (audited).
  'auth.lockouts': { request: Empty, response: z.object({ lockouts: z.array(LockoutSchema) }), roles: ['admin'] },
  'auth.unlock': {
    request: z.object({ id: z.string().min(1).max(400) }).strict(),
    response: z.object({ lifted: LockoutSchema.nullable() }),
    roles: ['admin'],
  },
  // Supplier recommendations: everyone on site may read the inbox; only maintenance decides.
  'reco.list': { request: Empty, response: RecoInboxSchema, roles: ['operator', 'maintenance', 'admin', 'viewer'] },
  'reco.apply': {
    request: z.object({ id: recoId, pin: pin.optional() }).strict(),
    response: RecommendationSchema,
    roles: ['maintenance', 'admin'],
  },
  'reco.reject': {
    request: z.object({ id: recoId, reason: z.string().trim().min(1, 'say why').max(500) }).strict(),
    response: RecommendationSchema,
    roles: ['maintenance', 'admin'],
  },
  'reco.defer': {
    request: z.object({ id: recoId, untilMs: epochMs.optional(), reason: z.string().max(500).optional() }).strict(),
    response: RecommendationSchema,
    roles: ['maintenance', 'admin'],
  },
  // Puts the values back as they were before the apply (proposed after a guard breach, or by hand).
  'reco.revert': {
    request: z.object({ id: recoId, pin: pin.optional() }).strict(),
    response: RecommendationSchema,
    roles: ['maintenance', 'admin'],
  },
  // IoT modules and their firmware: everyone on site may look; pairing and updates are maintenance decisions.
  'modules.list': { request: Empty, response: ModulesStateSchema, roles: ['operator', 'maintenance', 'admin', 'viewer'] },
  'modules.pair': {
    request: z.object({ moduleId: z.string().min(1).max(64), approve: z.boolean(), pin: pin.optional() }).strict(),
    response: ModuleViewSchema,
    roles: ['maintenance', 'admin'],
  },
  // A bundle from a file (USB stick): at most 32 MiB, base64 in the request (IPC; web mode streams it to FIRMWARE_UPLOAD_PATH).
  'firmware.import': {
    request: z
      .object({
        fileName: z.string().min(1).max(255),
        dataBase64: z
          .string()
          .min(4)
          .max(Math.ceil(FIRMWARE_UPLOAD_MAX_BYTES / 3) * 4)
          .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
      })
      .strict(),
    response: FirmwareReleaseSchema,
    roles: ['maintenance', 'admin'],
  },
  'firmware.approve': {
    request: z
      .object({ releaseId: z.string().min(1).max(64), moduleIds: z.array(z.string().min(1).max(64)).min(1).max(256), pin: pin.optional() })
      .strict(),
    response: RolloutSchema,
    roles: ['maintenance', 'admin'],
  },
  'firmware.stop': {
    request: z.object({ rolloutId: z.string().min(1).max(64), reason: z.string().trim().min(1).max(500) }).strict(),
    response: RolloutSchema,
    roles: ['maintenance', 'admin'],
  },
} as const satisfies Record<CommandName, { request: z.ZodType; response: z.ZodType; roles: readonly CallerRole[] }>;

/** What a caller sends to command `K`, which is also what its handler receives after the schema parse (see below). */
export type CommandRequest<K extends CommandName> = z.input<(typeof COMMANDS)[K]['request']>;
/** What command `K` answers: its handler's return type, and what the transports carry to the renderer. */
export type CommandResponse<K extends CommandName> = z.infer<(typeof COMMANDS)[K]['response']>;

/**
 * One type per side of the wire: no command's schemas transform, default or coerce, so a request
 * is the same type before and after its parse (the handler's argument is the caller's), and an
 * answer, which crosses the transport unparsed, is the same type the renderer reads. A schema
 * that breaks this is a type error naming its command (`Drifting` is then not `never`).
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Drifting = {
  [K in CommandName]: Same<z.input<(typeof COMMANDS)[K]['request']>, z.output<(typeof COMMANDS)[K]['request']>> extends true
    ? Same<z.input<(typeof COMMANDS)[K]['response']>, z.output<(typeof COMMANDS)[K]['response']>> extends true
      ? never
      : K
    : K;
}[CommandName];
const sameOnBothSides: [Drifting] extends [never] ? true : { transforms: Drifting } = true;
void sameOnBothSides;
