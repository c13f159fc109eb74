/**
 * The outbox → broker pump over a real outbox and a hand-driven link: a PUBACK 0x10 ("no
 * matching subscribers") or a refusal keeps the batch and holds with backoff; with cloud
 * acknowledgement a batch leaves the outbox only on the cloud's word, the window bounds what
 * is published ahead of it (AIMD) and a silent cloud gets the oldest batches again; a delete
 * that fails is tried again.
 */
import Database from 'libsql';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src-main/core/log';
import { plantPseudonym, randomBytes, signingKeyPair } from '../../src-main/protocol';
import { migrate, type StoreDb } from '../../src-main/store/schema';
import { AckWindow } from '../../src-main/uplink/ack-window';
import { Forwarder } from '../../src-main/uplink/forwarder';
import { buildGapNotice } from '../../src-main/uplink/gap';
import { PublishError, type LinkEvents, type MqttLink } from '../../src-main/uplink/mqtt-link';
import { Outbox, type OutboxItem } from '../../src-main/uplink/outbox';

const T0 = 1_767_225_600_000;
const signer = signingKeyPair();
const plant = plantPseudonym(randomBytes(32), 'forwarder-test');
let now = T0;
const clock = { now: () => now };

/** A link whose PUBACKs the test gives, one publish at a time. */
class FakeLink {
  online = true;
  sent: { seq: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private readonly handlers: { [K in keyof LinkEvents]: Set<(p: LinkEvents[K]) => void> } = {
    state: new Set(),
    message: new Set(),
    capacity: new Set(),
  };
  on<K extends keyof LinkEvents>(e: K, h: (p: LinkEvents[K]) => void): () => void {
    this.handlers[e].add(h);
    return () => this.handlers[e].delete(h);
  }
  waitMs(): number {
    return this.online && this.sent.length < 50 ? 0 : Infinity;
  }
  status(): { inflight: number } {
    return { inflight: this.sent.length };
  }
  publish(topic: string, payload: Buffer): Promise<void> {
    const seq = Number(/(\d+)$/.exec(payload.toString('utf8').trim())?.[1] ?? topic.length);
    return new Promise((resolve, reject) => this.sent.push({ seq, resolve, reject }));
  }
  /** Answers the oldest publish (0 = PUBACK 0x00). */
  answer(code = 0): number {
    const p = this.sent.shift()!;
    if (code === 0) p.resolve();
    else if (code === 0x10) p.reject(new PublishError('undelivered', 'no subscriber', 0x10));
    else p.reject(new PublishError('refused', 'Not authorized', code));
    for (const h of this.handlers.capacity) h(undefined);
    return p.seq;
  }
  seqs(): number[] {
    return this.sent.map((p) => p.seq);
  }
}

function item(): OutboxItem {
  return { kind: 'sealed', machine: 'aaaaaaaaaaaaaaaa', from: T0, to: T0, build: (seq) => Buffer.from(`batch ${seq}`) };
}

function setup(mode: 'cloud' | 'broker', over: { cloudWindow?: number; ackTimeoutMs?: number } = {}) {
  const db: StoreDb = new Database(':memory:');
  migrate(db);
  const outbox = new Outbox(db, {
    budgetBytes: 1_000_000,
    clock,
    log: silentLogger,
    gapNotice: (seq, issued, report) => buildGapNotice({ plant, seq, issued, report, signer }),
  });
  const link = new FakeLink();
  const fwd = new Forwarder({
    outbox,
    link: link as unknown as MqttLink,
    topicFor: () => 't',
    log: silentLogger,
    clock,
    acknowledgement: mode,
    cloudWindow: over.cloudWindow ?? 4,
    ackTimeoutMs: over.ackTimeoutMs ?? 1000,
    retry: { initialDelayMs: 100, maxDelayMs: 800, randomisationFactor: 0 },
    random: () => 0.5,
    ackFlushMs: 0,
  });
  return { db, outbox, link, fwd };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

beforeEach(() => {
  vi.useFakeTimers();
  now = T0;
});
afterEach(() => vi.useRealTimers());

describe('forwarder: what the broker says', () => {
  it('keeps a batch the broker delivered to nobody (0x10), holds with backoff, and publishes it again first', async () => {
    const { outbox, link, fwd } = setup('broker');
    outbox.append([item(), item(), item()]);
    fwd.pump();
    expect(link.seqs()).toEqual([1, 2, 3]);
    link.answer(0);
    link.answer(0x10);
    link.answer(0x10);
    await flush();
    vi.advanceTimersByTime(1);
    // 1 was delivered and leaves; 2 and 3 stay, and the status says why, until the retry.
    expect(outbox.after(0, 10).map((r) => r.seq)).toEqual([2, 3]);
    const hold = fwd.holding()!;
    expect(hold).toMatchObject({ kind: 'undelivered', reasonCode: 0x10, attempts: 1, until: T0 + 100 });
    expect(hold.detail).toMatch(/no subscriber.*0x10/);
    expect(fwd.undelivered).toBe(2);
    outbox.append([item()]);
    expect(link.seqs()).toEqual([]);
    now += 100;
    vi.advanceTimersByTime(100);
    expect(link.seqs()).toEqual([2, 3, 4]);
    while (link.sent.length) link.answer(0);
    await flush();
    vi.advanceTimersByTime(1);
    expect(fwd.holding()).toBeNull();
    expect(outbox.stats().depth).toBe(0);
  });

  it('treats a refusal (≥ 0x80) the same way: kept, held, named', async () => {
    const { outbox, link, fwd } = setup('broker');
    outbox.append([item()]);
    fwd.pump();
    link.answer(0x87);
    await flush();
    expect(fwd.holding()).toMatchObject({ kind: 'refused', reasonCode: 0x87 });
    expect(fwd.holding()!.detail).toMatch(/ACL/);
    expect(outbox.stats().depth).toBe(1);
    expect(fwd.refusedByBroker).toBe(1);
  });
});

describe('forwarder: the cloud acknowledges', () => {
  it('deletes a batch only on the cloud acknowledgement, never publishing more than the window ahead of it', async () => {
    const { outbox, link, fwd } = setup('cloud', { cloudWindow: 4 });
    outbox.append(Array.from({ length: 10 }, item));
    fwd.pump();
    // The window starts at min(16, 4): four batches out, no more until the cloud answers.
    expect(link.seqs()).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 4; i++) link.answer(0);
    await flush();
    vi.advanceTimersByTime(1);
    expect(outbox.stats().depth).toBe(10);
    expect(link.seqs()).toEqual([]);
    fwd.cloudAck({ v: 1, type: 'ack', plant, seqs: [[1, 2]], high: 2, issued: now });
    vi.advanceTimersByTime(1);
    expect(outbox.after(0, 20).map((r) => r.seq)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(outbox.stats().lastAckSeq).toBe(2);
    expect(link.seqs()).toEqual([5, 6]);
    expect(fwd.cloudHigh).toBe(2);
    expect(fwd.cloudAhead).toBeNull();
    // The cloud's echo beyond the plant's own numbers: the data directory went back in time.
    fwd.cloudAck({ v: 1, type: 'ack', plant, seqs: [[3, 3]], high: 100, issued: now });
    expect(fwd.cloudAhead).toEqual({ high: 100, lastSeq: 10, since: T0 });
  });

  it('publishes again from the oldest when the cloud is silent, with half the window and a longer wait each time', async () => {
    const { outbox, link, fwd } = setup('cloud', { cloudWindow: 4, ackTimeoutMs: 1000 });
    outbox.append(Array.from({ length: 6 }, item));
    fwd.pump();
    while (link.sent.length) link.answer(0);
    await flush();
    now += 1000;
    vi.advanceTimersByTime(1000);
    // Window halved (4 → 2): the two oldest again.
    expect(link.seqs()).toEqual([1, 2]);
    expect(fwd.windowStatus()).toMatchObject({ window: 2, goBacks: 1, waitingSince: T0 });
    while (link.sent.length) link.answer(0);
    await flush();
    now += 1000;
    vi.advanceTimersByTime(1000);
    expect(link.seqs()).toEqual([]);
    now += 1000;
    vi.advanceTimersByTime(1000);
    expect(link.seqs()).toEqual([1]);
    expect(fwd.windowStatus()).toMatchObject({ window: 1, goBacks: 2 });
    link.answer(0);
    await flush();
    fwd.cloudAck({ v: 1, type: 'ack', plant, seqs: [[1, 6]], high: 6, issued: now });
    vi.advanceTimersByTime(1);
    expect(outbox.stats().depth).toBe(0);
    expect(fwd.windowStatus().waitingSince).toBeNull();
  });

  it('tries a delete again when the store cannot write', async () => {
    const { db, outbox, link, fwd } = setup('broker');
    outbox.append([item()]);
    fwd.pump();
    db.exec('PRAGMA query_only = ON');
    link.answer(0);
    await flush();
    vi.advanceTimersByTime(1);
    expect(fwd.deleteFailures).toBe(1);
    expect(outbox.stats().depth).toBe(1);
    db.exec('PRAGMA query_only = OFF');
    vi.advanceTimersByTime(600);
    expect(fwd.deleteFailures).toBe(0);
    expect(outbox.stats().depth).toBe(0);
  });
});

describe('ack window (AIMD over the cloud acknowledgements)', () => {
  it('grows by about one batch per window acknowledged, up to its ceiling', () => {
    const w = new AckWindow({ max: 6, initial: 2, ackTimeoutMs: 1000, now: clock.now });
    let seq = 0;
    for (let round = 0; round < 20; round++) {
      const sent: number[] = [];
      while (w.canSend()) {
        w.sent(++seq);
        sent.push(seq);
      }
      w.acked([[sent[0]!, sent[sent.length - 1]!]]);
    }
    expect(w.status().window).toBe(6);
  });

  it('publishes a single batch again when the cloud leaves it alone while acknowledging the others', () => {
    const w = new AckWindow({ max: 4, ackTimeoutMs: 1000, staleAfterMs: 3000, now: clock.now });
    w.sent(1);
    w.sent(2);
    now += 3000;
    w.acked([[2, 2]]);
    expect(w.check()).toEqual({ goBack: false, stale: [1] });
    expect(w.status().oldest).toEqual({ seq: 1, since: T0 });
  });
});
