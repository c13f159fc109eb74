/** Remote support: grants, change requests, summaries, and the caller's session. */
import { z } from 'zod';
import { CallerSchema, RoleSchema } from './values';
import { WriteResultSchema } from './writes';

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
