/**
 * How far the plant may publish ahead of what the cloud acknowledged (docs/uplink.md §15).
 *
 * A broker acknowledges a publish as soon as it has queued it, whether a receiver will store
 * it in a second or never (its queue for an absent receiver is bounded, and what overflows is
 * dropped in silence). So the plant counts the batches it published that the cloud has not
 * acknowledged (`outstanding`) and keeps them under a window that doubles per window of
 * acknowledgements until the first silence (slow start), then grows by one batch per window and
 * halves when acknowledgements stop (AIMD, as TCP): the drain rate settles at what the cloud
 * stores, and an absent receiver never has more than about two windows queued for it at the
 * broker.
 *
 * - No acknowledgement for `ackTimeoutMs` while batches are outstanding: `check` says go back
 *   (publish again from the oldest batch still in the outbox), the window halves, and the
 *   timeout doubles up to `maxTimeoutMs`, so an outage costs a few probes, not a flood.
 * - One batch left unacknowledged while others are (the cloud refused it, or a broker lost it):
 *   after `staleAfterMs` it is published again on its own.
 */

export interface AckWindowOptions {
  /** The largest window (batches published and not yet acknowledged by the cloud). */
  max: number;
  /** The window a new link starts with (default min(16, max)). */
  initial?: number;
  ackTimeoutMs: number;
  /** The timeout doubles after each one without progress, up to this (default 16 × ackTimeoutMs). */
  maxTimeoutMs?: number;
  /** A single batch waits this long while others are acknowledged before it is published again (default 4 × ackTimeoutMs). */
  staleAfterMs?: number;
  now: () => number;
}

interface Sent {
  at: number;
  /** When it was first published (kept across republishing), for the status. */
  first: number;
}

/** What the window shows in the uplink status. */
export interface AckWindowStatus {
  window: number;
  outstanding: number;
  /** Since when nothing was acknowledged while batches waited (null: acknowledgements flow). */
  waitingSince: number | null;
  /** The oldest batch still waiting for the cloud, and since when. */
  oldest: { seq: number; since: number } | null;
  lastAckAt: number | null;
  /** Times the plant published again from the oldest batch. */
  goBacks: number;
}

/** The AIMD window over cloud acknowledgements. */
export class AckWindow {
  private readonly o: Required<Omit<AckWindowOptions, 'now'>> & { now: () => number };
  private readonly outstanding = new Map<number, Sent>();
  private readonly firstSent = new Map<number, number>();
  private size: number;
  /** Below it the window grows by what is acknowledged (doubling per round trip); above it by one per window. */
  private threshold: number;
  private timeoutMs: number;
  private lastProgressAt: number;
  private lastAckAt: number | null = null;
  private waitingSince: number | null = null;
  private goBacks = 0;

  constructor(opts: AckWindowOptions) {
    const max = Math.max(1, Math.floor(opts.max));
    this.o = {
      max,
      initial: Math.max(1, Math.min(max, opts.initial ?? 16)),
      ackTimeoutMs: opts.ackTimeoutMs,
      maxTimeoutMs: Math.max(opts.ackTimeoutMs, opts.maxTimeoutMs ?? 16 * opts.ackTimeoutMs),
      staleAfterMs: opts.staleAfterMs ?? 4 * opts.ackTimeoutMs,
      now: opts.now,
    };
    this.size = this.o.initial;
    this.threshold = max;
    this.timeoutMs = opts.ackTimeoutMs;
    this.lastProgressAt = opts.now();
  }

  /** True while another batch may be published. */
  canSend(): boolean {
    return this.outstanding.size < Math.floor(this.size);
  }

  /** Whether `seq` is published and waiting. */
  has(seq: number): boolean {
    return this.outstanding.has(seq);
  }

  /** A batch was handed to the broker. */
  sent(seq: number): void {
    const now = this.o.now();
    if (this.outstanding.size === 0) this.lastProgressAt = Math.max(this.lastProgressAt, now);
    // Bounded: entries of batches that left by other ways (dropped by the budget) must not pile up.
    if (this.firstSent.size > 4 * this.o.max) this.firstSent.clear();
    const first = this.firstSent.get(seq) ?? now;
    this.firstSent.set(seq, first);
    this.outstanding.set(seq, { at: now, first });
  }

  /** The broker did not take it (no subscriber, refused, connection lost): no longer outstanding. */
  dropped(seq: number): void {
    this.outstanding.delete(seq);
  }

  /** The cloud acknowledged these ranges; returns how many outstanding batches they settled. */
  acked(ranges: readonly [number, number][]): number {
    const now = this.o.now();
    this.lastAckAt = now;
    let settled = 0;
    for (const [lo, hi] of ranges) {
      // Walk the smaller side: a range may be huge (duplicates of a long history), the window is not.
      if (hi - lo + 1 > this.outstanding.size) {
        for (const s of [...this.outstanding.keys()]) if (s >= lo && s <= hi && this.settle(s)) settled++;
      } else {
        for (let s = lo; s <= hi; s++) if (this.settle(s)) settled++;
      }
      for (const s of [...this.firstSent.keys()]) if (s >= lo && s <= hi) this.firstSent.delete(s);
    }
    if (settled > 0) {
      this.size = Math.min(this.o.max, this.size < this.threshold ? this.size + settled : this.size + settled / Math.max(1, this.size));
      this.timeoutMs = this.o.ackTimeoutMs;
      this.lastProgressAt = now;
      this.waitingSince = null;
    }
    return settled;
  }

  /**
   * Looks at the clock: `goBack` when nothing was acknowledged for the timeout (everything
   * outstanding is forgotten and the window halves), else the batches waiting alone too long.
   */
  check(): { goBack: boolean; stale: number[] } {
    if (this.outstanding.size === 0) return { goBack: false, stale: [] };
    const now = this.o.now();
    const oldest = this.outstanding.values().next().value as Sent;
    if (now - this.lastProgressAt >= this.timeoutMs && now - oldest.at >= this.timeoutMs) {
      this.waitingSince ??= this.lastProgressAt;
      this.size = Math.max(1, this.size / 2);
      this.threshold = Math.max(2, this.size);
      this.timeoutMs = Math.min(this.o.maxTimeoutMs, this.timeoutMs * 2);
      this.goBacks++;
      this.outstanding.clear();
      return { goBack: true, stale: [] };
    }
    const stale: number[] = [];
    for (const [seq, s] of this.outstanding) if (now - s.at >= this.o.staleAfterMs) stale.push(seq);
    return { goBack: false, stale };
  }

  /** A new connection: what was outstanding goes out again from the oldest. */
  reset(): void {
    this.outstanding.clear();
    this.lastProgressAt = this.o.now();
  }

  status(): AckWindowStatus {
    let oldest: AckWindowStatus['oldest'] = null;
    for (const [seq, s] of this.outstanding) if (!oldest || s.first < oldest.since) oldest = { seq, since: s.first };
    return {
      window: Math.floor(this.size),
      outstanding: this.outstanding.size,
      waitingSince: this.waitingSince,
      oldest,
      lastAckAt: this.lastAckAt,
      goBacks: this.goBacks,
    };
  }

  private settle(seq: number): boolean {
    return this.outstanding.delete(seq);
  }
}
