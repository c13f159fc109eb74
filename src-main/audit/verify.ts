/**
 * Verifying the audit log: walks the records in seq order, recomputing every hash and link
 * (record.ts), checks every signed head against the plant's public key and the chain, and the
 * chain's end against the `audit` counter. It stops at the first problem and names it.
 *
 * What it can and cannot see: any change to a record covered by a signed head is found; so is
 * a record removed, inserted or moved anywhere, and a tail cut off, unless whoever did it also
 * rewrote every later hash and the counter, which only the records after the last signed head
 * allow. Heads are signed often (log.ts) so that window stays short.
 */
import { keyId, verifyDetached } from '../protocol/keys';
import type { StoreDb } from '../store/schema';
import {
  AUDIT_COLUMNS,
  AUDIT_HEAD_LABEL,
  GENESIS_HASH,
  auditHeadMessage,
  auditRecordHash,
  recordFromRow,
  type AuditHead,
  type AuditRow,
} from './record';

/** Why a record or head is bad. */
export type AuditProblemReason =
  /** The row is not a readable record (bad JSON, unknown kind). */
  | 'unreadable'
  /** Content changed after it was written: the hash does not match. */
  | 'altered'
  /** A seq number is missing: the record was deleted. */
  | 'missing'
  /** A record that the console did not write sits in the chain. */
  | 'inserted'
  /** Two records changed places. */
  | 'reordered'
  /** The previous-hash does not match: something between was removed, inserted or moved. */
  | 'broken-link'
  /** The log ends before records the counter or a signed head says were written. */
  | 'truncated'
  /** A head signature does not verify with the plant's key. */
  | 'head-forged'
  /** A correctly signed head names a hash the chain no longer has: the chain was rewritten. */
  | 'head-mismatch'
  /** Records but no signed head at all. */
  | 'no-signed-head';

/** The first problem found. */
export interface AuditProblem {
  seq: number;
  reason: AuditProblemReason;
  message: string;
}

/** The outcome of `verifyAudit`. */
export interface AuditVerifyResult {
  ok: boolean;
  /** Rows in the log (all of them, also past a problem). */
  records: number;
  /** The highest seq in the log (0 when empty). */
  lastSeq: number;
  /** The newest head whose signature verified and that matches the chain (up to the first problem). */
  signedHead: AuditHead | null;
  /** Records after that head: protected by the chain and the counter, not yet by a signature. */
  unsigned: number;
  problem: AuditProblem | null;
}

type HeadRowObj = { seq: number; hash: string; signed_at: number; key_id: string; signature: string };

const iso = (ms: number): string => new Date(ms).toISOString();

/** Checks the whole audit log of `db` against the plant's Ed25519 public key(s); never throws for bad content. */
export function verifyAudit(db: StoreDb, plantPublicKey: Uint8Array | readonly Uint8Array[]): AuditVerifyResult {
  const keys = new Map<string, Uint8Array>();
  for (const k of Array.isArray(plantPublicKey) ? (plantPublicKey as readonly Uint8Array[]) : [plantPublicKey as Uint8Array])
    keys.set(keyId(k, 'ed25519'), k);

  const heads = new Map<number, AuditHead[]>();
  let headCount = 0;
  for (const h of db.prepare('SELECT seq, hash, signed_at, key_id, signature FROM audit_heads ORDER BY id').all() as HeadRowObj[]) {
    const head: AuditHead = { seq: h.seq, hash: h.hash, signedAt: h.signed_at, keyId: h.key_id, signature: h.signature };
    heads.set(h.seq, [...(heads.get(h.seq) ?? []), head]);
    headCount++;
  }
  const counter = (db.prepare("SELECT value FROM sequence WHERE name = 'audit'").raw().get() as [number] | undefined)?.[0] ?? 0;

  const [records, lastSeq] = (db.prepare('SELECT count(*), coalesce(max(seq), 0) FROM audit_log').raw().get() as
    [number, number] | undefined) ?? [0, 0];
  let signedHead: AuditHead | null = null;
  const result = (problem: AuditProblem | null): AuditVerifyResult => ({
    ok: problem === null,
    records,
    lastSeq,
    signedHead,
    unsigned: lastSeq - (signedHead?.seq ?? 0),
    problem,
  });

  const headProblem = (head: AuditHead, recordHash: string | null): AuditProblem | null => {
    const key = keys.get(head.keyId);
    const sig = /^[0-9a-f]{128}$/.test(head.signature) ? Buffer.from(head.signature, 'hex') : null;
    if (!key || !sig || !verifyDetached(AUDIT_HEAD_LABEL, auditHeadMessage(head), sig, key)) {
      return {
        seq: head.seq,
        reason: 'head-forged',
        message: `the head signed at ${iso(head.signedAt)} for record ${head.seq} does not verify with the plant's key${key ? '' : ` (unknown key id ${head.keyId})`}: forged or altered`,
      };
    }
    if (recordHash === null) {
      const range = head.seq - lastSeq > 1 ? `records ${lastSeq + 1}–${head.seq} are` : `record ${head.seq} is`;
      return {
        seq: lastSeq + 1,
        reason: 'truncated',
        message: `${range} missing at the end: the head signed at ${iso(head.signedAt)} covers record ${head.seq}, but the log ends at record ${lastSeq}`,
      };
    }
    if (head.hash !== recordHash) {
      return {
        seq: head.seq,
        reason: 'head-mismatch',
        message: `record ${head.seq} differs from the head signed at ${iso(head.signedAt)}: the chain up to it was rewritten`,
      };
    }
    return null;
  };

  const it = (db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log ORDER BY seq`).iterate() as IterableIterator<AuditRow>)[Symbol.iterator]();
  let prevHash = GENESIS_HASH;
  let prevPrevHash: string | null = null;
  let expected = 1;
  let next = it.next();
  try {
    while (!next.done) {
      const row = next.value;
      next = it.next();
      const seq = row.seq;
      if (seq > counter) {
        return result({
          seq,
          reason: 'inserted',
          message: `record ${seq} was not written by the console: its counter stops at ${counter}`,
        });
      }
      if (seq !== expected) {
        const range = seq - expected > 1 ? `records ${expected}–${seq - 1} are` : `record ${expected} is`;
        return result({ seq: expected, reason: 'missing', message: `${range} missing: deleted from the log` });
      }
      if (row.prev_hash !== prevHash) {
        if (prevPrevHash !== null && row.prev_hash === prevPrevHash) {
          return result({
            seq: seq - 1,
            reason: 'inserted',
            message: `record ${seq - 1} was inserted: record ${seq} follows the record before it directly`,
          });
        }
        if (!next.done && next.value.prev_hash === prevHash) {
          return result({ seq, reason: 'reordered', message: `records ${seq} and ${seq + 1} changed places` });
        }
        return result({
          seq,
          reason: 'broken-link',
          message: `record ${seq} does not follow record ${seq - 1} (its previous-hash differs): a record was removed, inserted or moved here`,
        });
      }
      let hash: string;
      try {
        hash = auditRecordHash(recordFromRow(row));
      } catch (err) {
        return result({
          seq,
          reason: 'unreadable',
          message: `record ${seq} cannot be read (${err instanceof Error ? err.message : String(err)}): altered`,
        });
      }
      if (hash !== row.hash) {
        return result({ seq, reason: 'altered', message: `record ${seq} was altered: its content no longer matches its hash` });
      }
      for (const head of heads.get(seq) ?? []) {
        const p = headProblem(head, hash);
        if (p) return result(p);
        if (!signedHead || head.seq >= signedHead.seq) signedHead = head;
      }
      prevPrevHash = prevHash;
      prevHash = hash;
      expected = seq + 1;
    }
  } finally {
    it.return?.();
  }

  for (const [seq, list] of [...heads.entries()].sort((a, b) => a[0] - b[0])) {
    if (seq <= lastSeq) continue;
    for (const head of list) {
      const p = headProblem(head, null);
      if (p) return result(p);
    }
  }
  if (counter > lastSeq) {
    const range = counter - lastSeq > 1 ? `records ${lastSeq + 1}–${counter} are` : `record ${counter} is`;
    return result({ seq: lastSeq + 1, reason: 'truncated', message: `${range} missing at the end: the log was cut off` });
  }
  if (records > 0 && headCount === 0) {
    return result({
      seq: 1,
      reason: 'no-signed-head',
      message: `no signed head: nothing signed by the plant vouches for records 1–${lastSeq}`,
    });
  }
  return result(null);
}
