/**
 * Exporting the audit log as JSON lines or CSV, oldest first.
 *
 * JSON lines: one record per line with exactly the hashed members plus `hash` (record.ts), so an
 * unfiltered export can be re-verified outside the console. CSV: the same columns, `detail` as
 * canonical JSON text, plus `at_iso` for people; text cells that a spreadsheet would run as a
 * formula (starting with = + - @ or a tab) get a leading apostrophe.
 */
import type { StoreDb } from '../store/schema';
import { auditWhere } from './query';
import { AUDIT_COLUMNS, recordFromRow, type AuditKind, type AuditRecord, type AuditRow } from './record';

/** What to export. */
export interface AuditExportOptions {
  format: 'jsonl' | 'csv';
  /** At or after (ms since epoch). */
  from?: number;
  /** At or before (ms since epoch). */
  to?: number;
  user?: string;
  kind?: AuditKind | readonly AuditKind[];
  machineId?: string;
  sessionId?: string;
}

const CSV_HEADER = ['seq', 'at', 'at_iso', 'kind', 'user', 'role', 'origin', 'session_id', 'machine_id', 'detail', 'prev_hash', 'hash'];

function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function jsonLine(r: AuditRecord): string {
  // Member order as in the hash definition, for people reading the file.
  return JSON.stringify({
    seq: r.seq,
    at: r.at,
    kind: r.kind,
    user: r.user,
    role: r.role,
    origin: r.origin,
    sessionId: r.sessionId,
    machineId: r.machineId,
    detail: r.detail,
    prevHash: r.prevHash,
    hash: r.hash,
  });
}

function csvLine(row: AuditRow): string {
  return [
    row.seq,
    row.at,
    new Date(row.at).toISOString(),
    row.kind,
    row.user,
    row.role,
    row.origin,
    row.session_id,
    row.machine_id,
    row.detail,
    row.prev_hash,
    row.hash,
  ]
    .map(csvCell)
    .join(',');
}

/** Streams the export line by line to `write` (each call one line with its newline); returns the record count. */
export function writeAuditExport(db: StoreDb, opts: AuditExportOptions, write: (line: string) => void): number {
  const { where, params } = auditWhere(opts);
  let n = 0;
  if (opts.format === 'csv') write(CSV_HEADER.join(',') + '\r\n');
  for (const row of db
    .prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log${where} ORDER BY seq`)
    .iterate(params) as IterableIterator<AuditRow>) {
    if (opts.format === 'csv') write(csvLine(row) + '\r\n');
    else {
      let line: string;
      try {
        line = jsonLine(recordFromRow(row));
      } catch {
        // An unreadable row is exported as stored so the export hides nothing; verify names it.
        line = JSON.stringify({
          seq: row.seq,
          at: row.at,
          kind: row.kind,
          unreadable: true,
          detailText: row.detail,
          prevHash: row.prev_hash,
          hash: row.hash,
        });
      }
      write(line + '\n');
    }
    n++;
  }
  return n;
}

/** The export as one string (JSON lines or CSV). */
export function exportAudit(db: StoreDb, opts: AuditExportOptions): string {
  const parts: string[] = [];
  writeAuditExport(db, opts, (line) => void parts.push(line));
  return parts.join('');
}
