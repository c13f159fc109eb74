/** The downsampled history tier: one-minute rollups outlive raw samples, feed queries, go last under the disk budget, and roll up idempotently. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src-main/core/log';
import { createRollup } from '../../src-main/store/history-rollup';
import { openPlantStore, type OpenPlantStoreOptions, type PlantStore } from '../../src-main/store/open';

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

const rollups = (store: PlantStore): unknown[] =>
  store.db.prepare('SELECT series, t, n, gaps, min, max, avg, min_first FROM history_rollup ORDER BY series, t').raw().all();
const rawCount = (store: PlantStore): number => (store.db.prepare('SELECT count(*) FROM history').raw().get() as [number])[0];

describe('history rollups', () => {
  it('keeps one-minute min/max/mean after the raw samples age out, and queries draw from them', async () => {
    let now = T0 + 3 * DAY;
    const store = await open(mkdtempSync(join(tmpdir(), 'pc-rollup-')), () => now, { retentionDays: 1, rollupRetentionDays: 2 });
    // Three days, one sample every 10 s.
    feed(store, 3 * 1440);
    store.history.maintain();
    const raw = store.db.prepare('SELECT min(t), count(*) FROM history').raw().get() as [number, number];
    expect(raw[0]).toBe(T0 + 2 * DAY);
    // Older than two days: neither raw nor rolled up; the rest rolled up to ten minutes ago.
    const span = store.db.prepare('SELECT min(t), max(t), count(*) FROM history_rollup').raw().get() as [number, number, number];
    expect(span).toEqual([T0 + DAY, now - 11 * MIN, 2 * 1440 - 10]);
    const stats = store.history.stats();
    expect(stats.retentionTrimmed).toBe(2 * 1440 * 6);
    expect(stats.rollupRetentionTrimmed).toBe(1440);

    // One day ago plus 3 min: six samples 3..8 in order (minimum first).
    const minute = T0 + DAY + 3 * MIN;
    const row = store.db.prepare('SELECT n, gaps, min, max, avg, min_first FROM history_rollup WHERE t = ?').raw().get([minute]);
    const m = (DAY + 3 * MIN) / MIN;
    expect(row).toEqual([6, 0, m, m + 5, m + 2.5, 1]);
    // A minute of gaps only stays a gap.
    expect(
      store.db
        .prepare('SELECT n, gaps, min FROM history_rollup WHERE t = ?')
        .raw()
        .get([T0 + DAY + 7 * MIN]),
    ).toEqual([0, 6, null]);

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
    expect((store.db.prepare('SELECT min(t) FROM history_rollup').raw().get() as [number])[0]).toBe(T0 + 2 * DAY);
    expect(store.history.query('m1', 'p', T0 + 2 * DAY, T0 + 2 * DAY + 5 * MIN, 1000).t.length).toBeGreaterThan(5);
    store.close();
  });

  it('under the disk budget trims rolled-up raw samples first, then rollups, never samples not rolled up', async () => {
    const now = T0 + 600 * MIN;
    const store = await open(mkdtempSync(join(tmpdir(), 'pc-rollup-')), () => now, { retentionDays: 30, diskBudgetBytes: 1024 });
    // 600 minutes of samples up to now: the last ten minutes are not rolled up yet.
    for (let p = 0; p < 20; p++) for (let i = 0; i < 600 * 6; i++) store.history.append('m1', `p${p}`, T0 + i * 10_000, i % 7);
    store.history.flush();
    expect(() => store.history.maintain()).not.toThrow();
    const stats = store.history.stats();
    expect(stats.overBudget).toBe(true);
    expect(stats.budgetTrims).toBe(1);
    expect(stats.budgetTrimmed).toBe(20 * 590 * 6);
    expect(stats.budgetTrimmedRollups).toBe(20 * 590);
    // What is left: the ten newest minutes, raw.
    expect(store.db.prepare('SELECT min(t), count(*) FROM history').raw().get()).toEqual([T0 + 590 * MIN, 20 * 10 * 6]);
    expect(rawCount(store)).toBe(1200);
    store.close();

    // A budget that only needs some raw samples gone: rollups untouched, oldest raw first.
    const dir = mkdtempSync(join(tmpdir(), 'pc-rollup-'));
    const big = await open(dir, () => now, { retentionDays: 30 });
    for (let p = 0; p < 100; p++) for (let i = 0; i < 600 * 6; i++) big.history.append('m1', `p${p}`, T0 + i * 10_000, i % 7);
    big.history.maintain();
    const used = big.history.usedBytes();
    big.close();
    const tight = await open(dir, () => now, { retentionDays: 30, diskBudgetBytes: Math.floor(used * 0.7) });
    tight.history.maintain();
    const after = tight.history.stats();
    expect(after.overBudget).toBe(false);
    expect(after.budgetTrimmed).toBeGreaterThan(0);
    expect(after.budgetTrimmedRollups).toBe(0);
    expect((tight.db.prepare('SELECT min(t) FROM history_rollup').raw().get() as [number])[0]).toBe(T0);
    const rawStart = (tight.db.prepare('SELECT min(t) FROM history').raw().get() as [number])[0];
    expect(rawStart).toBeGreaterThan(T0);
    expect(rawStart % MIN).toBe(0);
    // The chart still starts at T0 (rollups), then continues with raw samples.
    const q = tight.history.query('m1', 'p3', T0, now, 100_000);
    expect(q.t[0]).toBe(T0);
    expect(q.t.at(-1)).toBe(T0 + 600 * MIN - 10_000);
    tight.close();
  });

  it('rolls up idempotently: a crash after the roll-up and before the raw deletion loses nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pc-rollup-'));
    let now = T0 + 120 * MIN;
    const first = await open(dir, () => now, { retentionDays: 1 });
    feed(first, 100);
    // Rolled up, raw kept (within its retention): what a crash before the deletion leaves.
    first.history.maintain();
    const before = rollups(first);
    expect(before).toHaveLength(100);
    expect(rawCount(first)).toBe(600);
    // Rolling the same minutes up again writes the same rows.
    const again = createRollup(first.db);
    expect(again.rollUp(now - 10 * MIN, undefined, T0)).toBe(100);
    expect(again.rollUp(now - 10 * MIN, undefined, T0)).toBe(100);
    expect(rollups(first)).toEqual(before);
    first.close();

    // After the restart, the raw samples go once their retention passes; the rollups are unchanged.
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
