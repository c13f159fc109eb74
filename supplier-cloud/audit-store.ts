/**
 * The plants' signed audit heads as the cloud keeps them (table `audit_heads`, store-schema.ts):
 * append-only (the table's triggers refuse UPDATE and DELETE), one row per head signature, each
 * checked on arrival against the heads received before from the same plant. A head for a record
 * the plant already had witnessed with another hash (the log rewritten and signed again), or for
 * an older record than one witnessed earlier (the log cut back), is stored with the conflict
 * named: it is evidence, and `supplier-cloud audit-heads` exports it with the rest.
 */
import type { WitnessedHead } from '../src-main/protocol';
import { num, rowOf, rowsOf, type Db } from './store-schema';

/** A witnessed head as stored and exported. */
export interface StoredAuditHead extends WitnessedHead {
  plant: string;
  /** The plant's uplink sequence number it came with. */
  uplinkSeq: number;
  receivedAt: number;
  /** Why it disagrees with an earlier head, or null. */
  conflict: string | null;
}

export interface AuditHeadStore {
  /** Stores a head (the first time its signature is seen); returns whether it was new and its conflict. */
  record(h: { plant: string; uplinkSeq: number; head: WitnessedHead; receiver: string; receivedAt: number }): {
    stored: boolean;
    conflict: string | null;
  };
  /** The heads of one plant, by record and arrival. */
  heads(plant: string): StoredAuditHead[];
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The audit-head part of a cloud store, over its open database. */
export function createAuditHeadStore(db: Db): AuditHeadStore {
  const conflictOf = (plant: string, uplinkSeq: number, h: WitnessedHead): string | null => {
    const same = rowOf(db, 'SELECT signed_at FROM audit_heads WHERE plant = ? AND seq = ? AND hash != ? ORDER BY id LIMIT 1', [
      plant,
      h.seq,
      h.hash,
    ]);
    if (same)
      return `record ${h.seq} was witnessed before with another hash (head signed at ${iso(num(same[0]) ?? 0)}): the log was rewritten`;
    const later = rowOf(
      db,
      'SELECT seq, signed_at FROM audit_heads WHERE plant = ? AND uplink_seq < ? AND seq > ? ORDER BY seq DESC LIMIT 1',
      [plant, uplinkSeq, h.seq],
    );
    if (later)
      return `record ${num(later[0]) ?? 0} was witnessed before (head signed at ${iso(num(later[1]) ?? 0)}), this head covers only record ${h.seq}: the log was cut back`;
    const earlier = rowOf(db, 'SELECT seq FROM audit_heads WHERE plant = ? AND uplink_seq > ? AND seq < ? ORDER BY seq LIMIT 1', [
      plant,
      uplinkSeq,
      h.seq,
    ]);
    if (earlier)
      return `a head sent after this one covers only record ${num(earlier[0]) ?? 0}, this one record ${h.seq}: the log was cut back after it`;
    return null;
  };
  const insert = db.prepare(
    `INSERT INTO audit_heads (plant, uplink_seq, seq, hash, signed_at, kid, sig, received_at, receiver, conflict)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (plant, sig) DO NOTHING`,
  );
  const recordTx = db.transaction((r: Parameters<AuditHeadStore['record']>[0]) => {
    const conflict = conflictOf(r.plant, r.uplinkSeq, r.head);
    const h = r.head;
    const done = insert.run([r.plant, r.uplinkSeq, h.seq, h.hash, h.signedAt, h.kid, h.sig, r.receivedAt, r.receiver, conflict]);
    return { stored: done.changes > 0, conflict };
  });
  return {
    record: (r) => recordTx.immediate(r),
    heads(plant) {
      return rowsOf(
        db,
        'SELECT plant, uplink_seq, seq, hash, signed_at, kid, sig, received_at, conflict FROM audit_heads WHERE plant = ? ORDER BY seq, id',
        [plant],
      ).map((r) => ({
        plant: String(r[0]),
        uplinkSeq: num(r[1]) ?? 0,
        seq: num(r[2]) ?? 0,
        hash: String(r[3]),
        signedAt: num(r[4]) ?? 0,
        kid: String(r[5]),
        sig: String(r[6]),
        receivedAt: num(r[7]) ?? 0,
        conflict: typeof r[8] === 'string' ? r[8] : null,
      }));
    },
  };
}
