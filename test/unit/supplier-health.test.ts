/**
 * The reference cloud's side of module health events (pc/v1/<plant>/up/health): each takes one
 * of the plant's sequence numbers, so the cloud records it beside the batches (no false gap),
 * refuses replays and foreign signatures, and a file made before these kinds existed is
 * migrated with its rows kept.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';
import { boxKeyPair, keyId, plantPseudonym, sealHealthEvent, signingKeyPair, type HealthEventBody } from '../../src-main/protocol';
import { handleHealthEvent } from '../../supplier-cloud/health-inbox';
import { openCloudStore } from '../../supplier-cloud/store';

const dir = mkdtempSync(join(tmpdir(), 'pc-cloud-health-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const plantKey = signingKeyPair();
const cloud = boxKeyPair();
const cloudKid = keyId(cloud.publicKey, 'x25519');
const plant = plantPseudonym(Buffer.alloc(32, 3), 'plant-h');
const NOW = Date.UTC(2026, 10, 26, 8, 0);

function event(seq: number, signer = plantKey): Uint8Array {
  const body: HealthEventBody = {
    v: 1,
    plant,
    machine: '',
    module: 'mod-1',
    seq,
    kind: 'tamper',
    at: NOW,
    active: true,
    message: 'Enclosure opened',
  };
  return sealHealthEvent(body, { plant: signer, cloudBox: { kid: cloudKid, publicKey: cloud.publicKey } });
}

function deps(store: ReturnType<typeof openCloudStore>) {
  return {
    plant,
    store,
    now: NOW,
    plantPublicKeys: new Map([[plantKey.kid, { publicKey: plantKey.publicKey, plant, notAfter: null }]]),
    cloudKeys: new Map([[cloudKid, { publicKey: cloud.publicKey, secretKey: cloud.secretKey, notAfter: null }]]),
    reorderWindow: 100,
  };
}

describe('module health events at the reference cloud', () => {
  it(
    'records the sequence beside the batches: no gap, a redelivery is repeated, a replay and a foreign key are refused',
    { timeout: 30_000 },
    () => {
      const store = openCloudStore(join(dir, 'a.db'), { receiver: 'test', now: () => NOW });
      store.registerPlants([{ pseudonym: plant, id: 'plant-h' }]);
      for (const seq of [1, 2, 3]) {
        const o = handleHealthEvent(event(seq), deps(store));
        expect(o).toMatchObject({ ok: true, repeated: false, body: { seq, kind: 'tamper', module: 'mod-1' } });
      }
      expect(handleHealthEvent(event(2), deps(store))).toMatchObject({ ok: true, repeated: true });
      const status = store.status().plants.find((p) => p.plant === plant);
      expect(status?.missing).toBe(0);
      for (let seq = 4; seq <= 300; seq++) handleHealthEvent(event(seq), deps(store));
      expect(handleHealthEvent(event(5, plantKey), deps(store))).toMatchObject({ ok: true, repeated: true });
      expect(handleHealthEvent(event(150 - 100, plantKey), deps(store))).toMatchObject({ ok: true, repeated: true });
      expect(handleHealthEvent(event(301, signingKeyPair()), deps(store))).toMatchObject({ ok: false, reason: 'unknown_key_id' });
    },
  );

  it('refuses a sequence below the reorder window that it never saw', () => {
    const store = openCloudStore(join(dir, 'b.db'), { receiver: 'test', now: () => NOW });
    expect(handleHealthEvent(event(500), deps(store))).toMatchObject({ ok: true, repeated: false });
    expect(handleHealthEvent(event(10), deps(store))).toMatchObject({ ok: false, reason: 'replay' });
  });

  it('migrates a receiver file made before these kinds existed, keeping its batches', () => {
    const path = join(dir, 'old.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE batches (
      plant TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('sealed', 'plain', 'gap-notice')),
      machine TEXT NOT NULL, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL, signing_kid TEXT NOT NULL, encryption_kid TEXT,
      points INTEGER NOT NULL, samples INTEGER NOT NULL, payload TEXT NOT NULL, received_at INTEGER NOT NULL, receiver TEXT NOT NULL,
      PRIMARY KEY (plant, seq)) STRICT, WITHOUT ROWID`);
    old
      .prepare('INSERT INTO batches VALUES (?, 1, ?, ?, 0, 0, ?, NULL, 1, 1, ?, 0, ?)')
      .run([plant, 'sealed', 'm', plantKey.kid, '{}', 'old']);
    old.close();
    const store = openCloudStore(path, { receiver: 'test', now: () => NOW });
    store.registerPlants([{ pseudonym: plant, id: 'plant-h' }]);
    expect(store.batchCount(plant)).toBe(1);
    expect(handleHealthEvent(event(2), deps(store))).toMatchObject({ ok: true, repeated: false });
    expect(store.status().plants.find((p) => p.plant === plant)?.missing).toBe(0);
  });
});
