/**
 * Reports on recommendations (`pc/v1/<plant>/up/reco`, docs/recommendations.md §6–7): opened
 * with the protocol library against the plant's registered signing keys and the cloud's X25519
 * keys, stored once per signature, and told as one line. Refusals use the uplink's reasons so
 * that `status` counts them with the rest.
 */
import {
  findKey,
  openRecoReport,
  type CloudKeyRecord,
  type KeyLookup,
  type PlantKeyRecord,
  type PlantReportKeys,
  type RecoReportBody,
  type RefusalReason,
} from '../src-main/protocol';
import type { CloudKeySource } from './cloud-keys';
import type { RegisteredPlant } from './config';
import type { ReceiverEvent } from './events';
import { takeSequence } from './sequence-take';
import type { CloudStore } from './store';

/** One line for people: what a report says. */
export function reportSummary(b: RecoReportBody): string {
  const pct = (x: number | null) => (x === null ? '?' : `${x > 0 ? '+' : ''}${(x * 100).toFixed(1)} %`);
  switch (b.kind) {
    case 'decision': {
      const d = b.decision;
      return d ? `${d.action} by ${d.role}${d.reason ? ` (${d.reason})` : ''}` : 'decision';
    }
    case 'result': {
      const r = b.result;
      return r ? `${r.ok ? 'applied' : 'not applied'}: ${r.summary}` : 'result';
    }
    case 'outcome': {
      const o = b.outcome;
      if (!o) return 'outcome';
      const e = o.expected;
      const expected = e ? `${e.kpi} ${e.before ?? '?'} → ${e.after ?? '?'} (${pct(e.relative)})` : 'no expected KPI';
      const met = o.expectMet === null ? '' : o.expectMet ? ', expectation met' : ', expectation not met';
      const breached = o.guards.filter((g) => g.breached).map((g) => g.kpi);
      const guards = breached.length ? `; guard breached: ${breached.join(', ')}` : o.guards.length ? '; guards held' : '';
      const revert = o.autoReverted ? '; reverted automatically' : o.revertProposed ? '; revert proposed' : '';
      return `${o.state}: ${expected}${met}${guards}${revert}`;
    }
    case 'refused':
      return b.refusal ? `refused by the plant: ${b.refusal.code} (${b.refusal.message})` : 'refused';
  }
}

const REASON: Record<string, RefusalReason> = {
  malformed: 'malformed',
  unknown_key: 'unknown_key_id',
  bad_signature: 'bad_signature',
  wrong_plant: 'wrong_plant',
  undecryptable: 'ciphertext_tampered',
};

export type RecoReportOutcome =
  { ok: true; body: RecoReportBody; repeated: boolean; summary: string } | { ok: false; reason: RefusalReason; detail: string };

/** The keys a plant report opens with: the plant's signing keys (of that plant only) and the cloud's box keys. */
export function plantReportKeys(deps: {
  plant: string;
  plantPublicKeys: KeyLookup<PlantKeyRecord>;
  cloudKeys: KeyLookup<CloudKeyRecord>;
  now: number;
}): PlantReportKeys {
  return {
    plant: deps.plant,
    plantKeys: (kid) => {
      const k = findKey(deps.plantPublicKeys, kid, deps.now);
      return k.ok && k.key.plant === deps.plant ? k.key.publicKey : null;
    },
    cloudBox: (kid) => {
      const k = findKey(deps.cloudKeys, kid, deps.now);
      return k.ok ? k.key : null;
    },
  };
}

/** Opens, checks and stores one report from `plant` (the topic's pseudonym). */
export function handleRecoReport(
  payload: Uint8Array,
  deps: {
    plant: string;
    plantPublicKeys: KeyLookup<PlantKeyRecord>;
    cloudKeys: KeyLookup<CloudKeyRecord>;
    store: CloudStore;
    receiver: string;
    now: number;
    /** How far below the highest sequence a late one may still arrive (the receiver's setting). */
    reorderWindow?: number;
  },
): RecoReportOutcome {
  const r = openRecoReport(payload, plantReportKeys(deps));
  if (!r.ok) return { ok: false, reason: REASON[r.code] ?? 'malformed', detail: `recommendation report: ${r.message}` };
  const doc = JSON.parse(Buffer.from(payload).toString('utf8')) as { sig: string };
  // A report takes one of the plant's sequence numbers (uplink.md §7): stored beside the batches,
  // so it is never counted missing, and checked like them for replays.
  const seq = r.body.seq;
  const took = takeSequence(
    deps.store,
    {
      plant: deps.plant,
      seq,
      kind: 'reco-report',
      machine: r.body.machine,
      from: r.body.at,
      to: r.body.at,
      signingKid: r.kid,
      points: 0,
      samples: 0,
      payload: '',
    },
    deps.reorderWindow ?? 10_000,
    'recommendation report',
  );
  if (!took.ok) return took;
  const fresh = deps.store.reco.recordReport({
    plant: deps.plant,
    body: r.body,
    sig: doc.sig,
    receiver: deps.receiver,
    receivedAt: deps.now,
  });
  return { ok: true, body: r.body, repeated: !fresh, summary: reportSummary(r.body) };
}

/** What the inbox hands the handlers of plant reports (recommendation reports, module health events). */
export interface PlantReportEventDeps {
  receiver: string;
  store: CloudStore;
  cloudKeys: CloudKeySource;
  plantPublicKeys: KeyLookup<PlantKeyRecord>;
  byPseudonym: ReadonlyMap<string, RegisteredPlant>;
  now: () => number;
  reorderWindow?: number;
  refuse: (topic: string, reason: RefusalReason, detail: string, plant?: string) => ReceiverEvent;
}

/** The inbox's event for one report on `pc/v1/<plant>/up/reco`: stored, or refused through `refuse`. */
export function recoReportEvent(topic: string, plant: string, payload: Uint8Array, deps: PlantReportEventDeps): ReceiverEvent {
  const o = handleRecoReport(payload, { ...deps, plant, cloudKeys: deps.cloudKeys.lookup(), now: deps.now() });
  if (!o.ok) return deps.refuse(topic, o.reason, o.detail, plant);
  const { machine, recommendation, kind } = o.body;
  return {
    event: 'reco-report',
    receiver: deps.receiver,
    plant: deps.byPseudonym.get(plant)?.id ?? plant,
    plantPseudonym: plant,
    machine: machine === '' ? '(unknown)' : (deps.store.machineId(plant, machine) ?? machine),
    recommendation,
    kind,
    summary: o.summary,
    repeated: o.repeated,
  };
}
