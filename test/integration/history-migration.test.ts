/** Migration 8: a store written by the row-per-sample history (schema 6, test/fixtures/store-v6) becomes chunks, nothing lost. */
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KpiSample, Series } from '../../src-preload/contract';
import { silentLogger } from '../../src-main/core/log';
import { openPlantStore, type PlantStore } from '../../src-main/store/open';
import { schemaVersion, SCHEMA_VERSION } from '../../src-main/store/schema';

const FIXTURE = join(__dirname, '../fixtures/store-v6');

interface Expected {
  T0: number;
  now: number;
  queries: { args: [string, string, number, number, number]; series: Series }[];
  kpis: KpiSample[];
  rawRows: number;
  rollupRows: number;
}

const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;

/** A copy of the fixture's store in a directory of its own (the fixture itself is never written). */
function copyFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pc-migrate-'));
  for (const f of ['plant.db', 'store-key.json']) cpSync(join(FIXTURE, f), join(dir, f));
  return dir;
}

function openStore(dir: string, now: () => number): Promise<PlantStore> {
  return openPlantStore({
    dataDir: dir,
    demo: false,
    passphrase: 'fixture passphrase v6',
    env: {},
    prompt: null,
    log: silentLogger,
    clock: { now },
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0, retentionDays: 1, rollupRetentionDays: 90, diskBudgetBytes: 1e12 },
  });
}

/** JSON cannot tell −0 from 0; the fixture's expectations went through it. */
const viaJson = (s: Series): Series => JSON.parse(JSON.stringify(s)) as Series;

describe('history migration from schema 6', () => {
  it('converts every raw sample and rollup into chunks, and answers every query as the old store did', async () => {
    let now = expected.now;
    const dir = copyFixture();
    const store = await openStore(dir, () => now);
    expect(schemaVersion(store.db)).toBe(SCHEMA_VERSION);
    const tables = (store.db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").raw().all() as [string][]).map((r) => r[0]);
    expect(tables).not.toContain('history');
    expect(tables).not.toContain('history_rollup');
    // Every raw row is in a chunk, fresh (level 0) until the writer compacts and rolls it up.
    expect(store.db.prepare('SELECT sum(n), min(level), max(level) FROM history_chunks').raw().get()).toEqual([expected.rawRows, 0, 0]);
    const rollupRows = (store.db.prepare('SELECT sum(rows) FROM history_rollups').raw().get() as [number])[0];
    expect(rollupRows).toBe(expected.rollupRows);
    const check = (): void => {
      for (const { args, series } of expected.queries) expect(viaJson(store.history.query(...args))).toEqual(series);
      expect(store.history.kpis('m1', 0)).toEqual(expected.kpis);
    };
    check();
    // SQLite kept the −0 the old store was given as 0; the migration keeps what was stored, and
    // the chunks keep a sign from now on.
    expect(Object.is(store.history.query('m2', 'state', 0, Infinity, 1000).v[4], 0)).toBe(true);
    store.history.append('m2', 'state', expected.now, -0);
    expect(Object.is(store.history.query('m2', 'state', expected.now, expected.now, 10).v[0], -0)).toBe(true);
    // Compaction and rollups over the migrated chunks change no answer.
    store.history.maintain();
    // Every block that ended more than a settling time ago is compacted (the last one of each series waits).
    expect(
      store.db
        .prepare('SELECT count(*) FROM history_chunks WHERE level = 0 AND t1 < ?')
        .raw()
        .get([now - 11 * 60_000]),
    ).toEqual([0]);
    expect((store.db.prepare('SELECT count(*) FROM history_chunks WHERE level = 1').raw().get() as [number])[0]).toBeGreaterThan(100);
    check();
    // New samples continue the migrated series after their last one.
    const last = expected.queries[0]!.series.t.at(-1)!;
    store.history.append('m1', 'temp', last + 120_000, 42);
    expect(store.history.query('m1', 'temp', last, last + 120_000, 10).v).toEqual([expected.queries[0]!.series.v.at(-1), 42]);
    store.close();

    // A restart after the migration: nothing migrates again, the answers stay.
    now += 1000;
    const again = await openStore(dir, () => now);
    for (const { args, series } of expected.queries) expect(viaJson(again.history.query(...args))).toEqual(series);
    again.close();
  });
});
