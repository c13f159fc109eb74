/** Filters of the audit log's `query` (the audit page) and of its export, as SQL. */
import type { AuditKind } from './record';

/** Filters of `query` (the audit page) and of the export. */
export interface AuditQuery {
  /** At or after (ms since epoch). */
  from?: number;
  /** At or before (ms since epoch). */
  to?: number;
  user?: string;
  kind?: AuditKind | readonly AuditKind[];
  machineId?: string;
  sessionId?: string;
  /** Paging: only records with a smaller seq. */
  beforeSeq?: number;
  /** Default 200, at most 1000. */
  limit?: number;
}

/** The SQL WHERE clause and parameters of a query (shared with the export). */
export function auditWhere(q: Omit<AuditQuery, 'limit'>): { where: string; params: (string | number)[] } {
  const parts: string[] = [];
  const params: (string | number)[] = [];
  if (q.from !== undefined) {
    parts.push('at >= ?');
    params.push(q.from);
  }
  if (q.to !== undefined) {
    parts.push('at <= ?');
    params.push(q.to);
  }
  if (q.user !== undefined) {
    parts.push('user = ?');
    params.push(q.user);
  }
  if (q.kind !== undefined) {
    const kinds: readonly AuditKind[] = typeof q.kind === 'string' ? [q.kind] : q.kind;
    parts.push(kinds.length === 0 ? '0' : `kind IN (${kinds.map(() => '?').join(', ')})`);
    params.push(...kinds);
  }
  if (q.machineId !== undefined) {
    parts.push('machine_id = ?');
    params.push(q.machineId);
  }
  if (q.sessionId !== undefined) {
    parts.push('session_id = ?');
    params.push(q.sessionId);
  }
  if (q.beforeSeq !== undefined) {
    parts.push('seq < ?');
    params.push(q.beforeSeq);
  }
  return { where: parts.length ? ` WHERE ${parts.join(' AND ')}` : '', params };
}
