/**
 * Sends every signed head of the audit chain to the supplier cloud, its witness outside the
 * plant (protocol/audit-head.ts, docs/uplink.md §17). Heads go through the uplink outbox like
 * reports (sealed, signed, numbered, durable): a head is queued in the same outbox transaction
 * that moves the witness cursor (meta `audit.witness.cursor`, the last `audit_heads.id` queued),
 * so a crash queues it again rather than losing it, and heads signed while the console was
 * down (by `plant-console user add`) or while the outbox was full go out at the next flush.
 * Flushed just after the audit log signs a head, at start, and every minute.
 */
import type { AuditWitnessView } from '../../src-preload/contract';
import type { Logger } from '../core/log';
import { sealAuditHead, type AuditHeadBody } from '../protocol/audit-head';
import type { SigningKeyPair } from '../protocol/keys';
import type { StoreDb } from '../store/schema';
import type { AuditHead } from './record';

const CURSOR = 'audit.witness.cursor';
const BATCH = 100;

/** What the witness needs of the uplink (UplinkService.queueReports with kind `audit`). */
export interface WitnessQueue {
  readonly plant: { pseudonym: string };
  queueReports(
    reports: readonly {
      machine: string;
      at: number;
      seal(keys: { plant: SigningKeyPair; cloudBox: { kid: string; publicKey: Uint8Array } }, seq: number): Uint8Array;
    }[],
    within?: () => void,
    kind?: 'reco' | 'health' | 'audit',
  ): { seqs: number[]; refused: number };
}

interface HeadRow {
  id: number;
  seq: number;
  hash: string;
  signed_at: number;
  key_id: string;
  signature: string;
}

/** The cloud witness of one plant store's audit chain. */
export class AuditWitness {
  private readonly timer: ReturnType<typeof setInterval> | null;
  private readonly off: () => void;
  private refused = 0;
  private scheduled: ReturnType<typeof setImmediate> | null = null;
  private last: { seq: number; signedAt: number } | null = null;
  private readonly q;

  constructor(
    private readonly o: {
      db: StoreDb;
      audit: { onHeadSigned(handler: (head: AuditHead) => void): () => void };
      uplink: WitnessQueue;
      log: Logger;
      /** Flush on a timer too (default true; tests call `flush`). */
      timers?: boolean;
    },
  ) {
    this.q = {
      cursor: o.db.prepare('SELECT value FROM meta WHERE key = ?').raw(),
      setCursor: o.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      pending: o.db.prepare('SELECT id, seq, hash, signed_at, key_id, signature FROM audit_heads WHERE id > ? ORDER BY id LIMIT ?'),
      count: o.db.prepare('SELECT count(*) FROM audit_heads WHERE id > ?').raw(),
      sent: o.db.prepare('SELECT seq, signed_at FROM audit_heads WHERE id = ?').raw(),
    };
    // Later, not inside the signing: a head may be signed while another store transaction is open.
    this.off = o.audit.onHeadSigned(() => this.schedule());
    if (o.timers !== false) {
      this.timer = setInterval(() => this.flush(), 60_000);
      this.timer.unref?.();
    } else this.timer = null;
    this.flush();
  }

  /** Queues every head signed since the last one queued; returns how many were queued now. */
  flush(): number {
    let queued = 0;
    try {
      for (;;) {
        const cursor = this.cursor();
        const rows = this.q.pending.all([cursor, BATCH]) as HeadRow[];
        if (rows.length === 0) return queued;
        const plant = this.o.uplink.plant.pseudonym;
        const lastId = rows.at(-1)!.id;
        const done = this.o.uplink.queueReports(
          rows.map((r) => ({
            machine: '',
            at: r.signed_at,
            seal: (keys, seq) => {
              const body: AuditHeadBody = {
                v: 1,
                plant,
                seq,
                head: { seq: r.seq, hash: r.hash, signedAt: r.signed_at, kid: r.key_id, sig: r.signature },
              };
              return sealAuditHead(body, keys);
            },
          })),
          () => this.q.setCursor.run([CURSOR, String(lastId)]),
          'audit',
        );
        if (done.refused > 0) {
          // The outbox is full (its own alarm says so): the cursor stayed, the heads go out once there is room.
          this.refused += done.refused;
          this.o.log.log('error', 'Signed audit heads could not be queued for the supplier cloud: the uplink outbox is full', {
            heads: rows.length,
          });
          return queued;
        }
        queued += rows.length;
        const r = rows.at(-1)!;
        this.last = { seq: r.seq, signedAt: r.signed_at };
      }
    } catch (err) {
      this.o.log.log('error', 'Signed audit heads could not be queued for the supplier cloud', { error: String(err) });
      return queued;
    }
  }

  /** What the audit page shows of the witness. */
  status(): AuditWitnessView {
    const cursor = this.cursor();
    if (!this.last && cursor > 0) {
      const r = this.q.sent.get([cursor]) as [number, number] | undefined;
      if (r) this.last = { seq: r[0], signedAt: r[1] };
    }
    return {
      lastSentSeq: this.last?.seq ?? null,
      lastSentSignedAt: this.last?.signedAt ?? null,
      pending: (this.q.count.get([cursor]) as [number] | undefined)?.[0] ?? 0,
      refused: this.refused,
    };
  }

  /** Stops listening and the timer (queued heads stay in the outbox; the rest go at the next start). */
  close(): void {
    this.off();
    if (this.timer) clearInterval(this.timer);
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(() => {
      this.scheduled = null;
      this.flush();
    });
  }

  private cursor(): number {
    const v = (this.q.cursor.get([CURSOR]) as [string] | undefined)?.[0];
    return v === undefined ? 0 : Number(v);
  }
}
