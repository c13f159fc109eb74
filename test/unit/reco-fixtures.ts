/**
 * A plant for the recommendation tests: an IM-250 behind a device the test holds (writes go
 * through the codec into its registers, reads decode them), the plant core over it with a
 * hand-driven clock, an in-memory libsql store migrated like the real one, real keys, and the
 * inbox wired as createRecoSystem wires it, except that reports are kept in memory.
 */
import Database from 'libsql';
import { resolveConfig } from '../../src-main/config/load';
import type { PlantConfig, ResolvedDevice } from '../../src-main/config/schema';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import type { HistoryStore, ModbusWriteRequest, Poller, PollResult } from '../../src-main/core/types';
import { decode, encode } from '../../src-main/modbus/codec';
import { boxKeyPair, machinePseudonym, plantPseudonym, randomBytes, signingKeyPair } from '../../src-main/protocol';
import { openRecommendation, sealRecommendation, type RecommendationBody } from '../../src-main/protocol/recommendation';
import { plantBoxKeys } from '../../src-main/recommendations';
import { RecoService } from '../../src-main/recommendations/inbox';
import { RecoIntake } from '../../src-main/recommendations/intake';
import { memoryReporter } from '../../src-main/recommendations/reports';
import { RecoStore } from '../../src-main/recommendations/store';
import { migrate, type StoreDb } from '../../src-main/store/schema';
import { createSqlWriteLog } from '../../src-main/store/write-log-sql';
import type { AuditEntry } from '../../src-main/audit/record';
import type { Caller, Link, PointValue } from '../../src-preload/contract';

export const T0 = Date.UTC(2026, 2, 2, 8, 0);
export const TECH: Caller = { user: 'anna', role: 'maintenance', origin: 'local' };

type Value = number | boolean | string;

/** A device the test holds: registers behind the codec, hooks to make writes and reads misbehave. */
export class FakeDevice implements Poller {
  readonly values: Record<string, Value>;
  readonly writes: { pointId: string; value: Value }[] = [];
  /** Points whose writes the device acknowledges but does not take (readback mismatch). */
  readonly stuck = new Set<string>();
  /** Called before each write takes effect; may throw to fail it, or return a promise to hold it. */
  beforeWrite: ((pointId: string, n: number) => void | Promise<void>) | null = null;
  private readonly handlers = new Set<(r: PollResult) => void>();

  constructor(
    readonly device: ResolvedDevice,
    initial: Record<string, Value>,
  ) {
    this.values = { ...initial };
  }

  start(): void {}
  async stop(): Promise<void> {}
  onResult(h: (r: PollResult) => void): () => void {
    this.handlers.add(h);
    return () => void this.handlers.delete(h);
  }
  link(): Link {
    return { state: 'online', since: T0, lastOkAt: T0, lastError: null, consecutiveFailures: 0, pollsOk: 1, pollsFailed: 0, lastPollMs: 2 };
  }

  private point(id: string) {
    return this.device.profileDef.points.find((x) => x.id === id)!;
  }

  async readPoint(pointId: string): Promise<PointValue> {
    await Promise.resolve();
    const p = this.point(pointId);
    const raw = encode(p, this.values[pointId] ?? 0);
    return { value: decode(p, raw), raw, quality: 'good', ts: T0, reason: null };
  }

  async write(req: ModbusWriteRequest): Promise<void> {
    const p = this.device.profileDef.points.find(
      (x) => x.address === req.address && x.function === (req.function === 'coil' ? 'coil' : 'holding'),
    )!;
    const value = decode(p, req.values);
    this.writes.push({ pointId: p.id, value });
    await this.beforeWrite?.(p.id, this.writes.length);
    if (!this.stuck.has(p.id)) this.values[p.id] = value;
  }

  /** A poll result at `ts` with every value good (`over` changes values first). */
  emit(ts: number, over: Record<string, Value> = {}): void {
    Object.assign(this.values, over);
    const values: Record<string, PointValue> = {};
    for (const p of this.device.profileDef.points) {
      const v = this.values[p.id] ?? (p.type === 'string' ? 'X' : p.type === 'bool' ? false : 0);
      values[p.id] = { value: v, raw: [], quality: 'good', ts, reason: null };
    }
    for (const h of this.handlers) h({ deviceId: this.device.id, ts, values, link: this.link() });
  }
}

export const INITIAL: Record<string, Value> = {
  state: 1,
  good: 500,
  scrap: 20,
  cycle: 18.5,
  zone1: 211.8,
  zone2: 214.9,
  'zone1-sp': 212,
  'zone2-sp': 215,
  'hold-sp': 600,
};

export function plantConfig(autoRevert = false): PlantConfig {
  return resolveConfig(
    {
      plant: { name: 'Werk Reco', timezone: 'UTC' },
      writes: { enabled: true },
      recommendations: { autoRevert },
      devices: [
        {
          id: 'im-1',
          name: 'Moulding 1',
          profile: 'builtin:im250',
          transport: { type: 'tcp', host: '127.0.0.1', port: 1502 },
          pollIntervalMs: 1000,
        },
        {
          id: 'im-2',
          name: 'Moulding 2',
          profile: 'builtin:im250',
          transport: { type: 'tcp', host: '127.0.0.1', port: 1503 },
          pollIntervalMs: 1000,
        },
      ],
    },
    'reco-test.json',
  );
}

/** Keys and pseudonyms of one plant and its supplier. */
export function makeKeys() {
  const pseudonymKey = randomBytes(32);
  return {
    supplier: signingKeyPair(),
    plantBox: boxKeyPair(),
    pseudonymKey,
    plant: plantPseudonym(pseudonymKey, 'werk-reco'),
    machine: (id: string) => machinePseudonym(pseudonymKey, id),
  };
}
export type RecoKeys = ReturnType<typeof makeKeys>;

/** A valid body for im-1: zone 1 212 → 214 and zone 2 215 → 218, cycle time −4 %, scrap guard. */
export function body(keys: RecoKeys, over: Partial<RecommendationBody> = {}): RecommendationBody {
  return {
    v: 1,
    id: 'reco-1',
    plant: keys.plant,
    machine: keys.machine('im-1'),
    issuedAt: T0 - 60_000,
    validUntil: T0 + 2 * 3_600_000,
    changes: [
      { point: 'zone1-sp', expected: 212, proposed: 214 },
      { point: 'zone2-sp', expected: 215, proposed: 218 },
    ],
    rationale: 'Cycle time above ideal while zone 2 runs below its setpoint',
    expect: { kpi: 'cycleTime', change: -0.04 },
    windowS: 600,
    guards: [{ kpi: 'scrapRate', direction: 'rise', by: 0.01 }],
    autoRevert: false,
    ...over,
  };
}

/** The downlink message of a body, sealed and signed as the supplier does, with its bytes. */
export function sealed(keys: RecoKeys, b: RecommendationBody, signer = keys.supplier): { doc: Record<string, unknown>; payload: Buffer } {
  const text = sealRecommendation(b, { supplier: signer, plantBox: { kid: keys.plantBox.kid, publicKey: keys.plantBox.publicKey } });
  return { doc: JSON.parse(text) as Record<string, unknown>, payload: Buffer.from(text) };
}

/** An in-memory store with every migration. */
export function memoryDb(): StoreDb {
  const db = new Database(':memory:');
  migrate(db, undefined, T0);
  return db;
}

/** The whole inbox over one plant core; `restart` builds a second core and inbox on the same store and device values. */
export function makePlant(
  opts: {
    autoRevert?: boolean;
    db?: StoreDb;
    keys?: RecoKeys;
    initial?: Record<string, Value>;
    settleMs?: number;
    history?: HistoryStore;
    t?: number;
  } = {},
) {
  const db = opts.db ?? memoryDb();
  const keys = opts.keys ?? makeKeys();
  const config = plantConfig(opts.autoRevert ?? false);
  const clock = {
    t: opts.t ?? T0,
    now() {
      return this.t;
    },
  };
  const log = memoryLogger();
  const audit: AuditEntry[] = [];
  const sink = { record: (e: AuditEntry) => void audit.push(e) };
  const devices = new Map<string, FakeDevice>();
  const core = new PlantCore({
    config,
    clock,
    log,
    audit: sink,
    ...(opts.history ? { history: opts.history } : {}),
    writeLog: createSqlWriteLog(db, { log, clock }),
    pollerFactory: (d) => {
      const dev = new FakeDevice(d, opts.initial ?? INITIAL);
      devices.set(d.id, dev);
      return dev;
    },
  });
  core.start();
  for (const d of devices.values()) d.emit(clock.t);
  const store = new RecoStore(db, log);
  const reporter = memoryReporter();
  let updates = 0;
  const service = new RecoService({
    host: core,
    store,
    reporter,
    audit: sink,
    log,
    autoRevertAllowed: config.recommendations?.autoRevert ?? false,
    settleMs: opts.settleMs ?? 0,
    recoveryWaitMs: 50,
  });
  service.onUpdate(() => updates++);
  const byPseudonym = new Map(config.devices.map((d) => [keys.machine(d.id), d.id]));
  const intake = new RecoIntake({
    store,
    devices: config.devices,
    plant: keys.plant,
    machineOf: (p) => byPseudonym.get(p),
    plantBox: plantBoxKeys(db, keys.plantBox),
    open: openRecommendation,
    reporter,
    audit: sink,
    clock,
    log,
    changed: () => service.notify(),
  });
  const supplierKeys = new Map([[keys.supplier.kid, { publicKey: keys.supplier.publicKey, notAfter: null }]]);
  /** Hands one sealed message to the intake as the downlink does. */
  const receive = (m: { doc: Record<string, unknown>; payload: Buffer }) => intake.handle(m.doc, { payload: m.payload, supplierKeys });
  return {
    db,
    keys,
    config,
    clock,
    log,
    audit,
    core,
    store,
    reporter,
    service,
    intake,
    receive,
    dev: devices.get('im-1')!,
    devices,
    updates: () => updates,
  };
}
export type RecoPlant = ReturnType<typeof makePlant>;
