/**
 * What an admin sees of sign-in lockouts (auth.lockouts, auth.unlock), and where the audit log
 * is witnessed outside the plant (audit.links): the syslog link to plant IT and the signed heads
 * sent to the supplier cloud.
 */
import { z } from 'zod';

/** One lockout in force: per source and account, a whole source, an account for the network, or a PIN. */
export const LockoutSchema = z.object({
  id: z.string(),
  scope: z.enum(['account', 'source', 'network', 'pin']),
  /** The account tried (null: every account, for a source lock). */
  user: z.string().nullable(),
  /** The client address, or 'local' for the console's window (null: every network source, or a PIN). */
  source: z.string().nullable(),
  origin: z.enum(['local', 'remote']).nullable(),
  failures: z.number().int(),
  lockedAt: z.number(),
  lockedUntil: z.number(),
});
export type LockoutView = z.infer<typeof LockoutSchema>;

/** The forwarding of audit records to the plant's syslog collector (RFC 5424 over TLS). */
export const SyslogLinkSchema = z.object({
  /** host:port of the collector. */
  target: z.string(),
  state: z.enum(['connecting', 'connected', 'failing', 'stopped']),
  /** Records handed to the collector's connection since start. */
  forwarded: z.number().int(),
  /** Connection failures since start (each counted, logged and shown). */
  failures: z.number().int(),
  /** Records written to the audit log but not yet forwarded. */
  backlog: z.number().int(),
  lastError: z.string().nullable(),
  /** Since when the link fails without a break (null while it works). */
  failingSince: z.number().nullable(),
});
export type SyslogLinkView = z.infer<typeof SyslogLinkSchema>;

/** The signed audit heads sent sealed to the supplier cloud, its witness of the chain. */
export const AuditWitnessSchema = z.object({
  /** The newest head queued for the cloud: its record number and when it was signed. */
  lastSentSeq: z.number().int().nullable(),
  lastSentSignedAt: z.number().nullable(),
  /** Signed heads not yet queued (the outbox was full, or the uplink was not running). */
  pending: z.number().int(),
  /** Heads the full outbox refused since start (queued again later). */
  refused: z.number().int(),
});
export type AuditWitnessView = z.infer<typeof AuditWitnessSchema>;

export const AuditLinksSchema = z.object({
  syslog: SyslogLinkSchema.nullable(),
  witness: AuditWitnessSchema.nullable(),
});
export type AuditLinks = z.infer<typeof AuditLinksSchema>;
