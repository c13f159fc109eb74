/**
 * How every numbered message of a plant (batches' siblings: gap notices, module health events,
 * audit heads) takes its sequence number at the reference cloud (docs/uplink.md §7): a *replay*
 * below the reorder window is refused, a new number is stored beside the batches (so it is no
 * gap, and the primary key makes a redelivery a duplicate), and one far beyond what the plant
 * used so far is refused as a *sequence jump*, not stored and not acknowledged.
 */
import type { RefusalReason } from '../src-main/protocol';
import type { CloudStore, StoredBatch } from './store';

/** Why a sequence far ahead is refused, and what the operator does about it (docs/uplink.md §7). */
export function jumpDetail(plant: string, seq: number, j: { high: number; bound: number }): string {
  return (
    `plant ${plant} sequence ${seq} is ${seq - j.high} beyond the highest it used so far (${j.high}; at most ${j.bound} is accepted): ` +
    `refused, the plant keeps it. If the plant really skipped ahead (its store was recovered), let it in with ` +
    `"supplier-cloud accept-jump --config FILE --plant ${plant} --through ${seq}"`
  );
}

/** What taking the number found: stored now, held already (a redelivery), or refused. */
export type SequenceTake = { ok: true; stored: boolean } | { ok: false; reason: RefusalReason; detail: string };

/** Judges `b.seq` and stores `b` when it is new; `noun` names the message in refusals ("audit head"). */
export function takeSequence(store: CloudStore, b: StoredBatch, reorderWindow: number, noun: string): SequenceTake {
  const verdict = store.classify(b.plant, BigInt(b.seq), reorderWindow);
  if (verdict === 'replay') return { ok: false, reason: 'replay', detail: `${noun}: sequence ${b.seq} is older than what was accepted` };
  if (verdict !== 'new') return { ok: true, stored: false };
  const out = store.accept(b);
  if (!out.stored && out.jump) return { ok: false, reason: 'sequence_jump', detail: `${noun}: ${jumpDetail(b.plant, b.seq, out.jump)}` };
  return { ok: true, stored: out.stored };
}
