/**
 * The console's module manager against real device agents (child processes, module mode):
 * the console polls them over Modbus TCP, they pair over the HTTPS module channel and send
 * signed heartbeats; an approved release rolls out staged (first module, soak, the rest) and the
 * version each machine reports over Modbus changes; a broken but signed release rolls back on
 * the first module and stops the rollout before the second starts; the tamper switch, a
 * foreign Modbus client and a heartbeat signed by a wrong key raise alarms.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchangeJson, type ConsoleEndpoint } from '../../device-agent/console-client';
import { HEARTBEAT_PATH, signHeartbeat, type HeartbeatBody } from '../../device-agent/heartbeat';
import { readIdentity } from '../../device-agent/identity';
import type { AuditEntry } from '../../src-main/audit/record';
import { loadProfile, packageRoot, resolveConfig } from '../../src-main/config/load';
import { consoleLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import { startModuleSystem, type ModuleSystem } from '../../src-main/modules';
import { requestPairing } from '../../src-main/modules/pairing';
import { signingKeyPair } from '../../src-main/protocol/keys';
import { migrate } from '../../src-main/store/schema';
import { ensureCertificate, type TlsMaterial } from '../../src-main/web/tls';
import type { Caller } from '../../src-preload/contract';
import { bundleOf, makeRelease, makeRoot, releaseKeys, writeFixtureFiles } from '../helpers/firmware-fixtures';
import { killAllAgents, readRevision, spawnAgent, type AgentProcess } from '../helpers/module-process';

const MAINT: Caller = { user: 'maria', role: 'maintenance', origin: 'local' };
const IDS = ['mod-1', 'mod-2', 'mod-3'];

let dir: string;
let tls: TlsMaterial;
let db: Database.Database;
let core: PlantCore;
let sys: ModuleSystem;
const audit: AuditEntry[] = [];
const agents: AgentProcess[] = [];
const ports: number[] = [];
const keys = releaseKeys(3);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const stateDir = (i: number): string => join(dir, `module-${i + 1}`);
const tamperFile = (i: number): string => join(dir, `tamper-${i + 1}`);
const endpoint = (moduleId: string): ConsoleEndpoint => ({
  url: sys.channel.url,
  tls: { ca: tls.cert, fingerprint256: tls.fingerprint },
  moduleId,
});
const view = (id: string) => sys.manager.state(MAINT).modules.find((m) => m.id === id)!;
const moduleAlarm = (machineId: string, kind: string) =>
  core.alarms.alarms(machineId).find((a) => a.kind === 'module' && a.ruleId.endsWith(`:${kind}`));

/** Waits until the console sees the machine idle, as an update needs. */
async function idle(i: number): Promise<void> {
  await until(`machine im-${i + 1} idle`, () => core.machineState(`im-${i + 1}`) === 'idle', 10_000);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'modules-it-'));
  const files = writeFixtureFiles(dir, makeRoot(keys, 2), {});
  // The console reads these machines as always idle (between jobs): updates wait for idle, and
  // the simulated machines run most of the time. Waiting while one runs is unit-tested.
  const profile = loadProfile('builtin:im250', packageRoot());
  const between = profile.points.map((p) => (p.role === 'state' ? { ...p, states: { '0': 'idle', '1': 'idle', '2': 'idle' } } : p));
  writeFileSync(join(dir, 'im250-idle.json'), JSON.stringify({ ...profile, points: between }));
  tls = await ensureCertificate({ dataDir: dir, hosts: ['127.0.0.1'] });
  for (let i = 0; i < IDS.length; i++) ports.push(await freePort());
  const config = resolveConfig(
    {
      plant: { name: 'Module test plant', timezone: 'UTC' },
      devices: IDS.map((_, i) => ({
        id: `im-${i + 1}`,
        name: `Moulding ${i + 1}`,
        profile: 'im250-idle.json',
        transport: { type: 'tcp', host: '127.0.0.1', port: ports[i] },
        pollIntervalMs: 200,
        timeoutMs: 500,
        backoff: { initialDelayMs: 100, maxDelayMs: 500, randomisationFactor: 0 },
      })),
      modules: {
        root: files.root,
        port: 0,
        heartbeatS: 1,
        missedAfterS: 5,
        maintenanceWindow: 'always',
        soakS: 2,
        updateTimeoutS: 60,
        assignments: IDS.map((moduleId, i) => ({ moduleId, machineId: `im-${i + 1}` })),
      },
    },
    join(dir, 'plant.json'),
  );
  db = new Database(':memory:');
  migrate(db);
  const log = consoleLogger('error');
  core = new PlantCore({ config, log });
  sys = await startModuleSystem({
    config: config.modules!,
    configDir: dir,
    dataDir: dir,
    host: core,
    db,
    audit: { record: (e) => void audit.push(e) },
    log,
    tls,
  });
  for (let i = 0; i < IDS.length; i++) {
    const a = await spawnAgent([
      '--modbus-port',
      String(ports[i]),
      '--model',
      'im250',
      '--seed',
      String(100 + i),
      '--state-dir',
      stateDir(i),
      '--root',
      files.root,
      '--console',
      sys.channel.url,
      '--console-ca',
      tls.certPath,
      '--console-fingerprint',
      tls.fingerprint,
      '--module-id',
      IDS[i]!,
      '--heartbeat-s',
      '1',
      '--health-timeout-s',
      '15',
      '--stall-timeout-s',
      '5',
      '--tamper-file',
      tamperFile(i),
    ]);
    agents.push(a);
    await a.waitLine(/serving Modbus TCP/);
  }
  core.start();
  // Each module introduces its identity; a maintenance user approves it after comparing fingerprints.
  for (let i = 0; i < IDS.length; i++) {
    const identity = readIdentity(stateDir(i))!;
    const answer = await requestPairing(endpoint(IDS[i]!), { model: 'im250', now: Date.now() }, identity.keys);
    expect(answer).toEqual({ state: 'pending', fingerprint: identity.fingerprint });
    expect(view(IDS[i]!)).toMatchObject({ pairing: 'pending', fingerprint: identity.fingerprint, health: 'unknown' });
    await sys.manager.pair(MAINT, { moduleId: IDS[i]!, approve: true });
  }
  await until('a heartbeat from every module', () => IDS.every((id) => view(id).lastHeartbeatAt !== null));
}, 60_000);

afterAll(async () => {
  await killAllAgents();
  await sys?.stop();
  await core?.stop();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('modules and firmware, end to end', () => {
  it('rolls a release out staged: each module downloads, reboots into it, commits, and reports the new version over Modbus', async () => {
    for (let i = 0; i < IDS.length; i++) expect(await readRevision(ports[i]!)).toBe('1.0.0');
    expect(view('mod-1')).toMatchObject({ pairing: 'paired', health: 'ok', version: '1.0.0', knownRelease: true });
    const rel = await sys.manager.importBundle(MAINT, {
      fileName: 'im250-1.1.0.pcfw',
      dataBase64: Buffer.from(
        bundleOf(
          makeRelease(
            { version: '1.1.0', securityCounter: 1, image: { params: { cycleTimeFactor: 1.1, scrapFactor: 1, controlGain: 1 } } },
            keys.slice(0, 2),
          ),
        ),
      ).toString('base64'),
    });
    for (let i = 0; i < IDS.length; i++) await idle(i);
    const ro = await sys.manager.approve(MAINT, { releaseId: rel.id, moduleIds: IDS });
    expect(ro.state).toBe('first-module');
    const done = await until(
      'rollout done',
      () => {
        const r = sys.manager.state(MAINT).rollouts.find((x) => x.id === ro.id)!;
        if (r.state === 'stopped') throw new Error(`rollout stopped: ${r.message}`);
        return r.state === 'done' && r;
      },
      90_000,
    );
    expect(done.message).toBe('3 module(s) run 1.1.0');
    for (let i = 0; i < IDS.length; i++) {
      expect(await readRevision(ports[i]!)).toBe('1.1.0');
      expect(view(IDS[i]!)).toMatchObject({
        version: '1.1.0',
        imageHash: rel.imageHash,
        knownRelease: true,
        update: { state: 'committed', version: '1.1.0' },
      });
      expect(view(IDS[i]!).history[0]).toMatchObject({ version: '1.1.0', outcome: 'committed' });
    }
    // Staged: each module started only after the one before it committed (and the first soaked).
    const steps = audit
      .filter((e) => e.kind === 'firmware_update' && e.detail?.module)
      .map((e) => `${String(e.detail?.module)}:${String(e.detail?.outcome)}`);
    expect(steps).toEqual(['mod-1:started', 'mod-1:committed', 'mod-2:started', 'mod-2:committed', 'mod-3:started', 'mod-3:committed']);
    // An expected reboot is no unexpected restart.
    expect(IDS.flatMap((id) => view(id).events.filter((e) => e.kind === 'unexpected-restart'))).toEqual([]);
  }, 120_000);

  it('a broken but signed release rolls back on the first module and stops the rollout; the second never starts', async () => {
    const rel = await sys.manager.importBundle(MAINT, {
      fileName: 'im250-1.2.0.pcfw',
      dataBase64: Buffer.from(
        bundleOf(makeRelease({ version: '1.2.0', securityCounter: 1, image: { selfTest: 'fail' } }, keys.slice(1, 3))),
      ).toString('base64'),
    });
    await idle(0);
    await idle(1);
    const ro = await sys.manager.approve(MAINT, { releaseId: rel.id, moduleIds: ['mod-1', 'mod-2'] });
    const stopped = await until(
      'rollout stopped',
      () => {
        const r = sys.manager.state(MAINT).rollouts.find((x) => x.id === ro.id)!;
        return r.state === 'stopped' && r;
      },
      60_000,
    );
    expect(stopped.message).toMatch(/module mod-1 rolled back: rolled back to 1\.1\.0: self_test_failed/);
    expect(view('mod-1').update).toMatchObject({ state: 'rolled-back', version: '1.2.0' });
    expect(view('mod-2').update).toMatchObject({ state: 'cancelled', version: '1.2.0' });
    // The rollback was reported by a heartbeat of the module serving 1.1.0 again.
    expect(await readRevision(ports[0]!)).toBe('1.1.0');
    expect(await readRevision(ports[1]!)).toBe('1.1.0');
    const steps = audit.filter((e) => e.kind === 'firmware_update' && e.detail?.rollout === ro.id && e.detail?.module);
    expect(steps.map((e) => `${String(e.detail?.module)}:${String(e.detail?.outcome)}`)).toEqual([
      'mod-1:started',
      'mod-1:rolled-back',
      'mod-2:cancelled',
    ]);
    await until('the rollback alarm on im-1', () => moduleAlarm('im-1', 'rollback'));
  }, 90_000);

  it('the tamper switch raises an alarm on the module’s machine, and closing it clears the alarm', async () => {
    writeFileSync(tamperFile(2), '');
    const raised = await until('tamper alarm', () => moduleAlarm('im-3', 'tamper'), 10_000);
    expect(raised).toMatchObject({ state: 'active-unacked', priority: 'high' });
    expect(view('mod-3')).toMatchObject({ tamper: true, health: 'alarm' });
    expect(audit.some((e) => e.kind === 'module_event' && e.detail?.event === 'tamper' && e.detail?.active === true)).toBe(true);
    unlinkSync(tamperFile(2));
    await until('tamper alarm cleared', () => moduleAlarm('im-3', 'tamper')?.state === 'cleared-unacked', 10_000);
  });

  it('a Modbus client besides the console is seen by the module and raised as foreign', async () => {
    // 127.0.0.2 is this host too, but not an address the console polls from.
    const sock: Socket = connect({ host: '127.0.0.1', port: ports[2]!, localAddress: '127.0.0.2' });
    try {
      const alarm = await until('foreign client alarm', () => moduleAlarm('im-3', 'foreign-modbus-client'), 10_000);
      expect(alarm.message).toMatch(/127\.0\.0\.2:\d+ connected besides the console/);
    } finally {
      sock.destroy();
    }
  });

  it('a heartbeat signed by a wrong key is refused and raises an alarm', async () => {
    const body: HeartbeatBody = {
      kind: 'plant-console/module-heartbeat/v1',
      module: 'mod-2',
      model: 'im250',
      boot: 999,
      seq: 1,
      time: Date.now(),
      uptimeS: 1,
      firmware: { version: '1.1.0', blake2b512: 'a'.repeat(128), slot: 'a', state: 'committed', trialBoot: 0 },
      rollbacks: [],
      tamper: { open: false, since: null },
      resources: { rssBytes: 1, heapUsedBytes: 1, cpuPercent: 0 },
      modbusClients: [],
      update: { state: 'idle', version: null, received: 0, total: 0, error: null },
    };
    await expect(
      exchangeJson(endpoint('mod-2'), HEARTBEAT_PATH, { method: 'POST', body: signHeartbeat(body, signingKeyPair()), timeoutMs: 5000 }),
    ).rejects.toThrow(/HTTP 403.*wrong_key/);
    const alarm = await until('wrong key alarm', () => moduleAlarm('im-2', 'bad-heartbeat-signature'), 5_000);
    expect(alarm.priority).toBe('critical');
    // The module's own heartbeats still count, and it still runs what it ran.
    const before = view('mod-2').lastHeartbeatAt!;
    await until('another heartbeat of mod-2', () => view('mod-2').lastHeartbeatAt! > before, 5_000);
    expect(view('mod-2').version).toBe('1.1.0');
    expect(sys.channel.stats().refused.wrong_key).toBeGreaterThanOrEqual(1);
  });
});
