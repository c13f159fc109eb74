/**
 * Signed heads of a plant's audit chain (`pc/v1/<plant>/up/audit`, docs/uplink.md §17): opened
 * with the shared protocol code against the plant's registered keys and the cloud's X25519 keys,
 * the head's own signature checked with the plant key it names (a key retired since still
 * counts: the head is what the plant signed then), its sequence number checked and recorded
 * beside the plant's batches, and the head kept append-only as the witness of the chain
 * (audit-store.ts). A head that disagrees with earlier ones is kept and said loudly.
 */
import {
  openAuditHead,
  verifyWitnessedHead,
  type AuditHeadBody,
  type CloudKeyRecord,
  type KeyLookup,
  type PlantKeyRecord,
  type RefusalReason,
} from '../src-main/protocol';
import type { ReceiverEvent } from './events';
import { takeSequence } from './sequence-take';
import { plantReportKeys, type PlantReportEventDeps } from './reco-inbox';
import type { CloudStore } from './store';

const REASON: Record<string, RefusalReason> = {
  malformed: 'malformed',
  unknown_key: 'unknown_key_id',
  bad_signature: 'bad_signature',
  wrong_plant: 'wrong_plant',
  undecryptable: 'ciphertext_tampered',
};

export type AuditHeadOutcome =
  { ok: true; body: AuditHeadBody; repeated: boolean; conflict: string | null } | { ok: false; reason: RefusalReason; detail: string };

/** Opens, checks and records one audit head from `plant` (the topic's pseudonym). */
export function handleAuditHead(
  payload: Uint8Array,
  deps: {
    plant: string;
    plantPublicKeys: KeyLookup<PlantKeyRecord>;
    cloudKeys: KeyLookup<CloudKeyRecord>;
    store: CloudStore;
    now: number;
    receiver: string;
    reorderWindow?: number;
  },
): AuditHeadOutcome {
  const r = openAuditHead(payload, plantReportKeys(deps));
  if (!r.ok) return { ok: false, reason: REASON[r.code] ?? 'malformed', detail: `audit head: ${r.message}` };
  const b = r.body;
  const lookup = deps.plantPublicKeys;
  const key = typeof lookup === 'function' ? lookup(b.head.kid) : lookup.get(b.head.kid);
  if (!key || key.plant !== deps.plant || !verifyWitnessedHead(b.head, key.publicKey))
    return {
      ok: false,
      reason: 'bad_signature',
      detail: `audit head: the head of record ${b.head.seq} does not verify with ${key ? `plant key ${b.head.kid}` : `a key of plant ${deps.plant}`}`,
    };
  // Far ahead of what the plant used (docs/uplink.md §7): refused before it is kept, and the plant sends it again.
  const took = takeSequence(
    deps.store,
    {
      plant: deps.plant,
      seq: b.seq,
      kind: 'audit-head',
      machine: '',
      from: b.head.signedAt,
      to: b.head.signedAt,
      signingKid: r.kid,
      points: 0,
      samples: 0,
      payload: JSON.stringify(b),
    },
    deps.reorderWindow ?? 10_000,
    'audit head',
  );
  if (!took.ok) return took;
  const kept = deps.store.audit.record({
    plant: deps.plant,
    uplinkSeq: b.seq,
    head: b.head,
    receiver: deps.receiver,
    receivedAt: deps.now,
  });
  return { ok: true, body: b, repeated: !kept.stored, conflict: kept.conflict };
}

/** The inbox's event for one audit head: recorded (with any conflict), or refused through `refuse`. */
export function auditHeadEvent(topic: string, plant: string, payload: Uint8Array, deps: PlantReportEventDeps): ReceiverEvent {
  const o = handleAuditHead(payload, { ...deps, plant, cloudKeys: deps.cloudKeys.lookup(), now: deps.now() });
  if (!o.ok) return deps.refuse(topic, o.reason, o.detail, plant);
  const h = o.body.head;
  return {
    event: 'audit-head',
    receiver: deps.receiver,
    plant: deps.byPseudonym.get(plant)?.id ?? plant,
    plantPseudonym: plant,
    seq: o.body.seq,
    record: h.seq,
    hash: h.hash,
    signedAt: h.signedAt,
    conflict: o.conflict,
    repeated: o.repeated,
  };
}
