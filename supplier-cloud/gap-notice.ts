/**
 * Gap notices (docs/uplink.md §14): the plant telling the cloud, signed, which sequences its
 * outbox dropped and how many batches it could not record. The checks are the console's own
 * (`openGapNotice`, shared rather than copied); here the notice takes its sequence number like a
 * batch, is recorded once, and the ranges it declares lost are kept for `status`.
 */
import { openGapNotice, type GapNotice } from '../src-main/uplink/gap';
import type { KeyLookup, PlantKeyRecord, RefusalReason } from '../src-main/protocol';
import { jumpDetail } from './sequence-take';
import type { CloudStore } from './store';

export { GAP_LABEL } from '../src-main/uplink/gap';

export type GapNoticeResult =
  { ok: true; fresh: boolean; notice: GapNotice } | { ok: false; reason: RefusalReason; detail: string; seq?: number };

/**
 * Checks a gap notice (malformed → unsupported version → malformed → unknown key id → bad
 * signature → wrong plant), then its sequence (duplicate / replay) against the shared store.
 */
export function handleGapNotice(
  payload: Uint8Array,
  opts: { plant: string; plantPublicKeys: KeyLookup<PlantKeyRecord>; now: number; store: CloudStore; reorderWindow: number },
): GapNoticeResult {
  const r = openGapNotice(payload, { plantPublicKeys: opts.plantPublicKeys, now: opts.now, topicPlant: opts.plant });
  if (!r.ok) return r;
  const n = r.notice;
  const verdict = opts.store.classify(n.plant, BigInt(n.seq), opts.reorderWindow);
  if (verdict === 'replay')
    return {
      ok: false,
      reason: 'replay',
      detail: `plant ${n.plant} sequence ${n.seq} (a gap notice) is older than what was accepted`,
      seq: n.seq,
    };
  // The notice took a sequence number of the plant's: storing it keeps that number from
  // looking missing, and the primary key makes a redelivered notice a duplicate.
  const outcome =
    verdict === 'new'
      ? opts.store.accept({
          plant: n.plant,
          seq: n.seq,
          kind: 'gap-notice',
          machine: '',
          from: n.issued,
          to: n.issued,
          signingKid: n.kid,
          points: 0,
          samples: 0,
          payload: JSON.stringify(n),
          // A notice explains its own jump: the numbers it declares lost come before it.
          ...(n.dropped.seqs[0] ? { declaredFrom: n.dropped.seqs[0][0] } : {}),
        })
      : null;
  if (outcome && !outcome.stored && outcome.jump)
    return { ok: false, reason: 'sequence_jump', detail: jumpDetail(n.plant, n.seq, outcome.jump), seq: n.seq };
  if (!outcome?.stored)
    return {
      ok: false,
      reason: 'duplicate_sequence',
      detail: `plant ${n.plant} sequence ${n.seq} (a gap notice) was already accepted`,
      seq: n.seq,
    };
  const fresh = opts.store.recordGapNotice({
    plant: n.plant,
    seq: n.seq,
    issued: n.issued,
    ranges: n.dropped.seqs,
    droppedBatches: n.dropped.batches,
    notRecorded: n.notRecorded,
    totals: n.totals,
    sig: n.sig,
  });
  return { ok: true, fresh, notice: n };
}
