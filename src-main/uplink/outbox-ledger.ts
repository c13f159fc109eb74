/**
 * The outbox's account of what did not reach the cloud: batches dropped to make room, batches
 * never recorded (budget used up, or the disk full), sequence numbers lost to a crash or a
 * rollback of the store (store-check.ts), and the signed gap notices (gap.ts) that tell the
 * cloud about each. The counts survive restarts in `meta` whenever the store can write.
 */
import type { Logger } from '../core/log';
import type { StoreDb } from '../store/schema';
import { DECLARE_LOST_META } from '../store/store-check';
import { addToRanges, MAX_GAP_RANGES, type GapReport } from './gap';
import type { DropTotals, OutboxItem } from './outbox-types';
import { META, readMetaJson, writeMetaJson } from './state';

/** Batches not recorded since the last notice, and when that notice went out. */
export interface PendingGap {
  notRecorded: { sealed: number; plain: number; from?: number; to?: number };
  lastNoticeAt: number;
}

export const ZERO_TOTALS: DropTotals = {
  droppedPlain: 0,
  droppedBytes: 0,
  notRecordedSealed: 0,
  notRecordedPlain: 0,
  lostSeqs: 0,
  gapNotices: 0,
};

/** Merges two ascending lists of inclusive ranges. */
export function mergeRanges(a: readonly [number, number][], b: readonly [number, number][]): [number, number][] {
  const all = [...a, ...b].map((r) => [r[0], r[1]] as [number, number]).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const r of all) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push(r);
  }
  return out;
}

/** Counters, the pending report and the notices, over the outbox's store. */
export class GapLedger {
  totals: DropTotals;
  pending: PendingGap;

  constructor(
    private readonly db: StoreDb,
    private readonly opts: { gapNotice(seq: number, issued: number, report: GapReport): string; log: Logger },
  ) {
    this.totals = { ...ZERO_TOTALS, ...readMetaJson<Partial<DropTotals>>(db, META.drops) };
    this.pending = readMetaJson<PendingGap>(db, META.gap) ?? { notRecorded: { sealed: 0, plain: 0 }, lastNoticeAt: 0 };
  }

  /** A copy to restore when a transaction rolls back. */
  snapshot(): { totals: DropTotals; pending: PendingGap } {
    return { totals: { ...this.totals }, pending: structuredClone(this.pending) };
  }

  restore(s: { totals: DropTotals; pending: PendingGap }): void {
    this.totals = s.totals;
    this.pending = s.pending;
  }

  /** Counts an item that was not recorded (it got no sequence number). */
  notRecorded(item: Pick<OutboxItem, 'kind' | 'from' | 'to'>): void {
    const nr = this.pending.notRecorded;
    if (item.kind === 'plain') nr.plain++;
    else nr.sealed++;
    nr.from = Math.min(nr.from ?? item.from, item.from);
    nr.to = Math.max(nr.to ?? item.to, item.to);
  }

  /** Batches not recorded and not yet reported. */
  pendingCount(): number {
    return this.pending.notRecorded.sealed + this.pending.notRecorded.plain;
  }

  /** Sequence ranges the store check left to declare (a crash between reservation and commit, a rollback). */
  declaredLost(): [number, number][] {
    return readMetaJson<[number, number][]>(this.db, DECLARE_LOST_META) ?? [];
  }

  /**
   * Inserts the notice(s) for `dropped` (plain batches deleted unsent), `lost` (numbers lost to
   * the store) and the pending unrecorded counts, inside the caller's transaction; each notice
   * takes `nextSeq()`. At most MAX_GAP_RANGES ranges per notice.
   */
  emit(p: {
    dropped: readonly [number, number][];
    lost: readonly [number, number][];
    now: number;
    nextSeq(): number;
    insert(seq: number, text: string): void;
  }): void {
    const ranges = mergeRanges(p.dropped, p.lost);
    const nr = this.pending.notRecorded;
    const notRecordedNow = nr.sealed + nr.plain;
    this.totals.notRecordedSealed += nr.sealed;
    this.totals.notRecordedPlain += nr.plain;
    this.totals.lostSeqs += mergeRanges([], p.lost).reduce((a, [lo, hi]) => a + hi - lo + 1, 0);
    if (p.lost.length > 0) this.db.prepare('DELETE FROM meta WHERE key = ?').run([DECLARE_LOST_META]);
    let first = true;
    for (let i = 0; i < Math.max(1, ranges.length); i += MAX_GAP_RANGES) {
      const part = ranges.slice(i, i + MAX_GAP_RANGES);
      const batches = part.reduce((a, [lo, hi]) => a + hi - lo + 1, 0);
      const seq = p.nextSeq();
      const report: GapReport = {
        dropped: { batches, seqs: part },
        notRecorded: first ? { ...nr } : { sealed: 0, plain: 0 },
        totals: {
          dropped: this.totals.droppedPlain + this.totals.lostSeqs,
          notRecorded: this.totals.notRecordedSealed + this.totals.notRecordedPlain,
        },
      };
      p.insert(seq, this.opts.gapNotice(seq, p.now, report));
      this.totals.gapNotices++;
      first = false;
    }
    this.pending = { notRecorded: { sealed: 0, plain: 0 }, lastNoticeAt: p.now };
    if (notRecordedNow > 0 || p.lost.length > 0)
      this.opts.log.log('warn', 'Uplink gap notice queued for the cloud', {
        notRecorded: notRecordedNow,
        dropped: p.dropped.length,
        lost: p.lost.map(([a, b]) => `${a}..${b}`).join(','),
      });
  }

  /** Writes the counters and the pending report (inside the caller's transaction). */
  persist(): void {
    writeMetaJson(this.db, META.drops, this.totals);
    writeMetaJson(this.db, META.gap, this.pending);
  }
}

export { addToRanges };
