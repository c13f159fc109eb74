/** The audit log: chain and signed heads, each kind of tampering found and named, query and export. */
import { createRequire } from 'node:module';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { AuditLog, exportAudit, verifyAudit } from '../../src-main/audit/log';
import {
  AUDIT_HEAD_LABEL,
  auditHeadMessage,
  auditRecordHash,
  GENESIS_HASH,
  type AuditEntry,
  type AuditRecord,
} from '../../src-main/audit/record';
import { memoryLogger } from '../../src-main/core/log';
import { canonicalJson } from '../../src-main/protocol/canonical';
import { signDetached, signingKeyPair } from '../../src-main/protocol/keys';
import { migrate, type StoreDb } from '../../src-main/store/schema';

const sodium = createRequire(import.meta.url)('sodium-native') as { crypto_generichash(out: Buffer, input: Buffer): void };
const T0 = Date.UTC(2026, 2, 2, 7, 0);
const MIN = 60_000;

function setup(opts: { signEveryRecords?: number } = {}) {
  const db: StoreDb = new Database(':memory:');
  migrate(db);
  const key = signingKeyPair();
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const log = memoryLogger();
  const audit = new AuditLog(db, { signing: key }, { clock, log, timers: false, ...opts });
  return { db, key, clock, log, audit };
}

const ENTRIES: AuditEntry[] = [
  { kind: 'login', user: 'anna', role: 'maintenance', origin: 'local', sessionId: 's1', detail: { source: 'local' } },
  {
    kind: 'write',
    user: 'anna',
    role: 'maintenance',
    origin: 'local',
    sessionId: 's1',
    machineId: 'im-1',
    detail: { pointId: 'zone1-sp', before: 212, requested: 215, readback: 215, outcome: 'written' },
  },
  { kind: 'alarm_ack', user: 'otto', role: 'operator', origin: 'local', machineId: 'hp-1', detail: { alarmId: 'hp-1/fault' } },
  { kind: 'login_failed', user: 'mallory', origin: 'remote', detail: { source: '10.0.0.7', reason: 'unknown-user' } },
  {
    kind: 'revert',
    user: 'anna',
    role: 'maintenance',
    origin: 'local',
    sessionId: 's1',
    machineId: 'im-1',
    detail: { pointId: 'zone1-sp', before: 215, requested: 212, note: 'comma, "quote"' },
  },
  { kind: 'user_added', user: 'cli:root', origin: 'local', detail: { name: 'otto', role: 'operator' } },
  { kind: 'remote_grant', user: 'anna', role: 'maintenance', origin: 'local', detail: { to: 'sup', scope: 'view', minutes: 60 } },
  {
    kind: 'remote_action',
    user: 'sup',
    role: 'supplier-support',
    origin: 'remote',
    sessionId: 's2',
    machineId: 'hp-1',
    detail: { viewed: 'machines.get' },
  },
  { kind: 'logout', user: 'anna', role: 'maintenance', origin: 'local', sessionId: 's1', detail: { reason: 'logout' } },
  { kind: 'config_change', user: 'admin', role: 'admin', origin: 'local', detail: { key: '=cmd|calc', value: '-1' } },
];

const STEP = 10_000;

/** A log of the ten entries, 10 s apart, with heads signed after the first and (on close) the last. */
function filled() {
  const s = setup();
  for (const e of ENTRIES) {
    s.clock.t += STEP;
    s.audit.append(e);
  }
  s.clock.t += STEP;
  s.audit.close();
  return s;
}

/** Raw SQL as someone holding the store key could run it: the append-only triggers are dropped first. */
function tamper(db: StoreDb, ...sql: [string, unknown[]?][]): void {
  for (const t of ['audit_log_no_update', 'audit_log_no_delete', 'audit_heads_no_update', 'audit_heads_no_delete'])
    db.exec(`DROP TRIGGER IF EXISTS ${t}`);
  for (const [q, params] of sql) db.prepare(q).run(params ?? []);
}

function row(db: StoreDb, seq: number): AuditRecord {
  const r = db.prepare('SELECT * FROM audit_log WHERE seq = ?').get([seq]) as Record<string, unknown>;
  return {
    seq: r['seq'] as number,
    at: r['at'] as number,
    kind: r['kind'] as AuditRecord['kind'],
    user: r['user'] as string | null,
    role: r['role'] as AuditRecord['role'],
    origin: r['origin'] as AuditRecord['origin'],
    sessionId: r['session_id'] as string | null,
    machineId: r['machine_id'] as string | null,
    detail: JSON.parse(r['detail'] as string) as AuditRecord['detail'],
    prevHash: r['prev_hash'] as string,
    hash: r['hash'] as string,
  };
}

/** Writes a record that hashes correctly (an attacker who read record.ts). */
function forge(db: StoreDb, body: Omit<AuditRecord, 'hash'>): string {
  const hash = auditRecordHash(body);
  db.prepare(
    'INSERT OR REPLACE INTO audit_log (seq, at, kind, user, role, origin, session_id, machine_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  ).run([
    body.seq,
    body.at,
    body.kind,
    body.user,
    body.role,
    body.origin,
    body.sessionId,
    body.machineId,
    canonicalJson(body.detail),
    body.prevHash,
    hash,
  ]);
  return hash;
}

describe('audit log chain', () => {
  it('chains every record to the one before and signs the head', () => {
    const { db, key, audit } = filled();
    const records = audit.query({ limit: 100 }).reverse();
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(records[0]?.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < records.length; i++) expect(records[i]?.prevHash).toBe(records[i - 1]?.hash);
    expect(records[1]).toMatchObject({
      kind: 'write',
      user: 'anna',
      machineId: 'im-1',
      at: T0 + 2 * STEP,
      detail: { before: 212, readback: 215 },
    });
    // Signed after the first record, and on close.
    expect(audit.lastSignedHead()).toMatchObject({ seq: 10, hash: records[9]?.hash, signedAt: T0 + 11 * STEP, keyId: key.kid });
    expect(db.prepare('SELECT seq FROM audit_heads ORDER BY id').raw().all()).toEqual([[1], [10]]);
    expect(verifyAudit(db, key.publicKey)).toMatchObject({
      ok: true,
      records: 10,
      lastSeq: 10,
      unsigned: 0,
      problem: null,
      signedHead: { seq: 10 },
    });
  });

  it('hashes exactly as documented: BLAKE2b-256 over the label and the JCS of the record', () => {
    const { audit } = setup();
    const rec = audit.append({
      kind: 'write',
      user: 'anna',
      role: 'maintenance',
      origin: 'local',
      machineId: 'im-1',
      detail: { z: 1, a: 'ä' },
      at: 1_700_000_000_000,
    });
    const jcs =
      '{"at":1700000000000,"detail":{"a":"ä","z":1},"kind":"write","machineId":"im-1","origin":"local","prevHash":"' +
      GENESIS_HASH +
      '","role":"maintenance","seq":1,"sessionId":null,"user":"anna"}';
    const out = Buffer.alloc(32);
    sodium.crypto_generichash(out, Buffer.concat([Buffer.from('plant-console/audit-record/v1\0', 'latin1'), Buffer.from(jcs, 'utf8')]));
    expect(rec.hash).toBe(out.toString('hex'));
  });

  it('signs the head every N records and after the period, and on its timer-free append path', () => {
    const { db, clock, audit } = setup({ signEveryRecords: 3 });
    for (let i = 0; i < 7; i++) audit.append({ kind: 'remote_action', detail: { i } });
    expect(db.prepare('SELECT seq FROM audit_heads ORDER BY id').raw().all()).toEqual([[1], [4], [7]]);
    audit.append({ kind: 'remote_action', detail: { i: 7 } });
    clock.t += 5 * MIN;
    audit.append({ kind: 'remote_action', detail: { i: 8 } });
    expect(audit.lastSignedHead()?.seq).toBe(9);
    // Nothing new: no new head.
    expect(audit.signHead()).toBeNull();
  });

  it('refuses to change or delete records through SQL while its triggers stand', () => {
    const { db } = filled();
    expect(() => db.prepare("UPDATE audit_log SET user = 'x' WHERE seq = 2").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_log WHERE seq = 2').run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_heads').run()).toThrow(/append-only/);
  });

  it('keeps one chain when two writers (the console and the CLI) append to the same store', () => {
    const { db, key, clock, audit } = setup();
    const cli = new AuditLog(db, { signing: key }, { clock, timers: false });
    for (let i = 0; i < 6; i++) (i % 2 ? cli : audit).append({ kind: 'config_change', detail: { i } });
    cli.close();
    expect(verifyAudit(db, key.publicKey)).toMatchObject({ ok: true, records: 6 });
  });

  it('logs instead of throwing when a record cannot be stored', () => {
    const { audit, log } = setup();
    expect(() => audit.append({ kind: 'write', detail: { value: Number.NaN } })).toThrow();
    audit.record({ kind: 'write', detail: { value: Number.POSITIVE_INFINITY } });
    expect(audit.stats()).toMatchObject({ lastSeq: 0, failed: 1 });
    expect(log.lines.some((l) => l.level === 'error' && l.msg.includes('a write record could not be stored'))).toBe(true);
  });
});

describe('audit verification finds and names each kind of tampering', () => {
  const problem = (db: StoreDb, key: Uint8Array | readonly Uint8Array[]) => verifyAudit(db, key).problem;

  it('an edited field', () => {
    const { db, key } = filled();
    tamper(db, ["UPDATE audit_log SET detail = json_set(detail, '$.requested', 2150) WHERE seq = 2"]);
    expect(problem(db, key.publicKey)).toEqual({
      seq: 2,
      reason: 'altered',
      message: 'record 2 was altered: its content no longer matches its hash',
    });
    const other = filled();
    tamper(other.db, ["UPDATE audit_log SET user = 'anna' WHERE seq = 3"]);
    expect(problem(other.db, other.key.publicKey)).toMatchObject({ seq: 3, reason: 'altered' });
  });

  it('an edited record whose hash was recomputed', () => {
    const { db, key } = filled();
    tamper(db);
    forge(db, { ...row(db, 4), user: 'someone-else' });
    expect(problem(db, key.publicKey)).toMatchObject({
      seq: 5,
      reason: 'broken-link',
      message: expect.stringContaining('record 5 does not follow record 4') as string,
    });
  });

  it('a deleted record', () => {
    const { db, key } = filled();
    tamper(db, ['DELETE FROM audit_log WHERE seq = 6']);
    expect(problem(db, key.publicKey)).toEqual({ seq: 6, reason: 'missing', message: 'record 6 is missing: deleted from the log' });
  });

  it('an inserted record, even one hashed correctly and renumbered into place', () => {
    const { db, key } = filled();
    tamper(
      db,
      ['UPDATE audit_log SET seq = -seq WHERE seq >= 6'],
      ['UPDATE audit_log SET seq = 1 - seq WHERE seq < 0'],
      ["UPDATE sequence SET value = 11 WHERE name = 'audit'"],
    );
    const r5 = row(db, 5);
    forge(db, { ...r5, seq: 6, at: r5.at + 1, kind: 'write', user: 'anna', detail: { requested: 999 }, prevHash: r5.hash });
    expect(problem(db, key.publicKey)).toEqual({
      seq: 6,
      reason: 'inserted',
      message: 'record 6 was inserted: record 7 follows the record before it directly',
    });
  });

  it("a record appended behind the console's back", () => {
    const { db, key } = filled();
    tamper(db);
    const r10 = row(db, 10);
    forge(db, { ...r10, seq: 11, prevHash: r10.hash });
    expect(problem(db, key.publicKey)).toMatchObject({ seq: 11, reason: 'inserted' });
  });

  it('two records swapped', () => {
    const { db, key } = filled();
    const r3 = row(db, 3);
    const r4 = row(db, 4);
    tamper(db, ['DELETE FROM audit_log WHERE seq IN (3, 4)']);
    for (const [seq, r] of [
      [3, r4],
      [4, r3],
    ] as const) {
      db.prepare(
        'INSERT INTO audit_log (seq, at, kind, user, role, origin, session_id, machine_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ).run([seq, r.at, r.kind, r.user, r.role, r.origin, r.sessionId, r.machineId, canonicalJson(r.detail), r.prevHash, r.hash]);
    }
    expect(problem(db, key.publicKey)).toEqual({ seq: 3, reason: 'reordered', message: 'records 3 and 4 changed places' });
  });

  it('a tail cut off after the last signed head', () => {
    const { db, key, clock } = filled();
    const more = new AuditLog(db, { signing: key }, { clock, timers: false });
    for (let i = 0; i < 5; i++) more.append({ kind: 'remote_action', detail: { i } });
    expect(verifyAudit(db, key.publicKey)).toMatchObject({ ok: true, records: 15, unsigned: 5, signedHead: { seq: 10 } });
    tamper(db, ['DELETE FROM audit_log WHERE seq >= 13']);
    expect(problem(db, key.publicKey)).toEqual({
      seq: 13,
      reason: 'truncated',
      message: 'records 13–15 are missing at the end: the log was cut off',
    });
  });

  it('a tail cut off past the signed head, counter and all', () => {
    const { db, key } = filled();
    tamper(db, ['DELETE FROM audit_log WHERE seq >= 9'], ["UPDATE sequence SET value = 8 WHERE name = 'audit'"]);
    expect(problem(db, key.publicKey)).toMatchObject({
      seq: 9,
      reason: 'truncated',
      message: expect.stringContaining('records 9–10 are missing at the end: the head signed at') as string,
    });
  });

  it('a chain rewritten from one record on, every hash recomputed', () => {
    const { db, key } = filled();
    tamper(db);
    let prev = row(db, 3).hash;
    for (let seq = 4; seq <= 10; seq++) {
      const r = row(db, seq);
      prev = forge(db, { ...r, prevHash: prev, ...(seq === 4 ? { user: 'nobody' } : {}) });
    }
    expect(problem(db, key.publicKey)).toMatchObject({
      seq: 10,
      reason: 'head-mismatch',
      message: expect.stringContaining('record 10 differs from the head signed at') as string,
    });
  });

  it('a forged head signature, and a head signed by another key', () => {
    const { db, key } = filled();
    const sig = db.prepare('SELECT signature FROM audit_heads WHERE seq = 10').raw().get() as [string];
    tamper(db, ['UPDATE audit_heads SET signature = ? WHERE seq = 10', [sig[0].replace(/^./, (c) => (c === '0' ? '1' : '0'))]]);
    expect(problem(db, key.publicKey)).toMatchObject({ seq: 10, reason: 'head-forged' });

    const other = filled();
    const stranger = signingKeyPair();
    const head = { seq: 10, hash: row(other.db, 10).hash, signedAt: T0 + 20 * STEP, keyId: stranger.kid };
    other.db
      .prepare('INSERT INTO audit_heads (seq, hash, signed_at, key_id, signature) VALUES (?, ?, ?, ?, ?)')
      .run([
        head.seq,
        head.hash,
        head.signedAt,
        head.keyId,
        signDetached(AUDIT_HEAD_LABEL, auditHeadMessage(head), stranger.secretKey).toString('hex'),
      ]);
    expect(problem(other.db, other.key.publicKey)).toMatchObject({
      seq: 10,
      reason: 'head-forged',
      message: expect.stringContaining(`unknown key id ${stranger.kid}`) as string,
    });
    // Verified against the wrong public key, the genuine heads fail too.
    expect(problem(filled().db, stranger.publicKey)).toMatchObject({ seq: 1, reason: 'head-forged' });
  });

  it('an absent head signature', () => {
    const { db, key } = filled();
    tamper(db, ['DELETE FROM audit_heads']);
    expect(problem(db, key.publicKey)).toEqual({
      seq: 1,
      reason: 'no-signed-head',
      message: 'no signed head: nothing signed by the plant vouches for records 1–10',
    });
  });

  it('an unreadable record', () => {
    const { db, key } = filled();
    tamper(db, ["UPDATE audit_log SET detail = '{not json' WHERE seq = 7"]);
    expect(problem(db, key.publicKey)).toMatchObject({ seq: 7, reason: 'unreadable' });
  });

  it('takes several keys (after a key rotation) and passes an empty log', () => {
    const { db, key } = filled();
    expect(verifyAudit(db, [signingKeyPair().publicKey, key.publicKey]).ok).toBe(true);
    expect(verifyAudit(setup().db, key.publicKey)).toEqual({
      ok: true,
      records: 0,
      lastSeq: 0,
      signedHead: null,
      unsigned: 0,
      problem: null,
    });
  });
});

describe('audit query and export', () => {
  it('queries newest first with filters and paging', () => {
    const { audit } = filled();
    expect(audit.query({ user: 'anna' }).map((r) => r.seq)).toEqual([9, 7, 5, 2, 1]);
    expect(audit.query({ kind: ['write', 'revert'], machineId: 'im-1' }).map((r) => r.seq)).toEqual([5, 2]);
    expect(audit.query({ from: T0 + 3 * STEP, to: T0 + 5 * STEP }).map((r) => r.seq)).toEqual([5, 4, 3]);
    expect(audit.query({ sessionId: 's2' }).map((r) => r.kind)).toEqual(['remote_action']);
    expect(audit.query({ limit: 3 }).map((r) => r.seq)).toEqual([10, 9, 8]);
    expect(audit.query({ limit: 3, beforeSeq: 8 }).map((r) => r.seq)).toEqual([7, 6, 5]);
    expect(audit.query({ kind: [] })).toEqual([]);
  });

  it('exports JSON lines that can be re-verified outside the console', () => {
    const { db, audit } = filled();
    const text = exportAudit(db, { format: 'jsonl' });
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);
    expect(lines).toHaveLength(10);
    expect(lines).toEqual(audit.query().reverse());
    let prev = GENESIS_HASH;
    for (const { hash, ...body } of lines) {
      expect(body.prevHash).toBe(prev);
      expect(auditRecordHash(body)).toBe(hash);
      prev = hash;
    }
    const filtered = exportAudit(db, { format: 'jsonl', user: 'anna', kind: 'write', machineId: 'im-1' });
    expect(
      filtered
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as AuditRecord).seq),
    ).toEqual([2]);
  });

  it('exports CSV with quoting and without spreadsheet formulas', () => {
    const { db } = filled();
    const csv = exportAudit(db, { format: 'csv', from: T0 + 5 * STEP });
    const rows = csv.split('\r\n');
    expect(rows[0]).toBe('seq,at,at_iso,kind,user,role,origin,session_id,machine_id,detail,prev_hash,hash');
    expect(rows).toHaveLength(1 + 6 + 1);
    expect(rows[1]).toMatch(
      new RegExp(
        `^5,${T0 + 5 * STEP},2026-03-02T07:00:50\\.000Z,revert,anna,maintenance,local,s1,im-1,"\\{""before"":215,""note"":""comma, \\\\""quote\\\\"""",`,
      ),
    );
    expect(rows[6]).toContain(',config_change,admin,admin,local,,,');
    // The detail starts with "{", so it is never a formula; a user or machine cell could be.
    const { db: db2, audit } = setup();
    audit.append({ kind: 'config_change', user: '=HYPERLINK("x")', machineId: '+1', detail: {} });
    expect(exportAudit(db2, { format: 'csv' }).split('\r\n')[1]).toContain(`,"'=HYPERLINK(""x"")",,,,'+1,{},`);
  });
});
