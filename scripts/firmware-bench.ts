/**
 * `npm run bench:firmware`: the firmware path between the console and its modules, in figures.
 *   1. Transfer rate over loopback: a 32 MiB image (BENCH_IMAGE_MIB) served by the console's
 *      module channel (HTTPS, from the encrypted store's chunks) to the module's download client
 *      (device-agent/updater.ts: TLS with the pinned certificate, written to its partial file),
 *      then the module's hash check of what it received.
 *   2. Approval to committed for 10 modules (BENCH_MODULES), staged: module-mode device agents in
 *      this process, polled over Modbus TCP by the console, heartbeats every second, the first
 *      module soaked for BENCH_SOAK_S (1 s) before the others go one at a time.
 * Prints figures; asserts nothing (targets live here, not in timed tests).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { exchangeJson, type ConsoleEndpoint } from '../device-agent/console-client';
import { HEARTBEAT_PATH, HeartbeatAnswerSchema, signHeartbeat, type HeartbeatBody } from '../device-agent/heartbeat';
import { startModule, type ModuleRuntime } from '../device-agent/module';
import { checkDownloaded, DEFAULT_TRANSFER_LIMITS, downloadImage } from '../device-agent/updater';
import { loadProfile, packageRoot, resolveConfig } from '../src-main/config/load';
import { silentLogger } from '../src-main/core/log';
import { PlantCore } from '../src-main/core/plant';
import { parseManifest } from '../src-main/firmware';
import { startModuleSystem, type ModuleSystem } from '../src-main/modules';
import { requestPairing } from '../src-main/modules/pairing';
import { signingKeyPair } from '../src-main/protocol/keys';
import { migrate } from '../src-main/store/schema';
import { ensureCertificate, type TlsMaterial } from '../src-main/web/tls';
import type { Caller } from '../src-preload/contract';
import { bundleOf, makeRelease, makeRoot, releaseKeys, writeFixtureFiles } from '../test/helpers/firmware-fixtures';

const MAINT: Caller = { user: 'bench', role: 'maintenance', origin: 'local' };
const IMAGE_MIB = Number(process.env.BENCH_IMAGE_MIB ?? 32);
const MODULES = Number(process.env.BENCH_MODULES ?? 10);
const SOAK_S = Number(process.env.BENCH_SOAK_S ?? 1);
const keys = releaseKeys(3);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until<T>(what: string, fn: () => T | undefined | null | false, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A console (core, store, module manager and channel) over `devices`, with machines that are always idle. */
async function startConsole(dir: string, tls: TlsMaterial, devices: { id: string; port: number }[], assign: boolean) {
  const files = writeFixtureFiles(dir, makeRoot(keys, 2), {});
  const profile = loadProfile('builtin:im250', packageRoot());
  const idle = profile.points.map((p) => (p.role === 'state' ? { ...p, states: { '0': 'idle', '1': 'idle', '2': 'idle' } } : p));
  writeFileSync(join(dir, 'im250-idle.json'), JSON.stringify({ ...profile, points: idle }));
  const config = resolveConfig(
    {
      plant: { name: 'Bench plant', timezone: 'UTC' },
      devices: devices.map((d) => ({
        id: d.id,
        name: d.id,
        profile: 'im250-idle.json',
        transport: { type: 'tcp', host: '127.0.0.1', port: d.port },
        pollIntervalMs: 250,
        timeoutMs: 1000,
        backoff: { initialDelayMs: 100, maxDelayMs: 500, randomisationFactor: 0 },
      })),
      modules: {
        root: files.root,
        port: 0,
        heartbeatS: 1,
        missedAfterS: 10,
        maintenanceWindow: 'always',
        soakS: SOAK_S,
        assignments: assign ? devices.map((d) => ({ moduleId: `mod-${d.id}`, machineId: d.id })) : [],
      },
    },
    join(dir, 'plant.json'),
  );
  const db = new Database(':memory:');
  migrate(db);
  const core = new PlantCore({ config, log: silentLogger });
  const sys: ModuleSystem = await startModuleSystem({
    config: config.modules!,
    configDir: dir,
    dataDir: dir,
    host: core,
    db,
    log: silentLogger,
    tls,
  });
  return {
    core,
    sys,
    rootFile: files.root,
    async stop() {
      await sys.stop();
      await core.stop();
      db.close();
    },
  };
}

/** 1: one module downloads a large image from the console's channel. */
async function transferBench(dir: string, tls: TlsMaterial): Promise<string[]> {
  const c = await startConsole(dir, tls, [{ id: 'm1', port: await freePort() }], false);
  try {
    const image = Buffer.alloc(IMAGE_MIB * 1024 * 1024);
    for (let i = 0; i < image.length; i += 4096) image.writeUInt32LE((i * 2654435761) >>> 0, i);
    // A module of its own (no process): it pairs, reports, and is offered the release.
    const ident = signingKeyPair();
    const endpoint: ConsoleEndpoint = {
      url: c.sys.channel.url,
      tls: { ca: tls.cert, fingerprint256: tls.fingerprint },
      moduleId: 'bench-module',
    };
    await requestPairing(endpoint, { model: 'im250', now: Date.now() }, ident);
    await c.sys.manager.pair(MAINT, { moduleId: 'bench-module', approve: true });
    const t0 = performance.now();
    const rel = await c.sys.manager.importBundle(MAINT, {
      fileName: 'big.pcfw',
      dataBase64: Buffer.from(bundleOf(makeRelease({ version: '2.0.0', imageBytes: image }, keys.slice(0, 2)))).toString('base64'),
    });
    const importS = (performance.now() - t0) / 1000;
    let seq = 0;
    const beat = async () => {
      const body: HeartbeatBody = {
        kind: 'plant-console/module-heartbeat/v1',
        module: 'bench-module',
        model: 'im250',
        boot: 1,
        seq: ++seq,
        time: Date.now(),
        uptimeS: seq,
        firmware: { version: '1.0.0', blake2b512: '0'.repeat(128), slot: null, state: 'factory', trialBoot: 0 },
        rollbacks: [],
        tamper: { open: false, since: null },
        resources: { rssBytes: 1, heapUsedBytes: 1, cpuPercent: 0 },
        modbusClients: [],
        update: { state: 'idle', version: null, received: 0, total: 0, error: null },
      };
      return HeartbeatAnswerSchema.parse(
        await exchangeJson(endpoint, HEARTBEAT_PATH, { method: 'POST', body: signHeartbeat(body, ident), timeoutMs: 10_000 }),
      );
    };
    await beat();
    await c.sys.manager.approve(MAINT, { releaseId: rel.id, moduleIds: ['bench-module'] });
    const offer = (await beat()).update?.id;
    if (!offer) throw new Error('the console offered no update');
    const answer = (await exchangeJson(endpoint, `/module/v1/firmware/${offer}/manifest`, { method: 'GET', timeoutMs: 10_000 })) as {
      manifest: string;
    };
    const manifest = parseManifest(Buffer.from(answer.manifest, 'base64'));
    const lines: string[] = [`  import of a ${IMAGE_MIB} MiB bundle (verify, hash, store): ${importS.toFixed(2)} s`];
    for (const run of [1, 2, 3]) {
      const part = join(dir, `download-${run}.part`);
      const t = performance.now();
      const got = await downloadImage({ endpoint, id: offer, manifest, part, limits: DEFAULT_TRANSFER_LIMITS });
      const s = (performance.now() - t) / 1000;
      if (!got.ok) throw new Error(`download failed: ${got.message}`);
      const h = performance.now();
      const checked = checkDownloaded(part, manifest);
      const hs = (performance.now() - h) / 1000;
      if (!checked.ok) throw new Error(`downloaded image does not match: ${checked.message}`);
      rmSync(part, { force: true });
      const mb = image.length / 1e6;
      lines.push(
        `  run ${run}: ${(mb / s).toFixed(0)} MB/s over TLS on loopback (${s.toFixed(2)} s for ${mb.toFixed(1)} MB), module's hash check ${(mb / hs).toFixed(0)} MB/s`,
      );
    }
    return lines;
  } finally {
    await c.stop();
  }
}

/** 2: approval to committed for MODULES modules, staged. */
async function rolloutBench(dir: string, tls: TlsMaterial): Promise<string[]> {
  const devices = await Promise.all(Array.from({ length: MODULES }, async (_, i) => ({ id: `im-${i + 1}`, port: await freePort() })));
  const c = await startConsole(dir, tls, devices, true);
  const runtimes: ModuleRuntime[] = [];
  try {
    const root = readFileSync(c.rootFile);
    for (const [i, d] of devices.entries()) {
      runtimes.push(
        await startModule({
          stateDir: join(dir, 'modules', d.id),
          model: 'im250',
          root,
          port: d.port,
          seed: 500 + i,
          moduleId: `mod-${d.id}`,
          healthTimeoutMs: 30_000,
          console: { url: c.sys.channel.url, tls: { ca: tls.cert, fingerprint256: tls.fingerprint }, heartbeatMs: 1000 },
        }),
      );
    }
    c.core.start();
    for (const [i, d] of devices.entries()) {
      const endpoint = { url: c.sys.channel.url, tls: { ca: tls.cert, fingerprint256: tls.fingerprint }, moduleId: `mod-${d.id}` };
      await requestPairing(endpoint, { model: 'im250', now: Date.now() }, runtimes[i]!.identity.keys);
      await c.sys.manager.pair(MAINT, { moduleId: `mod-${d.id}`, approve: true });
    }
    const ids = devices.map((d) => `mod-${d.id}`);
    await until(
      'every module reporting and every machine idle',
      () => {
        const s = c.sys.manager.state(MAINT);
        return s.modules.every((m) => m.lastHeartbeatAt !== null) && devices.every((d) => c.core.machineState(d.id) === 'idle');
      },
      30_000,
    );
    const rel = await c.sys.manager.importBundle(MAINT, {
      fileName: 'im250-1.1.0.pcfw',
      dataBase64: Buffer.from(
        bundleOf(
          makeRelease({ version: '1.1.0', image: { params: { cycleTimeFactor: 0.9, scrapFactor: 1, controlGain: 1 } } }, keys.slice(0, 2)),
        ),
      ).toString('base64'),
    });
    const committedAt = new Map<string, number>();
    const off = c.sys.manager.onUpdate(() => {
      for (const m of c.sys.manager.state(MAINT).modules)
        if (m.update.state === 'committed' && !committedAt.has(m.id)) committedAt.set(m.id, performance.now());
    });
    const t0 = performance.now();
    const ro = await c.sys.manager.approve(MAINT, { releaseId: rel.id, moduleIds: ids });
    const done = await until(
      'the rollout',
      () => {
        const r = c.sys.manager.state(MAINT).rollouts.find((x) => x.id === ro.id)!;
        if (r.state === 'stopped') throw new Error(`rollout stopped: ${r.message}`);
        return r.state === 'done' && r;
      },
      60_000 + MODULES * 30_000,
    );
    const total = (performance.now() - t0) / 1000;
    off();
    const times = ids.map((id) => ((committedAt.get(id) ?? NaN) - t0) / 1000);
    // Each further module: from the one before it committed (and, for the second, the soak) to its own commit.
    const rest = times.slice(1).map((t, i) => t - times[i]! - (i === 0 ? SOAK_S : 0));
    return [
      `  ${MODULES} modules, staged (first, soak ${SOAK_S} s, then one at a time): approval → all committed in ${total.toFixed(1)} s (${done.message})`,
      `  first module committed after ${times[0]!.toFixed(1)} s; each further module ${(rest.reduce((a, b) => a + b, 0) / rest.length).toFixed(1)} s on average (min ${Math.min(...rest).toFixed(1)}, max ${Math.max(...rest).toFixed(1)})`,
    ];
  } finally {
    await Promise.allSettled(runtimes.map((r) => r.stop()));
    await c.stop();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'firmware-bench-'));
  try {
    const tls = await ensureCertificate({ dataDir: dir, hosts: ['127.0.0.1'] });
    console.log(`Firmware bench (Node ${process.version})`);
    console.log(`1. Image transfer, console → module, ${IMAGE_MIB} MiB`);
    for (const l of await transferBench(join(dir, 'transfer'), tls)) console.log(l);
    console.log(`2. Staged rollout to ${MODULES} modules`);
    for (const l of await rolloutBench(join(dir, 'rollout'), tls)) console.log(l);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
