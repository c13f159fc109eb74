/**
 * Power loss and rollback with real device-agent child processes: SIGKILL at each step of an
 * install and during the first boot of a new image still leaves a module that boots a good slot
 * (asserted by the firmware version it reports over Modbus); a broken but correctly signed
 * image, one that never gets read, and one that crashes at boot all roll back on their own and
 * report it; an update handed over by the console resumes its interrupted transfer with Range.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyHeartbeat } from '../../device-agent/heartbeat';
import { encodeFirmwareImage } from '../../device-agent/firmware-image';
import { makeRelease, makeRoot, releaseKeys, writeFixtureFiles, type TestRelease } from '../helpers/firmware-fixtures';
import { bundleAgent, killAllAgents, readRevision, runAgent, spawnAgent, type AgentProcess } from '../helpers/module-process';
import { startConsoleStandIn, type ConsoleStandIn } from '../helpers/range-server';

let base: string;
let files: ReturnType<typeof writeFixtureFiles>;
let releases: Record<string, TestRelease>;
let dir: string;
let port: number;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((res) => s.close(() => res()));
  return p;
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'module-power-'));
  const keys = releaseKeys(3);
  const root = makeRoot(keys, 2);
  const signers = keys.slice(0, 2);
  const padded = (version: string) => {
    const img = encodeFirmwareImage({ model: 'im250', version, params: { cycleTimeFactor: 1.1, scrapFactor: 1, controlGain: 1 } });
    return new Uint8Array([...img, ...Buffer.alloc(50_000 - img.byteLength, 0x20)]);
  };
  releases = {
    v110: makeRelease({ version: '1.1.0', securityCounter: 1 }, signers),
    v120: makeRelease(
      { version: '1.2.0', securityCounter: 2, image: { params: { cycleTimeFactor: 1.2, scrapFactor: 1, controlGain: 1 } } },
      signers,
    ),
    broken: makeRelease({ version: '1.3.0', securityCounter: 2, image: { selfTest: 'fail' } }, signers),
    crash: makeRelease({ version: '1.3.1', securityCounter: 2, image: { selfTest: 'crash' } }, signers),
    big: makeRelease({ version: '1.4.0', securityCounter: 3, imageBytes: padded('1.4.0') }, signers),
  };
  files = writeFixtureFiles(join(base, 'supplier'), root, releases);
  await bundleAgent();
}, 60_000);
afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeEach(async () => {
  dir = mkdtempSync(join(base, 'module-'));
  port = await freePort();
});
afterEach(killAllAgents);

const install = (bundle: string, extra: string[] = []) => runAgent(['install', '--state-dir', dir, '--root', files.root, ...extra, bundle]);

/** Starts the module and waits until it serves Modbus. */
async function start(extra: string[] = []): Promise<AgentProcess> {
  const p = await spawnAgent([
    '--modbus-port',
    String(port),
    '--seed',
    '7',
    '--state-dir',
    dir,
    '--root',
    files.root,
    '--health-timeout-s',
    '20',
    ...extra,
  ]);
  await p.waitLine(/serving Modbus TCP/);
  return p;
}

/** Installs 1.1.0 and commits it (a read over Modbus is the health check), then stops the module. */
async function committed110(): Promise<void> {
  expect((await install(files.bundles['v110']!)).code).toBe(0);
  const p = await start();
  await p.waitLine(/firmware 1\.1\.0 from slot a \(trial boot 1 of 3\)/);
  expect(await readRevision(port)).toBe('1.1.0');
  await p.waitLine(/committed firmware 1\.1\.0 in slot a/);
  await p.stop();
}

async function status(): Promise<Record<string, unknown>> {
  const r = await runAgent(['status', '--state-dir', dir]);
  expect(r.code, r.output).toBe(0);
  return JSON.parse(r.lines.join('\n')) as Record<string, unknown>;
}

describe('power loss (SIGKILL) at any point leaves a module that boots a good slot', () => {
  it.each(['install-cleared', 'install-written'])('killed at %s: boots the committed 1.1.0', async (point) => {
    await committed110();
    const inst = await spawnAgent(['install', '--state-dir', dir, '--test-pause-at', point, files.bundles['v120']!]);
    await inst.waitLine(new RegExp(`test pause at ${point}`));
    await inst.kill();
    const p = await start();
    await p.waitLine(/firmware 1\.1\.0 from slot a$/);
    expect(await readRevision(port)).toBe('1.1.0');
    expect(await status()).toMatchObject({ active: 'a', pending: null, committed: { version: '1.1.0' } });
  });

  it('killed once the install is marked for trial: boots the new image on trial and commits it', async () => {
    await committed110();
    const inst = await spawnAgent(['install', '--state-dir', dir, '--test-pause-at', 'install-pending', files.bundles['v120']!]);
    await inst.waitLine(/test pause at install-pending/);
    await inst.kill();
    const p = await start();
    await p.waitLine(/firmware 1\.2\.0 from slot b \(trial boot 1 of 3\)/);
    expect(await readRevision(port)).toBe('1.2.0');
    await p.waitLine(/committed firmware 1\.2\.0 in slot b/);
    expect(await status()).toMatchObject({ active: 'b', pending: null, committed: { version: '1.2.0', securityCounter: 2 } });
  });

  it('killed during the first boot of the new image: the trial goes on at the next start and commits', async () => {
    await committed110();
    expect((await install(files.bundles['v120']!)).code).toBe(0);
    const first = await spawnAgent(['--modbus-port', String(port), '--state-dir', dir, '--test-pause-at', 'trial-serving']);
    await first.waitLine(/test pause at trial-serving/);
    await first.kill();
    const p = await start();
    await p.waitLine(/firmware 1\.2\.0 from slot b \(trial boot 2 of 3\)/);
    expect(await readRevision(port)).toBe('1.2.0');
    await p.waitLine(/committed firmware 1\.2\.0/);
  });

  it('killed at every boot of the new image: after the trial boot limit it falls back to 1.1.0', async () => {
    await committed110();
    expect((await install(files.bundles['v120']!)).code).toBe(0);
    for (let i = 0; i < 2; i++) {
      const p = await spawnAgent([
        '--modbus-port',
        String(port),
        '--state-dir',
        dir,
        '--max-trial-boots',
        '2',
        '--test-pause-at',
        'boot-counted',
      ]);
      await p.waitLine(/test pause at boot-counted/);
      await p.kill();
    }
    const p = await start(['--max-trial-boots', '2']);
    await p.waitLine(/rolled back from 1\.2\.0 \(slot b\) to 1\.1\.0 \(slot a\): boot_limit/);
    expect(await readRevision(port)).toBe('1.1.0');
    const s = await status();
    expect(s).toMatchObject({ active: 'a', pending: null, committed: { version: '1.1.0' } });
    expect(s['rollbacks']).toEqual([expect.objectContaining({ reason: 'boot_limit', from: { slot: 'b', version: '1.2.0' } })]);
  });
});

describe('automatic rollback', () => {
  let standIn: ConsoleStandIn;
  beforeAll(async () => {
    standIn = await startConsoleStandIn(join(base, 'console'));
  });
  afterAll(() => standIn.close());

  it('a broken but correctly signed image fails its self-test, rolls back on its own and reports it signed', async () => {
    await committed110();
    expect((await install(files.bundles['broken']!)).code).toBe(0);
    const ident = await runAgent(['identity', '--state-dir', dir]);
    const publicKey = Buffer.from(/public key\s+(\S+)/.exec(ident.lines.join('\n'))![1]!, 'base64');
    standIn.heartbeats.length = 0;
    const p = await start(['--console', standIn.url, '--console-ca', standIn.certPath, '--heartbeat-s', '1', '--module-id', 'press-7']);
    await p.waitLine(/rolled back from 1\.3\.0 \(slot b\) to 1\.1\.0 \(slot a\): self_test_failed/);
    expect(p.lines.filter((l) => /serving Modbus TCP/.test(l))).toHaveLength(1);
    expect(await readRevision(port)).toBe('1.1.0');
    const hb = await standIn.nextHeartbeat((h) => (h['rollbacks'] as unknown[]).length > 0);
    const v = verifyHeartbeat(hb, publicKey, { now: Date.now(), maxSkewMs: 10_000 });
    expect(v).toMatchObject({
      ok: true,
      heartbeat: {
        module: 'press-7',
        firmware: { version: '1.1.0', slot: 'a', state: 'committed' },
        rollbacks: [{ reason: 'self_test_failed', from: { slot: 'b', version: '1.3.0' }, to: { slot: 'a', version: '1.1.0' } }],
      },
    });
    expect((await status())['committed']).toMatchObject({ version: '1.1.0' });
  });

  it('a new image nobody can read within the health timeout is given up', async () => {
    await committed110();
    expect((await install(files.bundles['v120']!)).code).toBe(0);
    const p = await start(['--health-timeout-s', '1']);
    await p.waitLine(/rolled back from 1\.2\.0 \(slot b\) to 1\.1\.0 \(slot a\): health_timeout/);
    await p.waitLine(/firmware 1\.1\.0 serving Modbus TCP/);
    expect(await readRevision(port)).toBe('1.1.0');
  });

  it('an image that crashes at boot ends the process; restarted, it falls back after the trial boot limit', async () => {
    await committed110();
    expect((await install(files.bundles['crash']!)).code).toBe(0);
    const args = ['--modbus-port', String(port), '--state-dir', dir, '--max-trial-boots', '2'];
    for (let i = 1; i <= 2; i++) {
      const r = await runAgent(args);
      expect(r.code, r.output).toBe(70);
      expect(r.lines.join('\n')).toMatch(new RegExp(`firmware 1\\.3\\.1 from slot b \\(trial boot ${i} of 2\\)[\\s\\S]*crashed at boot`));
    }
    const p = await start(['--max-trial-boots', '2']);
    await p.waitLine(/rolled back from 1\.3\.1 \(slot b\) to 1\.1\.0 \(slot a\): boot_limit/);
    expect(await readRevision(port)).toBe('1.1.0');
  });

  it('an update handed over by the console resumes its interrupted transfer, reboots into it and commits', async () => {
    const big = releases['big']!;
    standIn.releases.set('r-140', { manifest: big.manifestBytes, signatures: big.signatures, image: big.image });
    standIn.requests.length = 0;
    standIn.imagePlans.push({ kind: 'cut', after: 20_000 });
    let offered = false;
    standIn.answer = (h) => {
      const fw = h['firmware'] as { state: string };
      if (fw.state === 'trial') return { confirmHealth: true };
      if (!offered) {
        offered = true;
        return { update: { id: 'r-140' } };
      }
      return {};
    };
    const p = await start(['--console', standIn.url, '--console-ca', standIn.certPath, '--heartbeat-s', '1']);
    await p.waitLine(/firmware 1\.0\.0 from the factory image/);
    await p.waitLine(/installed firmware 1\.4\.0 in slot a; rebooting into it/);
    await p.waitLine(/committed firmware 1\.4\.0 in slot a/);
    expect(await readRevision(port)).toBe('1.4.0');
    const ranges = standIn.requests.filter((r) => r.path === '/module/v1/firmware/r-140/image').map((r) => r.range);
    expect(ranges).toHaveLength(2);
    expect(ranges[0]).toBeNull();
    expect(Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1])).toBeGreaterThan(0);
    const hb = await standIn.nextHeartbeat((h) => (h['firmware'] as { state: string }).state === 'committed');
    expect(hb['firmware']).toMatchObject({ version: '1.4.0', slot: 'a', blake2b512: big.manifest.image.blake2b512 });
    standIn.answer = () => ({});
  });

  it('SIGTERM during a download ends the transfer before the lock goes; a quick restart resumes the part alone', async () => {
    const big = releases['big']!;
    standIn.releases.set('r-140', { manifest: big.manifestBytes, signatures: big.signatures, image: big.image });
    standIn.requests.length = 0;
    // 20 kB at once, then 2 kB/s: the transfer is still running when the module is stopped.
    standIn.imagePlans.push({ kind: 'drip', after: 20_000, perTick: 100, tickMs: 50 });
    standIn.answer = (h) => {
      const fw = h['firmware'] as { state: string; version: string };
      if (fw.state === 'trial') return { confirmHealth: true };
      return fw.version === '1.4.0' ? {} : { update: { id: 'r-140' } };
    };
    const consoleArgs = ['--console', standIn.url, '--console-ca', standIn.certPath, '--heartbeat-s', '1'];
    const a = await start(consoleArgs);
    await standIn.nextHeartbeat((h) => {
      const u = h['update'] as { state: string; received: number };
      return u.state === 'downloading' && u.received > 20_000;
    });
    const [first] = await standIn.imageRequests(1);
    // The supervisor's quick restart: SIGTERM, and the next process at once.
    a.child.kill('SIGTERM');
    const args = ['--modbus-port', String(port), '--state-dir', dir, '--health-timeout-s', '20', ...consoleArgs];
    let b = await spawnAgent(args);
    const outcome = await Promise.race([
      b.exited.then(() => 'exited' as const),
      b.waitLine(/firmware 1\.0\.0 from the factory image/).catch(() => 'exited' as const),
    ]);
    const stoppedA = await Promise.race([a.exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
    expect(stoppedA, `the stopped module kept running:\n${a.output()}`).toEqual({ code: 0, signal: null });
    expect(a.lines.at(-1)).toBe('device-agent: stopped');
    expect(a.lines.join('\n')).not.toMatch(/installed firmware/);
    if (outcome === 'exited') {
      // It found the state directory still held, and left it alone.
      expect(b.output()).toMatch(/Another device-agent \(pid \d+\) uses the state directory/);
      expect((await b.exited).code).toBe(1);
      b = await spawnAgent(args);
    }
    await b.waitLine(/installed firmware 1\.4\.0 in slot a; rebooting into it/);
    await b.waitLine(/committed firmware 1\.4\.0 in slot a/);
    expect(await readRevision(port)).toBe('1.4.0');
    const images = standIn.requests.filter((r) => r.path === '/module/v1/firmware/r-140/image');
    expect(images).toHaveLength(2);
    // The first process's transfer was over before the second one asked for the rest of the part.
    expect(first!.order.closed).not.toBeNull();
    expect(first!.order.closed!).toBeLessThan(images[1]!.order.arrived);
    expect(Number(/^bytes=(\d+)-$/.exec(images[1]!.range ?? '')?.[1])).toBeGreaterThan(20_000);
    standIn.answer = () => ({});
  });

  it('a release that was rolled back is not installed again after a restart, however often the console offers it', async () => {
    const broken = releases['broken']!;
    standIn.releases.set('r-130', { manifest: broken.manifestBytes, signatures: broken.signatures, image: broken.image });
    standIn.requests.length = 0;
    standIn.answer = () => ({ update: { id: 'r-130' } });
    const consoleArgs = ['--console', standIn.url, '--console-ca', standIn.certPath, '--heartbeat-s', '1'];
    const p = await start(consoleArgs);
    await p.waitLine(/rolled back from 1\.3\.0 \(slot a\) to 1\.0\.0 \(factory image\): self_test_failed/);
    await p.stop();
    const q = await start(consoleArgs);
    await q.waitLine(/update r-130 not installed: rolled_back — Firmware 1\.3\.0 was rolled back on this module \(self_test_failed/);
    await q.stop();
    expect(standIn.requests.filter((r) => r.path === '/module/v1/firmware/r-130/image')).toHaveLength(1);
    const s = await status();
    expect(s['rollbacks']).toHaveLength(1);
    expect(s['declined']).toEqual([
      expect.objectContaining({ kind: 'rolled-back', version: '1.3.0', reason: 'self_test_failed' }),
      expect.objectContaining({ kind: 'refused', update: 'r-130', code: 'rolled_back' }),
    ]);
    standIn.answer = () => ({});
  });

  it('heartbeats name the connected Modbus clients and report the enclosure switch', async () => {
    const tamper = join(dir, 'enclosure-open');
    const p = await start(['--console', standIn.url, '--console-ca', standIn.certPath, '--heartbeat-s', '1', '--tamper-file', tamper]);
    // Any TCP peer of the Modbus server is a Modbus client to the module.
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    try {
      const local = `127.0.0.1:${client.localPort}`;
      const withClient = await standIn.nextHeartbeat((h) => (h['modbusClients'] as string[]).includes(local));
      expect(withClient['tamper']).toEqual({ open: false, since: null });
      writeFileSync(tamper, '');
      await p.waitLine(/enclosure opened/);
      const opened = await standIn.nextHeartbeat((h) => (h['tamper'] as { open: boolean }).open);
      expect((opened['tamper'] as { since: number }).since).toBeGreaterThan(Date.now() - 10_000);
    } finally {
      client.destroy();
    }
  });
});
