/**
 * What keeps the store honest: the sequence guard outside the database (reserve before a
 * commit, withdraw after a failed one, a torn slot survived), the start-up judgement (a clean
 * stop, a crash between reservation and commit, a rollback refused with the way forward), the
 * numbers it skips declared lost in a signed gap notice, transactions that report the error
 * that happened, and a full store that is counted, reported and resumed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryLogger, silentLogger } from '../../src-main/core/log';
import { plantPseudonym, randomBytes, signingKeyPair, type PlantKeyRecord } from '../../src-main/protocol';
import { runStoreCommand } from '../../src-main/app/store-cli';
import { ConsoleError } from '../../src-main/core/errors';
import { StoreError } from '../../src-main/store/errors';
import { openPlantStore } from '../../src-main/store/open';
import { migrate, type StoreDb } from '../../src-main/store/schema';
import { GUARD_FILE_NAME, SequenceGuard } from '../../src-main/store/sequence-guard';
import { applySequenceCheck, DECLARE_LOST_META, judgeSequence } from '../../src-main/store/store-check';
import { installSafeTransactions, isDiskFull } from '../../src-main/store/transactions';
import { buildGapNotice, openGapNotice } from '../../src-main/uplink/gap';
import { Outbox, type OutboxItem } from '../../src-main/uplink/outbox';

const T0 = 1_767_225_600_000;
const signer = signingKeyPair();
const plant = plantPseudonym(randomBytes(32), 'guard-test');
const plantKeys = new Map<string, PlantKeyRecord>([[signer.kid, { publicKey: signer.publicKey, plant }]]);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'pc-guard-'));
  dirs.push(d);
  return d;
};

function db(): StoreDb {
  const d = new Database(':memory:');
  installSafeTransactions(d);
  migrate(d);
  return d;
}

function outbox(d: StoreDb, extra: Partial<ConstructorParameters<typeof Outbox>[1]> = {}): Outbox {
  return new Outbox(d, {
    budgetBytes: 1_000_000,
    clock: { now: () => T0 },
    log: silentLogger,
    gapNotice: (seq, issued, report) => buildGapNotice({ plant, seq, issued, report, signer }),
    ...extra,
  });
}

const item = (kind: 'sealed' | 'plain' = 'sealed', size = 100): OutboxItem => ({
  kind,
  machine: 'aaaaaaaaaaaaaaaa',
  from: T0,
  to: T0 + 999,
  build: (seq) => Buffer.alloc(size, seq % 256),
});

const setCounter = (d: StoreDb, n: number): void => void d.prepare("UPDATE sequence SET value = ? WHERE name = 'uplink'").run([n]);

describe('sequence guard file', () => {
  it('is written before the commit, taken back after a failed one, and survives a torn slot', () => {
    const dir = tempDir();
    const d = db();
    const guard = SequenceGuard.open(dir);
    const ob = outbox(d, { guard });
    ob.append([item(), item()]);
    expect(guard.record()).toMatchObject({ used: 2, before: 0 });
    // A batch that cannot be built rolls the transaction back: its number was never visible.
    const bad: OutboxItem = { ...item(), build: () => Buffer.from('x') };
    bad.build = () => {
      throw new Error('cannot seal');
    };
    expect(() => ob.append([item(), bad])).toThrow('cannot seal');
    expect(guard.record()).toMatchObject({ used: 2 });
    ob.append([item()]);
    expect(guard.record()).toMatchObject({ used: 3, before: 2 });
    guard.close();
    // Power lost in the middle of writing the newer slot: the older one is still there.
    const path = join(dir, GUARD_FILE_NAME);
    const bytes = readFileSync(path);
    const newer = (guard.record().gen % 2) * 256;
    bytes.fill(0x41, newer + 10, newer + 40);
    writeFileSync(path, bytes);
    const again = SequenceGuard.open(dir);
    expect(again.found).toBe(true);
    expect(again.record()).toMatchObject({ used: 2 });
    again.close();
  });

  it('judges the store at start: clean, one reservation behind (skipped and declared lost), or rolled back (refused with the way forward)', () => {
    const dir = tempDir();
    const d = db();
    const guard = SequenceGuard.open(dir);
    const opts = { dataDir: dir, dbPath: join(dir, 'plant.db'), acceptRollback: false };
    guard.reserve(40);
    guard.reserve(45);
    setCounter(d, 45);
    expect(judgeSequence(d, guard, opts)).toEqual({ kind: 'ok', stored: 45 });
    // Stopped between the guard's write and the commit.
    setCounter(d, 40);
    const skip = judgeSequence(d, guard, opts);
    expect(skip).toEqual({ kind: 'skip', stored: 40, from: 41, to: 45, rolledBack: false });
    // Further behind: the database was rolled back.
    setCounter(d, 12);
    let err: unknown;
    try {
      judgeSequence(d, guard, opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).reason).toBe('store-behind');
    expect((err as StoreError).message).toMatch(/last uplink sequence number is 12, but numbers up to 45 were already used/);
    expect((err as StoreError).message).toContain(`plant-console store recover --data-dir ${dir}`);
    // The operator's way forward: continue at 46, and say 13..45 may be lost.
    const v = judgeSequence(d, guard, { ...opts, acceptRollback: true });
    expect(v).toEqual({ kind: 'skip', stored: 12, from: 13, to: 45, rolledBack: true });
    applySequenceCheck(d, guard, v, silentLogger, null);
    const ob = outbox(d, { guard });
    expect(ob.stats().lastSeq).toBe(45);
    const r = ob.append([item()]);
    // The batch takes 46, the notice 47: it declares 13..45 lost, signed.
    expect(r.seqs).toEqual([46]);
    const notice = openGapNotice(ob.after(46, 1)[0]!.bytes, { plantPublicKeys: plantKeys, now: T0 });
    expect(notice.ok && notice.notice).toMatchObject({ seq: 47, dropped: { batches: 33, seqs: [[13, 45]] }, totals: { dropped: 33 } });
    expect(ob.stats().drops.lostSeqs).toBe(33);
    expect(guard.record().used).toBe(47);
    guard.close();
  });
});

describe('plant-console store check', () => {
  it('beside a console in the middle of a reservation, judges and changes nothing', async () => {
    const dir = tempDir();
    const open = (applySequence: boolean) =>
      openPlantStore({ dataDir: dir, demo: true, log: silentLogger, disk: { checkEveryMs: 0 }, applySequence });
    (await open(true)).close();
    // The running console wrote its reservation for 1..5 and has not committed yet.
    const consoleGuard = SequenceGuard.open(dir);
    consoleGuard.reserve(5);
    const gen = consoleGuard.record().gen;
    let out = '';
    expect(await runStoreCommand(['check', '--data-dir', dir], { out: (s) => void (out += s), err: () => {} })).toBe(0);
    expect(out).toMatch(/1\.\.5 were reserved and not recorded \(yet, if the console is running\)/);
    // Neither the guard nor the store moved: the console's commit stays its own.
    consoleGuard.close();
    const after = SequenceGuard.open(dir);
    expect(after.record()).toMatchObject({ gen, used: 5, before: 0 });
    after.close();
    const store = await open(false);
    try {
      expect(store.db.prepare("SELECT value FROM sequence WHERE name = 'uplink'").raw().get()).toEqual([0]);
      expect(store.db.prepare('SELECT value FROM meta WHERE key = ?').raw().get([DECLARE_LOST_META])).toBeUndefined();
    } finally {
      store.close();
    }
  });
});

describe('plant-console store recover --through', () => {
  it('continues after the number the cloud holds, declares the skipped ones lost, audits it, and never goes back', async () => {
    const dir = tempDir();
    const open = () => openPlantStore({ dataDir: dir, demo: true, log: silentLogger, disk: { checkEveryMs: 0 } });
    let store = await open();
    store.guard.reserve(12);
    setCounter(store.db, 12);
    store.close();
    let out = '';
    const io = { out: (s: string) => void (out += s), err: () => {} };
    // A bad number is refused before the store is touched.
    await expect(runStoreCommand(['recover', '--data-dir', dir, '--through', '1e3'], io)).rejects.toThrow(ConsoleError);
    await expect(runStoreCommand(['recover', '--data-dir', dir, '--through', '0'], io)).rejects.toThrow(/--through must be/);
    // The whole data dir went back to 12 while the cloud holds up to 40.
    expect(await runStoreCommand(['recover', '--data-dir', dir, '--through', '40'], io)).toBe(0);
    expect(out).toMatch(/numbering continues at 41\b.*13\.\.40 may be lost/);
    store = await open();
    try {
      expect(store.guard.record().used).toBe(40);
      expect(store.sequence).toEqual({ kind: 'ok', stored: 40 });
      const lost = store.db.prepare('SELECT value FROM meta WHERE key = ?').raw().get([DECLARE_LOST_META]) as [string];
      expect(JSON.parse(lost[0])).toEqual([[13, 40]]);
      const audited = store.db.prepare("SELECT count(*) FROM audit_log WHERE kind = 'store_recovered'").raw().get() as [number];
      expect(audited[0]).toBe(1);
    } finally {
      store.close();
    }
    // A number already behind the plant's own changes nothing.
    out = '';
    expect(await runStoreCommand(['recover', '--data-dir', dir, '--through', '30'], io)).toBe(0);
    expect(out).toMatch(/already numbers after 30 \(numbers up to 40 were used\): nothing to recover/);
  });
});

describe('transactions and a full store', () => {
  it('report the error that happened, not the failed rollback after it', () => {
    const d = new Database(':memory:');
    const seen: unknown[] = [];
    installSafeTransactions(d, (e) => seen.push(e));
    d.exec('CREATE TABLE t (x)');
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const tx = d.transaction(() => {
      d.prepare('INSERT INTO t VALUES (1)').run();
      // SQLite rolls back by itself on SQLITE_FULL: libsql's own wrapper then threw "cannot rollback".
      d.exec('ROLLBACK');
      throw full;
    });
    expect(() => tx.immediate()).toThrow('database or disk is full');
    expect(seen).toEqual([full]);
    expect(d.inTransaction).toBe(false);
    expect(isDiskFull(full)).toBe(true);
    expect(isDiskFull(Object.assign(new Error('x'), { code: 'ENOSPC' }))).toBe(true);
    expect(isDiskFull(new Error('cannot rollback - no transaction is active'))).toBe(false);
  });

  it('on a full store: counts what it cannot record, says so in a gap notice as soon as it fits, and resumes', () => {
    const d = db();
    const log = memoryLogger();
    let full = false;
    const disk = {
      isFull: () => full,
      failed(_what: string, err: unknown) {
        if (!isDiskFull(err)) return false;
        full = true;
        // What the disk guard's reserve gives back: room for the notice.
        d.exec('PRAGMA max_page_count = 100000');
        return true;
      },
    };
    const ob = outbox(d, { disk, log });
    ob.append([item()]);
    const pages = (d.prepare('PRAGMA page_count').raw().get() as [number])[0];
    d.exec(`PRAGMA max_page_count = ${pages}`);
    // Big enough to need a new page: SQLITE_FULL, counted, and the notice written in the room released.
    expect(ob.append([item('sealed', 20_000), item('plain', 20_000)])).toEqual({ seqs: [], refused: 2, dropped: 0 });
    expect(ob.stats()).toMatchObject({ full: true, fullCause: 'disk', drops: { notRecordedSealed: 1, notRecordedPlain: 1 } });
    const notice = openGapNotice(ob.after(1, 1)[0]!.bytes, { plantPublicKeys: plantKeys, now: T0 });
    expect(notice.ok && notice.notice).toMatchObject({ seq: 2, notRecorded: { sealed: 1, plain: 1 } });
    // Still full: only counted.
    expect(ob.append([item()]).refused).toBe(1);
    expect(ob.stats().lastSeq).toBe(2);
    full = false;
    expect(ob.append([item()]).seqs).toEqual([3]);
    const resumed = openGapNotice(ob.after(3, 1)[0]!.bytes, { plantPublicKeys: plantKeys, now: T0 });
    expect(resumed.ok && resumed.notice).toMatchObject({ seq: 4, notRecorded: { sealed: 1, plain: 0 }, totals: { notRecorded: 3 } });
    expect(ob.stats()).toMatchObject({ full: false, fullCause: null });
    expect(log.lines.some((l) => /disk is full/.test(l.msg))).toBe(true);
  });
});
