/**
 * The recommendation loop end to end against a real mosquitto (TLS, passwords, ACL) and a real
 * device agent: the supplier seals a recommendation with the shared protocol code and publishes
 * it on the plant's downlink → the plant's intake accepts it → maintenance applies it through
 * ConsoleApi → the agent's registers hold the new setpoints (read back by a Modbus client of
 * our own) → the outcome is measured over a 10 s window → the sealed decision, result and
 * outcome reports reach a cloud-side subscriber and open there. A forged recommendation lands
 * in the refused list only (and its refusal is reported too).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import ModbusRTU from 'modbus-serial';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../device-agent/agent';
import { ConsoleApi } from '../../src-main/api/service';
import { AuditLog } from '../../src-main/audit/log';
import { resolveConfig } from '../../src-main/config/load';
import { silentLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import {
  boxKeyPair,
  machinePseudonym,
  openRecoReport,
  plantPseudonym,
  plantTopics,
  randomBytes,
  sealRecommendation,
  signingKeyPair,
  type RecoReportBody,
  type RecommendationBody,
} from '../../src-main/protocol';
import { blake2b } from '../../src-main/protocol/sodium';
import { createRecoSystem, type RecoSystem } from '../../src-main/recommendations';
import { openPlantStore, type PlantStore } from '../../src-main/store/open';
import { createSqlWriteLog } from '../../src-main/store/write-log-sql';
import { makeProvisioning, writeProvisioning } from '../../src-main/uplink/provisioning';
import { UplinkService } from '../../src-main/uplink/service';
import { COMMANDS, type Caller, type RecoInbox, type Recommendation } from '../../src-preload/contract';
import { brokerAvailable, disposeBroker, startBroker, type Broker, type BrokerUser } from '../helpers/mosquitto';
import { waitUntil } from '../helpers/uplink-cloud';
import { describeNeeding } from '../helpers/needs-package';
import { LOCAL_OPERATOR } from '../helpers/callers';

const dir = mkdtempSync(join(tmpdir(), 'pc-reco-loop-'));
const PLANT_ID = 'werk-nord-reco-loop';
const pseudonymKey = randomBytes(32);
const plant = plantPseudonym(pseudonymKey, PLANT_ID);
const machine = machinePseudonym(pseudonymKey, 'im-1');
const topics = plantTopics(plant);
const cloudKey = boxKeyPair();
const supplier = signingKeyPair();
const pw = () => randomBytes(12).toString('hex');
const PLANT_USER: BrokerUser = {
  username: 'plant',
  password: pw(),
  acl: [`topic write ${topics.publishPrefix}#`, `topic write ${topics.state}`, `topic read ${topics.down}`],
};
const CLOUD_USER: BrokerUser = { username: 'cloud', password: pw(), acl: ['topic read pc/v1/+/up/#', 'topic write pc/v1/+/down'] };
const MAINT: Caller = { user: 'anna', role: 'maintenance', origin: 'local' };
const OPERATOR: Caller = { user: 'otto', role: 'operator', origin: 'local' };

let broker: Broker | undefined;
let agent: Agent;
let store: PlantStore;
let audit: AuditLog;
let core: PlantCore;
let uplink: UplinkService;
let reco: RecoSystem;
let api: ConsoleApi;
let cloud: MqttClient;
let modbus: ModbusRTU;
let runningSince = 0;
/** Every report the cloud received, opened. */
const reports: RecoReportBody[] = [];
const unopened: string[] = [];
let updates = 0;

async function call<T>(caller: Caller, name: 'reco.list' | 'reco.apply', request: unknown): Promise<T> {
  const r = await api.handle(caller, name, request);
  if (!r.ok) throw new Error(`${name}: ${r.error.code} ${r.error.message}`);
  return COMMANDS[name].response.parse(r.value) as T;
}

function seal(b: Partial<RecommendationBody> & { id: string }): string {
  const now = Date.now();
  const body: RecommendationBody = {
    v: 1,
    plant,
    machine,
    issuedAt: now - 1000,
    validUntil: now + 3_600_000,
    changes: [
      { point: 'zone1-sp', expected: 215, proposed: 218 },
      { point: 'zone2-sp', expected: 220, proposed: 222.5 },
    ],
    rationale: 'Cycle time above ideal while the barrel runs below its setpoints',
    expect: { kpi: 'cycleTime', change: -0.04 },
    windowS: 10,
    guards: [{ kpi: 'scrapRate', direction: 'rise', by: 0.05 }],
    autoRevert: false,
    ...b,
  };
  return sealRecommendation(body, {
    supplier,
    plantBox: { kid: store.identity.encryption.kid, publicKey: store.identity.encryption.publicKey },
  });
}

describeNeeding(['mosquitto', 'openssl'], brokerAvailable(), 'recommendation loop against mosquitto and a device agent', () => {
  beforeAll(async () => {
    broker = await startBroker([PLANT_USER, CLOUD_USER]);
    const caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, broker.ca);
    const provisioning = join(dir, 'provisioning.json');
    writeProvisioning(
      provisioning,
      makeProvisioning({
        plantId: PLANT_ID,
        pseudonymKey,
        cloudPublicKeys: [cloudKey.publicKey],
        supplierPublicKeys: [supplier.publicKey],
      }),
    );
    agent = await startAgent({ port: 0, model: 'im250', seed: 11 });
    // Held running: the interlock-free zone setpoints may change, and the outcome windows see a running machine.
    agent.simulator.forceState('running');
    const config = resolveConfig(
      {
        plant: { name: 'Werk Nord' },
        writes: { enabled: true },
        devices: [
          {
            id: 'im-1',
            name: 'Moulding 1',
            profile: 'builtin:im250',
            transport: { type: 'tcp', host: '127.0.0.1', port: agent.port },
            pollIntervalMs: 100,
          },
        ],
        uplink: {
          broker: `mqtts://127.0.0.1:${broker.port}`,
          tls: { ca: caFile, servername: 'localhost' },
          username: PLANT_USER.username,
          passwordEnv: 'RECO_LOOP_PASSWORD',
          provisioning,
          batchIntervalMs: 250,
          keepaliveS: 5,
          backoff: { initialDelayMs: 200, maxDelayMs: 1000, randomisationFactor: 0.2 },
          // This test's cloud reads reports and sends no delivery acknowledgements: the broker's PUBACK decides.
          publish: { acknowledgement: 'broker' },
        },
      },
      join(dir, 'plant.json'),
    );
    store = await openPlantStore({
      dataDir: join(dir, 'store'),
      demo: false,
      passphrase: 'reco loop passphrase',
      env: {},
      prompt: null,
      argon2: { opslimit: 1, memlimit: 8192 },
      log: silentLogger,
      history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
    });
    audit = new AuditLog(store.db, store.identity, { log: silentLogger });
    core = new PlantCore({
      config,
      log: silentLogger,
      audit,
      history: store.history,
      writeLog: createSqlWriteLog(store.db, { log: silentLogger }),
    });
    uplink = new UplinkService({
      config: config.uplink!,
      configDir: dir,
      devices: config.devices,
      core,
      store,
      env: { RECO_LOOP_PASSWORD: PLANT_USER.password },
      log: silentLogger,
    });
    reco = createRecoSystem({
      core,
      db: store.db,
      identity: store.identity,
      uplink,
      autoRevertAllowed: false,
      audit,
      log: silentLogger,
      settleMs: 500,
    });
    api = new ConsoleApi(core, { uplink, reco: reco.service, audit });
    api.subscribe('reco.update', () => updates++, LOCAL_OPERATOR);

    cloud = mqtt.connect({
      protocol: 'mqtts',
      host: broker.host,
      port: broker.port,
      ca: broker.ca,
      servername: 'localhost',
      rejectUnauthorized: true,
      protocolVersion: 5,
      username: CLOUD_USER.username,
      password: CLOUD_USER.password,
      reconnectPeriod: 200,
    });
    cloud.on('message', (topic, payload) => {
      if (topic !== topics.reco) return;
      const r = openRecoReport(payload, {
        plantKeys: (kid) => (kid === store.identity.signing.kid ? store.identity.signing.publicKey : null),
        cloudBox: (kid) => (kid === cloudKey.kid ? cloudKey : null),
        plant,
      });
      if (r.ok) reports.push(r.body);
      else unopened.push(`${r.code}: ${r.message}`);
    });
    await new Promise<void>((resolve, reject) => {
      cloud.once('connect', () => resolve());
      cloud.once('error', reject);
    });
    await cloud.subscribeAsync(topics.reco, { qos: 1 });

    core.start();
    uplink.start();
    await reco.start();
    await waitUntil(
      () => uplink.status().state === 'online' && core.machineState('im-1') === 'running',
      15_000,
      'the uplink online and im-1 running',
    );
    runningSince = Date.now();
    modbus = new ModbusRTU();
    await modbus.connectTCP('127.0.0.1', { port: agent.port });
    modbus.setID(1);
    modbus.setTimeout(2000);
  }, 40_000);

  afterAll(async () => {
    modbus?.close(() => undefined);
    await cloud?.endAsync(true);
    reco?.stop();
    await core?.stop();
    await uplink?.stop();
    audit?.close();
    store?.close();
    await agent?.stop();
    await disposeBroker(broker);
    rmSync(dir, { recursive: true, force: true });
  });

  it('receives, applies with readback, measures over the window and reports sealed to the cloud', async () => {
    expect(agent.simulator.values()['zone1-sp']).toBeCloseTo(215, 5);
    await cloud.publishAsync(topics.down, seal({ id: 'loop-1' }), { qos: 1 });
    await waitUntil(() => reco.store.get('loop-1') !== undefined, 10_000, 'the recommendation in the inbox');
    const inbox = await call<RecoInbox>(OPERATOR, 'reco.list', {});
    expect(inbox.refused).toEqual([]);
    expect(inbox.items[0]).toMatchObject({
      id: 'loop-1',
      machineId: 'im-1',
      status: 'pending',
      machineState: 'running',
      interlock: { ok: true },
    });
    expect(inbox.items[0]!.changes.map((c) => [c.pointId, c.current, c.proposed])).toEqual([
      ['zone1-sp', 215, 218],
      ['zone2-sp', 220, 222.5],
    ]);
    expect(updates).toBeGreaterThanOrEqual(1);

    // Operators see the inbox; only maintenance decides.
    const refused = await api.handle(OPERATOR, 'reco.apply', { id: 'loop-1' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });

    // The before window needs 10 s of history of the running machine.
    await waitUntil(() => Date.now() - runningSince >= 11_000, 15_000, '11 s of history');
    const applied = await call<Recommendation>(MAINT, 'reco.apply', { id: 'loop-1' });
    expect(applied.status).toBe('applied');
    expect(applied.apply).toMatchObject({ ok: true, summary: 'All 2 changes written and read back' });
    expect(applied.outcome).toMatchObject({ state: 'measuring', windowS: 10 });

    // Read back independently, over a Modbus connection of our own: int16 × 0.1 °C.
    const regs = await modbus.readHoldingRegisters(100, 2);
    expect(regs.data).toEqual([2180, 2225]);

    await waitUntil(() => reco.store.get('loop-1')?.outcome?.state !== 'measuring', 20_000, 'the outcome after the 10 s window');
    const done = reco.store.get('loop-1')!;
    expect(done.status).toBe('applied');
    expect(done.outcome).toMatchObject({ state: 'done', revertProposed: false, autoReverted: false });
    expect(done.outcome!.expected).toMatchObject({ kpi: 'cycleTime' });
    expect(done.outcome!.expected!.before).toEqual(expect.any(Number));
    expect(done.outcome!.expected!.after).toEqual(expect.any(Number));
    expect(done.outcome!.expectMet).toEqual(expect.any(Boolean));

    await waitUntil(() => reports.filter((r) => r.recommendation === 'loop-1').length >= 3, 10_000, 'three reports at the cloud');
    expect(unopened).toEqual([]);
    const mine = reports.filter((r) => r.recommendation === 'loop-1');
    expect(mine.map((r) => r.kind)).toEqual(['decision', 'result', 'outcome']);
    expect(mine.every((r) => r.plant === plant && r.machine === machine)).toBe(true);
    expect(mine[0]!.decision).toEqual({ action: 'apply', role: 'maintenance', reason: null });
    expect(mine[1]!.result).toMatchObject({ ok: true, summary: 'All 2 changes written and read back' });
    expect(mine[2]!.outcome).toMatchObject({
      state: 'done',
      expected: {
        kpi: 'cycleTime',
        before: done.outcome!.expected!.before,
        after: done.outcome!.expected!.after,
        relative: done.outcome!.expected!.relative,
      },
      expectMet: done.outcome!.expectMet,
      revertProposed: false,
      autoReverted: false,
    });
    // Roles only, never a name.
    expect(JSON.stringify(mine)).not.toContain('anna');
    expect(
      audit
        .query({ kind: ['reco_received', 'reco_applied', 'reco_outcome'], limit: 10 })
        .map((r) => r.kind)
        .sort(),
    ).toEqual(['reco_applied', 'reco_outcome', 'reco_received']);
  }, 60_000);

  it('puts a forged recommendation in the refused list only, and reports the refusal', async () => {
    const doc = JSON.parse(seal({ id: 'loop-forged', changes: [{ point: 'zone1-sp', expected: 218, proposed: 222 }] })) as Record<
      string,
      string
    >;
    doc.ct = doc.ct!.startsWith('A') ? `B${doc.ct!.slice(1)}` : `A${doc.ct!.slice(1)}`;
    await cloud.publishAsync(topics.down, JSON.stringify(doc), { qos: 1 });
    await waitUntil(() => reco.store.refused().some((r) => r.ref === 'loop-forged'), 10_000, 'the refusal');
    const inbox = await call<RecoInbox>(MAINT, 'reco.list', {});
    expect(inbox.items.map((i) => i.id)).toEqual(['loop-1']);
    expect(inbox.refused).toEqual([
      expect.objectContaining({
        ref: 'loop-forged',
        code: 'bad_signature',
        message: `the signature does not verify with supplier key ${supplier.kid}`,
      }),
    ]);
    await waitUntil(() => reports.some((r) => r.recommendation === 'loop-forged'), 10_000, 'the refusal report at the cloud');
    expect(reports.find((r) => r.recommendation === 'loop-forged')).toMatchObject({
      kind: 'refused',
      machine: '',
      refusal: { code: 'bad_signature' },
    });
    expect((await modbus.readHoldingRegisters(100, 1)).data).toEqual([2180]);
  }, 30_000);

  it('refuses a genuine recommendation of 71 KB on the wire, and shows and reports an unreadable message', async () => {
    // Genuine and signed, but padded by the way to 71 KB: the limit counts the bytes as received.
    const text = seal({ id: 'loop-big', rationale: 'x'.repeat(2000) });
    const padded = text.replace('{', `{${' '.repeat(71_000 - text.length)}`);
    expect(Buffer.byteLength(padded)).toBe(71_000);
    await cloud.publishAsync(topics.down, padded, { qos: 1 });
    const garbage = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x00, 0x01, 0x02]);
    await cloud.publishAsync(topics.down, garbage, { qos: 1 });
    const unreadableRef = `msg-${blake2b(garbage, 32).toString('hex').slice(0, 16)}`;
    await waitUntil(
      () => reco.store.refused().some((r) => r.ref === 'loop-big') && reco.store.refused().some((r) => r.ref === unreadableRef),
      10_000,
      'both refusals',
    );
    const inbox = await call<RecoInbox>(MAINT, 'reco.list', {});
    expect(inbox.items.map((i) => i.id)).toEqual(['loop-1']);
    expect(inbox.refused).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          ref: 'loop-big',
          code: 'malformed',
          message: 'the message has 71000 bytes as received; a recommendation has at most 65536 (64 KiB)',
        }),
        expect.objectContaining({
          ref: unreadableRef,
          code: 'malformed',
          machineId: null,
          message: expect.stringMatching(/^the downlink message \(7 bytes\) could not be read: not a JSON object/),
        }),
      ]),
    );
    await waitUntil(
      () => reports.some((r) => r.recommendation === 'loop-big') && reports.some((r) => r.recommendation === unreadableRef),
      10_000,
      'both refusal reports at the cloud',
    );
    expect(reports.find((r) => r.recommendation === unreadableRef)).toMatchObject({
      kind: 'refused',
      machine: '',
      refusal: { code: 'malformed' },
    });
    expect(reports.find((r) => r.recommendation === 'loop-big')).toMatchObject({ kind: 'refused', refusal: { code: 'malformed' } });
    // A refusal, not a recommendation: the genuine id is not burnt by a copy nobody could check.
    expect(reco.store.seen('loop-big')).toBeUndefined();
  }, 30_000);
});
