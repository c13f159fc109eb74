/**
 * Health and threat events of a plant's IoT modules (`pc/v1/<plant>/up/health`,
 * docs/firmware.md §12): opened with the shared protocol code against the plant's registered
 * signing keys and the cloud's X25519 keys, their sequence number checked and recorded beside
 * the plant's batches (each event takes one of the plant's sequence numbers, uplink.md §7), and
 * told as one line.
 */
import {
  openHealthEvent,
  type CloudKeyRecord,
  type HealthEventBody,
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

export type HealthEventOutcome =
  { ok: true; body: HealthEventBody; repeated: boolean } | { ok: false; reason: RefusalReason; detail: string };

/** Opens, checks and records one health event from `plant` (the topic's pseudonym). */
export function handleHealthEvent(
  payload: Uint8Array,
  deps: {
    plant: string;
    plantPublicKeys: KeyLookup<PlantKeyRecord>;
    cloudKeys: KeyLookup<CloudKeyRecord>;
    store: CloudStore;
    now: number;
    reorderWindow?: number;
  },
): HealthEventOutcome {
  const r = openHealthEvent(payload, plantReportKeys(deps));
  if (!r.ok) return { ok: false, reason: REASON[r.code] ?? 'malformed', detail: `module health event: ${r.message}` };
  const b = r.body;
  const took = takeSequence(
    deps.store,
    {
      plant: deps.plant,
      seq: b.seq,
      kind: 'module-health',
      machine: b.machine,
      from: b.at,
      to: b.at,
      signingKid: r.kid,
      points: 0,
      samples: 0,
      payload: JSON.stringify(b),
    },
    deps.reorderWindow ?? 10_000,
    'module health event',
  );
  if (!took.ok) return took;
  return { ok: true, body: b, repeated: !took.stored };
}

/** The inbox's event for one health event: recorded, or refused through `refuse`. */
export function healthEventEvent(topic: string, plant: string, payload: Uint8Array, deps: PlantReportEventDeps): ReceiverEvent {
  const o = handleHealthEvent(payload, { ...deps, plant, cloudKeys: deps.cloudKeys.lookup(), now: deps.now() });
  if (!o.ok) return deps.refuse(topic, o.reason, o.detail, plant);
  const b = o.body;
  return {
    event: 'module-health',
    receiver: deps.receiver,
    plant: deps.byPseudonym.get(plant)?.id ?? plant,
    plantPseudonym: plant,
    machine: b.machine === '' ? '(none)' : (deps.store.machineId(plant, b.machine) ?? b.machine),
    module: b.module,
    seq: b.seq,
    kind: b.kind,
    active: b.active,
    message: b.message,
    repeated: o.repeated,
  };
}
