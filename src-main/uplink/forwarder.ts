/**
 * Moves batches from the outbox to the broker: oldest first, only while the link is online and
 * its window and rate allow, deleting each batch once its PUBACK came (acknowledgements are
 * deleted in small groups, one transaction each). After every (re)connection it starts again
 * from the oldest batch still in the outbox: whatever was in flight when the link dropped is
 * published again, and the cloud tells the redelivery apart by its sequence number.
 */
import type { Logger } from '../core/log';
import type { Outbox, OutboxRow } from './outbox';
import { ANNOUNCEMENT_SEQ_FLOOR } from './plant-keys';
import { PublishError, type MqttLink } from './mqtt-link';

export interface ForwarderOptions {
  outbox: Outbox;
  link: MqttLink;
  topicFor(row: OutboxRow): string;
  log: Logger;
  /** Acknowledged batches are deleted at least this often (ms) or every `ackBatch` acks. */
  ackFlushMs?: number;
  ackBatch?: number;
}

const PAGE = 256;
/** Publishes per turn of the event loop: a long backlog must not starve polling and the UI. */
const PER_TURN = 2000;

/** The outbox → broker pump. */
export class Forwarder {
  private readonly o: ForwarderOptions;
  /** Below every row: key announcements (negative sequences) go out first on each connection. */
  private cursor = ANNOUNCEMENT_SEQ_FLOOR;
  private page: OutboxRow[] = [];
  private acked: number[] = [];
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private waitTimer: ReturnType<typeof setTimeout> | null = null;
  private pumping = false;
  private stopped = false;
  private readonly offs: (() => void)[] = [];
  /** Publishes handed to the link, PUBACKs received, and publishes the broker refused (kept in the outbox). */
  published = 0;
  acknowledged = 0;
  refusedByBroker = 0;
  lastRefusal: string | null = null;

  constructor(opts: ForwarderOptions) {
    this.o = opts;
    this.offs.push(
      opts.link.on('state', (s) => {
        if (s.state !== 'online') {
          this.flushAcks();
          this.reset();
        }
      }),
      opts.link.on('capacity', () => this.pump()),
      opts.outbox.onChange(() => this.pump()),
    );
  }

  /** Starts from the oldest batch again (a new connection). */
  private reset(): void {
    this.cursor = ANNOUNCEMENT_SEQ_FLOOR;
    this.page = [];
    this.o.outbox.setInflightFloor(0);
  }

  /** Publishes what the window and rate allow now; schedules itself when the rate is the limit. */
  pump(): void {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    try {
      for (let n = 0; n < PER_TURN; n++) {
        if (this.page.length === 0) {
          this.page = this.o.outbox.after(this.cursor, PAGE);
          if (this.page.length === 0) return;
          // Rows paged in are as good as in flight: the budget must not drop them meanwhile.
          this.o.outbox.setInflightFloor(this.page[this.page.length - 1]!.seq);
        }
        const row = this.page[0]!;
        const wait = this.o.link.waitMs(row.bytes.length);
        if (wait === Infinity) return;
        if (wait > 0) {
          if (!this.waitTimer) {
            this.waitTimer = setTimeout(() => {
              this.waitTimer = null;
              this.pump();
            }, wait);
            this.waitTimer.unref?.();
          }
          return;
        }
        this.page.shift();
        this.cursor = row.seq;
        this.send(row);
      }
      setImmediate(() => this.pump());
    } finally {
      this.pumping = false;
    }
  }

  private send(row: OutboxRow): void {
    let sent: Promise<void>;
    try {
      sent = this.o.link.publish(this.o.topicFor(row), row.bytes);
    } catch {
      // The link went away between the check and the call: the next connection resends.
      this.reset();
      return;
    }
    this.published++;
    sent.then(
      () => this.ack(row.seq),
      (err: unknown) => {
        if (err instanceof PublishError && err.kind === 'refused') {
          // Kept in the outbox (never dropped silently); published again on the next connection.
          this.refusedByBroker++;
          this.lastRefusal = `sequence ${row.seq}: ${err.message} (reason code ${err.reasonCode ?? '?'})`;
          this.o.log.log('error', "The broker refused an uplink batch: check the broker ACL for this plant's prefix", {
            seq: row.seq,
            reasonCode: err.reasonCode,
          });
        }
      },
    );
  }

  private ack(seq: number): void {
    this.acked.push(seq);
    this.acknowledged++;
    if (this.acked.length >= (this.o.ackBatch ?? 256)) this.flushAcks();
    else if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => this.flushAcks(), this.o.ackFlushMs ?? 50);
      this.ackTimer.unref?.();
    }
  }

  /** Deletes acknowledged batches now. */
  flushAcks(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.acked.length === 0) return;
    const seqs = this.acked;
    this.acked = [];
    try {
      this.o.outbox.remove(seqs);
    } catch (err) {
      // Still in the outbox: they go out again after a reconnect, as duplicates the cloud detects.
      this.o.log.log('error', 'Cannot delete acknowledged batches from the outbox', { error: String(err), count: seqs.length });
    }
  }

  /** Stops pumping and deletes what was acknowledged so far. */
  stop(): void {
    this.stopped = true;
    for (const off of this.offs) off();
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.waitTimer = null;
    this.flushAcks();
  }
}
