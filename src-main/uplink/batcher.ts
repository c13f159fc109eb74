/**
 * Batching what leaves the plant: per machine and interval, the samples of its `sealed` points
 * become one sealed batch and those of its `plain` points one plain batch.
 *
 * `local` points cannot leave by construction: the batcher builds, from the profile, the list of
 * point ids of each outgoing class once, and only ever reads those ids out of a snapshot; a
 * local point's id, value or name is never copied anywhere. The machine's and plant's real
 * identifiers go only into sealed payloads; topics and plain batches carry pseudonyms.
 */
import type { MachineSnapshot, PointValue, Sensitivity } from '../../src-preload/contract';
import type { ResolvedDevice } from '../config/schema';
import { buildPlainBatch, machinePseudonym, sealBatch, type Points, type SampleValue, type SigningKeyPair } from '../protocol';
import type { OutboxItem } from './outbox';

type OutgoingClass = Exclude<Sensitivity, 'local'>;

/** One poll of one machine: its id, when, and its values (a snapshot has these, and so has PlantCore.onPoll's payload). */
export type MachineSample = Pick<MachineSnapshot, 'id' | 'ts' | 'values'>;

interface PointPlan {
  id: string;
  unit: string;
}

/** One machine as the batcher sees it: identifiers (sealed only), pseudonym, outgoing points. */
export interface MachinePlan {
  id: string;
  name: string;
  model: string;
  pseudonym: string;
  sealed: PointPlan[];
  plain: PointPlan[];
}

/** Samples of one machine and class over one interval, ready to be numbered and sealed or signed. */
export interface PendingBatch {
  kind: OutgoingClass;
  machine: MachinePlan;
  from: number;
  to: number;
  points: Points;
}

/** The per-machine plans of a plant: only `sealed` and `plain` points are listed. */
export function machinePlans(devices: readonly ResolvedDevice[], pseudonymKey: Uint8Array): MachinePlan[] {
  return devices.map((d) => {
    const of = (cls: OutgoingClass): PointPlan[] =>
      d.profileDef.points.filter((p) => p.sensitivity === cls).map((p) => ({ id: p.id, unit: p.unit }));
    return {
      id: d.id,
      name: d.name,
      model: d.profileDef.model,
      pseudonym: machinePseudonym(pseudonymKey, d.id),
      sealed: of('sealed'),
      plain: of('plain'),
    };
  });
}

const MAX_TEXT = 1024;

/** A point value as a sample value: numbers finite, text bounded, anything not good is null. */
function sampleValue(v: PointValue): SampleValue {
  if (v.quality !== 'good') return null;
  const x = v.value;
  if (typeof x === 'number') return Number.isFinite(x) ? x : null;
  if (typeof x === 'string') return x.length > MAX_TEXT ? x.slice(0, MAX_TEXT) : x;
  return x;
}

/**
 * A point's samples since the last flush, as two flat arrays: a [t, v] pair per sample lived up to
 * an interval, long enough to be promoted and end as old-generation garbage (10 000 a second at
 * the plant bench); the pairs are made at flush, where they die young.
 */
interface Series {
  unit: string;
  t: number[];
  v: SampleValue[];
}

/** Collects samples from machine snapshots and hands them out per interval. */
export class Batcher {
  private readonly plans = new Map<string, MachinePlan>();
  /** machine → class → point → its samples since the last flush. */
  private readonly open = new Map<string, Record<OutgoingClass, Map<string, Series>>>();
  /** Last sample time taken per machine/point (a snapshot repeats values between polls); keyed by the plan's own object, no string per sample. */
  private readonly lastTs = new Map<PointPlan, number>();
  /** Points whose last sample was a null (not good): one null per outage, not one per poll. */
  private readonly lastNull = new Set<PointPlan>();

  constructor(plans: readonly MachinePlan[]) {
    for (const p of plans) {
      this.plans.set(p.id, p);
      this.open.set(p.id, { sealed: new Map(), plain: new Map() });
    }
  }

  /** The plans, for status and tests. */
  machines(): MachinePlan[] {
    return [...this.plans.values()];
  }

  /** Takes the new samples of a snapshot's sealed and plain points (and only those). */
  ingest(snap: MachineSample): void {
    const plan = this.plans.get(snap.id);
    const open = this.open.get(snap.id);
    if (!plan || !open) return;
    this.take(plan.sealed, snap, open.sealed);
    this.take(plan.plain, snap, open.plain);
  }

  private take(points: readonly PointPlan[], snap: MachineSample, into: Map<string, Series>): void {
    for (const p of points) {
      const v = snap.values[p.id];
      if (!v) continue;
      const key = p;
      let t: number;
      if (v.quality === 'good') {
        t = Math.trunc(v.ts);
        if (t <= (this.lastTs.get(key) ?? -1)) continue;
        this.lastNull.delete(key);
      } else {
        if (this.lastNull.has(key)) continue;
        t = Math.max(Math.trunc(snap.ts), (this.lastTs.get(key) ?? -1) + 1);
        this.lastNull.add(key);
      }
      if (!Number.isSafeInteger(t) || t < 0) continue;
      this.lastTs.set(key, t);
      let s = into.get(p.id);
      if (!s) {
        s = { unit: p.unit, t: [], v: [] };
        into.set(p.id, s);
      }
      s.t.push(t);
      s.v.push(sampleValue(v));
    }
  }

  /** Hands out what was collected since the last flush: at most one batch per machine and class. */
  flush(): PendingBatch[] {
    const out: PendingBatch[] = [];
    for (const [id, open] of this.open) {
      const plan = this.plans.get(id)!;
      for (const kind of ['sealed', 'plain'] as const) {
        const series = open[kind];
        if (series.size === 0) continue;
        let from = Number.MAX_SAFE_INTEGER;
        let to = 0;
        const points: Points = {};
        for (const [pid, s] of series) {
          points[pid] = { unit: s.unit, samples: s.t.map((t, i): [number, SampleValue] => [t, s.v[i] as SampleValue]) };
          // A point's times only increase (take() skips the rest).
          from = Math.min(from, s.t[0]!);
          to = Math.max(to, s.t[s.t.length - 1]!);
        }
        series.clear();
        out.push({ kind, machine: plan, from, to, points });
      }
    }
    return out;
  }
}

/** What turns a pending batch into bytes once its sequence number is known. */
export interface BatchSigner {
  plant: { id: string; name?: string; pseudonym: string };
  signer: () => SigningKeyPair;
  /** The cloud X25519 key sealed batches are sealed to now (the keyring's current one). */
  cloudPublicKey: () => Uint8Array;
}

/** The outbox item of a pending batch: sealed (identifiers inside the ciphertext) or plain (pseudonyms only). */
export function toOutboxItem(b: PendingBatch, s: BatchSigner): OutboxItem {
  return {
    kind: b.kind,
    machine: b.machine.pseudonym,
    from: b.from,
    to: b.to,
    build(seq) {
      if (b.kind === 'plain') {
        const { json } = buildPlainBatch({
          plant: s.plant.pseudonym,
          machine: b.machine.pseudonym,
          seq: BigInt(seq),
          from: b.from,
          to: b.to,
          points: b.points,
          signer: s.signer(),
        });
        return Buffer.from(json, 'utf8');
      }
      return sealBatch({
        plant: s.plant.pseudonym,
        machine: b.machine.pseudonym,
        seq: BigInt(seq),
        from: b.from,
        to: b.to,
        payload: {
          v: 1,
          plant: { id: s.plant.id, ...(s.plant.name !== undefined ? { name: s.plant.name } : {}) },
          machine: { id: b.machine.id, name: b.machine.name, model: b.machine.model },
          points: b.points,
        },
        signer: s.signer(),
        cloudPublicKey: s.cloudPublicKey(),
      });
    },
  };
}
