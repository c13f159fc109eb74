import { describe, expect, it } from 'vitest';
import {
  announceCloudKey,
  announcePlantKeys,
  announcementJson,
  applyCloudKeyAnnouncement,
  applyPlantKeysAnnouncement,
  boxKeyPair,
  canonicalJson,
  cloudKeyLookup,
  createKeyRing,
  currentEntry,
  keyRingFromJson,
  keyRingToJson,
  openPlain,
  openSealed,
  plantKeyLookup,
  pruneKeyRing,
  rotateKeyRing,
  sealBatch,
  signJson,
  signingKeyPair,
  buildPlainBatch,
  type KeyRing,
} from '../../src-main/protocol';
import { T0, makeUplinkWorld } from '../helpers/uplink-fixture';

const HOUR = 3_600_000;
const reason = (r: { ok: boolean; reason?: string }) => (r.ok ? 'accepted' : r.reason);

describe('cloud key rotation (announced by the supplier)', () => {
  function setup() {
    const w = makeUplinkWorld();
    const supplier = signingKeyPair();
    const pinned = new Map([[supplier.kid, { publicKey: supplier.publicKey }]]);
    const next = boxKeyPair();
    const graceUntil = T0 + 24 * HOUR;
    const announcement = announceCloudKey({ cloudPublicKey: next.publicKey, issued: T0 + HOUR, graceUntil, supplier });
    // Plant side: its ring of cloud public keys. Cloud side: its own secret ring.
    const plantRing: KeyRing<Uint8Array> = createKeyRing(w.cloudKey.kid, w.cloudKey.publicKey);
    const cloudRing = rotateKeyRing(
      createKeyRing(w.cloudKey.kid, { publicKey: w.cloudKey.publicKey, secretKey: w.cloudKey.secretKey }),
      next.kid,
      next,
      graceUntil,
      T0 + HOUR,
    );
    return { w, supplier, pinned, next, graceUntil, announcement, plantRing, cloudRing };
  }

  it('the plant seals to the new key from its next batch', () => {
    const { w, pinned, next, announcement, plantRing } = setup();
    const r = applyCloudKeyAnnouncement(plantRing, announcementJson(announcement), { supplierKeys: pinned, now: T0 + HOUR });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.ring.current).toBe(next.kid);
    const env = sealBatch(w.input({ cloudPublicKey: currentEntry(r.ring).key }));
    expect(env.subarray(32, 40).toString('hex')).toBe(next.kid);
  });

  it('the cloud opens batches sealed to the old key during the grace period, refuses them after', () => {
    const { w, next, graceUntil, cloudRing } = setup();
    const oldBatch = sealBatch(w.input()); // built before the plant learnt of the new key (outbox)
    const newBatch = sealBatch(w.input({ cloudPublicKey: next.publicKey }));
    const opts = (now: number) => w.options({ cloudSecretKeys: cloudKeyLookup(cloudRing), now });
    expect(openSealed(oldBatch, opts(graceUntil)).ok).toBe(true);
    expect(openSealed(newBatch, opts(graceUntil)).ok).toBe(true);
    expect(reason(openSealed(oldBatch, opts(graceUntil + 1)))).toBe('unknown_key_id');
    expect(openSealed(newBatch, opts(graceUntil + 1)).ok).toBe(true);
    // Pruning after the grace forgets the old secret altogether.
    expect(pruneKeyRing(cloudRing, graceUntil + 1).entries.map((e) => e.kid)).toEqual([next.kid]);
  });

  it('refuses forged, edited, stale and malformed announcements', () => {
    const { supplier, pinned, next, announcement, plantRing, graceUntil } = setup();
    const apply = (doc: unknown, ring = plantRing) =>
      applyCloudKeyAnnouncement(ring, canonicalJson(doc), { supplierKeys: pinned, now: T0 + HOUR });
    const impostor = signingKeyPair();
    const body = { v: 1, type: 'cloud-key', issued: T0 + HOUR, key: announcement.key, graceUntil };
    expect(reason(apply(signJson('plant-console/cloud-key/v1', body, { ...impostor, kid: supplier.kid })))).toBe('bad_signature');
    expect(reason(apply(signJson('plant-console/cloud-key/v1', body, impostor)))).toBe('unknown_key_id');
    const attacker = boxKeyPair();
    expect(reason(apply({ ...announcement, key: { kid: attacker.kid, publicKey: attacker.publicKey.toString('hex') } }))).toBe(
      'bad_signature',
    );
    expect(reason(apply({ ...announcement, graceUntil: graceUntil + 1 }))).toBe('bad_signature');
    expect(reason(apply({ ...announcement, key: { ...announcement.key, kid: attacker.kid } }))).toBe('malformed');
    // Signed with the plant-keys label: not a cloud-key signature.
    expect(reason(apply({ ...signJson('plant-console/plant-keys/v1', body, supplier) }))).toBe('bad_signature');
    expect(reason(apply({ ...announcement, v: 2 }))).toBe('unsupported_version');
    expect(reason(applyCloudKeyAnnouncement(plantRing, 'not json', { supplierKeys: pinned, now: T0 }))).toBe('malformed');
    const applied = apply(announcement);
    expect(applied.ok).toBe(true);
    if (!applied.ok) return;
    expect(reason(apply(announcement, applied.ring))).toBe('duplicate_sequence');
    const older = announceCloudKey({ cloudPublicKey: boxKeyPair().publicKey, issued: T0, graceUntil, supplier });
    expect(reason(apply(older, applied.ring))).toBe('replay');
    expect(applied.ring.current).toBe(next.kid);
  });

  it('a retired supplier key can no longer announce', () => {
    const { supplier, announcement, plantRing } = setup();
    const retired = new Map([[supplier.kid, { publicKey: supplier.publicKey, notAfter: T0 }]]);
    expect(reason(applyCloudKeyAnnouncement(plantRing, announcement, { supplierKeys: retired, now: T0 + HOUR }))).toBe('unknown_key_id');
  });
});

describe('plant key rotation (announced with the old key)', () => {
  function setup() {
    const w = makeUplinkWorld();
    const nextSign = signingKeyPair();
    const nextBox = boxKeyPair();
    const graceUntil = T0 + 2 * HOUR;
    const announcement = announcePlantKeys({
      plant: w.plant,
      issued: T0 + HOUR,
      graceUntil,
      oldSigner: w.plantKey,
      nextSigningPublicKey: nextSign.publicKey,
      nextBoxPublicKey: nextBox.publicKey,
    });
    const ring: KeyRing<Uint8Array> = createKeyRing(w.plantKey.kid, w.plantKey.publicKey);
    return { w, nextSign, nextBox, graceUntil, announcement, ring };
  }

  it('the cloud accepts the new key at once and the old one until the grace ends', () => {
    const { w, nextSign, nextBox, graceUntil, announcement, ring } = setup();
    const r = applyPlantKeysAnnouncement(ring, announcementJson(announcement), { plant: w.plant, now: T0 + HOUR });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.ring.current).toBe(nextSign.kid);
    expect(r.box?.kid).toBe(nextBox.kid);
    const lookup = plantKeyLookup([{ plant: w.plant, plantId: w.plantId, ring: r.ring }]);
    const byOld = sealBatch(w.input({ seq: 7n }));
    const byNew = sealBatch(w.input({ seq: 8n, signer: nextSign }));
    const opts = (now: number) => w.options({ plantPublicKeys: lookup, now });
    expect(openSealed(byOld, opts(graceUntil)).ok).toBe(true);
    expect(openSealed(byNew, opts(graceUntil)).ok).toBe(true);
    expect(reason(openSealed(byOld, opts(graceUntil + 1)))).toBe('unknown_key_id');
    expect(openSealed(byNew, opts(graceUntil + 1)).ok).toBe(true);
    const plain = buildPlainBatch({ plant: w.plant, machine: w.machine, seq: 9n, from: T0, to: T0, points: {}, signer: w.plantKey });
    expect(reason(openPlain(plain.json, { plantPublicKeys: lookup, lastSequence: () => 8n, now: graceUntil + 1 }))).toBe('unknown_key_id');
  });

  it("refuses announcements not signed by the plant's current key, or for another plant", () => {
    const { w, nextSign, announcement, ring, graceUntil } = setup();
    const apply = (doc: unknown, r = ring, plant = w.plant) => applyPlantKeysAnnouncement(r, canonicalJson(doc), { plant, now: T0 + HOUR });
    // Signed by the new key instead of the old: the new key is not (yet) the plant's.
    const selfSigned = announcePlantKeys({
      plant: w.plant,
      issued: T0 + HOUR,
      graceUntil,
      oldSigner: nextSign,
      nextSigningPublicKey: nextSign.publicKey,
    });
    expect(reason(apply(selfSigned))).toBe('unknown_key_id');
    // Someone else's key under the plant's key id.
    const forged = announcePlantKeys({
      plant: w.plant,
      issued: T0 + HOUR,
      graceUntil,
      oldSigner: { ...signingKeyPair(), kid: w.plantKey.kid },
      nextSigningPublicKey: nextSign.publicKey,
    });
    expect(reason(apply(forged))).toBe('bad_signature');
    expect(reason(apply({ ...announcement, graceUntil: graceUntil * 2 }))).toBe('bad_signature');
    expect(reason(apply(announcement, ring, makeUplinkWorld('plant-beta').plant))).toBe('wrong_plant');
    // After rotating, the old key (still in its grace) cannot hand over again.
    const applied = apply(announcement);
    expect(applied.ok).toBe(true);
    if (!applied.ok) return;
    const again = announcePlantKeys({
      plant: w.plant,
      issued: T0 + 2 * HOUR,
      graceUntil,
      oldSigner: w.plantKey,
      nextSigningPublicKey: signingKeyPair().publicKey,
    });
    expect(reason(apply(again, applied.ring))).toBe('unknown_key_id');
    expect(reason(apply(announcement, applied.ring))).toBe('unknown_key_id');
  });

  it('refuses a replayed announcement and keeps the ring as JSON', () => {
    const { w, nextSign, announcement, ring, graceUntil } = setup();
    const r1 = applyPlantKeysAnnouncement(ring, announcement, { plant: w.plant, now: T0 + HOUR });
    expect(r1.ok).toBe(true);
    if (!r1.ok) return;
    const later = announcePlantKeys({
      plant: w.plant,
      issued: T0,
      graceUntil,
      oldSigner: nextSign,
      nextSigningPublicKey: signingKeyPair().publicKey,
    });
    expect(reason(applyPlantKeysAnnouncement(r1.ring, later, { plant: w.plant, now: T0 + HOUR }))).toBe('replay');
    const json = JSON.parse(JSON.stringify(keyRingToJson(r1.ring))) as ReturnType<typeof keyRingToJson>;
    const back = keyRingFromJson(json)!;
    expect(back.current).toBe(nextSign.kid);
    expect(back.entries.map((e) => [e.kid, Buffer.from(e.key).toString('hex'), e.notAfter])).toEqual(
      r1.ring.entries.map((e) => [e.kid, Buffer.from(e.key).toString('hex'), e.notAfter]),
    );
    expect(keyRingFromJson({ ...json, current: '0000000000000000' })).toBeNull();
  });
});
