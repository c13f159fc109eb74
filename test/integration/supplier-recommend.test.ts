/**
 * Recommendations through the reference supplier cloud against real brokers: `supplier-cloud
 * recommend` signs, seals and publishes one that a plant (a test client with the plant's keys and
 * ACL on a real mosquitto) opens; the plant's sealed reports reach `receive` and `reports`; the
 * `--propose` rule sends one from sealed data; every bad argument is refused by name; and the
 * SIMULATED demo's in-process cloud (its aedes broker) proposes from sealed data, takes
 * `recommend --demo-data-dir`, and exposes the reports it receives.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src-main/core/log';
import {
  boxKeyPair,
  fingerprint,
  machinePseudonym,
  openRecommendation,
  parseRecommendationText,
  plantTopics,
  sealBatch,
  sealRecoReport,
  signingKeyPair,
  type BoxKeyPair,
  type RecoReportBody,
  type RecommendationBody,
  type SigningKeyPair,
} from '../../src-main/protocol';
import { startDemoUplink, type DemoUplink } from '../../src-main/uplink/demo-uplink';
import { runSupplierCloudCli } from '../../supplier-cloud/cli';
import { generateSupplierKeys } from '../../supplier-cloud/keygen';
import { KEY_FILES } from '../../supplier-cloud/keyfiles';
import { readProvisioning, type Provisioning } from '../../supplier-cloud/provisioning';
import { brokerAvailable, disposeBroker, startBroker, type Broker } from '../helpers/mosquitto';
import { describeNeeding } from '../helpers/needs-package';

const PASSWORD_ENV = 'SC_RECO_TEST_PASSWORD';
const cloudUser = { username: 'cloud', password: 'pw-c-' + Math.random().toString(36).slice(2) };
const plantUser = { username: 'plant-a', password: 'pw-a-' + Math.random().toString(36).slice(2) };
const env = { [PASSWORD_ENV]: cloudUser.password };

async function until(what: string, pred: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What `plant-console keys show --json` prints for a plant with these keys. */
function keysShow(sign: SigningKeyPair, box: BoxKeyPair): string {
  const key = (use: string, alg: 'ed25519' | 'x25519', k: SigningKeyPair | BoxKeyPair) => ({
    use,
    alg,
    keyId: k.kid,
    fingerprint: fingerprint(k.publicKey, alg),
    publicKey: k.publicKey.toString('base64'),
    publicKeyHex: k.publicKey.toString('hex'),
    createdAt: '',
  });
  return JSON.stringify({ dataDir: '/x', demo: false, keys: [key('signing', 'ed25519', sign), key('encryption', 'x25519', box)] });
}

/** A test plant: its keys, a connection with the plant's credentials, and what arrives on its downlink (but the receivers' delivery acknowledgements). */
class TestPlant {
  readonly down: string[] = [];
  client: MqttClient | null = null;
  constructor(
    readonly prov: Provisioning,
    readonly sign: SigningKeyPair,
    readonly box: BoxKeyPair,
  ) {}
  get pseudonym(): string {
    return this.prov.plant!.pseudonym;
  }
  machine(id: string): string {
    return machinePseudonym(Buffer.from(this.prov.plant!.pseudonymKey, 'hex'), id);
  }
  async connect(opts: IClientOptions): Promise<void> {
    const c = mqtt.connect({ reconnectPeriod: 0, rejectUnauthorized: true, servername: 'localhost', ...opts });
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    c.on('message', (_t, payload) => {
      const text = payload.toString('utf8');
      if (!text.includes('"type":"ack"')) this.down.push(text);
    });
    await c.subscribeAsync(plantTopics(this.pseudonym).down, { qos: 1 });
    this.client = c;
  }
  open(text: string, now = Date.now()) {
    const supplier = this.prov.supplier.keys[0]!;
    return openRecommendation(parseRecommendationText(text)!, {
      supplierKeys: new Map([[supplier.kid, { publicKey: Buffer.from(supplier.publicKey, 'hex'), notAfter: null }]]),
      plantBox: (kid) => (kid === this.box.kid ? this.box : null),
      plant: this.pseudonym,
      now,
    });
  }
  /** Publishes a sealed batch of an IM-250 (`values` per point, 5 samples a second apart ending now). */
  async batch(seq: number, machineId: string, values: Record<string, number>, at = Date.now()): Promise<void> {
    const from = at - 4000;
    const points = Object.fromEntries(
      Object.entries(values).map(([id, v]) => [
        id,
        { unit: id.startsWith('zone') ? '°C' : 's', samples: [0, 1, 2, 3, 4].map((i) => [from + i * 1000, v] as [number, number]) },
      ]),
    );
    const cloud = this.prov.cloud.keys.find((k) => k.kid === this.prov.cloud.current)!;
    const bytes = sealBatch({
      plant: this.pseudonym,
      machine: this.machine(machineId),
      seq: BigInt(seq),
      from,
      to: at,
      payload: { v: 1, plant: { id: this.prov.plant!.id }, machine: { id: machineId, model: 'im250' }, points },
      signer: this.sign,
      cloudPublicKey: Buffer.from(cloud.publicKey, 'hex'),
    });
    await this.client!.publishAsync(plantTopics(this.pseudonym).sealed(this.machine(machineId)), bytes, { qos: 1 });
  }
  async report(body: Omit<RecoReportBody, 'v' | 'plant' | 'at'>, signer = this.sign): Promise<Uint8Array> {
    const cloud = this.prov.cloud.keys.find((k) => k.kid === this.prov.cloud.current)!;
    const bytes = sealRecoReport({ v: 1, plant: this.pseudonym, at: Date.now(), ...body } as RecoReportBody, {
      plant: signer,
      cloudBox: { kid: cloud.kid, publicKey: Buffer.from(cloud.publicKey, 'hex') },
    });
    await this.client!.publishAsync(plantTopics(this.pseudonym).reco, Buffer.from(bytes), { qos: 1 });
    return bytes;
  }
  async close(): Promise<void> {
    await this.client?.endAsync(true);
  }
}

function cli(args: string[], extraEnv: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const done = runSupplierCloudCli(args, { out: (s) => (out += s), err: (s) => (err += s), env: { ...env, ...extraEnv } });
  return done.then((code) => ({ code, out, err }));
}

/** `supplier-cloud receive` in process until stopped. */
async function receiving(config: string, extra: string[] = []) {
  let out = '';
  let err = '';
  let stop: () => void = () => {};
  const stopSignal = new Promise<void>((r) => (stop = r));
  const done = runSupplierCloudCli(['receive', '--config', config, ...extra], {
    out: (s) => (out += s),
    err: (s) => (err += s),
    stopSignal,
    env,
  });
  await until('the receiver to subscribe', () => /receiver \S+ on mqtts/.test(err) || /supplier-cloud: (?!CONNECTION)/.test(err));
  expect(err).toMatch(/receiver \S+ on mqtts/);
  return { out: () => out, err: () => err, stop: async () => (stop(), done) };
}

describeNeeding(['mosquitto', 'openssl'], brokerAvailable(), 'supplier-cloud recommend and reports (real mosquitto)', () => {
  let tmp = '';
  let keysDir = '';
  let configPath = '';
  let broker: Broker | undefined;
  let plant: TestPlant;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pc-sc-reco-'));
    keysDir = join(tmp, 'keys');
    generateSupplierKeys({ dir: keysDir, plantId: 'plant-a' });
    const prov = readProvisioning(join(keysDir, KEY_FILES.provisioning));
    plant = new TestPlant(prov, signingKeyPair(), boxKeyPair());
    writeFileSync(join(tmp, 'plant-a-keys.json'), keysShow(plant.sign, plant.box));
    const A = plant.pseudonym;
    broker = await startBroker([
      { ...cloudUser, acl: ['topic read pc/v1/+/up/#', 'topic read pc/v1/+/state', 'topic write pc/v1/+/down'] },
      { ...plantUser, acl: [`topic write pc/v1/${A}/up/#`, `topic write pc/v1/${A}/state`, `topic read pc/v1/${A}/down`] },
    ]);
    configPath = join(tmp, 'cloud.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        broker: {
          url: `mqtts://127.0.0.1:${broker.port}`,
          ca: join(broker.dir, 'ca.crt'),
          username: cloudUser.username,
          passwordEnv: PASSWORD_ENV,
          servername: 'localhost',
          clientId: 'sc-reco-test',
        },
        cloudKeys: join(keysDir, KEY_FILES.cloudSecret),
        database: join(tmp, 'cloud.db'),
        group: 'reco-test',
        announcementWaitMs: 0,
        plants: [{ provisioning: join(keysDir, KEY_FILES.provisioning), keysShow: join(tmp, 'plant-a-keys.json') }],
      }),
    );
    await plant.connect({
      protocol: 'mqtts',
      host: '127.0.0.1',
      port: broker.port,
      ca: broker.ca,
      username: plantUser.username,
      password: plantUser.password,
      protocolVersion: 5,
    });
  }, 30_000);

  afterAll(async () => {
    await plant?.close();
    await disposeBroker(broker);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('recommend: filled from the received data, sealed to the plant, signed by the supplier; reports come back', async () => {
    const rx = await receiving(configPath);
    await plant.batch(1, 'im-1', { 'zone1-sp': 215, zone1: 214.9, cycle: 18.2 });
    await until('the batch', () => rx.out().includes('ACCEPT plant=plant-a machine=im-1 seq=1'));

    const r = await cli([
      'recommend',
      '--config',
      configPath,
      '--keys',
      keysDir,
      '--plant',
      'plant-a',
      '--machine',
      'im-1',
      '--set',
      'zone1-sp=218',
      '--why',
      'Zone 1 runs cold: raise it.',
      '--expect',
      'cycleTime:-4%',
      '--guard',
      'scrapRate:+1',
      '--guard',
      'cycleTime:+0.5',
      '--window',
      '2m',
      '--valid',
      '1h',
      '--id',
      'r-test-1',
    ]);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toContain(`Recommendation r-test-1 sent to plant plant-a (${plant.pseudonym}), machine im-1 (${plant.machine('im-1')}):`);
    expect(r.out).toContain('zone1-sp  215 → 218');
    expect(r.out).toContain('guard: scrapRate must not rise by more than 1 point(s)');
    expect(r.out).toContain(`sealed to plant key ${plant.box.kid}`);

    await until('the recommendation on the downlink', () => plant.down.length === 1);
    const opened = plant.open(plant.down[0]!);
    expect(opened.ok).toBe(true);
    const body = (opened as { body: RecommendationBody }).body;
    expect(body).toMatchObject({
      id: 'r-test-1',
      plant: plant.pseudonym,
      machine: plant.machine('im-1'),
      changes: [{ point: 'zone1-sp', expected: 215, proposed: 218 }],
      rationale: 'Zone 1 runs cold: raise it.',
      expect: { kpi: 'cycleTime', change: -0.04 },
      windowS: 120,
      guards: [
        { kpi: 'scrapRate', direction: 'rise', by: 0.01 },
        { kpi: 'cycleTime', direction: 'rise', by: 0.5 },
      ],
      autoRevert: false,
    });
    expect(body.validUntil - body.issuedAt).toBe(3_600_000);

    // The OLD:NEW form for a point the cloud has no value of, the machine named by its pseudonym.
    const r2 = await cli([
      'recommend',
      '--config',
      configPath,
      '--keys',
      keysDir,
      '--machine',
      plant.machine('im-1'),
      '--set',
      'hold-sp=600:650',
      '--why',
      'Holding pressure to its optimum.',
      '--json',
    ]);
    expect(r2.code).toBe(0);
    expect(r2.err).toBe(''); // 650 is within 300 … 900 and one step of 50
    const sent2 = JSON.parse(r2.out) as { id: string; body: RecommendationBody };
    expect(sent2.body.changes).toEqual([{ point: 'hold-sp', expected: 600, proposed: 650 }]);
    expect(sent2.body.expect).toEqual({ kpi: 'cycleTime', change: 0 });
    await until('the second recommendation', () => plant.down.length === 2);
    expect(plant.open(plant.down[1]!)).toMatchObject({ ok: true, body: { id: sent2.id } });

    // The plant reports back: decision, result, outcome; a redelivery is stored once; a forged one is refused.
    const m = plant.machine('im-1');
    await plant.report({
      seq: 2,
      machine: m,
      recommendation: 'r-test-1',
      kind: 'decision',
      decision: { action: 'apply', role: 'maintenance', reason: null },
    });
    const result = await plant.report({
      seq: 3,
      machine: m,
      recommendation: 'r-test-1',
      kind: 'result',
      result: {
        ok: true,
        summary: 'All 1 changes written and read back',
        steps: [{ point: 'zone1-sp', action: 'write', outcome: 'written', code: null }],
      },
    });
    await plant.client!.publishAsync(plantTopics(plant.pseudonym).reco, Buffer.from(result), { qos: 1 });
    await plant.report({
      seq: 4,
      machine: m,
      recommendation: 'r-test-1',
      kind: 'outcome',
      outcome: {
        state: 'done',
        expected: { kpi: 'cycleTime', before: 19.1, after: 18.5, relative: -0.0314 },
        expectMet: true,
        guards: [{ kpi: 'scrapRate', before: 0.02, after: 0.02, breached: false }],
        revertProposed: false,
        autoReverted: false,
      },
    });
    await plant.report(
      { machine: m, recommendation: 'r-test-1', seq: 5, kind: 'decision', decision: { action: 'reject', role: 'admin', reason: 'x' } },
      signingKeyPair(),
    );
    // The next batch takes the sequence after the reports (the forged one never held 5).
    await plant.batch(5, 'im-1', { 'zone1-sp': 218, zone1: 217.9, cycle: 18.1 });
    await until('five report lines', () => (rx.out().match(/RECO-REPORT|REFUSE/g) ?? []).length >= 5);
    await until('batch 5', () => rx.out().includes('ACCEPT plant=plant-a machine=im-1 seq=5'));
    const lines = rx.out().split('\n');
    expect(lines.filter((l) => l.startsWith('RECO-REPORT'))).toEqual([
      'RECO-REPORT plant=plant-a machine=im-1 recommendation=r-test-1 kind=decision: apply by maintenance',
      'RECO-REPORT plant=plant-a machine=im-1 recommendation=r-test-1 kind=result: applied: All 1 changes written and read back',
      'RECO-REPORT plant=plant-a machine=im-1 recommendation=r-test-1 kind=result: applied: All 1 changes written and read back (repeated)',
      'RECO-REPORT plant=plant-a machine=im-1 recommendation=r-test-1 kind=outcome: done: cycleTime 19.1 → 18.5 (-3.1 %), expectation met; guards held',
    ]);
    expect(lines.filter((l) => l.startsWith('REFUSE'))).toEqual([
      expect.stringMatching(
        /^REFUSE topic=pc\/v1\/\w+\/up\/reco reason=unknown_key_id: unknown key id \(recommendation report: signing key \w+ is not a key of plant/,
      ),
    ]);
    expect(await rx.stop()).toBe(0);
    // Batch 1, reports 2–4 and batch 5 hold the plant's sequence without a hole: no gap is counted.
    const status = await cli(['status', '--config', configPath]);
    expect(status.out).toContain('gaps      none');

    const listed = await cli(['reports', '--config', configPath]);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^r-test-1 {2}plant plant-a {2}machine im-1 {2}sent \S+ \(cli\), valid until/m);
    expect(listed.out).toContain('    zone1-sp 215 → 218');
    expect(listed.out).toMatch(
      / decision {2}apply by maintenance\n.* result {4}applied: All 1 changes written and read back\n.* outcome {3}done: cycleTime/,
    );
    expect(listed.out).toContain(`${sent2.id}  plant plant-a  machine im-1`);
    expect(listed.out).toContain('    no report yet');
    const json = JSON.parse((await cli(['reports', '--db', join(tmp, 'cloud.db'), '--plant', 'plant-a', '--json'])).out) as {
      recommendation: string;
      reports: { kind: string }[];
    }[];
    expect(json.map((h) => [h.recommendation, h.reports.map((x) => x.kind)])).toEqual([
      ['r-test-1', ['decision', 'result', 'outcome']],
      [sent2.id, []],
    ]);

    // The same id again: the plant would refuse it as replayed, so the cloud does not send it.
    const again = await cli([
      'recommend',
      '--config',
      configPath,
      '--keys',
      keysDir,
      '--machine',
      'im-1',
      '--set',
      'zone1-sp=216',
      '--why',
      'w',
      '--id',
      'r-test-1',
    ]);
    expect([again.code, again.err]).toEqual([2, expect.stringContaining('r-test-1 was already sent to plant plant-a') as string]);
  });

  it('refuses every bad argument by name, before connecting', async () => {
    const base = ['recommend', '--config', configPath, '--keys', keysDir, '--machine', 'im-1', '--why', 'because'];
    const cases: [string[], RegExp][] = [
      [base, /--set POINT=VALUE is required/],
      [[...base, '--set', 'zone1-sp'], /--set zone1-sp: write POINT=VALUE/],
      [[...base, '--set', 'zone 1=3'], /"zone 1" is not a point id/],
      [[...base, '--set', 'zone1-sp=abc'], /"abc" is not a number/],
      [[...base, '--set', 'zone1-sp=1:2:3'], /is not a number \(or OLD:NEW/],
      [[...base, '--set', 'a=1', '--set', 'a=2'], /names point a twice/],
      [[...base, ...Array.from({ length: 9 }, (_, i) => ['--set', `p${i}=1`]).flat()], /at most 8 changes/],
      [['recommend', '--config', configPath, '--keys', keysDir, '--machine', 'im-1', '--set', 'zone1-sp=218'], /--why TEXT is required/],
      [[...base, '--set', 'zone1-sp=218', '--expect', 'cycleTime:-4'], /--expect cycleTime:-4: write KPI:±N%/],
      [[...base, '--set', 'zone1-sp=218', '--expect', 'speed:-4%'], /"speed" is not a KPI; use one of cycleTime, scrapRate/],
      [[...base, '--set', 'zone1-sp=218', '--expect', 'oee:+150%'], /between -100% and \+100%/],
      [[...base, '--set', 'zone1-sp=218', '--guard', 'scrapRate:1'], /--guard scrapRate:1: write KPI:\+N/],
      [[...base, '--set', 'zone1-sp=218', '--guard', 'scrapRate:+0'], /N must be a number above 0/],
      [[...base, '--set', 'zone1-sp=218', '--guard', 'oee:-200'], /given in points/],
      [[...base, '--set', 'zone1-sp=218', ...Array.from({ length: 5 }, () => ['--guard', 'oee:-1']).flat()], /at most 4/],
      [[...base, '--set', 'zone1-sp=218', '--window', '5s'], /--window 5s: give whole seconds between 10s and 7d/],
      [[...base, '--set', 'zone1-sp=218', '--window', '1500ms'], /whole seconds/],
      [[...base, '--set', 'zone1-sp=218', '--valid', '2x'], /--valid 2x: not a duration/],
      [[...base, '--set', 'zone1-sp=218', '--valid', '31d'], /at most 30d/],
      [[...base, '--set', 'zone1-sp=218', '--id', 'a b'], /--id a b: use 1–64 characters/],
      [
        ['recommend', '--config', configPath, '--machine', 'im-1', '--why', 'w', '--set', 'zone1-sp=218'],
        /--keys DIR is required with --config/,
      ],
      [
        ['recommend', '--machine', 'im-1', '--why', 'w', '--set', 'zone1-sp=218'],
        /--config FILE \(with --keys DIR\) or --demo-data-dir DIR is required/,
      ],
      [[...base, '--set', 'zone1-sp=218', '--demo-data-dir', tmp], /either --demo-data-dir or --config, not both/],
      [
        ['recommend', '--demo-data-dir', tmp, '--machine', 'im-1', '--why', 'w', '--set', 'zone1-sp=218'],
        /is not a demo plant's data directory/,
      ],
      [[...base, '--set', 'zone1-sp=218', '--plant', 'plant-z'], /--plant plant-z: not in the registry \(known: plant-a/],
      [
        ['recommend', '--config', configPath, '--keys', keysDir, '--machine', 'im-9', '--why', 'w', '--set', 'zone1-sp=218'],
        /--machine im-9: no machine of plant plant-a .*\(seen: im-1\)/,
      ],
      [
        [...base, '--set', 'zone2-sp=220'],
        /No value of zone2-sp from machine im-1 has reached the cloud yet: give the current one, as --set zone2-sp=OLD:220/,
      ],
      [[...base, '--set', 'zone1-sp=218', '--bogus'], /unknown option "--bogus"/],
    ];
    const before = plant.down.length;
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect([args.slice(-2).join(' '), r.code, r.err]).toEqual([args.slice(-2).join(' '), 2, expect.stringMatching(message)]);
    }
    expect(plant.down.length).toBe(before);
    // Sent anyway, but the supplier is warned what the plant will refuse.
    const warned = await cli([...base, '--set', 'zone1-sp=260']);
    expect(warned.code).toBe(0);
    expect(warned.err).toContain('warning: the plant will refuse this: zone1-sp 260 is outside 180 … 240 °C');
    expect(warned.err).toContain('zone1-sp moves by more than its largest step 5');
  });

  it('receive --propose: the rule sends a recommendation from sealed data, once per machine', async () => {
    const rx = await receiving(configPath, ['--propose', '--keys', keysDir, '--propose-after', '0s']);
    const before = plant.down.length;
    // im-2: cycle 19.1 s against the ideal 18 s, zone 2 at 216 °C against 220 °C.
    for (let seq = 100; seq < 103; seq++)
      await plant.batch(seq, 'im-2', { cycle: 19.1, zone1: 215, 'zone1-sp': 215, zone2: 216, 'zone2-sp': 220 });
    await until('the proposal', () => plant.down.length > before && rx.out().includes('RECO-SENT'));
    await plant.batch(103, 'im-2', { cycle: 19.1, zone1: 215, 'zone1-sp': 215, zone2: 216, 'zone2-sp': 220 });
    await until('the last batch', () => rx.out().includes('seq=103'));
    expect(await rx.stop()).toBe(0);
    expect(rx.out()).toMatch(/^RECO-SENT plant=plant-a machine=im-2 recommendation=rule-\S+ zone2-sp 220 → 223 on pc\/v1\/\w+\/down$/m);
    expect(plant.down.length).toBe(before + 1);
    const opened = plant.open(plant.down.at(-1)!);
    expect(opened.ok && opened.body).toMatchObject({
      machine: plant.machine('im-2'),
      changes: [{ point: 'zone2-sp', expected: 220, proposed: 223 }],
      windowS: 1800,
    });
    expect(opened.ok && opened.body.rationale).toContain('Barrel zone 2 runs 4 °C below its setpoint');
  });
});

describe('the SIMULATED demo cloud (in process, aedes)', () => {
  let dataDir = '';
  let demo: DemoUplink | null = null;
  let plant: TestPlant;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pc-demo-reco-'));
    demo = await startDemoUplink({ dataDir, log: silentLogger, reco: { firstAfterMs: 0, cooldownMs: 3_600_000, rule: { windowS: 60 } } });
    if (!demo) throw new Error('the demo uplink did not start (openssl missing?)');
    const prov = readProvisioning(join(demo.dir, KEY_FILES.provisioning));
    plant = new TestPlant(prov, signingKeyPair(), boxKeyPair());
    // The store's keys as the demo registers them (plant-keys.json), then the cloud.
    const info = (use: 'signing' | 'encryption', alg: 'ed25519' | 'x25519', k: SigningKeyPair | BoxKeyPair) => ({
      use,
      alg,
      keyId: k.kid,
      fingerprint: fingerprint(k.publicKey, alg),
      publicKey: k.publicKey,
      createdAt: Date.now(),
    });
    demo.writePlantKeys(dataDir, [info('signing', 'ed25519', plant.sign), info('encryption', 'x25519', plant.box)]);
    expect(await demo.startCloud()).not.toBeNull();
    const b = JSON.parse(readFileSync(join(demo.dir, 'broker.json'), 'utf8')) as {
      url: string;
      plant: { username: string; password: string };
    };
    const url = new URL(b.url);
    await plant.connect({
      protocol: 'mqtts',
      host: url.hostname,
      port: Number(url.port),
      ca: readFileSync(join(demo.dir, 'ca.crt')),
      username: b.plant.username,
      password: b.plant.password,
      protocolVersion: 4,
    });
  }, 60_000);

  afterAll(async () => {
    await plant?.close();
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('proposes from the sealed data, takes recommend --demo-data-dir, and exposes the reports', async () => {
    for (let seq = 1; seq <= 3; seq++)
      await plant.batch(seq, 'im-1', { cycle: 19.08, zone1: 211, 'zone1-sp': 215, zone2: 219.8, 'zone2-sp': 220 });
    await until('the demo recommendation', () => plant.down.length === 1);
    const cloud = demo!.cloud()!;
    const opened = plant.open(plant.down[0]!);
    expect(opened.ok && opened.body).toMatchObject({
      machine: plant.machine('im-1'),
      changes: [{ point: 'zone1-sp', expected: 215, proposed: 218 }],
      windowS: 60,
      guards: [{ kpi: 'scrapRate', direction: 'rise', by: 0.02 }],
    });
    const id = opened.ok ? opened.body.id : '';
    expect(cloud.recommendations().map((r) => [r.id, r.origin])).toEqual([[id, 'rule']]);

    // At most one open per machine: more data proposes nothing more.
    await plant.batch(4, 'im-1', { cycle: 19.08, zone1: 211, 'zone1-sp': 215, zone2: 219.8, 'zone2-sp': 220 });
    // By hand, with the demo's keys and broker.
    const r = await cli([
      'recommend',
      '--demo-data-dir',
      dataDir,
      '--machine',
      'im-1',
      '--set',
      'zone2-sp=222',
      '--why',
      'By hand.',
      '--window',
      '1m',
    ]);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toContain(`Recommendation reco-`);
    expect(r.out).toContain('zone2-sp  220 → 222');
    await until('the hand-made recommendation', () => plant.down.length === 2);
    expect(plant.open(plant.down[1]!)).toMatchObject({
      ok: true,
      body: { changes: [{ point: 'zone2-sp', expected: 220, proposed: 222 }], windowS: 60 },
    });

    const m = plant.machine('im-1');
    await plant.report({
      seq: 5,
      machine: m,
      recommendation: id,
      kind: 'decision',
      decision: { action: 'apply', role: 'maintenance', reason: null },
    });
    await plant.report({
      seq: 6,
      machine: m,
      recommendation: id,
      kind: 'outcome',
      outcome: { state: 'no-data', expected: null, expectMet: null, guards: [], revertProposed: false, autoReverted: false },
    });
    await until('two reports', () => cloud.reports().length === 2);
    expect(cloud.reports().map((x) => [x.recommendation, x.kind, x.machine])).toEqual([
      [id, 'decision', m],
      [id, 'outcome', m],
    ]);
    const listed = await cli(['reports', '--demo-data-dir', dataDir]);
    expect(listed.out).toContain(`${id}  plant demo-plant  machine im-1`);
    expect(listed.out).toContain('apply by maintenance');
    expect(plant.down.length).toBe(2);

    // Signed by a key the plant never pinned (--keys with --demo-data-dir): it arrives, and is refused.
    const forger = join(dataDir, 'forger');
    generateSupplierKeys({ dir: forger });
    const forged = await cli([
      'recommend',
      '--demo-data-dir',
      dataDir,
      '--keys',
      forger,
      '--machine',
      'im-1',
      '--set',
      'zone2-sp=221',
      '--why',
      'Forged.',
    ]);
    expect([forged.code, forged.err]).toEqual([0, '']);
    await until('the forged recommendation', () => plant.down.length === 3);
    expect(plant.open(plant.down[2]!)).toMatchObject({ ok: false, code: 'unknown_key' });
  });
});
