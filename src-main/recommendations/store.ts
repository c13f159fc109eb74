/**
 * Recommendations in the encrypted plant store (migration 5): the ids ever judged, the accepted
 * ones with what happened to them, and the refused list. Every change is one statement or one
 * transaction, committed before the caller goes on, so a restart finds each recommendation in
 * the state it was last shown in (an apply cut short by a crash shows as `applying` with its
 * progress; the inbox undoes and closes it: apply.ts).
 *
 * What is read back from the rows passes the same schemas the contract defines: a row edited
 * by hand (or by an older build) is skipped with a log line, never shown half-read.
 */
import { z } from 'zod';
import {
  RecoApplyResultSchema,
  RecoApplyStepSchema,
  RecoKpiSchema,
  RecoOutcomeSchema,
  RecoRefusalCodeSchema,
  RecoStatusSchema,
  type RecoRefusalCode,
  type RefusedRecommendation,
} from '../../src-preload/contract';
import type { Logger } from '../core/log';
import type { StoreDb } from '../store/schema';
import type { RecoBody, RecoRecord } from './types';

/** Refused entries kept (the newest); older ones go, so a flood of forged messages cannot fill the disk. */
export const REFUSED_KEEP = 5000;

const finite = z.number().refine(Number.isFinite, 'must be finite');

/** A stored body (the protocol checked it on arrival; this only guards the row). */
export const StoredBodySchema = z.object({
  v: z.literal(1),
  id: z.string(),
  plant: z.string(),
  machine: z.string(),
  issuedAt: z.number(),
  validUntil: z.number(),
  changes: z.array(z.object({ point: z.string(), expected: finite, proposed: finite })),
  rationale: z.string(),
  expect: z.object({ kpi: RecoKpiSchema, change: finite }),
  windowS: z.number().int(),
  guards: z.array(z.object({ kpi: RecoKpiSchema, direction: z.enum(['rise', 'fall']), by: finite })),
  autoRevert: z.boolean(),
});

const DecisionSchema = z.object({
  action: z.enum(['apply', 'reject', 'defer', 'revert']),
  user: z.string(),
  role: z.string(),
  at: z.number(),
  reason: z.string().nullable(),
  deferredUntil: z.number().nullable(),
});

const ProgressSchema = z.object({ startedAt: z.number(), user: z.string(), steps: z.array(RecoApplyStepSchema) });

interface ItemRow {
  id: string;
  machine: string;
  received_at: number;
  status: string;
  body: string;
  decision: string | null;
  apply: string | null;
  outcome: string | null;
  progress: string | null;
  updated_at: number;
}

/** A seen id: its message digest, when it first came, and whether it was accepted. */
export interface SeenId {
  digest: string;
  firstAt: number;
  accepted: boolean;
}

/** A refusal to record. `seenId`: the authenticated id to remember (null when the id cannot be trusted). */
export interface RefusalEntry {
  ref: string;
  receivedAt: number;
  code: RecoRefusalCode;
  message: string;
  machineId: string | null;
  seenId: string | null;
  digest: string;
}

/** The fields of a record an update may change. */
export type RecoPatch = Partial<Pick<RecoRecord, 'status' | 'decision' | 'apply' | 'outcome' | 'progress'>>;

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

/** The recommendation tables over an open, migrated store. */
export class RecoStore {
  private readonly st;

  constructor(
    private readonly db: StoreDb,
    private readonly log: Logger,
  ) {
    this.st = {
      seen: db.prepare('SELECT digest, first_at, accepted FROM reco_seen WHERE id = ?').raw(),
      addSeen: db.prepare('INSERT OR IGNORE INTO reco_seen (id, digest, first_at, accepted) VALUES (?, ?, ?, ?)'),
      insert: db.prepare(
        'INSERT INTO reco_items (id, machine, received_at, status, body, decision, apply, outcome, progress, updated_at) VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?)',
      ),
      get: db.prepare('SELECT * FROM reco_items WHERE id = ?'),
      all: db.prepare('SELECT * FROM reco_items ORDER BY received_at DESC, id LIMIT ?'),
      byStatus: db.prepare('SELECT * FROM reco_items WHERE status = ? ORDER BY received_at'),
      refuse: db.prepare('INSERT INTO reco_refused (ref, received_at, code, message, machine) VALUES (?, ?, ?, ?, ?)'),
      trimRefused: db.prepare('DELETE FROM reco_refused WHERE id <= (SELECT max(id) FROM reco_refused) - ?'),
      refused: db.prepare('SELECT ref, received_at, code, message, machine FROM reco_refused ORDER BY id DESC LIMIT ?').raw(),
    };
  }

  /** The first judgement of this id, undefined when it was never seen. */
  seen(id: string): SeenId | undefined {
    const row = this.st.seen.get([id]) as [string, number, number] | undefined;
    return row ? { digest: row[0], firstAt: row[1], accepted: row[2] === 1 } : undefined;
  }

  /** Runs `fn` in a transaction, or inside the caller's when one is open (the outbox's, for a report). */
  tx<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn).immediate();
  }

  /** Remembers the id and stores the recommendation as pending; false (nothing stored) when the id was seen meanwhile. */
  accept(rec: { body: RecoBody; machineId: string; receivedAt: number; digest: string }): boolean {
    return this.tx(() => {
      const added = this.st.addSeen.run([rec.body.id, rec.digest, rec.receivedAt, 1]).changes;
      if (added === 0) return false;
      this.st.insert.run([rec.body.id, rec.machineId, rec.receivedAt, 'pending', JSON.stringify(rec.body), rec.receivedAt]);
      return true;
    });
  }

  /** Records a refusal, and the id when it can be trusted. */
  refuse(e: RefusalEntry): void {
    this.tx(() => {
      if (e.seenId !== null) this.st.addSeen.run([e.seenId, e.digest, e.receivedAt, 0]);
      this.st.refuse.run([e.ref, e.receivedAt, e.code, e.message, e.machineId]);
      this.st.trimRefused.run([REFUSED_KEEP]);
    });
  }

  /** One record, undefined when unknown (or unreadable). */
  get(id: string): RecoRecord | undefined {
    const row = this.st.get.get([id]) as ItemRow | undefined;
    return row ? (this.fromRow(row) ?? undefined) : undefined;
  }

  /** The newest `limit` records, newest first. */
  list(limit = 500): RecoRecord[] {
    return (this.st.all.all([limit]) as ItemRow[]).map((r) => this.fromRow(r)).filter((r): r is RecoRecord => r !== null);
  }

  /** Every record in one status, oldest first (recovery and the scheduler). */
  withStatus(status: RecoRecord['status']): RecoRecord[] {
    return (this.st.byStatus.all([status]) as ItemRow[]).map((r) => this.fromRow(r)).filter((r): r is RecoRecord => r !== null);
  }

  /** Changes the given fields (one statement: a caller may run it inside the outbox's transaction). */
  update(id: string, patch: RecoPatch, now: number): void {
    const sets: string[] = [];
    const params: (string | number | null)[] = [];
    const put = (col: string, value: string | number | null): void => {
      sets.push(`${col} = ?`);
      params.push(value);
    };
    if (patch.status !== undefined) put('status', patch.status);
    if (patch.decision !== undefined) put('decision', json(patch.decision));
    if (patch.apply !== undefined) put('apply', json(patch.apply));
    if (patch.outcome !== undefined) put('outcome', json(patch.outcome));
    if (patch.progress !== undefined) put('progress', json(patch.progress));
    put('updated_at', now);
    params.push(id);
    this.db.prepare(`UPDATE reco_items SET ${sets.join(', ')} WHERE id = ?`).run(params);
  }

  /** The newest refusals, newest first. */
  refused(limit = 200): RefusedRecommendation[] {
    return (this.st.refused.all([limit]) as [string, number, string, string, string | null][]).flatMap(
      ([ref, at, code, message, machine]) => {
        const c = RecoRefusalCodeSchema.safeParse(code);
        return c.success ? [{ ref, receivedAt: at, code: c.data, message, machineId: machine }] : [];
      },
    );
  }

  private fromRow(row: ItemRow): RecoRecord | null {
    try {
      const parse = <T>(schema: z.ZodType<T>, text: string | null): T | null => (text === null ? null : schema.parse(JSON.parse(text)));
      return {
        id: row.id,
        machineId: row.machine,
        receivedAt: row.received_at,
        status: RecoStatusSchema.parse(row.status),
        body: StoredBodySchema.parse(JSON.parse(row.body)) as RecoBody,
        decision: parse(DecisionSchema, row.decision),
        apply: parse(RecoApplyResultSchema, row.apply),
        outcome: parse(RecoOutcomeSchema, row.outcome),
        progress: parse(ProgressSchema, row.progress),
        updatedAt: row.updated_at,
      };
    } catch (err) {
      this.log.log('error', `Recommendation ${row.id} in the store cannot be read; it is not shown`, { error: String(err) });
      return null;
    }
  }
}
