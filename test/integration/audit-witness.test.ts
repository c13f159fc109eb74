/**
 * The audit chain's witness outside the plant, end to end on the demo plant (its uplink through
 * the embedded TLS broker to the in-process reference cloud): every signed head reaches the
 * cloud sealed, the cloud keeps it append-only, `supplier-cloud audit-heads` exports it, and
 * `plant-console audit verify --witness` then catches the two rewrites the store key alone
 * allows and the local check cannot see: the log cut back to an older signed head, and a record
 * edited with every later hash and head re-signed by the plant's own key.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Database from 'libsql';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuditCommand } from '../../src-main/app/audit-cli';
import { startPlant, type RunningPlant } from '../../src-main/app/bootstrap';
import { verifyAudit } from '../../src-main/audit/log';
import { AUDIT_HEAD_LABEL, auditHeadMessage, auditRecordHash, recordFromRow, type AuditRow } from '../../src-main/audit/record';
import { memoryLogger } from '../../src-main/core/log';
import { signDetached } from '../../src-main/protocol/keys';
import { openPlantStore, type PlantStore } from '../../src-main/store/open';
import { signingPublicKeys } from '../../src-main/uplink/plant-keys';
import { runSupplierCloudCli } from '../../supplier-cloud/cli';
import { openCloudStore } from '../../supplier-cloud/store';
import { waitUntil } from '../helpers/uplink-cloud';

const work = mkdtempSync(join(tmpdir(), 'pc-audit-witness-'));
const dataDir = join(work, 'plant');
const witnessFile = join(work, 'witness.jsonl');
let plant: RunningPlant | null = null;
/** Records and the heads signed over them: [record seq of each head]. */
let headSeqs: number[] = [];

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) }, out, err };
}

/** `plant-console audit verify` (with the witness) on a data dir; its exit code and output. */
async function verify(dir: string, witness = true): Promise<{ code: number; text: string }> {
  const o = io();
  const code = await runAuditCommand(['verify', '--data-dir', dir, ...(witness ? ['--witness', witnessFile] : [])], o.io, {
    log: memoryLogger(),
    prompt: null,
    env: {},
  });
  return { code, text: o.out.join('') };
}

/** A copy of the plant's data dir, opened with its key as whoever holds it could. */
async function tamperable(name: string): Promise<{ dir: string; store: PlantStore }> {
  const dir = join(work, name);
  cpSync(dataDir, dir, { recursive: true });
  const store = await openPlantStore({ dataDir: dir, demo: true, create: false, log: memoryLogger(), history: { flushIntervalMs: 0 } });
  // The append-only triggers are the console's own guard, not an attacker's: dropped.
  for (const t of ['audit_log_no_update', 'audit_log_no_delete', 'audit_heads_no_update', 'audit_heads_no_delete'])
    store.db.exec(`DROP TRIGGER ${t}`);
  return { dir, store };
}

beforeAll(async () => {
  plant = await startPlant({ dataDir, log: memoryLogger() });
  // Records in three signed stretches, so the cloud witnesses three heads.
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 4; i++)
      plant.audit.append({ kind: 'config_change', user: 'anna', role: 'admin', origin: 'local', detail: { round, i, setting: 'x' } });
    plant.audit.signHead();
  }
  headSeqs = (plant.store.db.prepare('SELECT seq FROM audit_heads ORDER BY id').raw().all() as [number][]).map((r) => r[0]);
  const last = headSeqs.at(-1)!;
  const cloudDb = join(dataDir, 'demo-cloud', 'cloud.db');
  const cloud = openCloudStore(cloudDb, { receiver: 'audit-witness-test' });
  try {
    await waitUntil(
      () => cloud.audit.heads(cloud.plantPseudonym('demo-plant') ?? '').some((h) => h.seq === last),
      30_000,
      'the cloud to witness the newest head',
    );
  } finally {
    cloud.close();
  }
  expect(plant.api).toBeDefined();
  const links = await plant.api.handle({ user: 'anna', role: 'admin', origin: 'local' }, 'audit.links', {});
  expect(links).toMatchObject({ ok: true, value: { witness: { lastSentSeq: last, pending: 0, refused: 0 }, syslog: null } });
  await plant.stop();
  plant = null;
}, 120_000);

afterAll(async () => {
  await plant?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the audit witness in the supplier cloud', () => {
  it('receives every signed head sealed, keeps them append-only and exports them for the plant', async () => {
    const o = io();
    const code = await runSupplierCloudCli(['audit-heads', '--plant', 'demo-plant', '--demo-data-dir', dataDir, '--out', witnessFile], {
      ...o.io,
      env: {},
    });
    expect(code, o.err.join('')).toBe(0);
    expect(o.err.join('')).toMatch(/^\d+ witnessed heads of plant demo-plant; the newest covers record \d+/);

    const cloud = openCloudStore(join(dataDir, 'demo-cloud', 'cloud.db'), { receiver: 'audit-witness-test' });
    try {
      const heads = cloud.audit.heads(cloud.plantPseudonym('demo-plant')!);
      // Every head the plant signed while its uplink ran (the one signed at shutdown goes at the next start).
      for (const seq of headSeqs) expect(heads.map((h) => h.seq)).toContain(seq);
      expect(heads.every((h) => h.conflict === null)).toBe(true);
    } finally {
      cloud.close();
    }
    // Append-only in the cloud's database itself.
    const raw = new Database(join(dataDir, 'demo-cloud', 'cloud.db'));
    try {
      expect(() => raw.prepare('DELETE FROM audit_heads').run()).toThrow(/append-only/);
      expect(() => raw.prepare("UPDATE audit_heads SET hash = 'x'").run()).toThrow(/append-only/);
    } finally {
      raw.close();
    }
  });

  it('agrees with the untouched log', async () => {
    const r = await verify(dataDir);
    expect(r.code, r.text).toBe(0);
    expect(r.text).toMatch(
      /^audit log intact: \d+ records, head signed at .*\nwitness matched: \d+ heads witnessed by the supplier cloud agree/,
    );
  });

  it('catches a log cut back to an older signed head, which the local check passes', async () => {
    const { dir, store } = await tamperable('truncated');
    try {
      // Back to the first head of the test's stretches: later records, later heads and the counter go.
      const older = headSeqs.at(-3)!;
      const headId = (store.db.prepare('SELECT max(id) FROM audit_heads WHERE seq = ?').raw().get([older]) as [number])[0];
      store.db.prepare('DELETE FROM audit_log WHERE seq > ?').run([older]);
      store.db.prepare('DELETE FROM audit_heads WHERE id > ?').run([headId]);
      store.db.prepare("UPDATE sequence SET value = ? WHERE name = 'audit'").run([older]);
      expect(
        verifyAudit(
          store.db,
          signingPublicKeys(store.db).map((k) => k.publicKey),
        ).ok,
      ).toBe(true);
    } finally {
      store.close();
    }
    expect((await verify(dir, false)).code).toBe(0);
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.text).toMatch(
      /witness NOT matched: record \d+: records \d+–\d+ are missing at the end: the supplier cloud witnessed record \d+ .*cut back to an older head \(truncated;/,
    );
  });

  it('catches a record edited with every later hash and head signed again by the plant key', async () => {
    const { dir, store } = await tamperable('rewritten');
    try {
      const target = headSeqs.at(-2)! - 1;
      const rows = store.db.prepare('SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq').all([target]) as AuditRow[];
      let prev = (
        store.db
          .prepare('SELECT hash FROM audit_log WHERE seq = ?')
          .raw()
          .get([target - 1]) as [string]
      )[0];
      for (const row of rows) {
        const rec = recordFromRow(row);
        const detail = row.seq === target ? { ...rec.detail, setting: 'y' } : rec.detail;
        const hash = auditRecordHash({ ...rec, detail, prevHash: prev });
        store.db
          .prepare('UPDATE audit_log SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?')
          .run([JSON.stringify(detail), prev, hash, row.seq]);
        prev = hash;
      }
      // Every head again, over the new hashes, signed with the plant's own key from the store.
      const heads = store.db.prepare('SELECT seq, signed_at FROM audit_heads ORDER BY id').raw().all() as [number, number][];
      store.db.exec('DELETE FROM audit_heads');
      const signing = store.identity.signing;
      for (const [seq, signedAt] of heads) {
        const hash = (store.db.prepare('SELECT hash FROM audit_log WHERE seq = ?').raw().get([seq]) as [string])[0];
        const head = { seq, hash, signedAt, keyId: signing.kid };
        const sig = signDetached(AUDIT_HEAD_LABEL, auditHeadMessage(head), signing.secretKey).toString('hex');
        store.db
          .prepare('INSERT INTO audit_heads (seq, hash, signed_at, key_id, signature) VALUES (?, ?, ?, ?, ?)')
          .run([seq, hash, signedAt, signing.kid, sig]);
      }
      expect(
        verifyAudit(
          store.db,
          signingPublicKeys(store.db).map((k) => k.publicKey),
        ).ok,
      ).toBe(true);
    } finally {
      store.close();
    }
    expect((await verify(dir, false)).code).toBe(0);
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.text).toMatch(
      new RegExp(
        `witness NOT matched: record ${headSeqs.at(-2)!}: record ${headSeqs.at(-2)!} differs from the head the supplier cloud witnessed .*rewritten and its heads signed again \\(rewritten;`,
      ),
    );
  });
});
