/** Every command of the console API: request and response schema, roles that may call it. */
import { z } from 'zod';
import type { CommandName } from './channels';
import { AlarmEventSchema, AlarmSummarySchema } from './contract/alarms';
import { AuditPageSchema } from './contract/audit';
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
  HealthSchema,
  KpiSampleSchema,
  MachineDetailSchema,
  MachineSnapshotSchema,
  PlantInfoSchema,
  type Role,
  SeriesSchema,
} from './contract/values';
import { WriteResultSchema } from './contract/writes';

const machineId = z.string().min(1).max(64);
const epochMs = z.number().int().nonnegative();
const recoId = z.string().min(1).max(64);
const pin = z.string().min(1).max(32);

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
  // Supplier recommendations: everyone on site may read the inbox; only maintenance decides.
  'reco.list': { request: Empty, response: RecoInboxSchema, roles: ['operator', 'maintenance', 'admin'] },
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
} as const satisfies Record<CommandName, { request: z.ZodType; response: z.ZodType; roles: readonly Role[] }>;

export type CommandRequest<K extends CommandName> = z.input<(typeof COMMANDS)[K]['request']>;
export type CommandResponse<K extends CommandName> = z.infer<(typeof COMMANDS)[K]['response']>;
