/**
 * The audit record and the two byte strings the audit log's integrity rests on.
 *
 * Record hash (the chain):
 *   R    = { seq, at, kind, user, role, origin, sessionId, machineId, detail, prevHash }
 *          every member present (null when unknown); prevHash is the previous record's hash
 *          in lowercase hex, 64 zeros for seq 1; detail is a JSON object.
 *   hash = BLAKE2b-256( "plant-console/audit-record/v1\0" ‖ UTF-8( JCS(R) ) )   (lowercase hex)
 *   JCS = RFC 8785 canonical JSON (src-main/protocol/canonical.ts). seq counts 1, 2, 3… without gaps.
 *
 * Signed head (who vouches for the chain):
 *   H    = { seq, hash, signedAt, kid }   seq and hash of the newest record, kid the plant's
 *          Ed25519 key id (src-main/protocol/keys.ts)
 *   sig  = Ed25519( "plant-console/audit-head/v1\0" ‖ UTF-8( JCS(H) ) )   (lowercase hex)
 *
 * A JSON-lines export carries R plus `hash` per line, so anyone with libsodium and a JCS
 * implementation can recompute the chain outside the console.
 */
import type { Role } from '../../src-preload/contract';
import { blake2b } from '../protocol/sodium';
import { canonicalBytes, type Json } from '../protocol/canonical';
import { domain } from '../protocol/encoding';
import { AUDIT_HEAD_SIGNATURE_LABEL, headMessage } from '../protocol/audit-head';

/** Every kind of audited event. */
export const AUDIT_KINDS = [
  'login',
  'login_failed',
  'lockout',
  /** An admin lifted a sign-in lockout (UI or `plant-console user unlock`). */
  'lockout_lifted',
  'logout',
  'session_expired',
  'user_added',
  'user_disabled',
  'user_enabled',
  'password_reset',
  'pin_changed',
  'write',
  'revert',
  'alarm_ack',
  'config_change',
  /** First start of a configured plant: the configuration's hash (src-main/config/config-audit.ts). */
  'config_loaded',
  /** The configuration differs from the previous start's: a readable diff, per machine. */
  'config_changed',
  /** A point's sensitivity class changed between starts. */
  'classification_changed',
  'key_rotation',
  'remote_grant',
  'remote_join',
  'remote_end',
  'remote_action',
  'recommendation_decision',
  'firmware_decision',
  'reco_received',
  'reco_refused',
  'reco_applied',
  'reco_rejected',
  'reco_deferred',
  'reco_reverted',
  'reco_outcome',
  /** IoT modules and firmware (src-main/modules/). */
  'firmware_imported',
  'firmware_refused',
  /** The pinned firmware root of trust: pinned at first start, or replaced by a verified rotation. */
  'firmware_root',
  'firmware_approved',
  /** One step of a staged rollout (a module started, committed, rolled back, failed; the rollout done or stopped). */
  'firmware_update',
  'module_paired',
  'module_event',
  /** `plant-console store recover`: a rolled-back store continues after the highest sequence number ever used. */
  'store_recovered',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** True for a known audit kind. */
export function isAuditKind(value: unknown): value is AuditKind {
  return typeof value === 'string' && (AUDIT_KINDS as readonly string[]).includes(value);
}

/** Who did something: a signed-in person, the CLI, or the console itself (all null). */
export interface AuditActor {
  user?: string | null;
  role?: Role | null;
  origin?: 'local' | 'remote' | null;
  sessionId?: string | null;
}

/** What a caller hands to the log; seq, hashes and (unless given) the time are the log's. */
export interface AuditEntry extends AuditActor {
  kind: AuditKind;
  machineId?: string | null;
  /** Facts of the event: before/after values, reasons, names. Never a password, token or key. */
  detail?: Record<string, Json>;
  /** Default: the log's clock. */
  at?: number;
}

/** One stored record. */
export interface AuditRecord {
  seq: number;
  at: number;
  kind: AuditKind;
  user: string | null;
  role: Role | null;
  origin: 'local' | 'remote' | null;
  sessionId: string | null;
  machineId: string | null;
  detail: Record<string, Json>;
  prevHash: string;
  hash: string;
}

/** Where audited events go; `record` never throws (a failing audit must not undo a done write). */
export interface AuditSink {
  record(entry: AuditEntry): void;
}

/** A signed head as stored. */
export interface AuditHead {
  seq: number;
  hash: string;
  signedAt: number;
  keyId: string;
  signature: string;
}

export const AUDIT_RECORD_LABEL = 'plant-console/audit-record/v1';
export const AUDIT_HEAD_LABEL = AUDIT_HEAD_SIGNATURE_LABEL;
/** prevHash of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** The hashed members of a record (everything but `hash`). */
export type AuditRecordBody = Omit<AuditRecord, 'hash'>;

/** The hash of a record: BLAKE2b-256 over the label and the JCS of its body, lowercase hex. */
export function auditRecordHash(body: AuditRecordBody): string {
  const r = {
    seq: body.seq,
    at: body.at,
    kind: body.kind,
    user: body.user,
    role: body.role,
    origin: body.origin,
    sessionId: body.sessionId,
    machineId: body.machineId,
    detail: body.detail,
    prevHash: body.prevHash,
  };
  return blake2b(Buffer.concat([domain(AUDIT_RECORD_LABEL), canonicalBytes(r)]), 32).toString('hex');
}

/** The bytes a head signature covers (before the domain label signDetached adds). */
export function auditHeadMessage(head: { seq: number; hash: string; signedAt: number; keyId: string }): Buffer {
  // One definition with the witness the cloud keeps (protocol/audit-head.ts).
  return headMessage({ seq: head.seq, hash: head.hash, signedAt: head.signedAt, kid: head.keyId });
}

/** A caller's identity as the audit log wants it; picks up a session id when the caller carries one. */
export function auditActor(caller: { user: string; role: Role | 'viewer'; origin: 'local' | 'remote'; sessionId?: unknown }): AuditActor {
  return {
    user: caller.user,
    // The viewer (the local console without sign-in) is no account role: its records name no role.
    role: caller.role === 'viewer' ? null : caller.role,
    origin: caller.origin,
    sessionId: typeof caller.sessionId === 'string' ? caller.sessionId : null,
  };
}

/** A row of audit_log as libsql returns it. */
export interface AuditRow {
  seq: number;
  at: number;
  kind: string;
  user: string | null;
  role: string | null;
  origin: string | null;
  session_id: string | null;
  machine_id: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

export const AUDIT_COLUMNS = 'seq, at, kind, user, role, origin, session_id, machine_id, detail, prev_hash, hash';

/** A stored row as a record; throws when the row is not readable as one (verify names it). */
export function recordFromRow(row: AuditRow): AuditRecord {
  const detail: unknown = JSON.parse(row.detail);
  if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) throw new Error('detail is not a JSON object');
  if (!isAuditKind(row.kind)) throw new Error(`unknown kind "${row.kind}"`);
  return {
    seq: row.seq,
    at: row.at,
    kind: row.kind,
    user: row.user,
    role: row.role as Role | null,
    origin: row.origin as 'local' | 'remote' | null,
    sessionId: row.session_id,
    machineId: row.machine_id,
    detail: detail as Record<string, Json>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
