/** The uplink outbox: transactional sequence numbers, the disk budget policy, drop counts, gap notices, disk reclaim. */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryLogger, silentLogger } from '../../src-main/core/log';
import { plantPseudonym, randomBytes, signingKeyPair, type PlantKeyRecord } from '../../src-main/protocol';
import { openEncryptedDatabase } from '../../src-main/store/open';
import { migrate, type StoreDb } from '../../src-main/store/schema';
import { buildGapNotice, openGapNotice, addToRanges } from '../../src-main/uplink/gap';
import { Outbox, type OutboxItem, type OutboxOptions } from '../../src-main/uplink/outbox';

const T0 = 1_767_225_600_000;
const signer = signingKeyPair();
const plant = plantPseudonym(randomBytes(32), 'outbox-test-plant');
const plantKeys = new Map<string, PlantKeyRecord>([[signer.kid, { publicKey: signer.publicKey, plant }]]);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function memoryDb(): StoreDb {
  const db = new Database(':memory:');
  migrate(db);
  return db;
}

function outbox(db: StoreDb, extra: Partial<OutboxOptions> = {}, clock = { now: () => T0 }): Outbox {
  return new Outbox(db, {
    budgetBytes: 1_000_000,
    clock,
    log: silentLogger,
    gapNotice: (seq, issued, report) => buildGapNotice({ plant, seq, issued, report, signer }),
    ...extra,
  });
}

/** An item whose bytes are `size` bytes naming its sequence. */
function item(kind: 'sealed' | 'plain', size = 1000, onBuild?: (seq: number) => void): OutboxItem {
  return {
    kind,
    machine: 'aaaaaaaaaaaaaaaa',
    from: T0,
    to: T0 + 999,
    build(seq) {
      onBuild?.(seq);
      const b = Buffer.alloc(size, 0x20);
      b.write(`${kind}:${seq}`);
      return b;
    },
  };
}

const rowsOf = (db: StoreDb) => db.prepare('SELECT seq, kind FROM uplink_outbox ORDER BY seq').raw().all() as [number, string][];

describe('outbox: sequence numbers', () => {
  it('numbers batches 1, 2, 3 … inside the transaction that records them, and persists the counter', () => {
    const db = memoryDb();
    const ob = outbox(db);
    const seen: number[] = [];
    expect(ob.append([item('sealed', 100, (s) => seen.push(s)), item('plain', 100, (s) => seen.push(s))]).seqs).toEqual([1, 2]);
    expect(ob.append([item('sealed', 100, (s) => seen.push(s))]).seqs).toEqual([3]);
    expect(seen).toEqual([1, 2, 3]);
    expect(db.prepare("SELECT value FROM sequence WHERE name = 'uplink'").raw().get()).toEqual([3]);
    const rows = ob.after(0, 10);
    expect(rows.map((r) => [r.seq, r.kind, r.bytes.toString().trim()])).toEqual([
      [1, 'sealed', 'sealed:1'],
      [2, 'plain', 'plain:2'],
      [3, 'sealed', 'sealed:3'],
    ]);
    // A restart (a new Outbox over the same store) continues the sequence.
    expect(outbox(db).append([item('plain', 100)]).seqs).toEqual([4]);
  });

  it('rolls back numbers and rows together when building a batch fails mid-way', () => {
    const db = memoryDb();
    const ob = outbox(db);
    ob.append([item('sealed', 100)]);
    const failing: OutboxItem = {
      ...item('sealed'),
      build: () => {
        throw new Error('sealing failed');
      },
    };
    expect(() => ob.append([item('plain', 100), failing])).toThrow('sealing failed');
    expect(rowsOf(db)).toEqual([[1, 'sealed']]);
    expect(db.prepare("SELECT value FROM sequence WHERE name = 'uplink'").raw().get()).toEqual([1]);
    expect(ob.stats()).toMatchObject({ depth: 1, lastSeq: 1, bytes: 100 });
    expect(ob.append([item('plain', 100)]).seqs).toEqual([2]);
  });

  it('removes only acknowledged batches and remembers the last acknowledged sequence', () => {
    const db = memoryDb();
    const ob = outbox(db);
    ob.append([item('sealed', 100), item('plain', 100), item('sealed', 100)]);
    expect(ob.remove([1, 3, 99])).toBe(2);
    expect(rowsOf(db)).toEqual([[2, 'plain']]);
    expect(ob.stats()).toMatchObject({ depth: 1, bytes: 100, lastAckSeq: 3, oldestCreatedAt: T0 });
    expect(outbox(db).stats().lastAckSeq).toBe(3);
  });
});

describe('outbox: disk budget', () => {
  it('drops the oldest plain batches first, never sealed ones, counts them and queues a signed gap notice', () => {
    const db = memoryDb();
    const log = memoryLogger();
    const ob = outbox(db, { budgetBytes: 10_000, log });
    // 10 batches of 1000 bytes: exactly the budget, alternating sealed (odd) and plain (even).
    for (let i = 0; i < 10; i++) ob.append([item(i % 2 === 0 ? 'sealed' : 'plain')]);
    expect(ob.stats()).toMatchObject({ depth: 10, bytes: 10_000, full: false });
    const r = ob.append([item('sealed')]);
    // Down to 95 %: 1000 + 500 bytes to free → the two oldest plain batches (2 and 4).
    expect(r).toEqual({ seqs: [11], refused: 0, dropped: 2 });
    const rows = rowsOf(db);
    expect(rows.filter(([, k]) => k === 'plain').map(([s]) => s)).toEqual([6, 8, 10]);
    expect(rows.filter(([, k]) => k === 'sealed').map(([s]) => s)).toEqual([1, 3, 5, 7, 9, 11]);
    const gap = rows.find(([, k]) => k === 'gap');
    expect(gap?.[0]).toBe(12);
    const notice = openGapNotice(ob.after(11, 1)[0]!.bytes, { plantPublicKeys: plantKeys, now: T0 });
    expect(notice.ok).toBe(true);
    if (notice.ok) {
      expect(notice.notice).toMatchObject({
        seq: 12,
        plant,
        dropped: {
          batches: 2,
          seqs: [
            [2, 2],
            [4, 4],
          ],
        },
        notRecorded: { sealed: 0, plain: 0 },
        totals: { dropped: 2, notRecorded: 0 },
      });
    }
    expect(ob.stats().drops).toMatchObject({ droppedPlain: 2, droppedBytes: 2000, notRecordedSealed: 0, gapNotices: 1 });
    expect(log.lines.some((l) => l.level === 'warn' && /dropped the oldest plain/.test(l.msg))).toBe(true);
  });

  it('stops recording when only sealed batches are left, raises the full flag, and reports the gap when it starts and when recording resumes', () => {
    const db = memoryDb();
    const log = memoryLogger();
    let now = T0;
    const ob = outbox(db, { budgetBytes: 5000, log }, { now: () => now });
    for (let i = 0; i < 5; i++) ob.append([item('sealed')]);
    now += 1000;
    expect(ob.append([item('sealed'), item('plain')])).toEqual({ seqs: [], refused: 2, dropped: 0 });
    // The refused batches got no number; the notice saying so takes the next one (6).
    const first = openGapNotice(ob.after(5, 1)[0]!.bytes, { plantPublicKeys: plantKeys, now });
    expect(first.ok && first.notice).toMatchObject({
      seq: 6,
      notRecorded: { sealed: 1, plain: 1, from: T0, to: T0 + 999 },
      totals: { notRecorded: 2 },
    });
    now += 1000;
    expect(ob.append([item('sealed')]).refused).toBe(1);
    expect(ob.stats()).toMatchObject({ depth: 6, lastSeq: 6, full: true, fullSince: T0 + 1000 });
    expect(log.lines.filter((l) => l.level === 'error' && /outbox full/i.test(l.msg))).toHaveLength(1);
    // Survives a restart: the pending report is in the store.
    const again = outbox(db, { budgetBytes: 5000, log }, { now: () => now });
    again.remove([1, 2]);
    now += 1000;
    expect(again.append([item('sealed')]).seqs).toEqual([7]);
    expect(again.stats().full).toBe(false);
    const notice = openGapNotice(again.after(7, 1)[0]!.bytes, { plantPublicKeys: plantKeys, now });
    expect(notice.ok && notice.notice).toMatchObject({
      seq: 8,
      dropped: { batches: 0, seqs: [] },
      notRecorded: { sealed: 1, plain: 0, from: T0, to: T0 + 999 },
      totals: { dropped: 0, notRecorded: 3 },
    });
    expect(again.stats().drops).toMatchObject({ notRecordedSealed: 2, notRecordedPlain: 1, gapNotices: 2 });
  });

  it('never drops plain batches that are in flight', () => {
    const db = memoryDb();
    const ob = outbox(db, { budgetBytes: 4000 });
    for (let i = 0; i < 4; i++) ob.append([item('plain')]);
    ob.setInflightFloor(3);
    const r = ob.append([item('sealed')]);
    expect(r.dropped).toBe(1);
    expect(rowsOf(db).map(([s]) => s)).toEqual([1, 2, 3, 5, 6]);
  });

  it('repeats the gap report while a refusal lasts', () => {
    const db = memoryDb();
    let now = T0;
    const ob = outbox(db, { budgetBytes: 2000, gapRepeatMs: 60_000 }, { now: () => now });
    ob.append([item('sealed'), item('sealed')]);
    ob.append([item('sealed')]);
    now += 30_000;
    ob.append([item('sealed')]);
    // Notices are small and exempt from the budget: the cloud hears of the gap while it lasts.
    expect(rowsOf(db).map(([, k]) => k)).toEqual(['sealed', 'sealed', 'gap']);
    now += 31_000;
    ob.append([item('sealed')]);
    expect(rowsOf(db).map(([, k]) => k)).toEqual(['sealed', 'sealed', 'gap', 'gap']);
  });
});

describe('outbox: gap ranges', () => {
  it('merges neighbouring sequence numbers into ranges', () => {
    expect(addToRanges([], [2, 3, 4, 7, 9, 10])).toEqual([
      [2, 4],
      [7, 7],
      [9, 10],
    ]);
    expect(addToRanges([[1, 2]], [3, 5])).toEqual([
      [1, 3],
      [5, 5],
    ]);
  });

  it('a tampered gap notice is refused', () => {
    const text = buildGapNotice({
      plant,
      seq: 5,
      issued: T0,
      report: { dropped: { batches: 1, seqs: [[3, 3]] }, notRecorded: { sealed: 0, plain: 0 }, totals: { dropped: 1, notRecorded: 0 } },
      signer,
    });
    expect(openGapNotice(text, { plantPublicKeys: plantKeys, now: T0 }).ok).toBe(true);
    const r = openGapNotice(text.replace('"batches":1', '"batches":0'), { plantPublicKeys: plantKeys, now: T0 });
    expect(r.ok === false && r.reason).toBe('bad_signature');
  });
});

describe('outbox: disk reclaim', () => {
  it('gives the pages of a drained backlog back to the file system', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pc-outbox-'));
    dirs.push(dir);
    const file = join(dir, 'plant.db');
    const db = openEncryptedDatabase(file, randomBytes(32));
    migrate(db);
    const ob = outbox(db, { budgetBytes: 64 * 1024 * 1024 });
    for (let i = 0; i < 20; i++) ob.append(Array.from({ length: 50 }, () => item(i % 2 ? 'plain' : 'sealed', 8000)));
    db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').raw().all();
    const full = statSync(file).size;
    expect(full).toBeGreaterThan(8_000_000);
    ob.remove(ob.after(0, 2000).map((r) => r.seq));
    db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').raw().all();
    expect(statSync(file).size).toBe(full);
    for (let i = 0; i < 100 && ob.reclaim(512) > 0; i++);
    db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').raw().all();
    expect((db.prepare('PRAGMA freelist_count').raw().get() as [number])[0]).toBe(0);
    expect(statSync(file).size).toBeLessThan(full / 10);
    db.close();
  });
});
