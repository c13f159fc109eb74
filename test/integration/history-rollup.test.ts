/** The downsampled history tier: one-minute rollups outlive raw chunks, feed queries, go last under the disk budget, and roll up idempotently. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src-main/core/log';
import { decodeRollup } from '../../src-main/store/history-rollup';
import { HistoryWriter } from '../../src-main/store/history-writer';
import { openPlantStore, type OpenPlantStoreOptions, type PlantStore } from '../../src-main/store/open';
import { blobOf } from '../../src-main/store/schema';

const T0 = Date.UTC(2026, 0, 12, 6);
const MIN = 60_000;
const DAY = 86_400_000;

function open(dataDir: string, now: () => number, history: OpenPlantStoreOptions['history'] = {}): Promise<PlantStore> {
  return openPlantStore({
    dataDir,
    demo: false,
    passphrase: 'rollup passphrase',
    env: {},
    prompt: null,
    log: silentLogger,
    clock: { now },
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0, ...history },
  });
}

/** One sample every 10 s: value i % 6 within a minute (min 0, max 5, mean 2.5); minute 7 of each day holds only gaps. */
function feed(store: PlantStore, minutes: number, start = T0): void {
  for (let i = 0; i < minutes * 6; i++) {
    const minute = Math.floor(i / 6);
    store.history.append('m1', 'p', start + i * 10_000, minute % 1440 === 7 ? null : (i % 6) + minute);
  }
}

/** Every rollup row, decoded: [series, t, n, gaps, min, max, sum or mean, min first]. */
function rollups(store: PlantStore): (number | null)[][] {
  const out: (number | null)[][] = [];
  for (const [series, data] of store.db.prepare('SELECT series, data FROM history_rollups ORDER BY series, hour').raw().all() as [
    number,
    unknown,
  ][]) {
    const c = decodeRollup(blobOf(data));
    c.t.forEach((t, k) =>
      out.push([series, t, c.n[k]!, c.gaps[k]!, c.n[k] ? c.min[k]! : null, c.max[k] ?? null, c.sum[k] ?? null, c.minFirst[k]!]),
    );
  }
  return out;
}
const rawCount = (store: PlantStore): number =>
  (store.db.prepare('SELECT coalesce(sum(n), 0) FROM history_chunks').raw().get() as [number])[0];

describe('history rollups', () => {
  it('keeps one-minute min/max/mean after the raw chunks age out, and queries draw from them', async () => {
    let now = T0 + 3 * DAY;
    const store = await open(mkdtempSync(join(tmpdir(), 'pc-rollup-')), () => now, { retentionDays: 1, rollupRetentionDays: 2 });
    // Three days, one sample every 10 s.
    feed(store, 3 * 1440);
    store.history.maintain();
    const raw = store.db.prepare('SELECT min(t0), sum(n) FROM history_chunks').raw().get() as [number, number];
    expect(raw).toEqual([T0 + 2 * DAY, 1440 * 6]);
    // Older than two days: neither raw nor rolled up; the rest rolled up but for the block still open.
    const rows = rollups(store);
    expect(rows[0]![1]).toBe(T0 + DAY);
    expect(rows.at(-1)![1]).toBe(now - 11 * MIN);
    expect(rows).toHaveLength(2 * 1440 - 10);
    const stats = store.history.stats();
    expect(stats.retentionTrimmed).toBe(2 * 1440 * 6);
    expect(stats.rollupRetentionTrimmed).toBe(1440);

    // One day ago plus 3 min: six samples 3..8 in order (minimum first); the sum is kept, the mean derived.
    const minute = T0 + DAY + 3 * MIN;
    const m = (DAY + 3 * MIN) / MIN;
    expect(rows.find((r) => r[1] === minute)).toEqual([1, minute, 6, 0, m, m + 5, 6 * (m + 2.5), 1]);
    // A minute of gaps only stays a gap.
    expect(rows.find((r) => r[1] === T0 + DAY + 7 * MIN)?.slice(2, 5)).toEqual([0, 6, null]);

    // Old range: min then max per minute, in time order, the gap kept.
    const old = store.history.query('m1', 'p', T0 + DAY, T0 + DAY + 10 * MIN - 1, 1000);
    expect(old.t.slice(0, 4)).toEqual([T0 + DAY, T0 + DAY + 30_000, T0 + DAY + MIN, T0 + DAY + MIN + 30_000]);
    expect(old.v.slice(6, 8)).toEqual([m, m + 5]);
    expect(old.v[14]).toBeNull();
    expect(old.t).toEqual([...old.t].sort((a, b) => a - b));

    // A chart over all three days: rollups then raw samples, downsampled to maxPoints.
    const all = store.history.query('m1', 'p', T0, now, 600);
    expect(all.t.length).toBeLessThanOrEqual(600);
    expect(all.t[0]).toBe(T0 + DAY);
    expect(all.t.at(-1)).toBe(T0 + 3 * DAY - 10_000);
    expect(all.v).toContain(null);

    // A day later, the last day of raw samples is rollups too; nothing older than two days stays.
    now += DAY;
    store.history.maintain();
    expect(rawCount(store)).toBe(0);
    expect(rollups(store)[0]![1]).toBe(T0 + 2 * DAY);
    expect(store.history.query('m1', 'p', T0 + 2 * DAY, T0 + 2 * DAY + 5 * MIN, 1000).t.length).toBeGreaterThan(5);
    store.close();
  });

  it('under the disk budget trims compacted raw chunks first, then rollups, never chunks not rolled up', async () => {
    const now = T0 + 600 * MIN;
    const store = await open(mkdtempSync(join(tmpdir(), 'pc-rollup-')), () => now, { retentionDays: 30, diskBudgetBytes: 1024 });
    // 600 minutes of samples up to now: the last block (ten minutes) is not compacted nor rolled up yet.
    for (let p = 0; p < 10; p++) for (let i = 0; i < 600 * 6; i++) store.history.append('m1', `p${p}`, T0 + i * 10_000, i % 7);
    store.history.flush();
    expect(() => store.history.maintain()).not.toThrow();
    const stats = store.history.stats();
    expect(stats.overBudget).toBe(true);
    expect(stats.budgetTrims).toBe(1);
    expect(stats.budgetTrimmed).toBe(10 * 590 * 6);
    expect(stats.budgetTrimmedRollups).toBe(10 * 590);
    // What is left: the ten newest minutes, raw.
    expect(store.db.prepare('SELECT min(t0), sum(n) FROM history_chunks').raw().get()).toEqual([T0 + 590 * MIN, 10 * 10 * 6]);
    store.close();

    // A budget that only needs some raw chunks gone: rollups untouched, oldest raw first.
    const dir = mkdtempSync(join(tmpdir(), 'pc-rollup-'));
    const big = await open(dir, () => now, { retentionDays: 30 });
    let x = 7;
    const noise = (): number => (x = (x * 48_271) % 2_147_483_647) / 1e4;
    for (let p = 0; p < 40; p++) for (let i = 0; i < 300 * 6; i++) big.history.append('m1', `p${p}`, T0 + i * 10_000, noise());
    big.history.maintain();
    const used = big.history.usedBytes();
    big.close();
    const tight = await open(dir, () => now, { retentionDays: 30, diskBudgetBytes: Math.floor(used * 0.7) });
    tight.history.maintain();
    const after = tight.history.stats();
    expect(after.overBudget).toBe(false);
    expect(after.budgetTrimmed).toBeGreaterThan(0);
    expect(after.budgetTrimmedRollups).toBe(0);
    expect(rollups(tight)[0]![1]).toBe(T0);
    const rawStart = (tight.db.prepare('SELECT min(t0) FROM history_chunks').raw().get() as [number])[0];
    expect(rawStart).toBeGreaterThan(T0);
    expect(rawStart % (10 * MIN)).toBe(0);
    // The chart still starts at T0 (rollups), then continues with raw samples.
    const q = tight.history.query('m1', 'p3', T0, now, 100_000);
    expect(q.t[0]).toBe(T0);
    expect(q.t.at(-1)).toBe(T0 + 300 * MIN - 10_000);
    tight.close();
  });

  it('rolls up idempotently: compacting a block again (a crash, a late chunk) writes the same rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pc-rollup-'));
    let now = T0 + 120 * MIN;
    const first = await open(dir, () => now, { retentionDays: 1 });
    feed(first, 100);
    // Compacted and rolled up, raw kept (within its retention): what a crash before any deletion leaves.
    first.history.maintain();
    const before = rollups(first);
    expect(before).toHaveLength(100);
    expect(rawCount(first)).toBe(600);
    const chunks = first.db.prepare('SELECT id, t0, t1, n, level FROM history_chunks ORDER BY id').raw().all();
    expect(chunks).toHaveLength(10);
    // Compacting the same blocks again writes the same rows and the same chunks.
    const again = new HistoryWriter(first.db, { retentionMs: DAY, rollupRetentionMs: 90 * DAY, budgetBytes: 1e12, settleMs: 0 });
    for (let b = 0; b < 10; b++) again.compactBlock(1, T0 + b * 10 * MIN);
    expect(rollups(first)).toEqual(before);
    expect(first.db.prepare('SELECT id, t0, t1, n, level FROM history_chunks ORDER BY id').raw().all()).toEqual(chunks);
    // A late sample of an old block (a chunk sealed late) is compacted into that block's chunk and rollup.
    first.close();

    // After the restart, the raw chunks go once their retention passes; the rollups are unchanged.
    now += 2 * DAY;
    const second = await open(dir, () => now, { retentionDays: 1 });
    second.history.maintain();
    expect(rawCount(second)).toBe(0);
    expect(rollups(second)).toEqual(before);
    expect(second.history.stats().retentionTrimmed).toBe(600);
    const q = second.history.query('m1', 'p', T0, T0 + 100 * MIN, 10_000);
    expect(q.t[0]).toBe(T0);
    expect(Math.max(...q.v.filter((v): v is number => v !== null))).toBe(99 + 5);
    second.close();
  });
});
