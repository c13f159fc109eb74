/**
 * The receiver's libsql database, shared by every receiver of a shared-subscription group.
 * Sequence uniqueness is the primary key (plant, seq) of `batches`: two receivers that both
 * judge a sequence new cannot both store it; the second insert is the duplicate.
 */
import { keyRingFromJson, keyRingToJson, type KeyRing, type SequenceVerdict } from '../src-main/protocol';
import { createAuditHeadStore, type AuditHeadStore } from './audit-store';
import { createRecoStore, type RecoStore } from './reco-store';
import { num, openCloudDb, rowOf, rowsOf } from './store-schema';

/** An accepted batch as the store keeps it (the decrypted payload included: the cloud's data). */
export interface StoredBatch {
  plant: string;
  seq: number;
  kind: 'sealed' | 'plain' | 'gap-notice' | 'reco-report' | 'module-health' | 'audit-head';
  machine: string;
  machineId?: string;
  model?: string;
  from: number;
  to: number;
  signingKid: string;
  encryptionKid?: string;
  points: number;
  samples: number;
  payload: string;
  /** A gap notice: the first sequence it declares lost (its jump is judged from there). */
  declaredFrom?: number;
}

/**
 * What storing a batch found: a duplicate, a sequence too far beyond what the plant ever sent
 * (`jump`: refused, the plant keeps it; `supplier-cloud accept-jump` lets it in), or its
 * neighbours (for gap reports).
 */
export type AcceptOutcome =
  { stored: false; jump?: { high: number; bound: number } } | { stored: true; previous: number | null; next: number | null };

/** The default bound on how far beyond the highest sequence held a plant's next one may be. */
export const DEFAULT_MAX_SEQUENCE_JUMP = 100_000;

/**
 * A missing range of sequence numbers. `lost`: the parts of it a plant's gap notices declare lost
 * (inclusive ranges, ascending); `declaredLost` when they cover all of it. What no notice covers
 * is unexplained: batches still in flight, or lost without the plant knowing.
 */
export interface Gap {
  from: number;
  to: number;
  declaredLost: boolean;
  lost: [number, number][];
}

/** One plant as `supplier-cloud status` shows it. */
export interface PlantStatus {
  plant: string;
  plantId: string;
  accepted: number;
  firstSeq: number | null;
  lastSeq: number | null;
  lastReceivedAt: number | null;
  gaps: Gap[];
  missing: number;
  /** Of `missing`, the sequences a gap notice declared lost (the rest are unexplained). */
  declaredLost: number;
  refusals: Record<string, number>;
  gapNotices: number;
  /** Batches the plant says it never recorded (outbox full), summed over its notices. */
  notRecorded: { sealed: number; plain: number };
  /** The plant's running totals from its latest notice (a lost notice shows as a jump). */
  reportedTotals: { dropped: number; notRecorded: number } | null;
  state: { state: string; session: number; at: number } | null;
  signingKid: string | null;
}

/** What the store keeps of a gap notice (docs/uplink.md §14). */
export interface GapNoticeRecord {
  plant: string;
  seq: number;
  issued: number;
  ranges: [number, number][];
  droppedBatches: number;
  notRecorded: { sealed: number; plain: number; from?: number; to?: number };
  totals: { dropped: number; notRecorded: number };
  sig: string;
}

/** The parts of the gap the ranges cover, merged and ascending (a notice may cover only part of a gap). */
function coveredParts(gap: { from: number; to: number }, ranges: { from: number; to: number }[]): [number, number][] {
  const parts: [number, number][] = [];
  for (const r of [...ranges].sort((a, b) => a.from - b.from)) {
    const from = Math.max(r.from, gap.from);
    const to = Math.min(r.to, gap.to);
    if (from > to) continue;
    const last = parts.at(-1);
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else parts.push([from, to]);
  }
  return parts;
}

const sizeOf = (parts: [number, number][]): number => parts.reduce((n, [a, b]) => n + (b - a + 1), 0);

/** The store of one receiver (one connection; several receivers may share the file). */
export interface CloudStore {
  registerPlants(plants: { pseudonym: string; id: string }[]): void;
  classify(plant: string, seq: bigint, window: number): SequenceVerdict;
  accept(b: StoredBatch): AcceptOutcome;
  machineId(plant: string, machine: string): string | null;
  recordRefusal(r: { topic: string; plant?: string; seq?: number; reason: string; detail: string }): void;
  /** Records a verified gap notice and the ranges it declares lost; false when it was recorded before. */
  recordGapNotice(n: GapNoticeRecord): boolean;
  /** False when a newer session's state is already recorded. */
  recordState(plant: string, state: string, session: number): boolean;
  signingRing(plant: string): KeyRing<Uint8Array> | null;
  /** Replaces a plant's signing ring inside one write transaction; `update` returns null to keep it. */
  updateSigningRing(
    plant: string,
    update: (ring: KeyRing<Uint8Array> | null) => { ring: KeyRing<Uint8Array>; box?: { kid: string; publicKey: Buffer } } | null,
  ): boolean;
  status(maxGaps?: number): { plants: PlantStatus[]; unattributedRefusals: Record<string, number> };
  batchCount(plant?: string): number;
  /** The highest sequence stored for a plant (0: none): the `high` of acknowledgements. */
  highest(plant: string): number;
  /** Lets a plant's sequence continue up to `through` (the operator's answer to a `sequence_jump`); false for an unknown plant. */
  allowJump(plant: string, through: number): boolean;
  /** Deletes batches and refusals received before `before` (ms), in small transactions; returns the batches deleted. */
  prune(before: number): number;
  /** Recommendations sent and the plants' reports on them (reco-store.ts). */
  readonly reco: RecoStore;
  /** The plants' signed audit heads, append-only: the witness of their audit chains (audit-store.ts). */
  readonly audit: AuditHeadStore;
  /** A plant's pseudonym from its id or pseudonym, or null when not registered. */
  plantPseudonym(idOrPseudonym: string): string | null;
  close(): void;
}

/** Opens (or creates) the receiver database at `path`; `key` (hex) encrypts it. */
export function openCloudStore(
  path: string,
  opts: { receiver: string; key?: string; now?: () => number; maxSequenceJump?: number },
): CloudStore {
  const now = opts.now ?? Date.now;
  const db = openCloudDb(path, opts.key);
  const maxJump = opts.maxSequenceJump ?? DEFAULT_MAX_SEQUENCE_JUMP;

  /** The highest sequence a plant is known to have used: stored, declared lost, or allowed by the operator. */
  const heldHigh = (plant: string): number => {
    const marks = rowOf(db, 'SELECT coalesce(jump_base, 0), coalesce(pruned_through, 0) FROM plants WHERE plant = ?', [plant]);
    return Math.max(
      num(rowOf(db, 'SELECT max(seq) FROM batches WHERE plant = ?', [plant])?.[0]) ?? 0,
      num(rowOf(db, 'SELECT max(to_seq) FROM declared_lost WHERE plant = ?', [plant])?.[0]) ?? 0,
      // Retention may have deleted every batch of a quiet plant: what it held still counts.
      num(marks?.[0]) ?? 0,
      num(marks?.[1]) ?? 0,
    );
  };
  const prunedThrough = (plant: string): number => num(rowOf(db, 'SELECT pruned_through FROM plants WHERE plant = ?', [plant])?.[0]) ?? 0;

  const insertBatch = db.prepare(
    `INSERT INTO batches (plant, seq, kind, machine, from_ms, to_ms, signing_kid, encryption_kid, points, samples, payload, received_at, receiver)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (plant, seq) DO NOTHING`,
  );
  const acceptTx = db.transaction((b: StoredBatch): AcceptOutcome => {
    // One far-ahead sequence (a buggy or forged plant) must not make every later genuine one a replay.
    const high = heldHigh(b.plant);
    if (Math.min(b.seq, b.declaredFrom ?? b.seq) > high + maxJump) return { stored: false, jump: { high, bound: maxJump } };
    const r = insertBatch.run([
      b.plant,
      b.seq,
      b.kind,
      b.machine,
      b.from,
      b.to,
      b.signingKid,
      b.encryptionKid ?? null,
      b.points,
      b.samples,
      b.payload,
      now(),
      opts.receiver,
    ]);
    if (r.changes === 0) return { stored: false };
    if (b.machineId !== undefined) {
      db.prepare(
        'INSERT INTO machines (plant, machine, machine_id, model, first_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT (plant, machine) DO UPDATE SET machine_id = excluded.machine_id, model = excluded.model',
      ).run([b.plant, b.machine, b.machineId, b.model ?? null, now()]);
    }
    const previous = num(rowOf(db, 'SELECT max(seq) FROM batches WHERE plant = ? AND seq < ?', [b.plant, b.seq])?.[0]);
    const next = num(rowOf(db, 'SELECT min(seq) FROM batches WHERE plant = ? AND seq > ?', [b.plant, b.seq])?.[0]);
    return { stored: true, previous, next };
  });

  const gapsOf = (plant: string, maxGaps: number): { gaps: Gap[]; missing: number; declaredLost: number } => {
    const lost = rowsOf(db, 'SELECT from_seq, to_seq FROM declared_lost WHERE plant = ?', [plant]).map((r) => ({
      from: num(r[0]) ?? 0,
      to: num(r[1]) ?? 0,
    }));
    const first = num(rowOf(db, 'SELECT min(seq) FROM batches WHERE plant = ?', [plant])?.[0]);
    const pruned = prunedThrough(plant);
    const ranges: { from: number; to: number }[] = [];
    // Sequences start at 1 (docs/uplink.md §7): anything below the first one received is missing too,
    // unless retention deleted it (pruned_through).
    if (first !== null && first > pruned + 1) ranges.push({ from: pruned + 1, to: first - 1 });
    const inner = rowsOf(
      db,
      `SELECT prev + 1, seq - 1 FROM (SELECT seq, LAG(seq) OVER (ORDER BY seq) AS prev FROM batches WHERE plant = ?)
       WHERE prev IS NOT NULL AND seq > prev + 1 ORDER BY seq`,
      [plant],
    );
    for (const r of inner) ranges.push({ from: num(r[0]) ?? 0, to: num(r[1]) ?? 0 });
    const missing = ranges.reduce((n, g) => n + (g.to - g.from + 1), 0);
    let declaredLost = 0;
    const gaps = ranges.map((g, i): Gap | null => {
      const parts = coveredParts(g, lost);
      const n = sizeOf(parts);
      declaredLost += n;
      return i < maxGaps ? { ...g, declaredLost: n === g.to - g.from + 1, lost: parts } : null;
    });
    return { gaps: gaps.filter((g): g is Gap => g !== null), missing, declaredLost };
  };

  const noticesOf = (plant: string): Pick<PlantStatus, 'gapNotices' | 'notRecorded' | 'reportedTotals'> => {
    const agg =
      rowOf(
        db,
        'SELECT count(*), coalesce(sum(not_recorded_sealed), 0), coalesce(sum(not_recorded_plain), 0) FROM gap_notices WHERE plant = ?',
        [plant],
      ) ?? [];
    const latest = rowOf(db, 'SELECT total_dropped, total_not_recorded FROM gap_notices WHERE plant = ? ORDER BY seq DESC LIMIT 1', [
      plant,
    ]);
    return {
      gapNotices: num(agg[0]) ?? 0,
      notRecorded: { sealed: num(agg[1]) ?? 0, plain: num(agg[2]) ?? 0 },
      reportedTotals: latest ? { dropped: num(latest[0]) ?? 0, notRecorded: num(latest[1]) ?? 0 } : null,
    };
  };

  return {
    registerPlants(plants) {
      const stmt = db.prepare(
        'INSERT INTO plants (plant, plant_id) VALUES (?, ?) ON CONFLICT (plant) DO UPDATE SET plant_id = excluded.plant_id',
      );
      db.transaction(() => {
        for (const p of plants) stmt.run([p.pseudonym, p.id]);
      }).immediate();
    },
    classify(plant, seq, window) {
      // Out-of-range sequences are refused by the caller as malformed; never bind them to SQLite.
      if (seq > BigInt(Number.MAX_SAFE_INTEGER)) return 'new';
      const s = Number(seq);
      if (rowOf(db, 'SELECT 1 FROM batches WHERE plant = ? AND seq = ?', [plant, s])) return 'duplicate';
      // Held once and deleted by retention: a copy of it now is a replay, not a batch to store again.
      if (s <= prunedThrough(plant)) return 'replay';
      const high = num(rowOf(db, 'SELECT max(seq) FROM batches WHERE plant = ?', [plant])?.[0]);
      // Below the reorder window a sequence can no longer be a late batch filling a gap.
      if (high !== null && s < high - window) return 'replay';
      return 'new';
    },
    accept: (b) => acceptTx.immediate(b),
    machineId(plant, machine) {
      const r = rowOf(db, 'SELECT machine_id FROM machines WHERE plant = ? AND machine = ?', [plant, machine]);
      return typeof r?.[0] === 'string' ? r[0] : null;
    },
    recordRefusal(r) {
      db.prepare('INSERT INTO refusals (at, receiver, topic, plant, seq, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?)').run([
        now(),
        opts.receiver,
        r.topic,
        r.plant ?? null,
        r.seq ?? null,
        r.reason,
        r.detail,
      ]);
    },
    recordGapNotice(n) {
      return db
        .transaction(() => {
          const r = db
            .prepare(
              `INSERT INTO gap_notices (plant, seq, issued, received_at, receiver, dropped_batches, not_recorded_sealed, not_recorded_plain,
               not_recorded_from, not_recorded_to, total_dropped, total_not_recorded, sig)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sig) DO NOTHING`,
            )
            .run([
              n.plant,
              n.seq,
              n.issued,
              now(),
              opts.receiver,
              n.droppedBatches,
              n.notRecorded.sealed,
              n.notRecorded.plain,
              n.notRecorded.from ?? null,
              n.notRecorded.to ?? null,
              n.totals.dropped,
              n.totals.notRecorded,
              n.sig,
            ]);
          if (r.changes === 0) return false;
          const range = db.prepare('INSERT INTO declared_lost (plant, from_seq, to_seq, notice_seq) VALUES (?, ?, ?, ?)');
          for (const [from, to] of n.ranges) range.run([n.plant, from, to, n.seq]);
          return true;
        })
        .immediate();
    },
    recordState(plant, state, session) {
      const r = db
        .prepare(
          'UPDATE plants SET state = ?, state_session = ?, state_at = ? WHERE plant = ? AND (state_session IS NULL OR state_session <= ?)',
        )
        .run([state, session, now(), plant, session]);
      return r.changes > 0;
    },
    signingRing(plant) {
      const r = rowOf(db, 'SELECT signing_ring FROM plants WHERE plant = ?', [plant]);
      return typeof r?.[0] === 'string' ? keyRingFromJson(JSON.parse(r[0]) as KeyRing<string>) : null;
    },
    updateSigningRing(plant, update) {
      return db
        .transaction(() => {
          const r = rowOf(db, 'SELECT signing_ring FROM plants WHERE plant = ?', [plant]);
          const current = typeof r?.[0] === 'string' ? keyRingFromJson(JSON.parse(r[0]) as KeyRing<string>) : null;
          const next = update(current);
          if (!next) return false;
          db.prepare(
            'UPDATE plants SET signing_ring = ?, box_kid = coalesce(?, box_kid), box_public_key = coalesce(?, box_public_key) WHERE plant = ?',
          ).run([
            JSON.stringify(keyRingToJson(next.ring)),
            next.box?.kid ?? null,
            next.box ? next.box.publicKey.toString('hex') : null,
            plant,
          ]);
          return true;
        })
        .immediate();
    },
    status(maxGaps = 20) {
      const refusals = rowsOf(db, 'SELECT plant, reason, count(*) FROM refusals GROUP BY plant, reason');
      const plants = rowsOf(db, 'SELECT plant, plant_id, state, state_session, state_at, signing_ring FROM plants ORDER BY plant_id').map(
        (r): PlantStatus => {
          const plant = String(r[0]);
          const agg = rowOf(db, 'SELECT count(*), min(seq), max(seq), max(received_at) FROM batches WHERE plant = ?', [plant]) ?? [];
          const ring = typeof r[5] === 'string' ? (JSON.parse(r[5]) as KeyRing<string>) : null;
          return {
            plant,
            plantId: String(r[1]),
            accepted: num(agg[0]) ?? 0,
            firstSeq: num(agg[1]),
            lastSeq: num(agg[2]),
            lastReceivedAt: num(agg[3]),
            ...gapsOf(plant, maxGaps),
            refusals: Object.fromEntries(refusals.filter((x) => x[0] === plant).map((x) => [String(x[1]), num(x[2]) ?? 0])),
            ...noticesOf(plant),
            state: typeof r[2] === 'string' ? { state: r[2], session: num(r[3]) ?? 0, at: num(r[4]) ?? 0 } : null,
            signingKid: ring?.current ?? null,
          };
        },
      );
      const known = new Set(plants.map((p) => p.plant));
      const unattributedRefusals: Record<string, number> = {};
      for (const x of refusals) {
        if (typeof x[0] === 'string' && known.has(x[0])) continue;
        unattributedRefusals[String(x[1])] = (unattributedRefusals[String(x[1])] ?? 0) + (num(x[2]) ?? 0);
      }
      return { plants, unattributedRefusals };
    },
    reco: createRecoStore(db),
    audit: createAuditHeadStore(db),
    plantPseudonym(idOrPseudonym) {
      const r = rowOf(db, 'SELECT plant FROM plants WHERE plant = ? OR plant_id = ? ORDER BY plant = ? DESC LIMIT 1', [
        idOrPseudonym,
        idOrPseudonym,
        idOrPseudonym,
      ]);
      return typeof r?.[0] === 'string' ? r[0] : null;
    },
    highest(plant) {
      return num(rowOf(db, 'SELECT max(seq) FROM batches WHERE plant = ?', [plant])?.[0]) ?? 0;
    },
    allowJump(plant, through) {
      return db.prepare('UPDATE plants SET jump_base = max(coalesce(jump_base, 0), ?) WHERE plant = ?').run([through, plant]).changes > 0;
    },
    prune(before) {
      let total = 0;
      // Small transactions: receivers sharing the file keep storing meanwhile.
      for (;;) {
        const n = db
          .transaction(() => {
            const gone = rowsOf(
              db,
              'DELETE FROM batches WHERE (plant, seq) IN (SELECT plant, seq FROM batches WHERE received_at < ? LIMIT 5000) RETURNING plant, seq',
              [before],
            );
            const high = new Map<string, number>();
            for (const [p, q] of gone) high.set(String(p), Math.max(high.get(String(p)) ?? 0, num(q) ?? 0));
            for (const [p, q] of high)
              db.prepare('UPDATE plants SET pruned_through = max(coalesce(pruned_through, 0), ?) WHERE plant = ?').run([q, p]);
            return gone.length;
          })
          .immediate();
        total += n;
        if (n < 5000) break;
      }
      db.prepare('DELETE FROM refusals WHERE at < ?').run([before]);
      return total;
    },
    batchCount(plant) {
      const r =
        plant === undefined
          ? rowOf(db, 'SELECT count(*) FROM batches')
          : rowOf(db, 'SELECT count(*) FROM batches WHERE plant = ?', [plant]);
      return num(r?.[0]) ?? 0;
    },
    close() {
      if (db.open) db.close();
    },
  };
}
