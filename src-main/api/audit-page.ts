/** audit.query: one page of the audit log as the audit page shows it. */
import type { AuditQuery } from '../audit/query';
import { isAuditKind, type AuditRecord } from '../audit/record';
import { ConsoleError } from '../core/errors';
import type { CommandRequest, CommandResponse } from '../../src-preload/contract';

/** What audit.query needs of the audit log. */
export interface AuditReader {
  query(q: AuditQuery): AuditRecord[];
}

const AUDIT_PAGE = 100;

/** One page of audit.query: records without prevHash, the next page's cursor, and the names of the points they mention. */
export function auditPage(
  audit: AuditReader,
  req: CommandRequest<'audit.query'>,
  pointOf: (machineId: string, pointId: string) => { name: string; unit: string; decimals: number } | undefined,
): CommandResponse<'audit.query'> {
  const unknown = req.kinds?.find((k) => !isAuditKind(k));
  if (unknown !== undefined) throw new ConsoleError('BAD_REQUEST', `kinds: "${unknown}" is not a kind of audit record`);
  const limit = req.limit ?? AUDIT_PAGE;
  // One more than asked tells whether an older page exists without a second query.
  const found = audit.query({
    ...(req.from !== undefined ? { from: req.from } : {}),
    ...(req.to !== undefined ? { to: req.to } : {}),
    ...(req.user !== undefined ? { user: req.user } : {}),
    ...(req.kinds !== undefined ? { kind: req.kinds.filter(isAuditKind) } : {}),
    ...(req.machineId !== undefined ? { machineId: req.machineId } : {}),
    ...(req.beforeSeq !== undefined ? { beforeSeq: req.beforeSeq } : {}),
    limit: limit + 1,
  });
  const page = found.slice(0, limit);
  const points: Record<string, { name: string; unit: string; decimals: number }> = {};
  const records = page.map(({ prevHash: _prev, ...r }) => {
    const pointId = r.detail['pointId'];
    if (r.machineId !== null && typeof pointId === 'string') {
      const meta = pointOf(r.machineId, pointId);
      if (meta) points[`${r.machineId}/${pointId}`] = { name: meta.name, unit: meta.unit, decimals: meta.decimals };
    }
    return r;
  });
  return { records, nextBeforeSeq: found.length > limit ? (page.at(-1)?.seq ?? null) : null, points };
}
