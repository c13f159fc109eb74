/** Plant key rotation in the store: the key swap, the announcement's place in the outbox, the handover signer. */
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { parseGrace } from '../../src-main/app/keys-cli';
import { ConsoleError } from '../../src-main/core/errors';
import { silentLogger } from '../../src-main/core/log';
import { applyPlantKeysAnnouncement, createKeyRing, plantPseudonym, randomBytes } from '../../src-main/protocol';
import { ensurePlantIdentity } from '../../src-main/store/identity';
import { migrate, type StoreDb } from '../../src-main/store/schema';
import { buildGapNotice } from '../../src-main/uplink/gap';
import { Outbox, type OutboxItem } from '../../src-main/uplink/outbox';
import { ANNOUNCEMENT_SEQ_FLOOR, handoverSigner, rotatePlantSigningKey, signingPublicKeys } from '../../src-main/uplink/plant-keys';

const T0 = 1_767_225_600_000;
const plant = plantPseudonym(randomBytes(32), 'rotation-unit-plant');

function world(): { db: StoreDb; outbox: Outbox } {
  const db = new Database(':memory:');
  migrate(db);
  ensurePlantIdentity(db, { log: silentLogger, clock: { now: () => T0 } }).forget();
  const outbox = new Outbox(db, {
    budgetBytes: 1_000_000,
    clock: { now: () => T0 },
    log: silentLogger,
    gapNotice: (seq, issued, report) =>
      buildGapNotice({ plant, seq, issued, report, signer: ensurePlantIdentity(db, { log: silentLogger }).signing }),
  });
  return { db, outbox };
}

const batch: OutboxItem = {
  kind: 'sealed',
  machine: 'aaaaaaaaaaaaaaaa',
  from: T0,
  to: T0 + 999,
  build: (seq) => Buffer.from(`sealed:${seq}`),
};

describe('keys rotate in the store', () => {
  it('swaps the current key, queues the announcement ahead of every batch without taking a sequence number', () => {
    const { db, outbox } = world();
    const first = ensurePlantIdentity(db, { log: silentLogger });
    const oldKid = first.signing.kid;
    const oldPk = Buffer.from(first.signing.publicKey);
    first.forget();
    expect(outbox.append([batch, batch]).seqs).toEqual([1, 2]);

    const r = rotatePlantSigningKey(db, { plant, now: T0 + 1000, graceMs: 3_600_000 });
    expect(r.previous.keyId).toBe(oldKid);
    expect(r.outboxSeq).toBe(ANNOUNCEMENT_SEQ_FLOOR + 1);
    expect(r.graceUntil).toBe(T0 + 1000 + 3_600_000);
    const now = ensurePlantIdentity(db, { log: silentLogger });
    expect(now.signing.kid).toBe(r.next.keyId);
    now.forget();
    expect(signingPublicKeys(db).map((k) => [k.keyId, k.status])).toEqual([
      [oldKid, 'retired'],
      [r.next.keyId, 'current'],
    ]);

    // The outbox a fresh Outbox sees (a restart): the announcement first, then the batches; the plant's numbering goes on at 3.
    const reopened = new Outbox(db, { budgetBytes: 1_000_000, clock: { now: () => T0 }, log: silentLogger, gapNotice: () => '' });
    expect(reopened.after(ANNOUNCEMENT_SEQ_FLOOR, 10).map((row) => [row.seq, row.kind])).toEqual([
      [r.outboxSeq, 'keys'],
      [1, 'sealed'],
      [2, 'sealed'],
    ]);
    expect(reopened.append([batch]).seqs).toEqual([3]);
    expect(reopened.announcementPending()).toBe(true);

    // The cloud, knowing the old key as current, applies it: verified with the old key.
    const applied = applyPlantKeysAnnouncement(createKeyRing(oldKid, oldPk), r.announcement, { plant, now: T0 + 2000 });
    expect(applied.ok && applied.ring.current).toBe(r.next.keyId);

    // Until its PUBACK the old key signs state messages; acknowledging it touches no sequence counter.
    expect(handoverSigner(db)?.kid).toBe(oldKid);
    expect(reopened.remove([r.outboxSeq])).toBe(1);
    expect(reopened.stats().lastAckSeq).toBeNull();
    expect(reopened.announcementPending()).toBe(false);
    expect(handoverSigner(db)).toBeNull();
  });

  it('two rotations before the next connection go out in order, each signed by the key before it', () => {
    const { db, outbox } = world();
    const a = rotatePlantSigningKey(db, { plant, now: T0 + 1, graceMs: 60_000 });
    const b = rotatePlantSigningKey(db, { plant, now: T0 + 2, graceMs: 60_000 });
    expect(b.previous.keyId).toBe(a.next.keyId);
    expect(outbox.after(ANNOUNCEMENT_SEQ_FLOOR, 10).map((row) => JSON.parse(row.bytes.toString('utf8')) as { kid: string })).toEqual([
      expect.objectContaining({ kid: a.previous.keyId }),
      expect.objectContaining({ kid: b.previous.keyId }),
    ]);
    // The handover key is the one the cloud knows before either announcement.
    expect(handoverSigner(db)?.kid).toBe(a.previous.keyId);
  });

  it('parses --grace durations and refuses nonsense', () => {
    expect(parseGrace('7d')).toBe(7 * 86_400_000);
    expect(parseGrace('90m')).toBe(90 * 60_000);
    for (const bad of ['', '7', '10s', '400d', '-1h', '1w']) expect(() => parseGrace(bad)).toThrow(ConsoleError);
  });
});
