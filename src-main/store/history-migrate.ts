/**
 * Migration 8: the row-per-sample history of schema 6 (`history`, `history_rollup`) becomes
 * compressed chunks, nothing lost. Raw samples become one chunk per series and 10-minute block,
 * marked fresh (level 0) so the writer compacts and rolls them up as it does new ones; the
 * one-minute rollups become one chunk per series and hour, keeping their means as they were.
 * Runs inside the migration's transaction: a crash leaves schema 6 as it was.
 */
import { encodeSamples, MAX_ABS_TIME } from './chunk-codec';
import { BLOCK_MS } from './history-layout';
import { emptyRollup, encodeRollup, HOUR_MS, type RollupColumns } from './history-rollup';
import type { StoreDb } from './schema';

/** Converts and drops the schema 6 history tables (absent tables: nothing to do). */
export function migrateHistoryToChunks(db: StoreDb): void {
  const has = (name: string): boolean =>
    (db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?").raw().get([name]) as [number] | undefined)?.[0] ===
    1;
  const seriesIds = (db.prepare('SELECT id FROM series ORDER BY id').raw().all() as [number][]).map((r) => r[0]);
  if (has('history')) {
    const rows = db.prepare('SELECT t, v FROM history WHERE series = ? ORDER BY t, n').raw();
    const insert = db.prepare('INSERT INTO history_chunks (series, t0, t1, n, level, data) VALUES (?, ?, ?, ?, 0, ?)');
    for (const id of seriesIds) {
      let t: number[] = [];
      let v: number[] = [];
      let block = NaN;
      const put = (): void => {
        if (t.length === 0) return;
        insert.run([id, t[0]!, t[t.length - 1]!, t.length, encodeSamples(t, v, t.length)]);
        t = [];
        v = [];
      };
      for (const [ts, value] of rows.iterate([id]) as Iterable<[number, number | null]>) {
        const at = Math.floor(ts);
        // No clock gives such times (±35,000 years); the chunk encoding cannot hold them.
        if (!(Math.abs(at) < MAX_ABS_TIME)) continue;
        const b = Math.floor(at / BLOCK_MS);
        if (b !== block) {
          put();
          block = b;
        }
        t.push(at);
        v.push(value === null ? NaN : value);
      }
      put();
    }
    db.exec('DROP TABLE history');
  }
  if (has('history_rollup')) {
    const rows = db.prepare('SELECT t, n, gaps, min, max, avg, min_first FROM history_rollup WHERE series = ? ORDER BY t').raw();
    const insert = db.prepare('INSERT INTO history_rollups (series, hour, rows, data) VALUES (?, ?, ?, ?)');
    for (const id of seriesIds) {
      let cols: RollupColumns = emptyRollup(true);
      let hour = NaN;
      const put = (): void => {
        if (cols.t.length > 0) insert.run([id, hour, cols.t.length, encodeRollup(cols)]);
        cols = emptyRollup(true);
      };
      type Row = [number, number, number, number | null, number | null, number | null, number];
      for (const [t, n, gaps, min, max, avg, minFirst] of rows.iterate([id]) as Iterable<Row>) {
        const h = Math.floor(t / HOUR_MS) * HOUR_MS;
        if (h !== hour) {
          put();
          hour = h;
        }
        cols.t.push(t);
        cols.n.push(n);
        cols.gaps.push(gaps);
        cols.min.push(min ?? NaN);
        cols.max.push(max ?? NaN);
        cols.sum.push(avg ?? NaN);
        cols.minFirst.push(minFirst);
      }
      put();
    }
    db.exec('DROP TABLE history_rollup');
  }
}
