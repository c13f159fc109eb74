/** The encrypted plant store on disk: no plaintext, wrong key, persistence, same queries as memory, disk budget, migrations. */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMemoryHistory } from '../../src-main/core/history-memory';
import { memoryLogger, silentLogger } from '../../src-main/core/log';
import type { HistoryStore } from '../../src-main/core/types';
import { runCli } from '../../src-main/cli';
import { StoreError } from '../../src-main/store/errors';
import { openEncryptedDatabase, openPlantStore, type OpenPlantStoreOptions, type PlantStore } from '../../src-main/store/open';
import { migrate, MIGRATIONS, SCHEMA_VERSION, schemaVersion } from '../../src-main/store/schema';
import type { KpiSample } from '../../src-preload/contract';

const PASS = 'integration passphrase';
const T0 = Date.UTC(2026, 0, 12, 6);
const MIB = 1024 * 1024;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'pc-store-'));
}

function open(dataDir: string, extra: Partial<OpenPlantStoreOptions> = {}): Promise<PlantStore> {
  return openPlantStore({
    dataDir,
    demo: false,
    passphrase: PASS,
    env: {},
    prompt: null,
    log: silentLogger,
    ...extra,
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0, ...extra.history },
  });
}

function kpi(t: number, good: number): KpiSample {
  return { t, availability: 0.9, performance: null, quality: 0.99, oee: 0.5, goodCount: good, scrapCount: 1 };
}

function feed(h: HistoryStore, n: number, value: (i: number) => number | null, step = 1000): void {
  for (let i = 0; i < n; i++) h.append('m1', 'p', T0 + i * step, value(i));
}

describe('plant store on disk', () => {
  it('leaves no plaintext in the database file or its WAL', async () => {
    const dir = tempDir();
    const store = await open(dir);
    const marker = 'ZZ-DISTINCTIVE-PLAINTEXT-4711';
    for (let i = 0; i < 50; i++) store.history.append(marker, `${marker}-point`, T0 + i * 1000, 1234.5678 + i);
    store.history.flush();
    store.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run([marker, `${marker} customer name`]);
    const wal = readFileSync(join(dir, 'plant.db-wal'));
    expect(wal.length).toBeGreaterThan(0);
    store.db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').all();
    const main = readFileSync(join(dir, 'plant.db'));
    expect(main.length).toBeGreaterThan(4096);
    for (const bytes of [wal, main]) {
      expect(bytes.includes(Buffer.from(marker, 'utf8'))).toBe(false);
      expect(bytes.includes(Buffer.from(marker, 'utf16le'))).toBe(false);
      expect(bytes.includes(Buffer.from('SQLite format 3'))).toBe(false);
      // Secret keys of the identity must not be findable either.
      expect(bytes.includes(store.identity.signing.secretKey)).toBe(false);
      expect(bytes.includes(store.identity.encryption.secretKey)).toBe(false);
    }
    for (const f of ['plant.db', 'plant.db-wal', 'store-key.json']) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    store.close();
  });

  it('refuses to open with another key, with a clear error', async () => {
    const dir = tempDir();
    (await open(dir)).close();
    const err = (() => {
      try {
        openEncryptedDatabase(join(dir, 'plant.db'), Buffer.alloc(32, 9));
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).reason).toBe('wrong-key');
    expect((err as StoreError).message).toMatch(/plant\.db cannot be opened with this key: it was encrypted with another key/);
  });

  it('names a truncated or damaged store file and what to do; a damaged header is not "another key"', async () => {
    const dir = tempDir();
    const first = await open(dir);
    first.history.append('m1', 'p', T0, 1);
    first.history.flush();
    // Everything in plant.db itself (libsql keeps its WAL on close): the damage below hits real pages.
    first.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    first.close();
    // The second start learns plant.db's salt into store-guard.bin.
    const second = await open(dir);
    second.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    second.close();
    const file = join(dir, 'plant.db');
    const good = readFileSync(file);
    const opening = async (): Promise<StoreError> => {
      try {
        (await open(dir)).close();
      } catch (e) {
        return e as StoreError;
      }
      throw new Error('opened');
    };

    const header = Buffer.from(good);
    header[20] = header[20]! ^ 0xff;
    writeFileSync(file, header);
    let err = await opening();
    expect(err).toMatchObject({ reason: 'damaged' });
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/header cannot be read.*the key is right/);
    expect(err.message).toMatch(/restore plant\.db.*from a backup/);

    writeFileSync(file, good.subarray(0, 5000));
    err = await opening();
    expect(err).toMatchObject({ reason: 'damaged' });
    expect(err.message).toMatch(new RegExp(`The store file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged`));

    // Another store's file (another key) is still called that.
    const other = tempDir();
    const o = await open(other);
    o.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    o.close();
    writeFileSync(file, readFileSync(join(other, 'plant.db')));
    err = await opening();
    expect(err).toMatchObject({ reason: 'wrong-key' });

    // As a person meets it: one line naming the file, no stack trace.
    writeFileSync(file, good.subarray(0, 5000));
    let said = '';
    process.env.PLANT_CONSOLE_PASSPHRASE = PASS;
    try {
      expect(await runCli(['keys', 'show', '--data-dir', dir], { out: () => {}, err: (t) => void (said += t) })).toBe(1);
    } finally {
      delete process.env.PLANT_CONSOLE_PASSPHRASE;
    }
    expect(said).toMatch(/^plant-console: The store file .*plant\.db is damaged or truncated/);
    expect(said).not.toMatch(/\n\s+at /);
  });

  it('keeps history, KPIs and the schema across close and reopen', async () => {
    const dir = tempDir();
    const first = await open(dir);
    feed(first.history, 100, (i) => (i === 50 ? null : i));
    first.history.appendKpi('m1', kpi(T0, 10));
    first.history.appendKpi('m1', kpi(T0 + 60_000, 20));
    first.close();

    const second = await open(dir);
    expect(second.created).toBe(false);
    const s = second.history.query('m1', 'p', T0, T0 + 99_000, 1000);
    expect(s.t).toHaveLength(100);
    expect(s.v[49]).toBe(49);
    expect(s.v[50]).toBeNull();
    expect(second.history.kpis('m1', T0 + 1)).toEqual([kpi(T0 + 60_000, 20)]);
    // Appends continue in time order after a restart; one from before the last sample is dropped.
    second.history.append('m1', 'p', T0 + 5000, 999);
    second.history.append('m1', 'p', T0 + 100_000, 100);
    second.history.appendKpi('m1', kpi(T0, 1));
    expect(second.history.query('m1', 'p', T0, T0 + 200_000, 1000).v.slice(-2)).toEqual([99, 100]);
    expect(second.history.kpis('m1', 0)).toHaveLength(2);
    second.close();
  });

  it('answers queries from its write buffer before any flush', async () => {
    const store = await open(tempDir(), { history: { flushIntervalMs: 0 } });
    feed(store.history, 10, (i) => i);
    store.history.flush();
    // The older ones are dropped; the one at the last stored time is kept after it (same t).
    feed(store.history, 20, (i) => (i < 10 ? -1 : i));
    expect(store.history.stats().samplesWritten).toBe(10);
    const s = store.history.query('m1', 'p', T0 + 5000, T0 + 14_000, 100);
    expect(s.v).toEqual([5, 6, 7, 8, 9, -1, 10, 11, 12, 13, 14]);
    expect(store.history.stats().samplesWritten).toBe(10);
    store.close();
  });

  it('writes its buffer from a timer, in slices, losing and reordering nothing', async () => {
    const store = await open(tempDir(), { history: { flushIntervalMs: 20 } });
    const mem = createMemoryHistory({ retentionMs: 365 * 86_400_000 });
    for (let s = 0; s < 200; s++)
      for (const h of [store.history, mem]) for (let p = 0; p < 300; p++) h.append('m1', `p${p}`, T0 + s * 1000, s * p);
    const until = Date.now() + 10_000;
    while (store.history.stats().samplesWritten < 60_000 && Date.now() < until) {
      // Queries during the drain see every sample, stored or not.
      expect(store.history.query('m1', 'p299', T0, T0 + 200_000, 50)).toEqual(mem.query('m1', 'p299', T0, T0 + 200_000, 50));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(store.history.stats()).toMatchObject({ samplesWritten: 60_000, samplesDropped: 0 });
    for (const p of ['p0', 'p150', 'p299'])
      expect(store.history.query('m1', p, T0, T0 + 200_000, 1000)).toEqual(mem.query('m1', p, T0, T0 + 200_000, 1000));
    store.close();
  });

  it('seals its open chunks a group of series at a time, every series once per flush interval', async () => {
    // 400 ms: 8 groups, one every 50 ms; sealing all 2 500 series of a plant at once held the event loop 100 ms.
    const store = await open(tempDir(), { history: { flushIntervalMs: 400 } });
    for (let p = 0; p < 40; p++) store.history.append('m1', `p${p}`, T0, p);
    const first = await new Promise<number>((resolve) => {
      const off = store.history.onReport((s) => {
        off();
        resolve(s.samplesWritten);
      });
    });
    expect(first).toBe(40 / 8);
    await new Promise<void>((resolve) => {
      const off = store.history.onReport((s) => {
        if (s.samplesWritten < 40) return;
        off();
        resolve();
      });
    });
    expect(store.history.stats()).toMatchObject({ samplesWritten: 40, buffered: 0 });
    store.close();
  });

  it('records by exception as the in-memory store does, and keeps the steps over a restart', async () => {
    const dir = tempDir();
    const store = await open(dir);
    const mem = createMemoryHistory({ retentionMs: 365 * 86_400_000 });
    const rule = { deadband: 0.5, maxIntervalMs: 60_000 };
    // A slow signal with 0.1 of noise, a step, a gap, and a long flat stretch.
    const value = (i: number): number | null => (i >= 300 && i < 310 ? null : (i < 200 ? 20 : 25) + ((i * 7) % 3) / 10);
    for (const h of [store.history, mem]) {
      const w = h.series('m1', 'slow', rule);
      for (let i = 0; i < 1000; i++) w.append(T0 + i * 1000, value(i));
    }
    const all = store.history.query('m1', 'slow', T0, T0 + 1_000_000, 100_000);
    expect(all).toEqual(mem.query('m1', 'slow', T0, T0 + 1_000_000, 100_000));
    // Recorded: the first sample, the held one and the step at 200 s, the gap and the first value after it, one a minute, the held latest.
    expect(all.t.length).toBeLessThan(30);
    expect(all.t.slice(0, 4)).toEqual([T0, T0 + 60_000, T0 + 120_000, T0 + 180_000]);
    const step = all.t.indexOf(T0 + 200_000);
    expect(all.t[step - 1]).toBe(T0 + 199_000);
    expect([all.v[step - 1], all.v[step]]).toEqual([value(199), value(200)]);
    expect(all.v).toContain(null);
    expect(all.t.at(-1)).toBe(T0 + 999_000);
    store.history.flush();
    expect(store.history.stats().samplesWritten).toBe(all.t.length - 1);
    store.close();
    // After a restart the recorded samples are there; the held one was only in memory.
    const again = await open(dir);
    expect(again.history.query('m1', 'slow', T0, T0 + 1_000_000, 100_000).t).toEqual(all.t.slice(0, -1));
    again.close();
  });

  it('gives the same downsampled series as the in-memory store', async () => {
    const store = await open(tempDir());
    const mem = createMemoryHistory({ retentionMs: 365 * 86_400_000 });
    const value = (i: number): number | null =>
      i >= 4000 && i < 4050 ? null : i === 1234 ? 500 : i === 8765 ? -400 : Math.sin(i / 300) * 10 + ((i * 7919) % 13);
    for (const h of [store.history, mem]) {
      feed(h, 10_000, value);
      // Two samples with one timestamp, and one from the past (dropped by both).
      h.append('m1', 'p', T0 + 10_000_000, 1);
      h.append('m1', 'p', T0 + 10_000_000, 2);
      h.append('m1', 'p', T0 + 5, 3);
      h.append('m1', 'q', T0, Number.NaN);
    }
    // Ranges whose pixels span less than a minute, or hold few samples, are drawn from raw samples.
    const ranges = [
      [T0, T0 + 10_000_000, 200],
      [T0 + 3_000_000, T0 + 5_000_000, 61],
      [T0 + 1000, T0 + 1000, 10],
      [T0, T0 + 10_000_000, 100_000],
      [T0 + 5, T0 + 2, 10],
      [T0 + 600_000 - 5000, T0 + 600_000 + 5000, 100],
    ] as const;
    // From open chunks, from the database (compacted into 10-minute blocks), and from both.
    for (const [from, to, max] of ranges)
      expect(store.history.query('m1', 'p', from, to, max)).toEqual(mem.query('m1', 'p', from, to, max));
    store.history.flush();
    expect(store.history.stats()).toMatchObject({ samplesWritten: 10_003, buffered: 0, samplesDropped: 0 });
    expect(store.history.stats().compactions).toBeGreaterThan(16);
    for (const [from, to, max] of ranges)
      expect(store.history.query('m1', 'p', from, to, max)).toEqual(mem.query('m1', 'p', from, to, max));
    for (const h of [store.history, mem]) for (let i = 0; i < 500; i++) h.append('m1', 'p', T0 + 10_000_001 + i * 1000, i % 17);
    expect(store.history.query('m1', 'p', T0, T0 + 11_000_000, 300)).toEqual(mem.query('m1', 'p', T0, T0 + 11_000_000, 300));
    expect(store.history.query('m1', 'q', T0, T0, 10)).toEqual(mem.query('m1', 'q', T0, T0, 10));
    expect(store.history.query('nope', 'p', T0, T0 + 1000, 10)).toEqual(mem.query('nope', 'p', T0, T0 + 1000, 10));
    // A chart whose pixels span minutes is drawn from the one-minute rollups: every extreme and the gap kept, in minutes.
    const wide = store.history.query('m1', 'p', T0, T0 + 10_000_000, 7);
    expect(wide.t.length).toBeLessThanOrEqual(7);
    const exact = mem.query('m1', 'p', T0, T0 + 10_000_000, 7);
    expect(Math.max(...wide.v.filter((v) => v !== null))).toBe(500);
    expect(Math.min(...wide.v.filter((v) => v !== null))).toBe(-400);
    expect(wide.v.includes(null)).toBe(exact.v.includes(null));
    wide.t.forEach((t, i) => expect(Math.abs(t - exact.t[i]!)).toBeLessThan(60_000));
    store.history.trim(T0 + 5_000_000);
    mem.trim(T0 + 5_000_000);
    store.history.flush();
    // Raw samples go by whole 10-minute blocks (here before T0 + 80 min); the older range is drawn from the rollups.
    expect(store.history.query('m1', 'p', T0 + 5_000_000, T0 + 10_000_000, 300)).toEqual(
      mem.query('m1', 'p', T0 + 5_000_000, T0 + 10_000_000, 300),
    );
    const old = store.history.query('m1', 'p', T0, T0 + 4_799_999, 100_000);
    expect(old.t.length).toBeGreaterThan(80);
    expect(old.t[0]).toBe(T0);
    expect(Math.max(...old.v.filter((v) => v !== null))).toBe(500);
    store.close();
  });

  it('trims the oldest chunks when over its disk budget, keeps the newest, never throws', async () => {
    const log = memoryLogger();
    const budget = 1 * MIB;
    // Ten minutes after the last sample: every block is compacted and rolled up, so every raw chunk may go.
    const clock = { now: () => T0 + 3100_000 };
    const store = await open(tempDir(), { log, clock, history: { diskBudgetBytes: budget } });
    const h = store.history;
    // 250 000 samples of noise (no encoding shrinks it much) ≈ 2 MiB: twice the budget.
    let x = 1;
    const noise = (): number => ((x = (x * 48_271) % 2_147_483_647) / 2_147_483_647) * 1000;
    for (let s = 0; s < 2500; s++) for (let p = 0; p < 100; p++) h.append('m1', `p${p}`, T0 + s * 1000, p === 7 ? s + 0.07 : noise());
    h.flush();
    expect(h.usedBytes()).toBeGreaterThan(budget);
    expect(() => h.maintain()).not.toThrow();
    const stats = h.stats();
    expect(stats.usedBytes).toBeLessThanOrEqual(budget);
    expect(stats.overBudget).toBe(false);
    expect(stats.budgetTrims).toBe(1);
    expect(stats.budgetTrimmed).toBeGreaterThan(60_000);
    const newest = h.query('m1', 'p7', T0 + 2400_000, T0 + 2499_000, 1000);
    expect(newest.t).toHaveLength(100);
    expect(newest.v.at(-1)).toBe(2499.07);
    const rawStart = (store.db.prepare('SELECT min(t0) FROM history_chunks').raw().get() as [number])[0];
    const kept = h.query('m1', 'p7', rawStart, T0 + 2499_000, 100_000).t;
    // Oldest first: what is left is one contiguous, newest stretch of whole 10-minute blocks.
    expect(kept.at(-1)).toBe(T0 + 2499_000);
    expect(kept[0]).toBeGreaterThan(T0);
    expect(kept[0]! % 600_000).toBe(0);
    expect(kept).toHaveLength((kept.at(-1)! - kept[0]!) / 1000 + 1);
    // Before it, the one-minute rollups still draw the trimmed stretch.
    expect(h.query('m1', 'p7', T0, rawStart - 1, 100_000).t[0]).toBe(T0);
    expect(stats.budgetTrimmedRollups).toBe(0);
    expect(log.lines.some((l) => l.level === 'warn' && l.msg.startsWith('History over its disk budget'))).toBe(true);
    // The file itself shrank (free pages released, WAL checkpointed).
    expect(statSync(join(store.dataDir, 'plant.db')).size).toBeLessThanOrEqual(budget);

    // A budget smaller than the empty schema: everything trimmed, reported, still no throw.
    const tiny = await open(tempDir(), { clock, history: { diskBudgetBytes: 1024 } });
    feed(tiny.history, 1000, (i) => i);
    expect(() => tiny.history.maintain()).not.toThrow();
    expect(tiny.history.stats()).toMatchObject({ overBudget: true, budgetTrimmed: 1000, budgetTrimmedRollups: 17 });
    expect(tiny.history.query('m1', 'p', T0, T0 + 1_000_000, 10).t).toEqual([]);
    tiny.history.append('m1', 'p', T0 + 2_000_000, 1);
    expect(tiny.history.query('m1', 'p', T0, T0 + 3_000_000, 10).v).toEqual([1]);
    tiny.close();
    store.close();
  });

  it('applies the retention in days', async () => {
    let now = T0 + 10 * 86_400_000;
    const store = await open(tempDir(), { clock: { now: () => now }, history: { retentionDays: 7 } });
    for (let d = 0; d <= 10; d++) {
      store.history.append('m1', 'p', T0 + d * 86_400_000, d);
      store.history.appendKpi('m1', kpi(T0 + d * 86_400_000, d));
    }
    store.history.maintain();
    // Days 0–2 are left as one-minute rollups (kept 90 days), not as raw samples.
    expect(store.history.query('m1', 'p', 0, now, 100).v).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(store.db.prepare('SELECT count(*), sum(n) FROM history_chunks').raw().get()).toEqual([8, 8]);
    expect(store.history.kpis('m1', 0).map((k) => k.goodCount)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(store.history.stats().retentionTrimmed).toBe(3);
    now += 86_400_000;
    store.history.maintain();
    expect(store.db.prepare('SELECT min(t0) FROM history_chunks').raw().get()).toEqual([T0 + 4 * 86_400_000]);
    store.close();
  });

  it('applies migrations once, in one transaction, and refuses a newer schema', async () => {
    const dir = tempDir();
    const first = await open(dir);
    expect(schemaVersion(first.db)).toBe(SCHEMA_VERSION);
    const tables = (first.db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").raw().all() as [string][]).map((r) => r[0]);
    for (const t of [
      'schema_version',
      'meta',
      'series',
      'history_chunks',
      'kpi_samples',
      'plant_keys',
      'uplink_outbox',
      'sequence',
      'write_log',
      'alarms',
      'alarm_events',
      'users',
      'sessions',
      'audit_log',
      'audit_heads',
      'history_rollups',
    ]) {
      expect(tables).toContain(t);
    }
    const outboxCols = (first.db.prepare('PRAGMA table_info(uplink_outbox)').all() as { name: string }[]).map((c) => c.name);
    expect(outboxCols).toEqual(['id', 'seq', 'kind', 'machine', 'bytes', 'created_at']);
    expect(first.db.prepare("SELECT value FROM sequence WHERE name = 'uplink'").raw().get()).toEqual([0]);
    expect(migrate(first.db)).toEqual([]);
    first.close();

    const second = await open(dir);
    expect(second.db.prepare('SELECT count(*) FROM schema_version').raw().get()).toEqual([MIGRATIONS.length]);
    // A later migration list: a failing step rolls back every pending one.
    const next = SCHEMA_VERSION + 1;
    const broken = [
      ...MIGRATIONS,
      { version: next, name: 'ok', sql: 'CREATE TABLE later (x)' },
      { version: next + 1, name: 'bad', sql: 'CREATE TABLE nonsense (' },
    ];
    expect(() => migrate(second.db, broken)).toThrow();
    expect(schemaVersion(second.db)).toBe(SCHEMA_VERSION);
    expect(second.db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'later'").raw().get()).toEqual([0]);
    expect(migrate(second.db, broken.slice(0, -1))).toEqual([next]);
    second.close();

    const newer = await open(dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(newer).toBeInstanceOf(StoreError);
    expect((newer as StoreError).reason).toBe('schema-too-new');
  });

  it('marks a demo store as such and refuses to mix demo and configured plants', async () => {
    const dir = tempDir();
    const demo = await open(dir, { demo: true, passphrase: undefined });
    expect(demo.wrapper).toBe('demo-key-file');
    expect(demo.db.prepare("SELECT value FROM meta WHERE key = 'demo'").raw().get()).toEqual(['true']);
    demo.close();
    const refused = await open(dir, { demo: false }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((refused as StoreError).reason).toBe('demo-mismatch');
  });
});
