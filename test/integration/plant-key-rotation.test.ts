/**
 * `plant-console keys rotate` on the demo plant, end to end: the plant runs and its demo cloud
 * knows it by its first key; the console stops; `keys rotate` retires that key and queues the
 * announcement signed by it; at the next start the announcement goes out ahead of every batch,
 * the cloud verifies it against the old key and from then on accepts batches signed by the new
 * one, with nothing refused and no gap in the sequence.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';
import { openCloudStore } from '../../supplier-cloud';
import { runKeysCommand, type KeysRotateReport, type KeysShowReport } from '../../src-main/app/keys-cli';
import { startPlant, type RunningPlant } from '../../src-main/app/bootstrap';
import { memoryLogger, silentLogger } from '../../src-main/core/log';
import { PLANT_KEYS_LABEL, verifySignedJson, type KeyRing } from '../../src-main/protocol';
import { openPlantStore } from '../../src-main/store/open';
import { waitUntil } from '../helpers/uplink-cloud';

const dir = mkdtempSync(join(tmpdir(), 'pc-key-rotation-'));
const cloudDb = join(dir, 'demo-cloud', 'cloud.db');
let plant: RunningPlant | null = null;

afterAll(async () => {
  await plant?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Batches the demo cloud stored, per signing key id (read beside the running receiver). */
function storedBySigningKey(): Map<string, number> {
  const db = new Database(cloudDb, { readonly: true });
  try {
    const rows = db.prepare('SELECT signing_kid, count(*) FROM batches GROUP BY signing_kid').raw().all() as [string, number][];
    return new Map(rows.map(([kid, n]) => [kid, Number(n)]));
  } finally {
    db.close();
  }
}

async function keys(args: string[]): Promise<string> {
  let out = '';
  const code = await runKeysCommand(args, { out: (s) => void (out += s), err: () => {} }, { env: {}, prompt: null, log: silentLogger });
  expect(code).toBe(0);
  return out;
}

describe('plant key rotation', () => {
  it('the cloud verifies the announcement with the old key, then accepts batches signed by the new one', async () => {
    const log1 = memoryLogger();
    plant = await startPlant({ dataDir: dir, log: log1 });
    const oldKid = plant.store.identity.signing.kid;
    const oldPk = Buffer.from(plant.store.identity.signing.publicKey);
    await waitUntil(() => (storedBySigningKey().get(oldKid) ?? 0) >= 6, 20_000, 'batches signed by the first key');
    await plant.stop();
    plant = null;

    const shown = JSON.parse(await keys(['show', '--data-dir', dir, '--json'])) as KeysShowReport;
    expect(shown.plant?.id).toBe('demo-plant');
    expect(shown.plant?.pseudonym).toMatch(/^[a-z2-7]{16}$/);

    const rotated = JSON.parse(await keys(['rotate', '--data-dir', dir, '--grace', '2h', '--json'])) as KeysRotateReport;
    expect(rotated.previous.keyId).toBe(oldKid);
    expect(rotated.next.keyId).not.toBe(oldKid);
    expect(rotated.graceUntil - rotated.issued).toBe(2 * 3_600_000);
    expect(rotated.outboxSeq).toBeLessThan(0);
    const newKid = rotated.next.keyId;
    expect((JSON.parse(await keys(['show', '--data-dir', dir, '--json'])) as KeysShowReport).keys[0]!.keyId).toBe(newKid);

    // The queued announcement: signed by the old key (and not by the new one), naming the new key.
    const store = await openPlantStore({
      dataDir: dir,
      demo: true,
      create: false,
      log: silentLogger,
      history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
    });
    let announcement: Record<string, unknown>;
    try {
      const rows = store.db.prepare("SELECT seq, bytes FROM uplink_outbox WHERE kind = 'keys'").raw().all() as [number, Buffer][];
      expect(rows.map((r) => r[0])).toEqual([rotated.outboxSeq]);
      announcement = JSON.parse(Buffer.from(rows[0]![1]).toString('utf8')) as Record<string, unknown>;
      expect(store.identity.signing.kid).toBe(newKid);
      expect(verifySignedJson(PLANT_KEYS_LABEL, announcement, oldPk)).toBe(true);
      expect(verifySignedJson(PLANT_KEYS_LABEL, announcement, store.identity.signing.publicKey)).toBe(false);
    } finally {
      store.close();
    }
    expect(announcement).toMatchObject({ type: 'plant-keys', kid: oldKid, plant: shown.plant?.pseudonym, sign: { kid: newKid } });

    const log2 = memoryLogger();
    plant = await startPlant({ dataDir: dir, log: log2 });
    expect(plant.store.identity.signing.kid).toBe(newKid);
    await waitUntil(() => (storedBySigningKey().get(newKid) ?? 0) >= 6, 20_000, 'batches signed by the new key');
    const applied = log2.lines.find((l) => l.msg.startsWith("Demo supplier cloud: applied plant demo-plant's key announcement"));
    expect(applied?.msg).toContain(`verified with its previous key ${oldKid}`);
    expect(applied?.fields?.current).toBe(newKid);
    expect(plant.uplink?.status().outbox.depth ?? 0).toBeLessThan(20);

    const cloud = openCloudStore(cloudDb, { receiver: 'rotation-test' });
    try {
      const p = cloud.status().plants[0]!;
      expect(p.signingKid).toBe(newKid);
      // Batches published again after the restart are judged duplicates (and acknowledged); nothing else is refused.
      const { duplicate_sequence: _redelivered, ...refused } = p.refusals;
      expect(refused).toEqual({});
      expect(p.missing).toBe(0);
      expect(p.state?.state).toBe('online');
      // The old key stays accepted for its grace, then no more.
      const ring = cloud.signingRing(p.plant) as KeyRing<Uint8Array>;
      expect(ring.current).toBe(newKid);
      expect(ring.entries.find((e) => e.kid === oldKid)?.notAfter).toBe(rotated.graceUntil);
    } finally {
      cloud.close();
    }
    // Every batch of the first run was signed by the old key, every one since the rotation by the new one.
    const byKey = storedBySigningKey();
    expect([...byKey.keys()].sort()).toEqual([oldKid, newKid].sort());
  }, 55_000);
});
