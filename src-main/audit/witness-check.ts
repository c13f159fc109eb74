/**
 * `plant-console audit verify --witness FILE`: the audit chain against the heads the supplier
 * cloud witnessed (`supplier-cloud audit-heads --plant P` writes FILE). Whoever holds the store
 * key can cut the log back to an older head, or edit a record and re-sign every head after it;
 * the local check (verify.ts) then passes, but the heads the cloud already holds do not match:
 *
 * - a witnessed head for a record the log no longer has: **truncated** (cut back to an older head);
 * - a witnessed head whose hash differs from the record's: **rewritten** (changed and re-signed).
 *
 * Each witnessed head is first checked with the plant's public keys: a head that does not verify
 * is no evidence of anything (another plant's file, or keys replaced in the store), and says so.
 */
import { ConsoleError } from '../core/errors';
import { WitnessedHeadSchema, verifyWitnessedHead, type WitnessedHead } from '../protocol/audit-head';
import { keyId } from '../protocol/keys';
import type { StoreDb } from '../store/schema';

/** Why the log disagrees with its witness. */
export type WitnessProblemReason = 'witness-unverified' | 'truncated' | 'rewritten';

export interface WitnessProblem {
  seq: number;
  reason: WitnessProblemReason;
  message: string;
}

/** The outcome of `checkWitness`. */
export interface WitnessResult {
  ok: boolean;
  /** Witnessed heads read from the file. */
  heads: number;
  /** The newest witnessed head (by record), or null for an empty file. */
  newest: WitnessedHead | null;
  /** Records after the newest witnessed head (not yet seen by the cloud). */
  unwitnessed: number;
  problem: WitnessProblem | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Reads a witness file: JSON lines of heads (extra members such as `plant` and `receivedAt` are allowed); throws naming the line. */
export function parseWitness(text: string, file: string): WitnessedHead[] {
  const heads: WitnessedHead[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new ConsoleError(
        'BAD_REQUEST',
        `${file}:${i + 1}: not JSON (expected one witnessed head per line, as "supplier-cloud audit-heads" writes)`,
      );
    }
    const j = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    const parsed = WitnessedHeadSchema.safeParse({ seq: j['seq'], hash: j['hash'], signedAt: j['signedAt'], kid: j['kid'], sig: j['sig'] });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConsoleError(
        'BAD_REQUEST',
        `${file}:${i + 1}: ${issue ? `${issue.path.join('.') || 'head'}: ${issue.message}` : 'not a head'}`,
      );
    }
    heads.push(parsed.data);
  });
  return heads;
}

/** Compares the audit log of `db` with witnessed heads, after checking each with the plant's public keys. */
export function checkWitness(db: StoreDb, heads: readonly WitnessedHead[], plantPublicKeys: readonly Uint8Array[]): WitnessResult {
  const keys = new Map(plantPublicKeys.map((k) => [keyId(k, 'ed25519'), k] as const));
  const sorted = [...heads].sort((a, b) => a.seq - b.seq || a.signedAt - b.signedAt);
  const lastSeq = (db.prepare('SELECT coalesce(max(seq), 0) FROM audit_log').raw().get() as [number] | undefined)?.[0] ?? 0;
  const newest = sorted.at(-1) ?? null;
  const result = (problem: WitnessProblem | null): WitnessResult => ({
    ok: problem === null,
    heads: heads.length,
    newest,
    unwitnessed: Math.max(0, lastSeq - (newest?.seq ?? 0)),
    problem,
  });
  const hashOf = db.prepare('SELECT hash FROM audit_log WHERE seq = ?').raw();
  for (const h of sorted) {
    const key = keys.get(h.kid);
    if (!key || !verifyWitnessedHead(h, key)) {
      return result({
        seq: h.seq,
        reason: 'witness-unverified',
        message: `the witnessed head for record ${h.seq} (signed at ${iso(h.signedAt)}) does not verify with this plant's keys${key ? '' : ` (unknown key id ${h.kid})`}: the file is another plant's, or the plant's keys in the store were replaced`,
      });
    }
    const row = hashOf.get([h.seq]) as [string] | undefined;
    if (!row && h.seq > lastSeq) {
      const cut = h.seq - lastSeq > 1 ? `records ${lastSeq + 1}–${h.seq} are` : `record ${h.seq} is`;
      return result({
        seq: lastSeq + 1,
        reason: 'truncated',
        message: `${cut} missing at the end: the supplier cloud witnessed record ${h.seq} (head signed at ${iso(h.signedAt)}), but the log ends at record ${lastSeq}: it was cut back to an older head`,
      });
    }
    if (!row || row[0] !== h.hash) {
      return result({
        seq: h.seq,
        reason: 'rewritten',
        message: `record ${h.seq} ${row ? 'differs from' : 'is missing, though it is in'} the head the supplier cloud witnessed (signed at ${iso(h.signedAt)}): the log was rewritten and its heads signed again`,
      });
    }
  }
  return result(null);
}
