/**
 * The demo plant shows the whole loop with no setup: `plant-console serve` without a config (a
 * child process, from the build output) starts the device agents, the embedded TLS broker and
 * the reference supplier cloud in process; the cloud verifies and decrypts the plant's batches
 * into demo-cloud/cloud.db with nothing refused and no gap, and /healthz shows the uplink online.
 * The demo's broker, Modbus and module-channel ports are the ones given on the command line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
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
/** The ports given: broker, first of three Modbus ports, module channel. */
let ports: { broker: number; modbus: number; modules: number };

/** True when `port` can be listened on by us right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Six free consecutive ports (broker, three machines, module channel, one spare), bounded in tries. */
async function freeRange(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    let ok = true;
    for (let p = base; p < base + 6 && ok; p++) ok = await canListen(p);
    if (ok) return base;
  }
  throw new Error('no six free consecutive ports found');
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

function running(): boolean {
  return child !== null && child.exitCode === null && child.signalCode === null;
}

beforeAll(async () => {
  if (!existsSync(join(root, 'out/main/cli.js'))) {
    throw new Error('out/main/cli.js is missing: run "npx electron-vite build" first (npm test builds before it runs the suites)');
  }
  const base = await freeRange();
  ports = { broker: base, modbus: base + 1, modules: base + 4 };
  const args = ['serve', '--port', '0', '--data-dir', dir];
  args.push(
    '--demo-broker-port',
    String(ports.broker),
    '--demo-modbus-port',
    String(ports.modbus),
    '--demo-module-port',
    String(ports.modules),
  );
  const c = spawn(process.execPath, [join(root, 'bin/plant-console.js'), ...args], {
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

    // The ports given on the command line: the broker (its address in broker.json for an outside
    // receiver), the three machines' Modbus ports, the module channel (TLS).
    expect((JSON.parse(readFileSync(join(dir, 'demo-cloud', 'broker.json'), 'utf8')) as { url: string }).url).toBe(
      `mqtts://127.0.0.1:${ports.broker}`,
    );
    for (const p of [ports.modbus, ports.modbus + 1, ports.modbus + 2]) expect(await accepts(p), `Modbus port ${p}`).toBe(true);
    const channel = await new Promise<boolean>((resolve) => {
      const s = tlsConnect({ port: ports.modules, host: '127.0.0.1', rejectUnauthorized: false }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    expect(channel, 'module channel').toBe(true);

    // A clean stop: the cloud says what it received, after the plant's last batches.
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/Demo supplier cloud stopped \{"accepted":\d+,.*"refused":0,"gaps":0/);
  }, 150_000);
});
