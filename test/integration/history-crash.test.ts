/**
 * What a SIGKILL costs: the console (startPlant in a child process, history on its writer thread)
 * polls a device at 20 Hz and is killed while it writes. The store opens clean, every sample the
 * writer had confirmed is there in readable chunks, in time order, and what was lost is only what
 * was still held in memory (at most a flush interval, 1 s here); the uplink outbox is exact.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src-main/core/log';
import { boxKeyPair, randomBytes, signingKeyPair } from '../../src-main/protocol';
import { decodeSamples } from '../../src-main/store/chunk-codec';
import { openPlantStore, type PlantStore } from '../../src-main/store/open';
import { blobOf } from '../../src-main/store/schema';
import { DECLARE_LOST_META } from '../../src-main/store/store-check';
import { makeProvisioning, writeProvisioning } from '../../src-main/uplink/provisioning';
import { startVectorServer, type VectorServer } from '../helpers/modbus-servers';
import { waitUntil } from '../helpers/uplink-cloud';
import { startUplinkRunner, type RunnerStatus } from '../helpers/uplink-process';

const PASS = 'history crash passphrase';
const POINTS = 100;
const dir = mkdtempSync(join(tmpdir(), 'pc-history-crash-'));
const dataDir = join(dir, 'data');
let server: VectorServer | null = null;
let ticker: ReturnType<typeof setInterval> | null = null;

afterAll(async () => {
  if (ticker) clearInterval(ticker);
  await server?.stop();
});

/** Every chunk of every series decoded: samples per series in chunk order, checked to be in time order. */
function readAll(store: PlantStore): { samples: number; perSeries: Map<number, number[]> } {
  const perSeries = new Map<number, number[]>();
  let samples = 0;
  for (const [series, n, data] of store.db.prepare('SELECT series, n, data FROM history_chunks ORDER BY series, t1, id').raw().all() as [
    number,
    number,
    unknown,
  ][]) {
    const run = decodeSamples(blobOf(data));
    expect(run.t.length).toBe(n);
    const ts = perSeries.get(series) ?? [];
    for (const t of run.t) {
      expect(t).toBeGreaterThanOrEqual(ts.at(-1) ?? -Infinity);
      ts.push(t);
    }
    perSeries.set(series, ts);
    samples += n;
  }
  return { samples, perSeries };
}

function openStore(): Promise<PlantStore> {
  return openPlantStore({ dataDir, demo: false, passphrase: PASS, env: {}, prompt: null, log: silentLogger });
}

/**
 * The outbox holds batches numbered without a gap up to the plant's sequence, but for numbers
 * declared lost: a kill between the sequence guard's write and the commit skips the numbers it
 * had reserved (docs/uplink.md §15), queued for a gap notice or already in one.
 */
function expectOutboxExact(store: PlantStore, atLeast: number): number {
  const rows = store.db.prepare('SELECT seq, kind, bytes FROM uplink_outbox WHERE seq > 0 ORDER BY seq').raw().all() as [
    number,
    string,
    unknown,
  ][];
  const counter = (store.db.prepare("SELECT value FROM sequence WHERE name = 'uplink'").raw().get() as [number])[0];
  const pending = store.db.prepare('SELECT value FROM meta WHERE key = ?').raw().get([DECLARE_LOST_META]) as [string] | undefined;
  const declared: [number, number][] = pending ? (JSON.parse(pending[0]) as [number, number][]) : [];
  for (const [, kind, bytes] of rows)
    if (kind === 'gap')
      declared.push(...(JSON.parse(blobOf(bytes).toString('utf8')) as { dropped: { seqs: [number, number][] } }).dropped.seqs);
  const held = new Set(rows.map((r) => r[0]));
  const lo = rows[0]![0];
  const hi = rows.at(-1)![0];
  const unaccounted: number[] = [];
  for (let n = lo; n <= counter; n++) if (!held.has(n) && !declared.some(([a, b]) => n >= a && n <= b)) unaccounted.push(n);
  expect(unaccounted).toEqual([]);
  expect(counter).toBeGreaterThanOrEqual(hi);
  expect(hi).toBeGreaterThanOrEqual(atLeast);
  return counter;
}

describe('history after a SIGKILL', () => {
  it('keeps every confirmed sample intact, loses only what was held in memory, and the outbox stays exact', async () => {
    const holding = Array.from({ length: POINTS }, (_, i) => i * 10);
    server = await startVectorServer({ coils: [], discrete: [], input: [], holding });
    let tick = 0;
    ticker = setInterval(() => {
      tick++;
      for (let i = 0; i < POINTS; i++) holding[i] = (i * 10 + tick + (i % 7)) & 0xffff;
    }, 10);
    writeFileSync(
      join(dir, 'crash.json'),
      JSON.stringify({
        model: 'crash',
        title: 'Crash test machine',
        idealCycleTimeS: 1,
        points: holding.map((_, i) => ({
          id: `p${i}`,
          name: `P${i}`,
          function: 'holding',
          address: i,
          type: 'uint16',
          sensitivity: i < 10 ? 'sealed' : 'local',
        })),
      }),
    );
    writeProvisioning(
      join(dir, 'provisioning.json'),
      makeProvisioning({
        plantId: 'crash-plant',
        pseudonymKey: randomBytes(32),
        cloudPublicKeys: [boxKeyPair().publicKey],
        supplierPublicKeys: [signingKeyPair().publicKey],
      }),
    );
    const config = join(dir, 'plant.json');
    writeFileSync(
      config,
      JSON.stringify({
        plant: { name: 'Crash plant', timezone: 'UTC' },
        history: { flushIntervalS: 1 },
        devices: [
          {
            id: 'm1',
            name: 'Machine 1',
            profile: 'crash.json',
            transport: { type: 'tcp', host: '127.0.0.1', port: server.port },
            pollIntervalMs: 50,
          },
        ],
        // No broker listens there: every batch stays in the outbox.
        uplink: { broker: 'mqtt://127.0.0.1:9', insecurePlainTcp: true, protocolVersion: 4, provisioning: 'provisioning.json' },
      }),
    );
    const env = { PLANT_CONSOLE_PASSPHRASE: PASS };

    const first = await startUplinkRunner(config, dataDir, env);
    let last: RunnerStatus | null = null;
    try {
      await waitUntil(
        () => {
          const s = first.status();
          return s !== null && s.history.written >= 20 * POINTS && s.lastSeq >= 3;
        },
        30_000,
        'samples written and batches in the outbox',
      );
      // Killed at some moment of a flush interval: the writer is writing, or about to.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 1000)));
      last = first.status();
    } finally {
      await first.kill();
    }
    expect(last!.history.writer).toBe('worker');
    expect(last!.history.dropped).toBe(0);

    const store = await openStore();
    expect(store.db.prepare('PRAGMA integrity_check').raw().get()).toEqual(['ok']);
    const after = readAll(store);
    // Nothing the writer had confirmed is lost; what is missing was held in memory when the console died.
    expect(after.samples).toBeGreaterThanOrEqual(last!.history.written);
    expect(after.perSeries.size).toBe(POINTS);
    const seq = expectOutboxExact(store, last!.lastSeq);
    store.close();

    // Restarted, the console continues the same series after their last sample; a clean stop loses nothing.
    const second = await startUplinkRunner(config, dataDir, env);
    try {
      await waitUntil(() => (second.status()?.history.written ?? 0) >= 10 * POINTS, 30_000, 'samples after the restart');
    } finally {
      await second.stop();
    }
    const again = await openStore();
    const later = readAll(again);
    expect(later.samples).toBeGreaterThanOrEqual(after.samples + 10 * POINTS);
    expectOutboxExact(again, seq);
    again.close();
  }, 90_000);
});
