/**
 * Reading one series of the SQL history for a query: one-minute rollups where the raw samples are
 * gone (or, over a range where a pixel spans minutes, wherever the rollups reach), then the raw
 * chunks in the database, then the chunks newer than those that the store still holds in memory.
 */
import { decodeSamples } from './chunk-codec';
import { BLOCK_MS } from './history-layout';
import { decodeRollup, HOUR_MS, MINUTE_MS, rollupPoints, rollupRows } from './history-rollup';
import { blobOf, type StoreDb } from './schema';

/** Samples held in memory: sealed chunks not yet confirmed written (by id), then the open one. */
export interface StoredChunk {
  id: number;
  t: ArrayLike<number>;
  v: ArrayLike<number>;
}

/** Above this many raw samples per point asked for, a range whose pixels span minutes is drawn from rollups. */
const RAW_PER_POINT = 4;

function statements(db: StoreDb) {
  return {
    first: db.prepare('SELECT t0 FROM history_chunks WHERE series = ? ORDER BY t1, id LIMIT 1').raw(),
    count: db.prepare('SELECT coalesce(sum(n), 0) FROM history_chunks WHERE series = ? AND t1 >= ? AND t1 < ? AND t0 <= ?').raw(),
    chunks: db.prepare('SELECT id, data FROM history_chunks WHERE series = ? AND t1 >= ? AND t1 < ? AND t0 <= ? ORDER BY t1, id').raw(),
    lastRollup: db.prepare('SELECT data FROM history_rollups WHERE series = ? ORDER BY hour DESC LIMIT 1').raw(),
    rollups: db.prepare('SELECT data FROM history_rollups WHERE series = ? AND hour >= ? AND hour < ? ORDER BY hour').raw(),
  };
}

const cache = new WeakMap<StoreDb, ReturnType<typeof statements>>();

/** Samples of series `id` with fromMs ≤ t ≤ toMs in time order (NaN for a gap), ready to downsample to `points`. */
export function readSeries(
  db: StoreDb,
  id: number,
  fromMs: number,
  toMs: number,
  points: number,
  newer: StoredChunk[],
): { ts: number[]; vs: number[] } {
  let q = cache.get(db);
  if (!q) {
    q = statements(db);
    cache.set(db, q);
  }
  const ts: number[] = [];
  const vs: number[] = [];
  const firstNewer = newer.find((c) => c.t.length > 0)?.t[0];
  const rawStart = (q.first.get([id]) as [number] | undefined)?.[0] ?? firstNewer ?? Infinity;
  let split = rawStart;
  if ((toMs - fromMs) / points >= MINUTE_MS) {
    let raw = Number((q.count.get([id, fromMs, toMs + BLOCK_MS, toMs]) as [number])[0]);
    for (const c of newer) raw += c.t.length;
    if (raw > RAW_PER_POINT * points) {
      const last = (q.lastRollup.get([id]) as [unknown] | undefined)?.[0];
      const rolled = last === undefined ? -Infinity : (decodeRollup(blobOf(last)).t.at(-1) ?? -Infinity) + MINUTE_MS;
      split = Math.max(split, rolled);
    }
  }
  if (fromMs < split) {
    const before = Math.min(toMs + 1, split);
    for (const [data] of q.rollups.iterate([id, Math.floor(fromMs / HOUR_MS) * HOUR_MS, before]) as Iterable<[unknown]>)
      rollupPoints(rollupRows(decodeRollup(blobOf(data)), fromMs, before), before, ts, vs);
  }
  const from = Math.max(fromMs, split === rawStart ? fromMs : split);
  const push = (t: ArrayLike<number>, v: ArrayLike<number>): void => {
    for (let i = 0; i < t.length; i++) {
      const x = t[i]!;
      if (x < from) continue;
      if (x > toMs) break;
      ts.push(x);
      vs.push(v[i]!);
    }
  };
  const seen = new Set<number>();
  for (const [chunkId, data] of q.chunks.iterate([id, from, toMs + BLOCK_MS, toMs]) as Iterable<[number, unknown]>) {
    seen.add(chunkId);
    const run = decodeSamples(blobOf(data));
    push(run.t, run.v);
  }
  for (const c of newer) if (!seen.has(c.id)) push(c.t, c.v);
  return { ts, vs };
}
