/**
 * Moves batches from the outbox to the broker: oldest first, only while the link is online and
 * its window and rate allow. A batch leaves the outbox when it was delivered:
 *
 * - `acknowledgement: 'cloud'` (the default): when the cloud says it stored it (an `ack` on the
 *   plant's downlink, protocol/ack.ts); the cloud's acknowledgements also pace the drain
 *   (ack-window.ts), so a receiver that is away never has more than about two windows queued
 *   for it at the broker, and a broker that loses what it queued costs nothing;
 * - `acknowledgement: 'broker'` (for a cloud that sends no acknowledgements): on the PUBACK.
 *
 * A PUBACK is not always a delivery: MQTT 5 reason code 0x10 "no matching subscribers" (a
 * broker restarted and lost the receivers' shared subscription, say) means nobody will get the
 * batch, and ≥ 0x80 that the broker refused it. Either way the batch stays, publishing holds
 * with backoff, the batch goes out again first, and the status says why.
 *
 * After every (re)connection it starts again from the oldest batch still in the outbox: whatever
 * was in flight is published again, and the cloud tells the redelivery apart by its sequence
 * number. Deletes that fail (a full disk) are kept and tried again.
 */
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import { backoffDelay } from '../modbus/backoff';
import type { Ack } from '../protocol';
import { AckWindow, type AckWindowStatus } from './ack-window';
import type { Outbox, OutboxRow } from './outbox';
import { mergeRanges } from './outbox-ledger';
import { ANNOUNCEMENT_SEQ_FLOOR } from './plant-keys';
import { PublishError, type MqttLink } from './mqtt-link';

export interface ForwarderOptions {
  outbox: Outbox;
  link: MqttLink;
  topicFor(row: OutboxRow): string;
  log: Logger;
  clock: Clock;
  /** Who says a batch was delivered: the cloud (its acknowledgements) or the broker (PUBACK). */
  acknowledgement: 'cloud' | 'broker';
  /** Cloud acknowledgement: the most batches published ahead of the cloud's acknowledgements. */
  cloudWindow: number;
  /** Cloud acknowledgement: nothing acknowledged for this long → publish again from the oldest. */
  ackTimeoutMs: number;
  /** Backoff after the broker delivered a batch to nobody or refused it. */
  retry: { initialDelayMs: number; maxDelayMs: number; randomisationFactor: number };
  random?: () => number;
  /** Acknowledged batches are deleted at least this often (ms) or every `ackBatch` acks. */
  ackFlushMs?: number;
  ackBatch?: number;
}

/** Why publishing holds, while it holds. */
export interface DeliveryHold {
  kind: 'undelivered' | 'refused';
  reasonCode: number;
  since: number;
  until: number;
  attempts: number;
  detail: string;
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
  /** Delivered (acknowledged), waiting to be deleted: inclusive ranges. */
  private acked: [number, number][] = [];
  private ackedCount = 0;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private waitTimer: ReturnType<typeof setTimeout> | null = null;
  private checkTimer: ReturnType<typeof setInterval> | null = null;
  /** Single batches to publish again before the next new one (the cloud left them unacknowledged). */
  private resend: number[] = [];
  private pumping = false;
  private stopped = false;
  private hold: DeliveryHold | null = null;
  private readonly window: AckWindow;
  private readonly offs: (() => void)[] = [];
  /** Publishes handed to the link, batches delivered, and publishes the broker refused or delivered to nobody (kept in the outbox). */
  published = 0;
  acknowledged = 0;
  refusedByBroker = 0;
  undelivered = 0;
  lastRefusal: string | null = null;
  /** The highest sequence the cloud says it holds (its acknowledgements' `high`). */
  cloudHigh: number | null = null;
  /** The cloud holds numbers beyond the plant's own: its store went back without the guard noticing (a whole data dir restored). */
  cloudAhead: { high: number; lastSeq: number; since: number } | null = null;
  /** Deletes that failed and wait to be tried again. */
  deleteFailures = 0;

  constructor(opts: ForwarderOptions) {
    this.o = opts;
    this.window = new AckWindow({ max: opts.cloudWindow, ackTimeoutMs: opts.ackTimeoutMs, now: () => opts.clock.now() });
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
    if (opts.acknowledgement === 'cloud') {
      this.checkTimer = setInterval(() => this.checkAcks(), Math.max(100, Math.min(1000, opts.ackTimeoutMs / 4)));
      this.checkTimer.unref?.();
    }
  }

  /** Starts from the oldest batch again (a new connection, or the cloud stopped acknowledging). */
  private reset(): void {
    this.cursor = ANNOUNCEMENT_SEQ_FLOOR;
    this.page = [];
    this.resend = [];
    this.window.reset();
    this.o.outbox.setInflightFloor(0);
  }

  /** Why publishing holds (the broker's 0x10 or a refusal), or null. */
  holding(): DeliveryHold | null {
    return this.hold ? { ...this.hold } : null;
  }

  /** The cloud-acknowledgement window, for the status. */
  windowStatus(): AckWindowStatus {
    return this.window.status();
  }

  /** Publishes what the windows and rate allow now; schedules itself when time is the limit. */
  pump(): void {
    if (this.pumping || this.stopped) return;
    const now = this.o.clock.now();
    if (this.hold && now < this.hold.until) {
      this.wake(this.hold.until - now);
      return;
    }
    this.pumping = true;
    try {
      for (let n = 0; n < PER_TURN; n++) {
        const row = this.next();
        if (!row) return;
        if (this.o.acknowledgement === 'cloud' && row.seq > 0 && !this.window.canSend()) return;
        const wait = this.o.link.waitMs(row.bytes.length);
        if (wait === Infinity) return;
        if (wait > 0) {
          this.wake(wait);
          return;
        }
        if (this.resend[0] === row.seq) this.resend.shift();
        else {
          this.page.shift();
          this.cursor = row.seq;
        }
        this.send(row);
      }
      setImmediate(() => this.pump());
    } finally {
      this.pumping = false;
    }
  }

  /** The row to publish next: a single one to send again, else the next page's first. */
  private next(): OutboxRow | undefined {
    while (this.resend.length > 0) {
      const row = this.o.outbox.get(this.resend[0]!);
      if (row) return row;
      this.resend.shift();
    }
    for (;;) {
      if (this.page.length === 0) {
        this.page = this.o.outbox.after(this.cursor, PAGE);
        if (this.page.length === 0) return undefined;
        // Rows paged in are as good as in flight: the budget must not drop them meanwhile.
        this.o.outbox.setInflightFloor(this.page[this.page.length - 1]!.seq);
      }
      const row = this.page[0]!;
      // Acknowledged already (its delete is pending): skip.
      if (this.isAcked(row.seq) || this.window.has(row.seq)) {
        this.page.shift();
        this.cursor = row.seq;
        continue;
      }
      return row;
    }
  }

  private wake(ms: number): void {
    if (this.waitTimer) return;
    this.waitTimer = setTimeout(() => {
      this.waitTimer = null;
      this.pump();
    }, ms);
    this.waitTimer.unref?.();
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
    const cloud = this.o.acknowledgement === 'cloud' && row.seq > 0;
    if (cloud) this.window.sent(row.seq);
    sent.then(
      () => {
        // Someone took it: a hold is over (the cloud's acknowledgement still decides, in cloud mode).
        if (this.hold) {
          this.o.log.log('info', 'Uplink: the broker delivers again', { heldForMs: this.o.clock.now() - this.hold.since });
          this.hold = null;
        }
        // Announcements carry no sequence number the cloud could acknowledge: the PUBACK is theirs.
        if (!cloud) this.delivered([[row.seq, row.seq]]);
      },
      (err: unknown) => {
        if (cloud) this.window.dropped(row.seq);
        if (err instanceof PublishError && (err.kind === 'refused' || err.kind === 'undelivered')) this.held(row, err);
      },
    );
  }

  /** The broker delivered a batch to nobody (0x10) or refused it: it stays, is published again first, and publishing holds with backoff. */
  private held(row: OutboxRow, err: PublishError): void {
    const now = this.o.clock.now();
    if (!this.resend.includes(row.seq)) {
      this.resend.push(row.seq);
      this.resend.sort((a, b) => a - b);
    }
    const code = err.reasonCode ?? 0;
    if (err.kind === 'undelivered') this.undelivered++;
    else this.refusedByBroker++;
    const detail =
      err.kind === 'undelivered'
        ? `the broker accepted sequence ${row.seq} but has no subscriber for it (reason code 0x10): no receiver of the cloud is subscribed (after a broker restart, the receivers must subscribe again)`
        : `the broker refused sequence ${row.seq}: ${err.message} (reason code 0x${code.toString(16)}); check the broker ACL for this plant's prefix`;
    this.lastRefusal = detail;
    // One step of backoff per round: the other batches of the same round fail for the same reason.
    if (this.hold && now < this.hold.until) return;
    const attempts = (this.hold?.attempts ?? 0) + 1;
    const delay = backoffDelay(attempts, this.o.retry, this.o.random);
    if (!this.hold)
      this.o.log.log(
        'error',
        `Uplink: batches are kept in the outbox, ${err.kind === 'undelivered' ? 'nobody subscribed' : 'refused by the broker'}`,
        {
          seq: row.seq,
          reasonCode: code,
          retryInMs: delay,
        },
      );
    this.hold = {
      kind: err.kind === 'undelivered' ? 'undelivered' : 'refused',
      reasonCode: code,
      since: this.hold?.since ?? now,
      until: now + delay,
      attempts,
      detail,
    };
    this.wake(delay);
  }

  /** The cloud's acknowledgement (the plant's downlink): those batches are delivered. */
  cloudAck(ack: Ack): void {
    this.cloudHigh = Math.max(this.cloudHigh ?? 0, ack.high);
    const lastSeq = this.o.outbox.stats().lastSeq;
    if (ack.high > lastSeq && (this.cloudAhead === null || ack.high > this.cloudAhead.high)) {
      if (this.cloudAhead === null)
        this.o.log.log(
          'error',
          "The cloud already holds sequence numbers beyond this plant's: its data directory was restored from a backup or rolled back. " +
            'Stop the console and run "plant-console store recover --through N" with the number the cloud holds',
          { cloudHigh: ack.high, lastSeq },
        );
      this.cloudAhead = { high: ack.high, lastSeq, since: this.cloudAhead?.since ?? this.o.clock.now() };
    }
    if (this.o.acknowledgement !== 'cloud') return;
    this.window.acked(ack.seqs);
    this.delivered(ack.seqs);
    this.hold = null;
    this.pump();
  }

  /** Publishes again what the cloud left unacknowledged: everything after a silence, or single stale batches. */
  private checkAcks(): void {
    const c = this.window.check();
    if (c.goBack) {
      const s = this.window.status();
      this.o.log.log('warn', 'Uplink: the cloud has not acknowledged batches for a while: publishing again from the oldest', {
        window: s.window,
        goBacks: s.goBacks,
      });
      this.reset();
      this.pump();
    } else if (c.stale.length > 0) {
      for (const seq of c.stale) {
        this.window.dropped(seq);
        if (!this.resend.includes(seq)) this.resend.push(seq);
      }
      this.pump();
    }
  }

  private isAcked(seq: number): boolean {
    return this.acked.some(([lo, hi]) => seq >= lo && seq <= hi);
  }

  private delivered(ranges: readonly [number, number][]): void {
    this.acked = mergeRanges(this.acked, ranges);
    this.ackedCount += ranges.reduce((a, [lo, hi]) => a + Math.min(hi - lo + 1, 1_000_000), 0);
    if (this.ackedCount >= (this.o.ackBatch ?? 256)) this.flushAcks();
    else if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => this.flushAcks(), this.o.ackFlushMs ?? 50);
      this.ackTimer.unref?.();
    }
  }

  /** Deletes delivered batches now; when the store cannot, they are kept and tried again. */
  flushAcks(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.acked.length === 0) return;
    const ranges = this.acked;
    try {
      this.acknowledged += this.o.outbox.removeRanges(ranges);
      this.acked = [];
      this.ackedCount = 0;
      this.deleteFailures = 0;
    } catch (err) {
      // Still in the outbox and still delivered: the delete is tried again (a full disk clears).
      this.deleteFailures++;
      if (this.deleteFailures === 1 || this.deleteFailures % 60 === 0)
        this.o.log.log('error', 'Cannot delete delivered batches from the outbox: trying again', {
          error: err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}`.trim() : String(err),
          ranges: ranges.length,
        });
      if (!this.stopped) {
        this.ackTimer = setTimeout(() => this.flushAcks(), Math.min(30_000, 500 * this.deleteFailures));
        this.ackTimer.unref?.();
      }
    }
  }

  /**
   * Publishes nothing new and waits (at most `ms`) for the cloud to acknowledge what is out, so
   * that a clean stop leaves fewer batches to publish again at the next start.
   */
  async settle(ms: number): Promise<void> {
    this.stopped = true;
    const until = Date.now() + ms;
    while (this.o.acknowledgement === 'cloud' && this.window.status().outstanding > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops pumping and deletes what was delivered so far. */
  stop(): void {
    this.stopped = true;
    for (const off of this.offs) off();
    if (this.waitTimer) clearTimeout(this.waitTimer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.waitTimer = null;
    this.checkTimer = null;
    this.flushAcks();
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }
}
