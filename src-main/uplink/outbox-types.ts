/**
 * What goes into the uplink outbox and what it reports (outbox.ts): the kinds of row, an item
 * to record, a recorded row, the drop counters that survive restarts, and the status figures.
 */

export type OutboxKind = 'sealed' | 'plain' | 'gap' | 'keys' | 'reco' | 'health' | 'audit';

/**
 * A batch (or a sealed recommendation report, `reco`, module health event, `health`, or signed
 * audit head, `audit`) to record: built only once its sequence number is known.
 */
export interface OutboxItem {
  kind: 'sealed' | 'plain' | 'reco' | 'health' | 'audit';
  /** Machine pseudonym (the topic's last level). */
  machine: string;
  from: number;
  to: number;
  build(seq: number): Buffer;
}

/** A recorded batch, as the publisher reads it. */
export interface OutboxRow {
  seq: number;
  kind: OutboxKind;
  machine: string | null;
  bytes: Buffer;
  createdAt: number;
}

/** Counters that survive restarts (meta `uplink.drops`). */
export interface DropTotals {
  /** Plain batches dropped (oldest first) to make room. */
  droppedPlain: number;
  droppedBytes: number;
  /** Batches never recorded because the outbox was full. */
  notRecordedSealed: number;
  notRecordedPlain: number;
  /** Sequence numbers lost to a crash between reservation and commit, or to a rollback of the store, and declared lost. */
  lostSeqs: number;
  gapNotices: number;
}

export interface OutboxStats {
  depth: number;
  bytes: number;
  budgetBytes: number;
  oldestCreatedAt: number | null;
  lastSeq: number;
  /** The highest sequence the broker acknowledged (kept across restarts). */
  lastAckSeq: number | null;
  /** Recording stopped because the budget is used up (the alarm condition). */
  full: boolean;
  fullSince: number | null;
  /** Why recording stopped: the outbox's budget, or the disk itself. */
  fullCause: 'budget' | 'disk' | null;
  drops: DropTotals;
}
