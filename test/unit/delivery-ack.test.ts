/**
 * Delivery acknowledgements and the reference cloud's store: the wire text of an ack (the test
 * vector of docs/uplink.md §18) and its checks; the receiver acknowledges what it stored or held
 * already, never what it refused; a sequence far ahead is refused (it no longer turns every later
 * genuine batch into a replay) until the operator lets it in; a gap notice explains its own jump;
 * retention deletes old batches without calling them missing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AUDIT_HEAD_SIGNATURE_LABEL,
  boxKeyPair,
  buildAck,
  buildPlainBatch,
  createKeyRing,
  machinePseudonym,
  parseAck,
  plantPseudonym,
  headMessage,
  plantTopics,
  randomBytes,
  sealAuditHead,
  signDetached,
  signingKeyPair,
} from '../../src-main/protocol';
import { buildGapNotice } from '../../src-main/uplink/gap';
import { createInbox } from '../../supplier-cloud/inbox';
import { openCloudStore } from '../../supplier-cloud/store';

const T0 = 1_767_225_600_000;
const dir = mkdtempSync(join(tmpdir(), 'pc-ack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('acknowledgement (docs/uplink.md §18)', () => {
  it('is the documented wire text, and is checked before the plant uses it', () => {
    const text = buildAck({
      plant: 'zu3qt2odf2ebwxxn',
      seqs: [
        [41, 43],
        [45, 45],
      ],
      high: 45,
      issued: 1767225603999,
    });
    expect(text).toBe('{"high":45,"issued":1767225603999,"plant":"zu3qt2odf2ebwxxn","seqs":[[41,43],[45,45]],"type":"ack","v":1}');
    expect(readFileSync(join(import.meta.dirname, '../../docs/uplink.md'), 'utf8')).toContain(text);
    expect(parseAck(Buffer.from(text), 'zu3qt2odf2ebwxxn')).toMatchObject({ ok: true, ack: { high: 45 } });
    expect(parseAck(Buffer.from(text), 'aaaaaaaaaaaaaaaa')).toMatchObject({ ok: false, detail: expect.stringMatching(/for plant zu3q/) });
    const backwards = text.replace('[41,43]', '[43,41]');
    expect(parseAck(Buffer.from(backwards), 'zu3qt2odf2ebwxxn')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/end before it starts/),
    });
    expect(parseAck(Buffer.from(text.replace('"v":1', '"v":1,"x":1')), 'zu3qt2odf2ebwxxn').ok).toBe(false);
    expect(parseAck(Buffer.from('[]'), 'zu3qt2odf2ebwxxn').ok).toBe(false);
  });
});

describe('reference cloud: what it acknowledges, and sequences far ahead', () => {
  const plantKey = signingKeyPair();
  const pseudonymKey = randomBytes(32);
  const plant = plantPseudonym(pseudonymKey, 'plant-ack');
  const machine = machinePseudonym(pseudonymKey, 'm1');
  const cloud = boxKeyPair();
  const batch = (seq: number): Buffer =>
    Buffer.from(
      buildPlainBatch({
        plant,
        machine,
        seq: BigInt(seq),
        from: T0,
        to: T0,
        points: { e: { unit: 'kWh', samples: [[T0, 1]] } },
        signer: plantKey,
      }).json,
    );
  const topic = `pc/v1/${plant}/up/plain/${machine}`;

  function inbox(name: string, maxSequenceJump = 1000) {
    const store = openCloudStore(join(dir, `${name}.db`), { receiver: 'test', now: () => T0, maxSequenceJump });
    store.registerPlants([{ pseudonym: plant, id: 'plant-ack' }]);
    const settled: number[] = [];
    const ib = createInbox({
      receiver: 'test',
      store,
      cloudKeys: {
        lookup: () => new Map([[cloud.kid, { publicKey: cloud.publicKey, secretKey: cloud.secretKey }]]),
        refresh: () => false,
        kids: () => [cloud.kid],
        close: () => {},
      },
      plants: [{ id: 'plant-ack', pseudonym: plant, ring: createKeyRing(plantKey.kid, plantKey.publicKey) }],
      now: () => T0,
      reorderWindow: 100,
      announcementWaitMs: 0,
      onSettled: (p, seq) => p === plant && settled.push(seq),
    });
    return { store, ib, settled };
  }

  it('acknowledges stored batches and redeliveries, not refusals; refuses a jump until the operator allows it', async () => {
    const { store, ib, settled } = inbox('jump');
    for (const seq of [1, 2, 3]) await ib.handle(topic, batch(seq));
    await ib.handle(topic, batch(2));
    expect(settled).toEqual([1, 2, 3, 2]);
    // A forged or buggy sequence far ahead: refused, not stored, not acknowledged.
    const [far] = await ib.handle(topic, batch(2 ** 53 - 1));
    expect(far).toMatchObject({ event: 'refuse', reason: 'sequence_jump' });
    expect((far as { detail: string }).detail).toMatch(/accept-jump --config FILE --plant .* --through 9007199254740991/);
    const [plus] = await ib.handle(topic, batch(3 + 1_000_000));
    expect(plus).toMatchObject({ reason: 'sequence_jump' });
    // Later genuine batches are still new, not replays.
    expect((await ib.handle(topic, batch(4)))[0]).toMatchObject({ event: 'accept', seq: 4 });
    expect(settled).toEqual([1, 2, 3, 2, 4]);
    expect(store.highest(plant)).toBe(4);
    // An audit head far ahead is refused the same way, before the witness keeps it.
    const head = { seq: 7, hash: 'ab'.repeat(32), signedAt: T0, kid: plantKey.kid };
    const sig = signDetached(AUDIT_HEAD_SIGNATURE_LABEL, headMessage(head), plantKey.secretKey).toString('hex');
    const sealedHead = (seq: number) =>
      Buffer.from(sealAuditHead({ v: 1, plant, seq, head: { ...head, sig } }, { plant: plantKey, cloudBox: cloud }));
    const [farHead] = await ib.handle(plantTopics(plant).audit, sealedHead(4 + 1_000_000));
    expect(farHead).toMatchObject({ event: 'refuse', reason: 'sequence_jump' });
    expect(store.audit.heads(plant)).toHaveLength(0);
    expect((await ib.handle(plantTopics(plant).audit, sealedHead(5)))[0]).toMatchObject({ event: 'audit-head' });
    expect(settled).toEqual([1, 2, 3, 2, 4, 5]);
    // The operator's answer to a genuine jump.
    expect(store.allowJump(plant, 5000)).toBe(true);
    expect((await ib.handle(topic, batch(5000)))[0]).toMatchObject({ event: 'accept', seq: 5000 });
    store.close();
  });

  it('takes a gap notice that declares a skipped range, and the batches after it', async () => {
    const { store, ib } = inbox('notice');
    await ib.handle(topic, batch(1));
    const notice = buildGapNotice({
      plant,
      seq: 50_000,
      issued: T0,
      report: {
        dropped: { batches: 49_998, seqs: [[2, 49_999]] },
        notRecorded: { sealed: 0, plain: 0 },
        totals: { dropped: 49_998, notRecorded: 0 },
      },
      signer: plantKey,
    });
    expect((await ib.handle(`pc/v1/${plant}/up/gap`, Buffer.from(notice)))[0]).toMatchObject({ event: 'gap-notice', seq: 50_000 });
    expect((await ib.handle(topic, batch(50_001)))[0]).toMatchObject({ event: 'accept', seq: 50_001 });
    expect(store.status().plants[0]).toMatchObject({ missing: 49_998, gaps: [{ from: 2, to: 49_999, declaredLost: true }] });
    store.close();
  });

  it('deletes what is older than its retention, without calling it missing, and remembers what it held', async () => {
    let now = T0;
    const store = openCloudStore(join(dir, 'retention.db'), { receiver: 'test', now: () => now, maxSequenceJump: 5 });
    store.registerPlants([{ pseudonym: plant, id: 'plant-ack' }]);
    const stored = (seq: number) =>
      store.accept({
        plant,
        seq,
        kind: 'plain',
        machine,
        from: T0,
        to: T0,
        signingKid: plantKey.kid,
        points: 1,
        samples: 1,
        payload: '{}',
      });
    for (let seq = 1; seq <= 10; seq++) stored(seq);
    now += 3_600_000;
    for (let seq = 11; seq <= 12; seq++) stored(seq);
    expect(store.prune(now - 1000)).toBe(10);
    expect(store.batchCount(plant)).toBe(2);
    expect(store.status().plants[0]).toMatchObject({ firstSeq: 11, missing: 0 });
    // A quiet plant whose every batch was deleted: its next sequence is no jump, an old one no new batch.
    now += 3_600_000;
    expect(store.prune(now - 1000)).toBe(2);
    expect(stored(14)).toMatchObject({ stored: true });
    expect(store.classify(plant, 12n, 100)).toBe('replay');
    expect(store.classify(plant, 13n, 100)).toBe('new');
    store.close();
  });
});
