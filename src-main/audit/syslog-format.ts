/**
 * One audit record as an RFC 5424 syslog message, framed for RFC 5425 (syslog over TLS) by
 * octet counting. docs/syslog.md has the same rules byte by byte, with an example.
 *
 *   FRAME = MSG-LEN SP SYSLOG-MSG            MSG-LEN: decimal octet count of SYSLOG-MSG, no LF after
 *   SYSLOG-MSG = "<" PRI ">1" SP TIMESTAMP SP HOSTNAME SP "plant-console" SP PROCID SP MSGID SP SD SP BOM MSG
 *     PRI       facility × 8 + severity (facility 13 "log audit" by default; severity 4 warning
 *               for refusals and failed sign-ins, else 5 notice)
 *     TIMESTAMP the record's time, RFC 3339 in UTC with milliseconds (2026-03-01T12:00:00.123Z)
 *     PROCID    the console's process id; MSGID the record's kind (login_failed, write, …)
 *     SD        [audit@PEN seq="…" at="…" user="…" role="…" origin="…" sessionId="…" machineId="…" prevHash="…" hash="…"]
 *               a member that is null is left out; `truncated="N"` follows when MSG was cut
 *     MSG       the UTF-8 BOM, then the record's detail as RFC 8785 canonical JSON
 *
 * Every member the record hash covers is in the message, so plant IT can recompute the hash
 * (and so the chain) from what its collector kept. Values from outside (an attempted user name)
 * are escaped so that no collector sees a control character: in SD-PARAM values `"`, `\` and `]`
 * get a backslash (RFC 5424 §6.3.3) and control characters, DEL, C1, U+2028/U+2029 and lone
 * surrogates become `\uXXXX`; in MSG, JSON already escapes C0 and the rest become `\uXXXX` too.
 */
import { hostname as osHostname } from 'node:os';
import { canonicalJson } from '../protocol/canonical';
import type { AuditKind, AuditRecord } from './record';

export const SYSLOG_APP_NAME = 'plant-console';
/** RFC 5612's example Private Enterprise Number, for an SD-ID until the supplier has its own. */
export const DEFAULT_ENTERPRISE_ID = 32473;
/** "log audit" (RFC 5424 Table 1). */
export const DEFAULT_FACILITY = 13;
/** RFC 5425 §4.3.1: receivers should take 8192 octets; 2048 is all they must take. */
export const DEFAULT_MAX_MESSAGE_BYTES = 8192;

const BOM = '\uFEFF';
const SEVERITY = { error: 3, warning: 4, notice: 5 } as const;

/** Kinds that tell of something refused or failed: severity warning. */
const WARNING_KINDS: ReadonlySet<AuditKind> = new Set<AuditKind>([
  'login_failed',
  'lockout',
  'firmware_refused',
  'reco_refused',
  'module_event',
]);

/** The fixed parts of every message of one console. */
export interface SyslogIdentity {
  /** HOSTNAME (already checked by syslogHostname). */
  hostname: string;
  /** PROCID. */
  procId: string;
  facility: number;
  enterpriseId: number;
  maxMessageBytes: number;
}

/** What goes into the SD element, in this order (the record's own member names). */
const SD_MEMBERS = ['seq', 'at', 'user', 'role', 'origin', 'sessionId', 'machineId', 'prevHash', 'hash'] as const;

/** Characters no collector should see raw: C0, DEL, C1, the Unicode line separators, lone surrogates. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const uEscape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** An SD-PARAM value: `"`, `\`, `]` with a backslash (RFC 5424), unsafe characters as `\uXXXX`. */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`).replace(UNSAFE, uEscape);
}

/** The inverse of escapeParamValue (what a verifier at plant IT applies). */
export function unescapeParamValue(text: string): string {
  return text.replace(/\\(["\\\]]|u[0-9a-f]{4})/g, (_, e: string) => (e.length === 1 ? e : String.fromCharCode(parseInt(e.slice(1), 16))));
}

/** A HOSTNAME field from a configured or the OS's name: printable US-ASCII, at most 255, else "-". */
export function syslogHostname(name: string = osHostname()): string {
  const h = name.replace(/[^\x21-\x7e]/g, '-').slice(0, 255);
  return h === '' ? '-' : h;
}

/** The identity of this console's messages, defaults filled in. */
export function syslogIdentity(o: Partial<SyslogIdentity> = {}): SyslogIdentity {
  return {
    hostname: syslogHostname(o.hostname),
    procId: o.procId ?? String(process.pid),
    facility: o.facility ?? DEFAULT_FACILITY,
    enterpriseId: o.enterpriseId ?? DEFAULT_ENTERPRISE_ID,
    maxMessageBytes: o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
  };
}

function header(id: SyslogIdentity, severity: number, at: number, msgId: string): string {
  const time = Number.isFinite(at) ? new Date(at).toISOString() : '-';
  return `<${id.facility * 8 + severity}>1 ${time} ${id.hostname} ${SYSLOG_APP_NAME} ${id.procId} ${msgId}`;
}

function sdElement(id: SyslogIdentity, params: [string, string][]): string {
  return `[audit@${id.enterpriseId}${params.map(([k, v]) => ` ${k}="${escapeParamValue(v)}"`).join('')}]`;
}

/** The longest prefix of `s` whose UTF-8 form fits `bytes`, cut between characters. */
function utf8Prefix(s: string, bytes: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= bytes) return s;
  let end = Math.max(0, bytes);
  // Back to the start of a character: continuation bytes are 10xxxxxx.
  while (end > 0 && ((b[end] ?? 0) & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8');
}

/** One record as SYSLOG-MSG (RFC 5424), without the frame; `truncated` says whether MSG was cut to fit. */
export function syslogMessage(rec: AuditRecord, id: SyslogIdentity): { text: string; truncated: boolean } {
  const params: [string, string][] = [];
  for (const k of SD_MEMBERS) {
    const v = rec[k];
    if (v !== null) params.push([k, String(v)]);
  }
  const severity = WARNING_KINDS.has(rec.kind) ? SEVERITY.warning : SEVERITY.notice;
  const head = header(id, severity, rec.at, rec.kind);
  const msg = canonicalJson(rec.detail).replace(UNSAFE, uEscape);
  const full = `${head} ${sdElement(id, params)} ${BOM}${msg}`;
  if (Buffer.byteLength(full) <= id.maxMessageBytes) return { text: full, truncated: false };
  const cut = [...params, ['truncated', String(Buffer.byteLength(msg))] as [string, string]];
  const prefix = `${head} ${sdElement(id, cut)} ${BOM}`;
  return { text: prefix + utf8Prefix(msg, id.maxMessageBytes - Buffer.byteLength(prefix)), truncated: true };
}

/** A stored row that cannot be read as a record: said as such (severity error), never skipped in silence. */
export function unreadableMessage(row: { seq: number; at: number; hash: string }, reason: string, id: SyslogIdentity): string {
  const sd = sdElement(id, [
    ['seq', String(row.seq)],
    ['hash', row.hash],
  ]);
  return `${header(id, SEVERITY.error, row.at, 'unreadable')} ${sd} ${BOM}${JSON.stringify({ unreadable: reason }).replace(UNSAFE, uEscape)}`;
}

/** RFC 5425 octet-counting frame: MSG-LEN SP SYSLOG-MSG. */
export function frame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
