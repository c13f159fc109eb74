/**
 * The uplink outbox, in the plant store (`uplink_outbox`, `sequence`): the only queue between
 * the batcher and the broker.
 *
 * - A batch is sealed or signed inside the transaction that takes its sequence number and
 *   inserts it; before that transaction commits, the highest number it used is written to the
 *   sequence guard outside the database (store/sequence-guard.ts), so no crash, damaged WAL or
 *   restored backup can make the plant use a number twice.
 * - A batch leaves the outbox when it was delivered: on the cloud's acknowledgement (or the
 *   broker's PUBACK, in `broker` acknowledgement mode: forwarder.ts).
 * - Disk budget, policy when full (never silent):
 *     1. drop the oldest `plain` batches not yet in flight, down to 95 % of the budget;
 *     2. if that is not enough, record nothing more (sealed or plain) and raise `full`;
 *   every dropped or unrecorded batch is counted, and a signed gap notice (gap.ts) goes to the
 *   cloud in the same transaction as a drop, when recording stops, while it stays stopped and
 *   when it resumes (outbox-ledger.ts).
 * - A full disk (store/disk-guard.ts) stops recording the same way, with its own cause: what
 *   arrives meanwhile is counted, and the notice is written in the space the guard set aside.
 * - Disk is given back once a backlog has drained (`reclaim`, incremental vacuum in steps
 *   that the service paces, see UplinkService).
 * - Plant-keys announcements (`keys`) sit at negative sequences, outside the plant's numbering,
 *   ahead of every batch (plant-keys.ts); `keys rotate` puts them there.
 */
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import { blobOf, type StoreDb } from '../store/schema';
import { addToRanges, type GapReport } from './gap';
import { GapLedger } from './outbox-ledger';
import type { OutboxItem, OutboxKind, OutboxRow, OutboxStats } from './outbox-types';
import { META, readMetaJson, writeMetaJson } from './state';

export type { DropTotals, OutboxItem, OutboxKind, OutboxRow, OutboxStats } from './outbox-types';

export interface OutboxOptions {
  budgetBytes: number;
  clock: Clock;
  log: Logger;
  /** Signs a gap notice for sequence `seq` (gap.ts buildGapNotice). */
  gapNotice(seq: number, issued: number, report: GapReport): string;
  /** A refusal that lasts is re-reported this often (ms). */
  gapRepeatMs?: number;
  /** The sequence high-water mark outside the database (store/sequence-guard.ts). */
  guard?: { reserve(used: number): void; withdraw(to: number): void };
  /** The data dir's disk (store/disk-guard.ts): while full, nothing is recorded, only counted. */
  disk?: { isFull(): boolean; failed(what: string, err: unknown): boolean };
}

const LOW_WATER = 0.95;

/** The outbox over an open plant store. */
export class Outbox {
  private readonly db: StoreDb;
  private readonly opts: OutboxOptions;
  private readonly ledger: GapLedger;
  private lastSeq: number;
  private used: number;
  private count: number;
  private fullSince: number | null = null;
  private fullCause: 'budget' | 'disk' | null = null;
  private lastAck: number | null;
  /** Rows at or below this sequence are in flight: never dropped. */
  private floor = 0;
  private readonly listeners = new Set<() => void>();
  private readonly st: {
    bump: ReturnType<StoreDb['prepare']>;
    insert: ReturnType<StoreDb['prepare']>;
    dropPlain: ReturnType<StoreDb['prepare']>;
    remove: ReturnType<StoreDb['prepare']>;
    after: ReturnType<StoreDb['prepare']>;
    oldest: ReturnType<StoreDb['prepare']>;
  };

  constructor(db: StoreDb, opts: OutboxOptions) {
    this.db = db;
    this.opts = opts;
    const seqRow = db.prepare("SELECT value FROM sequence WHERE name = 'uplink'").raw().get() as [number] | undefined;
    if (!seqRow) db.prepare("INSERT INTO sequence (name, value) VALUES ('uplink', 0)").run();
    const maxRow = db.prepare('SELECT coalesce(max(seq), 0), coalesce(sum(length(bytes)), 0), count(*) FROM uplink_outbox').raw().get() as [
      number,
      number,
      number,
    ];
    // The counter is authoritative; max(seq) only guards against a counter edited by hand.
    this.lastSeq = Math.max(seqRow?.[0] ?? 0, maxRow[0]);
    this.used = maxRow[1];
    this.count = maxRow[2];
    this.ledger = new GapLedger(db, opts);
    this.lastAck = readMetaJson<number>(db, META.lastAck) ?? null;
    this.st = {
      bump: db.prepare("UPDATE sequence SET value = ? WHERE name = 'uplink'"),
      insert: db.prepare('INSERT INTO uplink_outbox (seq, kind, machine, bytes, created_at) VALUES (?, ?, ?, ?, ?)'),
      dropPlain: db.prepare(
        "DELETE FROM uplink_outbox WHERE id IN (SELECT id FROM uplink_outbox WHERE kind = 'plain' AND seq > ? ORDER BY seq LIMIT ?) RETURNING seq, length(bytes)",
      ),
      remove: db.prepare('DELETE FROM uplink_outbox WHERE seq BETWEEN ? AND ? RETURNING seq, length(bytes)'),
      after: db.prepare('SELECT seq, kind, machine, bytes, created_at FROM uplink_outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      oldest: db.prepare('SELECT created_at FROM uplink_outbox ORDER BY seq LIMIT 1'),
    };
  }

  /**
   * Records batches in one transaction: each gets the next sequence number, is built, and is
   * inserted if the budget allows (after dropping old plain batches), with `within` (the state
   * change a report tells of) in the same transaction; returns what happened. On a full disk
   * the batches are counted as not recorded and reported; `within` then throws (its change was
   * not made).
   */
  append(items: readonly OutboxItem[], within?: () => void): { seqs: number[]; refused: number; dropped: number } {
    if (items.length === 0 && this.ledger.declaredLost().length === 0) return { seqs: [], refused: 0, dropped: 0 };
    const now = this.opts.clock.now();
    if (this.opts.disk?.isFull()) {
      if (within)
        throw new ConsoleError('UNAVAILABLE', 'The disk of the console is full: nothing can be recorded until there is room again');
      return this.refuseAll(items, now);
    }
    const seqs: number[] = [];
    let refused = 0;
    const droppedSeqs: number[] = [];
    let droppedBytes = 0;
    const before = this.snapshot();
    try {
      this.db
        .transaction(() => {
          for (const item of items) {
            const seq = this.lastSeq + 1;
            const bytes = item.build(seq);
            if (this.used + bytes.length > this.opts.budgetBytes) {
              const need = this.used + bytes.length - Math.floor(this.opts.budgetBytes * LOW_WATER);
              const d = this.dropOldestPlain(need);
              droppedSeqs.push(...d.seqs);
              droppedBytes += d.bytes;
            }
            if (this.used + bytes.length > this.opts.budgetBytes) {
              refused++;
              this.ledger.notRecorded(item);
              if (this.fullSince === null) {
                this.fullSince = now;
                this.fullCause = 'budget';
              }
              continue;
            }
            this.insertRow(seq, item.kind, item.machine, bytes, now);
            seqs.push(seq);
          }
          this.noticeIfDue(now, {
            dropped: addToRanges([], droppedSeqs),
            started: refused > 0 && before.fullSince === null,
            recorded: seqs.length,
          });
          this.st.bump.run([this.lastSeq]);
          within?.();
          this.ledger.persist();
          // Last before the commit: the guard outside the database learns every number this transaction used.
          this.opts.guard?.reserve(this.lastSeq);
        })
        .immediate();
    } catch (err) {
      // The transaction rolled back: so does the bookkeeping kept in memory, and the guard's reservation.
      this.restore(before);
      this.opts.guard?.withdraw(before.lastSeq);
      if (!this.opts.disk?.failed('recording uplink batches', err)) throw err;
      const r = this.refuseAll(items, now);
      if (within) throw err;
      return r;
    }
    if (droppedSeqs.length > 0) {
      this.opts.log.log('warn', 'Uplink outbox over its disk budget: dropped the oldest plain batches and told the cloud', {
        batches: droppedSeqs.length,
        bytes: droppedBytes,
        budgetBytes: this.opts.budgetBytes,
      });
    }
    if (refused > 0 && before.fullSince === null) {
      this.opts.log.log(
        'error',
        'Uplink outbox full: no more batches are recorded (sealed data is being lost) until the broker takes the backlog',
        {
          budgetBytes: this.opts.budgetBytes,
          depth: this.count,
        },
      );
    }
    if (seqs.length > 0 && refused === 0 && this.fullSince !== null) {
      this.opts.log.log('info', 'Uplink outbox has room again: recording resumed', {
        fullSinceMs: now - this.fullSince,
        cause: this.fullCause,
      });
      this.fullSince = null;
      this.fullCause = null;
    }
    if (seqs.length > 0 || droppedSeqs.length > 0) this.emitChange();
    return { seqs, refused, dropped: droppedSeqs.length };
  }

  /**
   * The disk is full: the items are counted as not recorded, and a gap notice is written when
   * recording stops and every `gapRepeatMs` while it stays stopped (in the space the disk
   * guard released); when even that cannot be written, the counts wait in memory.
   */
  private refuseAll(items: readonly OutboxItem[], now: number): { seqs: number[]; refused: number; dropped: number } {
    const started = this.fullCause !== 'disk';
    if (started) {
      this.fullSince = now;
      this.fullCause = 'disk';
      this.opts.log.log(
        'error',
        'Uplink outbox: the disk is full, no batches are recorded; each one is counted and the cloud gets a gap notice',
        {
          depth: this.count,
        },
      );
    }
    for (const item of items) this.ledger.notRecorded(item);
    const due = started || now - this.ledger.pending.lastNoticeAt >= (this.opts.gapRepeatMs ?? 600_000);
    if (due && this.ledger.pendingCount() > 0) {
      const before = this.snapshot();
      try {
        this.db
          .transaction(() => {
            this.noticeIfDue(now, { dropped: [], started: true, recorded: 0 });
            this.st.bump.run([this.lastSeq]);
            this.ledger.persist();
            this.opts.guard?.reserve(this.lastSeq);
          })
          .immediate();
        this.emitChange();
      } catch (err) {
        // Kept in memory (pending counts) for the next try: the notice goes out once anything fits.
        const pending = this.ledger.pending;
        this.restore(before);
        this.ledger.pending = pending;
        this.opts.guard?.withdraw(before.lastSeq);
        this.opts.disk?.failed('recording a gap notice', err);
      }
    }
    return { seqs: [], refused: items.length, dropped: 0 };
  }

  /** Queues gap notices when something was dropped or lost, or recording stopped, lasts stopped, or resumed. */
  private noticeIfDue(now: number, p: { dropped: [number, number][]; started: boolean; recorded: number }): void {
    const lost = this.ledger.declaredLost();
    const pending = this.ledger.pendingCount() > 0;
    const ended = p.recorded > 0 && pending;
    const lasting = pending && now - this.ledger.pending.lastNoticeAt >= (this.opts.gapRepeatMs ?? 600_000);
    if (p.dropped.length === 0 && lost.length === 0 && !(pending && p.started) && !ended && !lasting) return;
    this.ledger.emit({
      dropped: p.dropped,
      lost,
      now,
      nextSeq: () => this.lastSeq + 1,
      insert: (seq, text) => this.insertRow(seq, 'gap', null, Buffer.from(text, 'utf8'), now),
    });
  }

  private snapshot() {
    return {
      used: this.used,
      count: this.count,
      lastSeq: this.lastSeq,
      fullSince: this.fullSince,
      fullCause: this.fullCause,
      ledger: this.ledger.snapshot(),
    };
  }

  private restore(s: ReturnType<Outbox['snapshot']>): void {
    this.used = s.used;
    this.count = s.count;
    this.lastSeq = s.lastSeq;
    this.fullSince = s.fullSince;
    this.fullCause = s.fullCause;
    this.ledger.restore(s.ledger);
  }

  /** Up to `limit` batches after `seq`, oldest first (what the publisher sends next). */
  after(seq: number, limit: number): OutboxRow[] {
    return (this.st.after.raw().all([seq, limit]) as [number, string, string | null, unknown, number][]).map((r) => ({
      seq: r[0],
      kind: r[1] as OutboxKind,
      machine: r[2],
      bytes: blobOf(r[3]),
      createdAt: r[4],
    }));
  }

  /** Removes acknowledged batches, in one transaction; unknown sequences are ignored. */
  remove(seqs: readonly number[]): number {
    if (seqs.length === 0) return 0;
    // Acknowledgements come in order: a few ranges, one statement each.
    return this.removeRanges(
      addToRanges(
        [],
        [...seqs].sort((a, b) => a - b),
      ),
    );
  }

  /** The row of one sequence number, if it is still in the outbox. */
  get(seq: number): OutboxRow | undefined {
    return this.after(seq - 1, 1).find((r) => r.seq === seq);
  }

  /** Removes acknowledged batches given as inclusive ranges, in one transaction; throws (nothing removed) when the store cannot write. */
  removeRanges(ranges: readonly [number, number][]): number {
    if (ranges.length === 0) return 0;
    let removed = 0;
    let bytes = 0;
    let highest = this.lastAck ?? 0;
    // libsql zeroes every freed page by default (secure_delete = ON): five times slower for
    // batches that already left. FAST still clears the b-tree pages; the freed overflow pages
    // stay encrypted until the incremental vacuum gives them back after the backlog.
    const secure = (this.db.prepare('PRAGMA secure_delete').raw().get() as [number] | undefined)?.[0] ?? 1;
    this.db.exec('PRAGMA secure_delete = FAST');
    try {
      this.db
        .transaction(() => {
          for (const [lo, hi] of ranges) {
            for (const [s, len] of this.st.remove.raw().all([lo, hi]) as [number, number][]) {
              removed++;
              bytes += len;
              // Announcements (negative) are not part of the plant's sequence.
              if (s > 0) highest = Math.max(highest, s);
            }
          }
          if (highest > (this.lastAck ?? 0)) writeMetaJson(this.db, META.lastAck, highest);
        })
        .immediate();
    } finally {
      this.db.exec(`PRAGMA secure_delete = ${secure === 0 ? 'OFF' : secure === 2 ? 'FAST' : 'ON'}`);
    }
    if (highest > (this.lastAck ?? 0)) this.lastAck = highest;
    this.count -= removed;
    this.used -= bytes;
    if (removed > 0) this.emitChange();
    return removed;
  }

  /** True while a plant-keys announcement waits to be acknowledged (rows below sequence 0). */
  announcementPending(): boolean {
    return this.db.prepare('SELECT 1 FROM uplink_outbox WHERE seq < 0 LIMIT 1').raw().get() !== undefined;
  }

  /** Sequences up to `seq` are in flight (published, not yet acknowledged): the budget never drops them. */
  setInflightFloor(seq: number): void {
    this.floor = seq;
  }

  /** Depth, bytes, oldest entry, last sequence, drops and the full flag. */
  stats(): OutboxStats {
    const oldest = this.count > 0 ? ((this.st.oldest.raw().get() as [number] | undefined)?.[0] ?? null) : null;
    return {
      depth: this.count,
      bytes: this.used,
      budgetBytes: this.opts.budgetBytes,
      oldestCreatedAt: oldest,
      lastSeq: this.lastSeq,
      lastAckSeq: this.lastAck,
      full: this.fullSince !== null,
      fullSince: this.fullSince,
      fullCause: this.fullCause,
      drops: { ...this.ledger.totals },
    };
  }

  /** Calls `fn` after batches were added or removed; returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  /** Free pages in the database file (pages new batches reuse before the file grows). */
  freePages(): number {
    return (this.db.prepare('PRAGMA freelist_count').raw().get() as [number])[0];
  }

  /**
   * One step of `incremental_vacuum` (up to `pages`), giving free pages back to the file system;
   * returns the free pages left (0: nothing to do, or the store is not in incremental mode).
   * The caller runs it once a backlog has drained: during a drain it would move the rows still
   * waiting, which costs more than the drain itself.
   */
  reclaim(pages = 2048): number {
    const mode = (this.db.prepare('PRAGMA auto_vacuum').raw().get() as [number] | undefined)?.[0];
    if (mode !== 2) return 0;
    const free = this.freePages();
    if (free === 0) return 0;
    this.db.exec(`PRAGMA incremental_vacuum(${Math.max(1, Math.floor(pages))})`);
    return this.freePages();
  }

  private insertRow(seq: number, kind: OutboxKind, machine: string | null, bytes: Buffer, now: number): void {
    this.st.insert.run([seq, kind, machine, bytes, now]);
    this.lastSeq = seq;
    this.used += bytes.length;
    this.count++;
  }

  private dropOldestPlain(need: number): { seqs: number[]; bytes: number } {
    const seqs: number[] = [];
    let bytes = 0;
    // Rounds of as many rows as the average size suggests: no more dropped than needed.
    for (let round = 0; round < 256 && bytes < need; round++) {
      const avg = this.count > 0 ? Math.max(1, this.used / this.count) : 1;
      const limit = Math.min(10_000, Math.max(1, Math.ceil((need - bytes) / avg)));
      const rows = this.st.dropPlain.raw().all([this.floor, limit]) as [number, number][];
      if (rows.length === 0) break;
      for (const [s, len] of rows) {
        seqs.push(s);
        bytes += len;
      }
    }
    seqs.sort((a, b) => a - b);
    this.used -= bytes;
    this.count -= seqs.length;
    this.ledger.totals.droppedPlain += seqs.length;
    this.ledger.totals.droppedBytes += bytes;
    return { seqs, bytes };
  }

  private emitChange(): void {
    for (const fn of [...this.listeners]) {
      try {
        fn();
      } catch {
        // A listener's failure must not undo a committed append.
      }
    }
  }
}
