/**
 * The demo plant shows the whole loop with no setup: `plant-console serve` without a config (a
 * child process, from the build output) starts the device agents, the embedded TLS broker and
 * the reference supplier cloud in process; the cloud verifies and decrypts the plant's batches
 * into demo-cloud/cloud.db with nothing refused and no gap, and /healthz shows the uplink online.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCloudStore } from '../../supplier-cloud';
import { statusReport } from '../../supplier-cloud/status';
import { waitUntil } from '../helpers/uplink-cloud';

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'pc-demo-loop-'));
let child: ChildProcess | null = null;
let exited: Promise<number | null> = Promise.resolve(null);
let output = '';

function running(): boolean {
  return child !== null && child.exitCode === null && child.signalCode === null;
}

beforeAll(() => {
  if (!existsSync(join(root, 'out/main/cli.js'))) {
    throw new Error('out/main/cli.js is missing: run "npx electron-vite build" first (npm test builds before it runs the suites)');
  }
  const c = spawn(process.execPath, [join(root, 'bin/plant-console.js'), 'serve', '--port', '0', '--data-dir', dir], {
    cwd: root,
    env: { ...process.env, PLANT_CONSOLE_PASSPHRASE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = c;
  exited = new Promise((r) => c.once('exit', (code) => r(code)));
  const keep = (d: Buffer): void => void (output = (output + d.toString()).slice(-200_000));
  c.stdout!.on('data', keep);
  c.stderr!.on('data', keep);
});

afterAll(async () => {
  if (running()) {
    child!.kill('SIGTERM');
    const t = setTimeout(() => child!.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('the demo plant at `serve` without a config', () => {
  it('delivers sealed batches to the in-process supplier cloud, which verifies them: nothing refused, no gap', async () => {
    await waitUntil(
      () => /Demo supplier cloud: received and verified \w+ batch seq \d+ from plant demo-plant/.test(output) || !running(),
      // Start-up (three agents, a broker, the cloud, the demo accounts' Argon2id hashes) on a loaded machine.
      90_000,
      'the demo cloud to verify a batch',
    );
    expect(running(), output).toBe(true);
    // Sequence 1 may be the plant's first signed audit head (docs/uplink.md §17): firstSeq below says none is missing.
    expect(output).toMatch(/Demo supplier cloud: received and verified sealed batch seq \d+ from plant demo-plant/);
    const url = /Open (http:\/\/127\.0\.0\.1:\d+)\//.exec(output)?.[1];
    expect(url, output).toBeDefined();

    // A few more batches acknowledged, then the plant's own view: online, acknowledged by the broker.
    let health: { uplink?: { state: string; lastAckSeq: number | null; outboxDepth: number } } = {};
    for (let i = 0; i < 150 && (health.uplink?.lastAckSeq ?? 0) < 4; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      health = (await (await fetch(`${url}/healthz`)).json()) as typeof health;
    }
    expect(health.uplink?.state).toBe('online');
    expect(health.uplink?.lastAckSeq ?? 0).toBeGreaterThan(0);

    const db = join(dir, 'demo-cloud', 'cloud.db');
    const store = openCloudStore(db, { receiver: 'demo-loop-test' });
    try {
      const report = statusReport(store, db);
      expect(report.plants).toHaveLength(1);
      const plant = report.plants[0]!;
      expect(plant.plantId).toBe('demo-plant');
      expect(plant.accepted).toBeGreaterThan(0);
      expect(plant.firstSeq).toBe(1);
      expect(plant.refusals).toEqual({});
      expect(report.unattributedRefusals).toEqual({});
      expect(plant.missing).toBe(0);
      expect(plant.gaps).toEqual([]);
      expect(plant.state?.state).toBe('online');
    } finally {
      store.close();
    }

    // The hand-run receiver's configuration names the password's variable, never the password.
    const receiver = readFileSync(join(dir, 'demo-cloud', 'receiver.json'), 'utf8');
    const broker = JSON.parse(readFileSync(join(dir, 'demo-cloud', 'broker.json'), 'utf8')) as { cloud: { password: string } };
    expect(receiver).toContain('"passwordEnv": "SUPPLIER_CLOUD_MQTT_PASSWORD"');
    expect(receiver).toContain('"protocolVersion": 4');
    expect(receiver).not.toContain(broker.cloud.password);
    expect(output).not.toContain(broker.cloud.password);

    // A clean stop: the cloud says what it received, after the plant's last batches.
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/Demo supplier cloud stopped \{"accepted":\d+,.*"refused":0,"gaps":0/);
  }, 150_000);
});
