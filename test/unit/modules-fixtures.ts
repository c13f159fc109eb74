/**
 * A module manager on an in-memory store and a plant core with hand-driven pollers, for the
 * unit tests of src-main/modules/: a supplier with three release keys (k = 2), modules with
 * their own Ed25519 identities that pair and send signed heartbeats straight to the channel's
 * handlers, an audit sink that keeps what it is given, and an uplink stand-in that seals health
 * events to a test cloud key so tests can open and read them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { signHeartbeat, type HeartbeatBody } from '../../device-agent/heartbeat';
import type { AuditEntry } from '../../src-main/audit/record';
import { resolveConfig } from '../../src-main/config/load';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import type { HealthQueue } from '../../src-main/modules/events';
import { openHealthEvent, type HealthEventBody } from '../../src-main/protocol/module-health';
import { ModuleManager } from '../../src-main/modules/manager';
import { signPairingRequest } from '../../src-main/modules/pairing';
import { pinRoot } from '../../src-main/modules/root';
import { ModuleStore } from '../../src-main/modules/store';
import type { ModulesConfig } from '../../src-main/modules/config';
import { boxKeyPair, keyId, signingKeyPair, type SigningKeyPair } from '../../src-main/protocol/keys';
import { machinePseudonym, plantPseudonym } from '../../src-main/protocol/pseudonym';
import { migrate } from '../../src-main/store/schema';
import type { Caller } from '../../src-preload/contract';
import { FakePoller } from '../helpers/fake-poller';
import { makeRoot, releaseKeys, writeFixtureFiles, type ReleaseKey } from '../helpers/firmware-fixtures';

export const MAINT: Caller = { user: 'maria', role: 'maintenance', origin: 'local' };
export const FACTORY_HASH = 'f'.repeat(128);

export interface World {
  clock: { t: number };
  core: PlantCore;
  pollers: Map<string, FakePoller>;
  manager: ModuleManager;
  store: ModuleStore;
  db: Database.Database;
  audit: AuditEntry[];
  health: HealthEventBody[];
  log: ReturnType<typeof memoryLogger>;
  keys: ReleaseKey[];
  rootFile: string;
  dir: string;
  modules: Map<string, { keys: SigningKeyPair; seq: number; boot: number }>;
  /** Pairs a module (request + approval); it sits on the machine the config assigns. */
  pair(moduleId: string): Promise<void>;
  /** The body of a healthy heartbeat of `moduleId` now, with `over` applied. */
  body(moduleId: string, over?: Partial<HeartbeatBody>): HeartbeatBody;
  /** Sends a heartbeat through the channel's handler; returns its answer. */
  beat(
    moduleId: string,
    over?: Partial<HeartbeatBody>,
    opts?: { keys?: SigningKeyPair; address?: string },
  ): { status: number; body: unknown };
  /** A new manager on the same store and core (a console restart); `manager` is then the new one. */
  restart(): void;
  close(): void;
}

/** A fresh world; `modules` overrides the modules config (assignments default: mod-1 → im-1, mod-2 → im-2). */
export function moduleWorld(over: Partial<ModulesConfig> = {}): World {
  const dir = mkdtempSync(join(tmpdir(), 'modules-unit-'));
  const keys = releaseKeys(3);
  const files = writeFixtureFiles(dir, makeRoot(keys, 2), {});
  const clock = { t: Date.now() };
  const config = resolveConfig(
    {
      plant: { name: 'Test plant', timezone: 'UTC' },
      writes: { enabled: true },
      devices: ['im-1', 'im-2', 'im-3'].map((id, i) => ({
        id,
        name: `Moulding ${i + 1}`,
        profile: 'builtin:im250',
        transport: { type: 'tcp', host: '127.0.0.1', port: 1502 + i },
      })),
      modules: {
        root: files.root,
        maintenanceWindow: 'always',
        soakS: 60,
        assignments: [
          { moduleId: 'mod-1', machineId: 'im-1' },
          { moduleId: 'mod-2', machineId: 'im-2' },
          { moduleId: 'mod-3', machineId: 'im-3' },
        ],
        ...over,
      },
    },
    join(dir, 'plant.json'),
  );
  const pollers = new Map<string, FakePoller>();
  const core = new PlantCore({
    config,
    clock: { now: () => clock.t },
    tickMs: 3_600_000,
    pollerFactory: (d) => {
      const p = new FakePoller(d, clock.t);
      pollers.set(d.id, p);
      return p;
    },
  });
  core.start();
  const db = new Database(':memory:');
  migrate(db);
  const audit: AuditEntry[] = [];
  const sink = { record: (e: AuditEntry) => void audit.push(e) };
  const log = memoryLogger();
  const store = new ModuleStore(db, log);
  const root = pinRoot({ store, file: files.root, audit: sink, log, now: clock.t });
  // The uplink stand-in: seals with a plant key to a cloud key, and the test opens what it got.
  const plantKey = signingKeyPair();
  const cloud = boxKeyPair();
  const pk = Buffer.alloc(32, 7);
  const plant = plantPseudonym(pk, 'plant-1');
  const health: HealthEventBody[] = [];
  const queue: HealthQueue = {
    plant: { pseudonym: plant },
    pseudonyms: () => new Map(config.devices.map((d) => [d.id, machinePseudonym(pk, d.id)])),
    queueReports(reports, within, kind) {
      if (kind !== 'health') throw new Error(`expected health reports, got ${kind}`);
      for (const r of reports) {
        const bytes = r.seal({ plant: plantKey, cloudBox: { kid: keyId(cloud.publicKey, 'x25519'), publicKey: cloud.publicKey } }, 1);
        const opened = openHealthEvent(bytes, {
          plantKeys: (kid) => (kid === plantKey.kid ? plantKey.publicKey : null),
          cloudBox: () => cloud,
          plant,
        });
        if (!opened.ok) throw new Error(`health event does not open: ${opened.message}`);
        health.push(opened.body);
      }
      within?.();
      return { seqs: reports.map((_, i) => i + 1), refused: 0 };
    },
  };
  const make = (): ModuleManager =>
    new ModuleManager({
      config: config.modules!,
      host: core,
      store: new ModuleStore(db, log),
      root,
      audit: sink,
      health: queue,
      log,
      consoleAddresses: new Set(['127.0.0.1']),
      timers: false,
    });
  const manager = make();
  manager.start();
  const modules = new Map<string, { keys: SigningKeyPair; seq: number; boot: number }>();
  const world: World = {
    clock,
    core,
    pollers,
    manager,
    store,
    db,
    audit,
    health,
    log,
    keys,
    rootFile: files.root,
    dir,
    modules,
    async pair(moduleId) {
      const m = { keys: signingKeyPair(), seq: 0, boot: 1 };
      modules.set(moduleId, m);
      const r = world.manager.handlers.pair(signPairingRequest({ module: moduleId, model: 'im250', time: clock.t }, m.keys), '127.0.0.1');
      if (r.status !== 200) throw new Error(`pairing refused: ${JSON.stringify(r.body)}`);
      await world.manager.pair(MAINT, { moduleId, approve: true });
    },
    body(moduleId, o = {}) {
      const m = modules.get(moduleId)!;
      return {
        kind: 'plant-console/module-heartbeat/v1',
        module: moduleId,
        model: 'im250',
        boot: m.boot,
        seq: ++m.seq,
        time: clock.t,
        uptimeS: 100 + m.seq,
        firmware: { version: '1.0.0', blake2b512: FACTORY_HASH, slot: null, state: 'factory', trialBoot: 0 },
        rollbacks: [],
        tamper: { open: false, since: null },
        resources: { rssBytes: 1000, heapUsedBytes: 500, cpuPercent: 1 },
        modbusClients: ['127.0.0.1:50000'],
        update: { state: 'idle', version: null, received: 0, total: 0, error: null },
        ...o,
      };
    },
    beat(moduleId, o = {}, opts = {}) {
      const m = modules.get(moduleId)!;
      const doc = signHeartbeat(world.body(moduleId, o), opts.keys ?? m.keys);
      return world.manager.handlers.heartbeat(moduleId, JSON.parse(JSON.stringify(doc)), opts.address ?? '127.0.0.1');
    },
    restart() {
      world.manager.close();
      world.manager = make();
      world.manager.start();
    },
    close() {
      world.manager.close();
      void core.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}
