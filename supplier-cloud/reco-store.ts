/**
 * What the cloud's store keeps of recommendations: the ones it sent (by `recommend` or the
 * rule), the plants' reports on them (decrypted: the cloud's data), and the look-ups sending
 * needs (a machine's pseudonym, the latest value of a point, the plant's announced X25519 key).
 * Tables in store-schema.ts; one report per signature, so a redelivery is stored once.
 */
import type { RecoReportBody, RecommendationBody } from '../src-main/protocol';
import { num, rowOf, rowsOf, type Db } from './store-schema';

/** A recommendation as the cloud sent it. */
export interface SentRecommendation {
  plant: string;
  id: string;
  machine: string;
  issuedAt: number;
  validUntil: number;
  sentAt: number;
  /** `cli` (supplier-cloud recommend) or `rule` (the reference rule). */
  origin: string;
  body: RecommendationBody;
}

/** A report as received. */
export interface StoredReport {
  plant: string;
  machine: string;
  recommendation: string;
  kind: RecoReportBody['kind'];
  at: number;
  receivedAt: number;
  body: RecoReportBody;
}

/** A machine the cloud has seen in sealed payloads. */
export interface KnownMachine {
  pseudonym: string;
  id: string;
  model: string | null;
}

export interface RecoStore {
  /** False when a recommendation with this id was already sent to the plant. */
  recordSent(r: { plant: string; body: RecommendationBody; origin: string; sentAt: number }): boolean;
  /** False when this report (same signature) was stored before. */
  recordReport(r: { plant: string; body: RecoReportBody; sig: string; receiver: string; receivedAt: number }): boolean;
  sent(filter?: { plant?: string; machine?: string }): SentRecommendation[];
  reports(filter?: { plant?: string; recommendation?: string }): StoredReport[];
  machines(plant: string): KnownMachine[];
  /** The newest numeric sample of a point the cloud received from a machine (sealed or plain). */
  latestValue(plant: string, machine: string, point: string): { value: number; at: number } | null;
  /** The X25519 key a plant announced (uplink.md §10.2), if any. */
  announcedBox(plant: string): { kid: string; publicKey: Buffer } | null;
}

function parse<T>(text: unknown): T {
  return JSON.parse(String(text)) as T;
}

/** The recommendation part of a cloud store, over its open database. */
export function createRecoStore(db: Db): RecoStore {
  return {
    recordSent(r) {
      const res = db
        .prepare(
          `INSERT INTO reco_sent (plant, id, machine, issued_at, valid_until, sent_at, origin, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (plant, id) DO NOTHING`,
        )
        .run([r.plant, r.body.id, r.body.machine, r.body.issuedAt, r.body.validUntil, r.sentAt, r.origin, JSON.stringify(r.body)]);
      return res.changes > 0;
    },
    recordReport(r) {
      const res = db
        .prepare(
          `INSERT INTO reco_reports (plant, machine, recommendation, kind, at, received_at, receiver, body, sig)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sig) DO NOTHING`,
        )
        .run([
          r.plant,
          r.body.machine,
          r.body.recommendation,
          r.body.kind,
          r.body.at,
          r.receivedAt,
          r.receiver,
          JSON.stringify(r.body),
          r.sig,
        ]);
      return res.changes > 0;
    },
    sent(filter = {}) {
      const rows = rowsOf(
        db,
        `SELECT plant, id, machine, issued_at, valid_until, sent_at, origin, body FROM reco_sent
         WHERE (? IS NULL OR plant = ?) AND (? IS NULL OR machine = ?) ORDER BY sent_at, id`,
        [filter.plant ?? null, filter.plant ?? null, filter.machine ?? null, filter.machine ?? null],
      );
      return rows.map((r) => ({
        plant: String(r[0]),
        id: String(r[1]),
        machine: String(r[2]),
        issuedAt: num(r[3]) ?? 0,
        validUntil: num(r[4]) ?? 0,
        sentAt: num(r[5]) ?? 0,
        origin: String(r[6]),
        body: parse<RecommendationBody>(r[7]),
      }));
    },
    reports(filter = {}) {
      const rows = rowsOf(
        db,
        `SELECT plant, machine, recommendation, kind, at, received_at, body FROM reco_reports
         WHERE (? IS NULL OR plant = ?) AND (? IS NULL OR recommendation = ?) ORDER BY at, id`,
        [filter.plant ?? null, filter.plant ?? null, filter.recommendation ?? null, filter.recommendation ?? null],
      );
      return rows.map((r) => ({
        plant: String(r[0]),
        machine: String(r[1]),
        recommendation: String(r[2]),
        kind: String(r[3]) as RecoReportBody['kind'],
        at: num(r[4]) ?? 0,
        receivedAt: num(r[5]) ?? 0,
        body: parse<RecoReportBody>(r[6]),
      }));
    },
    machines(plant) {
      return rowsOf(db, 'SELECT machine, machine_id, model FROM machines WHERE plant = ? ORDER BY machine_id', [plant]).map((r) => ({
        pseudonym: String(r[0]),
        id: String(r[1]),
        model: typeof r[2] === 'string' ? r[2] : null,
      }));
    },
    latestValue(plant, machine, point) {
      // Newest batches first; a point need not be in every batch (plain and sealed alternate).
      const rows = rowsOf(
        db,
        `SELECT payload FROM batches WHERE plant = ? AND machine = ? AND kind IN ('sealed', 'plain') AND instr(payload, ?) > 0
         ORDER BY to_ms DESC LIMIT 50`,
        [plant, machine, JSON.stringify(point)],
      );
      for (const r of rows) {
        const payload = parse<{ points?: Record<string, { samples?: [number, unknown][] }> }>(r[0]);
        const samples = payload.points?.[point]?.samples ?? [];
        for (let i = samples.length - 1; i >= 0; i--) {
          const [t, v] = samples[i]!;
          if (typeof v === 'number' && Number.isFinite(v)) return { value: v, at: t };
        }
      }
      return null;
    },
    announcedBox(plant) {
      const r = rowOf(db, 'SELECT box_kid, box_public_key FROM plants WHERE plant = ?', [plant]);
      return typeof r?.[0] === 'string' && typeof r[1] === 'string' ? { kid: r[0], publicKey: Buffer.from(r[1], 'hex') } : null;
    },
  };
}
