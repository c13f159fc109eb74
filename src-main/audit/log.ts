/**
 * The audit log: append-only, hash-chained records in the encrypted store (record.ts has the
 * byte-exact rules), with the chain's head signed by the plant's Ed25519 key.
 *
 * Each append reads the tail and writes the record and the `audit` counter of `sequence` in
 * one IMMEDIATE transaction, so the console and a CLI command (`user add`) can append to the
 * same store at the same time without forking the chain. The counter is what reveals a tail
 * cut off after the last signed head.
 *
 * The head is signed after the first record, then whenever `signEveryRecords` records or
 * `signEveryMs` have passed since the last signature, and on `close`. Records after the last
 * signed head are only as trustworthy as the store's encryption; hence the short period.
 */
import { silentLogger, type Logger } from '../core/log';
import { systemClock, type Clock } from '../core/types';
import { canonicalJson, type Json } from '../protocol/canonical';
import { signDetached, type SigningKeyPair } from '../protocol/keys';
import type { StoreDb } from '../store/schema';
import { auditWhere, type AuditQuery } from './query';
import {
  AUDIT_COLUMNS,
  AUDIT_HEAD_LABEL,
  GENESIS_HASH,
  auditHeadMessage,
  auditRecordHash,
  recordFromRow,
  type AuditEntry,
  type AuditHead,
  type AuditRecord,
  type AuditRow,
  type AuditSink,
} from './record';

export { verifyAudit, type AuditProblem, type AuditProblemReason, type AuditVerifyResult } from './verify';
export { exportAudit, writeAuditExport, type AuditExportOptions } from './export';
export type { AuditQuery } from './query';
export {
  AUDIT_KINDS,
  auditActor,
  type AuditActor,
  type AuditEntry,
  type AuditHead,
  type AuditKind,
  type AuditRecord,
  type AuditSink,
} from './record';

/** Options of the audit log. */
export interface AuditLogOptions {
  clock?: Clock;
  log?: Logger;
  /** Sign the head after this many unsigned records (default 100). */
  signEveryRecords?: number;
  /** Sign the head when unsigned records are this old (default 5 min). */
  signEveryMs?: number;
  /** Check `signEveryMs` on a timer as well as on append (default true). */
  timers?: boolean;
}

/** Counters for a health screen. */
export interface AuditLogStats {
  lastSeq: number;
  lastSignedSeq: number;
  /** Records the database refused (each logged); the event is then only in the console log. */
  failed: number;
}

export const DEFAULT_SIGN_EVERY_RECORDS = 100;
export const DEFAULT_SIGN_EVERY_MS = 5 * 60_000;
const MAX_QUERY = 1000;
const DEFAULT_QUERY = 200;

type HeadRow = [seq: number, hash: string, signedAt: number, keyId: string, signature: string];

function statements(db: StoreDb) {
  return {
    counter: db.prepare("SELECT value FROM sequence WHERE name = 'audit'").raw(),
    setCounter: db.prepare("UPDATE sequence SET value = ? WHERE name = 'audit'"),
    tail: db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').raw(),
    insert: db.prepare(
      'INSERT INTO audit_log (seq, at, kind, user, role, origin, session_id, machine_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    lastHead: db.prepare('SELECT seq, hash, signed_at, key_id, signature FROM audit_heads ORDER BY id DESC LIMIT 1').raw(),
    insertHead: db.prepare('INSERT INTO audit_heads (seq, hash, signed_at, key_id, signature) VALUES (?, ?, ?, ?, ?)'),
  };
}

/** The tamper-evident audit log of one plant store. */
export class AuditLog implements AuditSink {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly signEveryRecords: number;
  private readonly signEveryMs: number;
  private readonly timer: ReturnType<typeof setInterval> | null;
  private readonly q: ReturnType<typeof statements>;
  private readonly appendTx: (entry: AuditEntry, detail: Record<string, Json>, at: number) => AuditRecord;
  private readonly signTx: (now: number) => AuditHead | null;
  private lastSignedSeq: number;
  private lastSignedAt: number;
  private failed = 0;
  private closed = false;
  private readonly appendHandlers = new Set<(rec: AuditRecord) => void>();
  private readonly headHandlers = new Set<(head: AuditHead) => void>();

  constructor(
    private readonly db: StoreDb,
    identity: { readonly signing: SigningKeyPair },
    opts: AuditLogOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.signEveryRecords = Math.max(1, Math.floor(opts.signEveryRecords ?? DEFAULT_SIGN_EVERY_RECORDS));
    this.signEveryMs = Math.max(1, opts.signEveryMs ?? DEFAULT_SIGN_EVERY_MS);
    const q = statements(db);
    this.q = q;
    const appendTx = db.transaction((entry: AuditEntry, detail: Record<string, Json>, at: number): AuditRecord => {
      const counter = (q.counter.get() as [number] | undefined)?.[0] ?? 0;
      const tail = q.tail.get() as [number, string] | undefined;
      const body = {
        // Past the counter even when the tail was cut off, so the gap stays visible to verify.
        seq: Math.max(counter, tail?.[0] ?? 0) + 1,
        at,
        kind: entry.kind,
        user: entry.user ?? null,
        role: entry.role ?? null,
        origin: entry.origin ?? null,
        sessionId: entry.sessionId ?? null,
        machineId: entry.machineId ?? null,
        detail,
        prevHash: tail?.[1] ?? GENESIS_HASH,
      };
      const hash = auditRecordHash(body);
      q.insert.run([
        body.seq,
        at,
        body.kind,
        body.user,
        body.role,
        body.origin,
        body.sessionId,
        body.machineId,
        canonicalJson(detail),
        body.prevHash,
        hash,
      ]);
      q.setCounter.run([body.seq]);
      return { ...body, hash };
    });
    this.appendTx = (entry, detail, at) => appendTx.immediate(entry, detail, at);
    const signTx = db.transaction((now: number): AuditHead | null => {
      const tail = q.tail.get() as [number, string] | undefined;
      const last = q.lastHead.get() as HeadRow | undefined;
      if (!tail || (last && last[0] === tail[0] && last[1] === tail[1])) return null;
      const head = { seq: tail[0], hash: tail[1], signedAt: now, keyId: identity.signing.kid };
      const signature = signDetached(AUDIT_HEAD_LABEL, auditHeadMessage(head), identity.signing.secretKey).toString('hex');
      q.insertHead.run([head.seq, head.hash, head.signedAt, head.keyId, signature]);
      return { ...head, signature };
    });
    this.signTx = (now) => signTx.immediate(now);

    const last = q.lastHead.get() as HeadRow | undefined;
    this.lastSignedSeq = last?.[0] ?? 0;
    this.lastSignedAt = last?.[2] ?? this.clock.now();
    const counter = (q.counter.get() as [number] | undefined)?.[0] ?? 0;
    const tailSeq = (q.tail.get() as [number, string] | undefined)?.[0] ?? 0;
    if (counter > tailSeq) {
      this.log.log(
        'error',
        `The audit log ends at record ${tailSeq} but ${counter} were written: records were removed (run "plant-console audit verify")`,
        {
          lastSeq: tailSeq,
          counter,
        },
      );
    }
    if (opts.timers !== false) {
      this.timer = setInterval(() => this.maybeSign(), Math.min(this.signEveryMs, 60_000));
      this.timer.unref?.();
    } else this.timer = null;
  }

  /** Appends one record (and signs the head when due); throws when the database refuses. */
  append(entry: AuditEntry): AuditRecord {
    const at = entry.at ?? this.clock.now();
    const detail = entry.detail ?? {};
    // Canonicalising first rejects what the hash could not cover (NaN, lone surrogates) before any write.
    canonicalJson(detail);
    const rec = this.appendTx(entry, detail, at);
    this.tell(this.appendHandlers, rec, 'append');
    if (this.lastSignedSeq === 0 || rec.seq - this.lastSignedSeq >= this.signEveryRecords) this.signHead();
    else this.maybeSign();
    return rec;
  }

  /** Calls `handler` after every record stored (syslog forwarding); returns the unsubscribe. */
  onAppend(handler: (rec: AuditRecord) => void): () => void {
    this.appendHandlers.add(handler);
    return () => void this.appendHandlers.delete(handler);
  }

  /** Calls `handler` after every head signed (the cloud witness); returns the unsubscribe. */
  onHeadSigned(handler: (head: AuditHead) => void): () => void {
    this.headHandlers.add(handler);
    return () => void this.headHandlers.delete(handler);
  }

  /** Tells the handlers; one that throws is logged, never the writer's problem. */
  private tell<T>(handlers: Set<(v: T) => void>, value: T, what: string): void {
    for (const h of [...handlers]) {
      try {
        h(value);
      } catch (err) {
        this.log.log('warn', `An audit ${what} handler threw`, { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  /** AuditSink: appends, and logs instead of throwing when that fails. */
  record(entry: AuditEntry): void {
    try {
      this.append(entry);
    } catch (err) {
      this.failed++;
      this.log.log('error', `Audit log: a ${entry.kind} record could not be stored: ${err instanceof Error ? err.message : String(err)}`, {
        kind: entry.kind,
        user: entry.user ?? null,
        machineId: entry.machineId ?? null,
        failed: this.failed,
      });
    }
  }

  /** Signs the current head when it moved since the last signature; returns the new head or null. */
  signHead(): AuditHead | null {
    const now = this.clock.now();
    const head = this.signTx(now);
    if (head) {
      this.lastSignedSeq = head.seq;
      this.lastSignedAt = head.signedAt;
      this.tell(this.headHandlers, head, 'head');
    } else this.lastSignedAt = now;
    return head;
  }

  /** The newest record's seq and hash (0 and the genesis hash when empty). */
  head(): { seq: number; hash: string } {
    const tail = this.q.tail.get() as [number, string] | undefined;
    return { seq: tail?.[0] ?? 0, hash: tail?.[1] ?? GENESIS_HASH };
  }

  /** The newest signed head, or null before the first. */
  lastSignedHead(): AuditHead | null {
    const r = this.q.lastHead.get() as HeadRow | undefined;
    return r ? { seq: r[0], hash: r[1], signedAt: r[2], keyId: r[3], signature: r[4] } : null;
  }

  /** Records matching the filters, newest first (page on with `beforeSeq`). */
  query(q: AuditQuery = {}): AuditRecord[] {
    const limit = Math.min(MAX_QUERY, Math.max(1, Math.floor(q.limit ?? DEFAULT_QUERY)));
    const { where, params } = auditWhere(q);
    const rows = this.db
      .prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log${where} ORDER BY seq DESC LIMIT ?`)
      .all([...params, limit]) as AuditRow[];
    const out: AuditRecord[] = [];
    for (const row of rows) {
      try {
        out.push(recordFromRow(row));
      } catch (err) {
        // Shown as a gap here; `audit verify` names it.
        this.log.log('error', `Audit log: record ${row.seq} cannot be read`, {
          seq: row.seq,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    return out;
  }

  /** Counters for health screens. */
  stats(): AuditLogStats {
    return { lastSeq: this.head().seq, lastSignedSeq: this.lastSignedSeq, failed: this.failed };
  }

  /** Signs the head one last time and stops the timer; the database stays open (its owner closes it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    try {
      this.signHead();
    } catch (err) {
      this.log.log('error', `Audit log: the head could not be signed on shutdown: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private maybeSign(): void {
    if (this.closed || this.clock.now() - this.lastSignedAt < this.signEveryMs) return;
    try {
      this.signHead();
    } catch (err) {
      this.log.log('error', `Audit log: the head could not be signed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
