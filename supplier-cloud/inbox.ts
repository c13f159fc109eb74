/**
 * What a receiver does with one MQTT message, independent of the MQTT client: verify and
 * decrypt with the protocol library (openSealed, openPlain, the announcement and state
 * checks), judge the sequence against the shared store, store, and say what happened.
 * Bad input never throws; only a failing store does (the receiver then stops acknowledging).
 */
import { assertNever } from '../src-main/core/errors';
import {
  REFUSAL_REASONS,
  applyPlantKeysAnnouncement,
  isPseudonym,
  openPlain,
  openSealed,
  openStateMessage,
  parseTopic,
  plantKeyLookup,
  type KeyLookup,
  type KeyRing,
  type PlantKeyRecord,
  type RefusalReason,
  type SequenceCheck,
} from '../src-main/protocol';
import type { CloudKeySource } from './cloud-keys';
import type { RegisteredPlant } from './config';
import { refusalEvent, type ReceiverEvent } from './events';
import { handleGapNotice } from './gap-notice';
import { jumpDetail } from './sequence-take';
import { auditHeadEvent } from './audit-inbox';
import { healthEventEvent } from './health-inbox';
import { recoReportEvent } from './reco-inbox';
import type { CloudStore } from './store';

/** What the inbox works with. */
export interface InboxDeps {
  receiver: string;
  store: CloudStore;
  cloudKeys: CloudKeySource;
  plants: RegisteredPlant[];
  now: () => number;
  reorderWindow: number;
  announcementWaitMs: number;
  sleep?: (ms: number) => Promise<void>;
  /** Called with every stored batch (the reference rule watches them: supplier-cloud/proposer.ts). */
  onBatch?: (b: ObservedBatch) => void;
  /**
   * Called with each plant sequence number this receiver dealt with for good, after its commit:
   * stored now, or held already (a duplicate, a replay). The receiver acknowledges them to the
   * plant (acks.ts). Refused ones (bad signature, unknown key, a jump…) are not: the plant keeps
   * them and tries again, so fixing the cloud's side loses nothing.
   */
  onSettled?: (plant: string, seq: number) => void;
}

/** The store, telling `settled` about every sequence judged held or stored for good. */
function settlingStore(store: CloudStore, settled: ((plant: string, seq: number) => void) | undefined): CloudStore {
  if (!settled) return store;
  return Object.assign(Object.create(store) as CloudStore, {
    classify(plant: string, seq: bigint, window: number) {
      const v = store.classify(plant, seq, window);
      // Only verified messages reach the sequence check (docs/uplink.md §6, steps 12 and 13).
      if (v !== 'new' && seq <= BigInt(Number.MAX_SAFE_INTEGER)) settled(plant, Number(seq));
      return v;
    },
    accept(b: Parameters<CloudStore['accept']>[0]) {
      const out = store.accept(b);
      if (out.stored || !out.jump) settled(b.plant, b.seq);
      return out;
    },
  });
}

/** A stored batch as the rule sees it: whose, and its samples. */
export interface ObservedBatch {
  plant: string;
  machine: string;
  machineId?: string;
  model?: string;
  kind: 'sealed' | 'plain';
  to: number;
  points: Record<string, { unit: string; samples: [number, unknown][] }>;
}

/** Counters a receiver exposes (`stats()`), per kind of outcome. */
export interface InboxStats {
  messages: number;
  accepted: number;
  acceptedSealed: number;
  acceptedPlain: number;
  refused: number;
  refusals: Record<RefusalReason, number>;
  gaps: number;
  gapNotices: number;
  states: number;
  keyAnnouncements: number;
}

/** Handles messages one at a time; returns the events each produced. */
export interface Inbox {
  handle(topic: string, payload: Buffer): Promise<ReceiverEvent[]>;
  stats(): InboxStats;
}

interface OpenedBatch {
  ok: true;
  kind: 'sealed' | 'plain';
  plant: string;
  machine: string;
  seq: bigint;
  from: number;
  to: number;
  signingKid: string;
  encryptionKid?: string;
  /** What the store keeps: the decrypted sealed payload, or the plain batch. */
  payload: string;
  points: Record<string, { unit: string; samples: [number, unknown][] }>;
  machineId?: string;
  model?: string;
}

type Opened = OpenedBatch | { ok: false; reason: RefusalReason; detail: string; plant?: string; seq?: bigint };

/** How long a receiver trusts its copy of the plants' keyrings before reading the shared store again. */
const PLANT_KEYS_TTL_MS = 5000;

/** Builds the inbox of one receiver. */
export function createInbox(given: InboxDeps): Inbox {
  const deps: InboxDeps = { ...given, store: settlingStore(given.store, given.onSettled) };
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const byPseudonym = new Map(deps.plants.map((p) => [p.pseudonym, p]));
  const stats: InboxStats = {
    messages: 0,
    accepted: 0,
    acceptedSealed: 0,
    acceptedPlain: 0,
    refused: 0,
    refusals: Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>,
    gaps: 0,
    gapNotices: 0,
    states: 0,
    keyAnnouncements: 0,
  };
  let plantKeys: KeyLookup<PlantKeyRecord> | null = null;
  let plantKeysAt = 0;

  /** The registry's ring with the store's (announced) ring over it: the store wins for keys it knows. */
  function effectiveRing(p: RegisteredPlant): KeyRing<Uint8Array> {
    const stored = deps.store.signingRing(p.pseudonym);
    if (!stored) return p.ring;
    const extra = p.ring.entries.filter((e) => !stored.entries.some((s) => s.kid === e.kid));
    return { ...stored, entries: [...stored.entries, ...extra] };
  }

  function plantLookup(): KeyLookup<PlantKeyRecord> {
    // Other receivers apply announcements to the shared store: re-read it now and then, so a
    // retired key's end of grace reaches this receiver too.
    if (!plantKeys || Date.now() - plantKeysAt > PLANT_KEYS_TTL_MS) {
      plantKeys = plantKeyLookup(deps.plants.map((p) => ({ plant: p.pseudonym, plantId: p.id, ring: effectiveRing(p) })));
      plantKeysAt = Date.now();
    }
    return plantKeys;
  }

  const sequences: SequenceCheck = {
    lastSequence: () => null,
    classifySequence: (plant, seq) => deps.store.classify(plant, seq, deps.reorderWindow),
  };

  function openBatch(kind: 'sealed' | 'plain', payload: Buffer, topic: { plant: string; machine?: string }): Opened {
    if (kind === 'sealed') {
      const r = openSealed(payload, {
        ...sequences,
        cloudSecretKeys: deps.cloudKeys.lookup(),
        plantPublicKeys: plantLookup(),
        now: deps.now(),
        topic,
      });
      if (!r.ok)
        return { ok: false, reason: r.reason, detail: r.detail, ...(r.header ? { plant: r.header.plant, seq: r.header.seq } : {}) };
      const h = r.header;
      return {
        ok: true,
        kind,
        plant: h.plant,
        machine: h.machine,
        seq: h.seq,
        from: h.from,
        to: h.to,
        signingKid: h.signingKid,
        encryptionKid: h.encryptionKid,
        payload: JSON.stringify(r.payload),
        points: r.payload.points,
        machineId: r.payload.machine.id,
        ...(r.payload.machine.model !== undefined ? { model: r.payload.machine.model } : {}),
      };
    }
    const r = openPlain(payload, { ...sequences, plantPublicKeys: plantLookup(), now: deps.now(), topic });
    if (!r.ok) return { ok: false, reason: r.reason, detail: r.detail };
    const b = r.batch;
    return {
      ok: true,
      kind,
      plant: b.plant,
      machine: b.machine,
      seq: r.seq,
      from: b.from,
      to: b.to,
      signingKid: b.kid,
      payload: JSON.stringify(b),
      points: b.points,
    };
  }

  /** Opens a batch, giving key changes a chance first: a rotated cloud key file, an announcement another receiver applied. */
  async function openWithRetry(kind: 'sealed' | 'plain', payload: Buffer, topic: { plant: string; machine?: string }): Promise<Opened> {
    let r = openBatch(kind, payload, topic);
    if (r.ok || r.reason !== 'unknown_key_id') return r;
    if (r.detail.startsWith('encryption') && deps.cloudKeys.refresh(true)) return openBatch(kind, payload, topic);
    if (!r.detail.startsWith('signing') || !r.detail.endsWith('is not known') || !byPseudonym.has(r.plant ?? topic.plant)) return r;
    plantKeys = null;
    r = openBatch(kind, payload, topic);
    if (r.ok || r.reason !== 'unknown_key_id' || deps.announcementWaitMs === 0) return r;
    // A registered plant signing with a key we don't know yet: its announcement may be in
    // another receiver's hands right now (shared subscriptions keep no order across receivers).
    await sleep(deps.announcementWaitMs);
    plantKeys = null;
    return openBatch(kind, payload, topic);
  }

  function refuse(topic: string, reason: RefusalReason, detail: string, plant?: string, seq?: bigint | number): ReceiverEvent {
    stats.refused += 1;
    stats.refusals[reason] += 1;
    const s = seq === undefined ? undefined : Number(seq) <= Number.MAX_SAFE_INTEGER ? Number(seq) : undefined;
    deps.store.recordRefusal({ topic, reason, detail, ...(plant !== undefined ? { plant } : {}), ...(s !== undefined ? { seq: s } : {}) });
    return refusalEvent(deps.receiver, topic, reason, detail, {
      ...(plant !== undefined ? { plant: byPseudonym.get(plant)?.id ?? plant } : {}),
      ...(s !== undefined ? { seq: s } : {}),
    });
  }

  async function batch(
    topic: string,
    kind: 'sealed' | 'plain',
    payload: Buffer,
    where: { plant: string; machine?: string },
  ): Promise<ReceiverEvent[]> {
    const r = await openWithRetry(kind, payload, where);
    if (!r.ok) return [refuse(topic, r.reason, r.detail, r.plant ?? where.plant, r.seq)];
    if (r.seq > BigInt(Number.MAX_SAFE_INTEGER))
      return [refuse(topic, 'malformed', `sequence ${r.seq} is beyond 2^53−1 (docs/uplink.md §7)`, r.plant)];
    const seq = Number(r.seq);
    const series = Object.values(r.points);
    const samples = series.reduce((n, s) => n + s.samples.length, 0);
    const outcome = deps.store.accept({
      plant: r.plant,
      seq,
      kind: r.kind,
      machine: r.machine,
      from: r.from,
      to: r.to,
      signingKid: r.signingKid,
      points: series.length,
      samples,
      payload: r.payload,
      ...(r.encryptionKid !== undefined ? { encryptionKid: r.encryptionKid } : {}),
      ...(r.machineId !== undefined ? { machineId: r.machineId } : {}),
      ...(r.model !== undefined ? { model: r.model } : {}),
    });
    if (!outcome.stored && outcome.jump) return [refuse(topic, 'sequence_jump', jumpDetail(r.plant, seq, outcome.jump), r.plant, seq)];
    if (!outcome.stored)
      return [
        refuse(topic, 'duplicate_sequence', `plant ${r.plant} sequence ${seq} was stored meanwhile by another receiver`, r.plant, seq),
      ];
    stats.accepted += 1;
    if (r.kind === 'sealed') stats.acceptedSealed += 1;
    else stats.acceptedPlain += 1;
    const observed = { plant: r.plant, machine: r.machine, kind: r.kind, to: r.to, points: r.points };
    deps.onBatch?.({ ...observed, ...(r.machineId ? { machineId: r.machineId } : {}), ...(r.model ? { model: r.model } : {}) });
    const plantId = byPseudonym.get(r.plant)?.id ?? r.plant;
    const events: ReceiverEvent[] = [
      {
        event: 'accept',
        receiver: deps.receiver,
        kind: r.kind,
        topic,
        plant: plantId,
        plantPseudonym: r.plant,
        machine: r.machineId ?? deps.store.machineId(r.plant, r.machine) ?? r.machine,
        machinePseudonym: r.machine,
        seq,
        points: series.length,
        samples,
        from: r.from,
        to: r.to,
        signingKid: r.signingKid,
        ...(r.encryptionKid !== undefined ? { encryptionKid: r.encryptionKid } : {}),
        late: outcome.next !== null,
      },
    ];
    // Sequences start at 1; what lies between this batch and the one below it is missing (for now).
    const below = outcome.previous ?? 0;
    if (seq > below + 1) {
      stats.gaps += 1;
      events.push({
        event: 'gap',
        receiver: deps.receiver,
        plant: plantId,
        plantPseudonym: r.plant,
        from: below + 1,
        to: seq - 1,
        before: seq,
      });
    }
    return events;
  }

  function keys(topic: string, plant: string, payload: Buffer): ReceiverEvent[] {
    const registered = byPseudonym.get(plant);
    if (!registered) return [refuse(topic, 'unknown_key_id', `plant ${plant} is not registered`, plant)];
    let result: ReturnType<typeof applyPlantKeysAnnouncement> | null = null;
    let previous = '';
    deps.store.updateSigningRing(plant, (stored) => {
      const ring = stored
        ? {
            ...stored,
            entries: [...stored.entries, ...registered.ring.entries.filter((e) => !stored.entries.some((s) => s.kid === e.kid))],
          }
        : registered.ring;
      previous = ring.current;
      result = applyPlantKeysAnnouncement(ring, payload, { plant, now: deps.now() });
      return result.ok ? { ring: result.ring, ...(result.box ? { box: result.box } : {}) } : null;
    });
    const r = result as ReturnType<typeof applyPlantKeysAnnouncement> | null;
    if (!r) return [refuse(topic, 'malformed', 'the announcement could not be applied', plant)];
    if (!r.ok) return [refuse(topic, r.reason, r.detail, plant)];
    plantKeys = null;
    stats.keyAnnouncements += 1;
    return [
      {
        event: 'plant-keys',
        receiver: deps.receiver,
        plant: registered.id,
        plantPseudonym: plant,
        current: r.ring.current,
        previous,
        graceUntil: r.announcement.graceUntil,
        ...(r.box ? { box: r.box.kid } : {}),
      },
    ];
  }

  function state(topic: string, plant: string, payload: Buffer): ReceiverEvent[] {
    const r = openStateMessage(payload, { plantPublicKeys: plantLookup(), now: deps.now(), topicPlant: plant });
    if (!r.ok) return [refuse(topic, r.reason, r.detail, plant)];
    const fresh = deps.store.recordState(plant, r.state.state, r.state.session);
    stats.states += 1;
    return [
      {
        event: 'state',
        receiver: deps.receiver,
        plant: byPseudonym.get(plant)?.id ?? plant,
        plantPseudonym: plant,
        state: r.state.state,
        session: r.state.session,
        stale: !fresh,
      },
    ];
  }

  function gapNotice(topic: string, plant: string, payload: Buffer): ReceiverEvent[] {
    const r = handleGapNotice(payload, {
      plant,
      plantPublicKeys: plantLookup(),
      now: deps.now(),
      store: deps.store,
      reorderWindow: deps.reorderWindow,
    });
    if (!r.ok) return [refuse(topic, r.reason, r.detail, plant, r.seq)];
    stats.gapNotices += 1;
    const n = r.notice;
    return [
      {
        event: 'gap-notice',
        receiver: deps.receiver,
        plant: byPseudonym.get(plant)?.id ?? plant,
        plantPseudonym: plant,
        seq: n.seq,
        issued: n.issued,
        dropped: n.dropped,
        notRecorded: n.notRecorded,
        totals: n.totals,
        repeated: !r.fresh,
      },
    ];
  }

  return {
    async handle(topic, payload) {
      stats.messages += 1;
      // Gap notices have a topic of their own (docs/uplink.md §14) that parseTopic predates.
      const gapPlant = /^pc\/v1\/([a-z2-7]{16})\/up\/gap$/.exec(topic)?.[1];
      if (gapPlant && isPseudonym(gapPlant)) return gapNotice(topic, gapPlant, payload);
      const t = parseTopic(topic);
      if (!t) return [refuse(topic, 'malformed', 'not a topic of uplink v1', /^pc\/v1\/([a-z2-7]{16})\//.exec(topic)?.[1])];
      switch (t.kind) {
        case 'sealed':
        case 'plain':
          return batch(topic, t.kind, payload, t.machine !== undefined ? { plant: t.plant, machine: t.machine } : { plant: t.plant });
        case 'keys':
          return keys(topic, t.plant, payload);
        case 'state':
          return state(topic, t.plant, payload);
        case 'reco':
          return [recoReportEvent(topic, t.plant, payload, { ...deps, plantPublicKeys: plantLookup(), byPseudonym, refuse })];
        case 'health':
          return [healthEventEvent(topic, t.plant, payload, { ...deps, plantPublicKeys: plantLookup(), byPseudonym, refuse })];
        case 'audit':
          return [auditHeadEvent(topic, t.plant, payload, { ...deps, plantPublicKeys: plantLookup(), byPseudonym, refuse })];
        case 'down':
          return [refuse(topic, 'malformed', "the downlink is not the cloud receiver's to read", t.plant)];
        default:
          return assertNever(t.kind, 'topic kind');
      }
    },
    stats: () => ({ ...stats, refusals: { ...stats.refusals } }),
  };
}
