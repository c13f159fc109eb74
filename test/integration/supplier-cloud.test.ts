/**
 * The reference supplier cloud against a real mosquitto (TLS, passwords, ACL): batches built
 * with the protocol library and published by a test plant are verified, decrypted and stored;
 * every refusal reason reaches the output by name; two receivers of one shared-subscription
 * group split the load and store each sequence once; gaps are reported; key rotation with a
 * grace period judged on the receiver's (injected) clock.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  REFUSAL_REASONS,
  REFUSAL_TEXT,
  announcePlantKeys,
  announcementJson,
  applyCloudKeyAnnouncement,
  applyPlantKeysAnnouncement,
  boxKeyPair,
  buildPlainBatch,
  buildStateMessage,
  canonicalJson,
  createKeyRing,
  machinePseudonym,
  parseAck,
  plantTopics,
  type Ack,
  sealBatch,
  signingKeyPair,
  type SigningKeyPair,
} from '../../src-main/protocol';
import { runSupplierCloudCli } from '../../supplier-cloud/cli';
import { resolveReceiverConfig, type ReceiverConfigInput } from '../../supplier-cloud/config';
import type { ReceiverEvent } from '../../supplier-cloud/events';
import { buildGapNotice } from '../../src-main/uplink/gap';
import { generateSupplierKeys, writePlantProvisioning } from '../../supplier-cloud/keygen';
import { KEY_FILES, readCloudKeyring, readSupplierSigner } from '../../supplier-cloud/keyfiles';
import { readProvisioning } from '../../supplier-cloud/provisioning';
import { startReceiver, type Receiver } from '../../supplier-cloud/receiver';
import { rotateCloudKey } from '../../supplier-cloud/rotate';
import { openCloudStore } from '../../supplier-cloud/store';
import { brokerAvailable, disposeBroker, startBroker, type Broker } from '../helpers/mosquitto';
import { resign } from '../helpers/uplink-fixture';
import { describeNeeding } from '../helpers/needs-package';

const T0 = 1_767_225_600_000;
const PASSWORD_ENV = 'SC_TEST_CLOUD_PASSWORD';
const cloudUser = { username: 'cloud', password: 'pw-c-' + Math.random().toString(36).slice(2) };
const plantUser = { username: 'plant-a', password: 'pw-a-' + Math.random().toString(36).slice(2) };
const env = { [PASSWORD_ENV]: cloudUser.password };

let tmp = '';
let keysDir = '';
let broker: Broker | undefined;
let A = '';
let machine = '';
let machine2 = '';
let plantKey: SigningKeyPair;
let cloudPublicKey: Buffer;
const clients: MqttClient[] = [];
const receivers: Receiver[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, pred: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function connectPlant(): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({
      protocol: 'mqtts',
      host: broker!.host,
      port: broker!.port,
      protocolVersion: 5,
      ca: broker!.ca,
      rejectUnauthorized: true,
      servername: 'localhost',
      reconnectPeriod: 0,
      username: plantUser.username,
      password: plantUser.password,
    });
    clients.push(c);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

function payloadFor(seq: number, plantId = 'plant-a', machineId = 'im250-sn-1') {
  const from = T0 + seq * 1000;
  return {
    v: 1 as const,
    plant: { id: plantId },
    machine: { id: machineId, model: 'im250' },
    points: {
      zone1: {
        unit: '°C',
        samples: [
          [from, 200 + seq],
          [from + 500, 201],
        ] as [number, number][],
      },
      good: { unit: 'pcs', samples: [[from + 999, seq]] as [number, number][] },
    },
  };
}

function sealed(seq: number, over: { cloud?: Uint8Array; signer?: SigningKeyPair; plantId?: string; m?: string } = {}): Buffer {
  const from = T0 + seq * 1000;
  return sealBatch({
    plant: A,
    machine: over.m ?? machine,
    seq: BigInt(seq),
    from,
    to: from + 999,
    payload: payloadFor(seq, over.plantId),
    signer: over.signer ?? plantKey,
    cloudPublicKey: over.cloud ?? cloudPublicKey,
  });
}

function plain(seq: number): string {
  const from = T0 + seq * 1000;
  return buildPlainBatch({
    plant: A,
    machine,
    seq: BigInt(seq),
    from,
    to: from + 999,
    points: { energy: { unit: 'kWh', samples: [[from, 1.5]] } },
    signer: plantKey,
  }).json;
}

function config(name: string, over: Partial<ReceiverConfigInput> = {}, clientId = `sc-test-${name}`): ReceiverConfigInput {
  return {
    broker: {
      url: `mqtts://127.0.0.1:${broker!.port}`,
      ca: join(broker!.dir, 'ca.crt'),
      username: cloudUser.username,
      passwordEnv: PASSWORD_ENV,
      servername: 'localhost',
      clientId,
    },
    cloudKeys: join(keysDir, KEY_FILES.cloudSecret),
    database: join(tmp, `${name}.db`),
    group: name,
    announcementWaitMs: 0,
    plants: [
      {
        provisioning: join(keysDir, KEY_FILES.provisioning),
        signingKeys: [{ publicKey: plantKey.publicKey.toString('base64'), keyId: plantKey.kid }],
      },
      { provisioning: join(tmp, 'plant-b.json'), keysShow: join(tmp, 'plant-b-keys.json') },
    ],
    ...over,
  };
}

function writeConfig(name: string, over: Partial<ReceiverConfigInput> = {}): string {
  const path = join(tmp, `${name}.json`);
  writeFileSync(path, JSON.stringify(config(name, over), null, 2));
  return path;
}

/** Runs `supplier-cloud receive` in-process until `stop()`; resolves once it is subscribed. */
async function cliReceiver(path: string, args: string[] = []) {
  let out = '';
  let err = '';
  let stop: () => void = () => {};
  const stopSignal = new Promise<void>((r) => (stop = r));
  const done = runSupplierCloudCli(['receive', '--config', path, ...args], {
    out: (s) => (out += s),
    err: (s) => (err += s),
    stopSignal,
    env,
  });
  await until('the receiver to subscribe', () => /receiver \S+ on mqtts/.test(err) || /supplier-cloud: (?!CONNECTION)/.test(err));
  expect(err).toMatch(/receiver \S+ on mqtts/);
  return { lines: () => out.split('\n').filter(Boolean), err: () => err, stop: async () => (stop(), done) };
}

async function receiver(name: string, over: Partial<ReceiverConfigInput> = {}, now?: () => number) {
  const events: ReceiverEvent[] = [];
  const r = await startReceiver(config(name, over), { env, name, onEvent: (e) => events.push(e), ...(now ? { now } : {}) });
  receivers.push(r);
  return { r, events };
}

const accepted = (events: ReceiverEvent[]) => events.filter((e): e is Extract<ReceiverEvent, { event: 'accept' }> => e.event === 'accept');

describeNeeding(['mosquitto', 'openssl'], brokerAvailable(), 'reference supplier cloud (real mosquitto)', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pc-supplier-cloud-'));
    keysDir = join(tmp, 'keys');
    generateSupplierKeys({ dir: keysDir, plantId: 'plant-a' });
    const prov = readProvisioning(join(keysDir, KEY_FILES.provisioning));
    A = prov.plant!.pseudonym;
    const pseudonymKey = Buffer.from(prov.plant!.pseudonymKey, 'hex');
    machine = machinePseudonym(pseudonymKey, 'im250-sn-1');
    machine2 = machinePseudonym(pseudonymKey, 'hp200-sn-2');
    plantKey = signingKeyPair();
    cloudPublicKey = readCloudKeyring(join(keysDir, KEY_FILES.cloudSecret)).entries[0]!.key.publicKey;
    writePlantProvisioning({ keysDir, out: join(tmp, 'plant-b.json'), plantId: 'plant-b' });
    const keyB = signingKeyPair();
    // What `plant-console keys show --json` prints for plant B.
    writeFileSync(
      join(tmp, 'plant-b-keys.json'),
      JSON.stringify({
        dataDir: '/x',
        demo: false,
        keys: [
          {
            use: 'signing',
            alg: 'ed25519',
            keyId: keyB.kid,
            fingerprint: '',
            publicKey: keyB.publicKey.toString('base64'),
            publicKeyHex: keyB.publicKey.toString('hex'),
            createdAt: '',
          },
        ],
      }),
    );
    broker = await startBroker([
      { ...cloudUser, acl: ['topic read pc/v1/+/up/#', 'topic read pc/v1/+/state', 'topic write pc/v1/+/down'] },
      { ...plantUser, acl: [`topic write pc/v1/${A}/up/#`, `topic write pc/v1/${A}/state`, `topic read pc/v1/${A}/down`] },
    ]);
  }, 30_000);

  afterAll(async () => {
    for (const r of receivers) await r.stop();
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
    await disposeBroker(broker);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('accepts and stores sealed and plain batches and the plant state, one JSON line each, and acknowledges them to the plant', async () => {
    const rx = await cliReceiver(writeConfig('accept'), ['--json']);
    const pub = await connectPlant();
    const acks: Ack[] = [];
    await pub.subscribeAsync(plantTopics(A).down, { qos: 1 });
    pub.on('message', (_t, payload) => {
      const r = parseAck(payload, A);
      if (r.ok) acks.push(r.ack);
    });
    await pub.publishAsync(plantTopics(A).sealed(machine), sealed(1), { qos: 1 });
    await pub.publishAsync(plantTopics(A).plain(machine), plain(2), { qos: 1 });
    await pub.publishAsync(plantTopics(A).state, buildStateMessage({ plant: A, state: 'online', session: T0, signer: plantKey }).json, {
      qos: 1,
    });
    await until('three lines', () => rx.lines().length >= 3);
    // What was stored is acknowledged on the plant's downlink (docs/uplink.md §18), the store's highest echoed.
    await until('the acknowledgements', () => acks.flatMap((a) => a.seqs).some(([, b]) => b === 2));
    expect(acks.flatMap((a) => a.seqs)).toEqual(expect.arrayContaining([expect.arrayContaining([2])]));
    expect(acks.at(-1)).toMatchObject({ type: 'ack', plant: A, high: 2 });
    expect(await rx.stop()).toBe(0);
    const lines = rx.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({
      event: 'accept',
      kind: 'sealed',
      plant: 'plant-a',
      plantPseudonym: A,
      machine: 'im250-sn-1',
      seq: 1,
      points: 2,
      samples: 3,
      late: false,
    });
    // The plain batch names only pseudonyms; the machine is known from the sealed batch before it.
    expect(lines[1]).toMatchObject({
      event: 'accept',
      kind: 'plain',
      plant: 'plant-a',
      machine: 'im250-sn-1',
      seq: 2,
      points: 1,
      samples: 1,
    });
    expect(lines[2]).toMatchObject({ event: 'state', plant: 'plant-a', state: 'online', session: T0 });
    // Nothing of the sealed payload but counts reaches the output.
    expect(rx.lines().join('\n')).not.toMatch(/zone1|°C/);

    const status = await statusOf('accept');
    const a = status.plants.find((p) => p.plantId === 'plant-a')!;
    expect(a).toMatchObject({ accepted: 2, firstSeq: 1, lastSeq: 2, missing: 0, state: { state: 'online', session: T0 } });
    const store = openCloudStore(join(tmp, 'accept.db'), { receiver: 'test' });
    expect(store.machineId(A, machine)).toBe('im250-sn-1');
    store.close();
  });

  it('names every refusal reason in its output line', async () => {
    const rx = await cliReceiver(writeConfig('refuse', { reorderWindow: 5, maxSequenceJump: 1000 }));
    const pub = await connectPlant();
    const up = plantTopics(A).sealed(machine);
    const send = (payload: Buffer | string, topic = up) => pub.publishAsync(topic, payload, { qos: 1 });
    const first = sealed(1);
    await send(first);

    const flipped = Buffer.from(sealed(2));
    flipped[300] = flipped[300]! ^ 1;
    await send(flipped); // bad signature
    await send(sealed(3, { cloud: boxKeyPair().publicKey })); // unknown (encryption) key id
    const edited = Buffer.from(sealed(4));
    edited.writeBigUInt64BE(5n, 40);
    await send(resign(edited, plantKey)); // header tampered (re-signed by the plant key)
    const garbled = Buffer.from(sealed(6));
    garbled[garbled.length - 70] = garbled[garbled.length - 70]! ^ 1;
    await send(resign(garbled, plantKey)); // ciphertext tampered
    await send(first); // duplicate sequence
    await send(sealed(20));
    await send(sealed(7)); // replay: below the reorder window of 5
    await send(sealed(21, { plantId: 'plant-b' })); // wrong plant: the payload names another plant
    const v2 = Buffer.from(sealed(22));
    v2[3] = 2;
    await send(v2); // unsupported version
    await send(Buffer.from('not an envelope')); // malformed
    await send('{"v":1,"plant":"x"}', plantTopics(A).plain(machine)); // malformed plain batch
    await send(sealed(5000)); // sequence jump: far beyond 20, the highest the plant used

    // Thirteen messages: two accepted, eleven refused, and the gap below seq 20 reported.
    await until('fourteen lines', () => rx.lines().length >= 14);
    expect(await rx.stop()).toBe(0);
    const out = rx.lines().join('\n');
    for (const reason of REFUSAL_REASONS) expect(out).toContain(`reason=${reason}: ${REFUSAL_TEXT[reason]}`);
    expect(out).toContain('REFUSE topic=' + up + ' reason=bad_signature: bad signature');
    expect(out).toMatch(/reason=unknown_key_id: unknown key id \(encryption key id [0-9a-f]{16} is not known\)/);
    expect(rx.lines().filter((l) => l.startsWith('ACCEPT'))).toHaveLength(2);

    const a = (await statusOf('refuse')).plants.find((p) => p.plantId === 'plant-a')!;
    expect(a.accepted).toBe(2);
    expect(a.refusals).toMatchObject({
      bad_signature: 1,
      unknown_key_id: 1,
      header_tampered: 1,
      ciphertext_tampered: 1,
      duplicate_sequence: 1,
      replay: 1,
      wrong_plant: 1,
      unsupported_version: 1,
      sequence_jump: 1,
    });
    // The operator's answer when the plant really skipped ahead: the next retry is accepted.
    let said = '';
    const io = { out: (t: string) => void (said += t), err: () => {}, env };
    expect(
      await runSupplierCloudCli(['accept-jump', '--config', writeConfig('refuse'), '--plant', 'plant-a', '--through', '5000'], io),
    ).toBe(0);
    expect(said).toMatch(/may continue up to sequence 5000/);
    const again = await cliReceiver(writeConfig('refuse', { reorderWindow: 5, maxSequenceJump: 1000 }));
    await send(sealed(5000));
    await until('the jump accepted', () => again.lines().some((l) => /ACCEPT .*seq=5000/.test(l)));
    await again.stop();
  });

  it('refuses to receive without a stable client id, saying why', async () => {
    const { broker: b, ...rest } = config('no-id');
    const { clientId: _none, ...noId } = b;
    await expect(startReceiver({ ...rest, broker: noId }, { env })).rejects.toThrow(/broker\.clientId is required.*persistent session/);
  });

  it('two receivers in one shared-subscription group split the load and store every sequence once', async () => {
    const one = await receiver('split', {}, undefined);
    const two = await startReceiver(config('split', {}, 'sc-test-split-2'), { env, name: 'split-2' });
    receivers.push(two);
    const pub = await connectPlant();
    const N = 60;
    const batches = Array.from({ length: N }, (_, i) => ({
      topic: plantTopics(A).sealed(i % 2 ? machine2 : machine),
      bytes: sealed(i + 1, { m: i % 2 ? machine2 : machine }),
    }));
    for (const b of batches) await pub.publishAsync(b.topic, b.bytes, { qos: 1 });
    const store = openCloudStore(join(tmp, 'split.db'), { receiver: 'test' });
    try {
      await until(`${N} stored batches`, () => store.batchCount(A) === N);
      const s1 = one.r.stats();
      const s2 = two.stats();
      expect(s1.accepted).toBeGreaterThan(0);
      expect(s2.accepted).toBeGreaterThan(0);
      expect(s1.accepted + s2.accepted).toBe(N);
      const status = store.status().plants.find((p) => p.plant === A)!;
      expect(status).toMatchObject({ accepted: N, firstSeq: 1, lastSeq: N, missing: 0 });

      // The plant sends everything again (a redelivery after a reconnect): both receivers see
      // duplicates, the store still holds each sequence once.
      for (const b of batches) await pub.publishAsync(b.topic, b.bytes, { qos: 1 });
      await until(
        'all duplicates refused',
        () => one.r.stats().refusals.duplicate_sequence + two.stats().refusals.duplicate_sequence === N,
      );
      expect(one.r.stats().refusals.duplicate_sequence).toBeGreaterThan(0);
      expect(two.stats().refusals.duplicate_sequence).toBeGreaterThan(0);
      expect(store.batchCount(A)).toBe(N);
      expect(one.r.stats().accepted + two.stats().accepted).toBe(N);
    } finally {
      store.close();
    }
    await one.r.stop();
    await two.stop();
  });

  it("reports a gap, accepts a late batch that fills it, and records the plant's gap notice", async () => {
    const { r, events } = await receiver('gaps');
    const pub = await connectPlant();
    const up = plantTopics(A).sealed(machine);
    for (const seq of [1, 2, 3, 6]) await pub.publishAsync(up, sealed(seq), { qos: 1 });
    await until('four batches', () => accepted(events).length === 4);
    expect(events.filter((e) => e.event === 'gap')).toEqual([
      expect.objectContaining({ event: 'gap', plant: 'plant-a', from: 4, to: 5, before: 6 }),
    ]);

    await pub.publishAsync(up, sealed(4), { qos: 1 });
    await until('the late batch', () => accepted(events).length === 5);
    expect(accepted(events)[4]).toMatchObject({ seq: 4, late: true });

    // The plant says sequence 5 is lost for good (its outbox was full); the notice takes seq 7.
    const notice = buildGapNotice({
      plant: A,
      seq: 7,
      issued: T0 + 10_000,
      report: {
        dropped: { batches: 1, seqs: [[5, 5]] },
        notRecorded: { sealed: 0, plain: 2, from: T0 + 8000, to: T0 + 9999 },
        totals: { dropped: 1, notRecorded: 2 },
      },
      signer: plantKey,
    });
    const forged = canonicalJson({ ...(JSON.parse(notice) as Record<string, unknown>), totals: { dropped: 0, notRecorded: 0 } });
    const gapTopic = `pc/v1/${A}/up/gap`;
    await pub.publishAsync(gapTopic, notice, { qos: 1 });
    await pub.publishAsync(gapTopic, forged, { qos: 1 });
    await pub.publishAsync(gapTopic, notice, { qos: 1 }); // redelivered
    await until('the gap notices', () => r.stats().refused === 2);
    expect(events.find((e) => e.event === 'gap-notice')).toMatchObject({
      plant: 'plant-a',
      seq: 7,
      dropped: { batches: 1, seqs: [[5, 5]] },
      notRecorded: { sealed: 0, plain: 2 },
      totals: { dropped: 1, notRecorded: 2 },
      repeated: false,
    });
    expect(r.stats().refusals).toMatchObject({ bad_signature: 1, duplicate_sequence: 1 });
    // The notice's own sequence is not a gap.
    expect(events.filter((e) => e.event === 'gap')).toHaveLength(1);

    let out = '';
    expect(await runSupplierCloudCli(['status', '--config', writeConfig('gaps')], { out: (s) => (out += s), err: () => {}, env })).toBe(0);
    expect(out).toContain('plant plant-a');
    expect(out).toContain('gaps      1 missing: 5 (declared lost by the plant)');
    expect(out).toContain('notices   1 gap notice(s); the plant reports 1 batch(es) dropped and 2 never recorded in all');
    expect(out).toContain('1 bad signature');
    await r.stop();
  });

  it('applies a plant key announcement and accepts batches signed by the new key', async () => {
    const { r, events } = await receiver('plant-keys');
    const pub = await connectPlant();
    const next = signingKeyPair();
    const ann = announcePlantKeys({
      plant: A,
      issued: T0,
      graceUntil: Date.now() + 60_000,
      oldSigner: plantKey,
      nextSigningPublicKey: next.publicKey,
    });
    await pub.publishAsync(plantTopics(A).keys, announcementJson(ann), { qos: 1 });
    await pub.publishAsync(plantTopics(A).sealed(machine), sealed(1, { signer: next }), { qos: 1 });
    await pub.publishAsync(plantTopics(A).sealed(machine), sealed(2), { qos: 1 });
    await until('two batches', () => accepted(events).length === 2);
    expect(events.find((e) => e.event === 'plant-keys')).toMatchObject({ plant: 'plant-a', current: next.kid, previous: plantKey.kid });
    expect(accepted(events).map((e) => e.signingKid)).toEqual([next.kid, plantKey.kid]);
    await r.stop();
  });

  it('holds a batch signed by a not-yet-announced key while another receiver applies the announcement', async () => {
    const { r, events } = await receiver('key-race', { announcementWaitMs: 1500 });
    const pub = await connectPlant();
    const next = signingKeyPair();
    await pub.publishAsync(plantTopics(A).sealed(machine), sealed(1, { signer: next }), { qos: 1 });
    await sleep(300);
    expect(accepted(events)).toHaveLength(0);
    // Another receiver of the group got the announcement: it lands in the shared store.
    const other = openCloudStore(join(tmp, 'key-race.db'), { receiver: 'other' });
    const ann = announcePlantKeys({
      plant: A,
      issued: T0,
      graceUntil: Date.now() + 60_000,
      oldSigner: plantKey,
      nextSigningPublicKey: next.publicKey,
    });
    other.updateSigningRing(A, () => {
      const applied = applyPlantKeysAnnouncement(createKeyRing(plantKey.kid, plantKey.publicKey), announcementJson(ann), {
        plant: A,
        now: Date.now(),
      });
      return applied.ok ? { ring: applied.ring } : null;
    });
    other.close();
    await until('the held batch', () => accepted(events).length === 1);
    expect(accepted(events)[0]).toMatchObject({ seq: 1, signingKid: next.kid });
    expect(r.stats().refused).toBe(0);
    await r.stop();
  });

  it("runs in-process against an MQTT 3.1.1 broker (the demo's aedes) without a shared subscription", async () => {
    const { Aedes } = await import('aedes');
    const aedes = await Aedes.createBroker();
    const server = createServer(aedes.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const events: ReceiverEvent[] = [];
    // A raw configuration object, relative paths anchored at baseDir, as the demo plant wires it.
    const raw = {
      ...config('aedes'),
      broker: { url: `mqtt://127.0.0.1:${port}`, insecurePlainTcp: true, protocolVersion: 4 as const, clientId: 'sc-test-aedes' },
      database: 'aedes.db',
      cloudKeys: join('keys', KEY_FILES.cloudSecret),
    };
    const r = await startReceiver(raw, { baseDir: tmp, name: 'demo', onEvent: (e) => events.push(e) });
    const pub = await mqtt.connectAsync({ host: '127.0.0.1', port, protocolVersion: 4, reconnectPeriod: 0 });
    try {
      await pub.publishAsync(plantTopics(A).sealed(machine), sealed(1), { qos: 1 });
      await until('the batch', () => accepted(events).length === 1);
      expect(accepted(events)[0]).toMatchObject({ plant: 'plant-a', seq: 1, receiver: 'demo' });
      expect(events[0]).toMatchObject({ event: 'connection', state: 'online', detail: expect.stringContaining('MQTT 3.1.1') });
    } finally {
      await pub.endAsync();
      await r.stop();
      await new Promise<void>((res) => aedes.close(() => res()));
      server.close();
    }
  });

  it('rotates the cloud key: announced retained and signed, new and old keys accepted until the grace ends', async () => {
    // A key directory of its own: rotation changes the files the other tests read.
    const rotDir = join(tmp, 'rot-keys');
    cpSync(keysDir, rotDir, { recursive: true });
    const oldKey = readCloudKeyring(join(rotDir, KEY_FILES.cloudSecret)).entries[0]!.key.publicKey;
    let clock = Date.now();
    const over = { cloudKeys: join(rotDir, KEY_FILES.cloudSecret) };
    const { r, events } = await receiver('rotation', over, () => clock);
    const pub = await connectPlant();
    const up = plantTopics(A).sealed(machine);
    await pub.publishAsync(up, sealed(1, { cloud: oldKey }), { qos: 1 });
    await until('the first batch', () => accepted(events).length === 1);

    const rotated = await rotateCloudKey({
      keysDir: rotDir,
      graceMs: 3_600_000,
      now: clock,
      publish: { config: resolveReceiverConfig(config('rotation', over), tmp, env), plantIds: ['plant-a'] },
    });
    expect(rotated.published).toEqual([{ plant: 'plant-a', pseudonym: A, topic: plantTopics(A).down }]);

    // A plant connecting afterwards still gets the announcement: it is retained, and it verifies
    // against the supplier key pinned in the provisioning file.
    const late = await connectPlant();
    const got = new Promise<{ text: string; retain: boolean }>((res) =>
      late.once('message', (_t, p, packet) => res({ text: p.toString(), retain: packet.retain })),
    );
    await late.subscribeAsync(plantTopics(A).down, { qos: 1 });
    const msg = await got;
    expect(msg.retain).toBe(true);
    const supplier = readSupplierSigner(join(rotDir, KEY_FILES.supplierSecret));
    const applied = applyCloudKeyAnnouncement(
      createKeyRing(readCloudKeyring(join(keysDir, KEY_FILES.cloudSecret)).current, oldKey),
      msg.text,
      {
        supplierKeys: new Map([[supplier.kid, { publicKey: supplier.publicKey }]]),
        now: clock,
      },
    );
    expect(applied.ok && applied.ring.current).toBe(rotated.kid);
    const newKey = readCloudKeyring(join(rotDir, KEY_FILES.cloudSecret)).entries.find((e) => e.kid === rotated.kid)!.key.publicKey;

    await pub.publishAsync(up, sealed(2, { cloud: newKey }), { qos: 1 }); // sealed to the new key
    await pub.publishAsync(up, sealed(3, { cloud: oldKey }), { qos: 1 }); // from the plant's backlog
    await until('both keys accepted', () => accepted(events).length === 3);
    expect(accepted(events).map((e) => e.encryptionKid)).toEqual([rotated.previous, rotated.kid, rotated.previous]);

    clock = rotated.graceUntil + 1;
    await pub.publishAsync(up, sealed(4, { cloud: oldKey }), { qos: 1 });
    await pub.publishAsync(up, sealed(5, { cloud: newKey }), { qos: 1 });
    await until('the batches after the grace', () => accepted(events).length === 4 && r.stats().refused === 1);
    const refusal = events.find((e) => e.event === 'refuse');
    expect(refusal).toMatchObject({ reason: 'unknown_key_id', seq: 4 });
    expect(refusal?.event === 'refuse' && refusal.detail).toMatch(/encryption key id [0-9a-f]{16} was retired/);
    expect(accepted(events)[3]).toMatchObject({ seq: 5, encryptionKid: rotated.kid });

    // The command line does the same with the real clock, and replaces the retained announcement.
    let out = '';
    const code = await runSupplierCloudCli(
      ['rotate-key', '--keys', rotDir, '--grace', '24h', '--config', writeConfig('rotation', over), '--plant', 'plant-a'],
      { out: (s) => (out += s), err: (s) => (out += s), env },
    );
    expect(code).toBe(0);
    expect(out).toMatch(/New cloud key [0-9a-f]{16} .* is current; [0-9a-f]{16} is accepted until/);
    expect(out).toContain(`published to plant plant-a on ${plantTopics(A).down} (retained)`);
    await r.stop();
  });
});

async function statusOf(name: string) {
  let out = '';
  const code = await runSupplierCloudCli(['status', '--db', join(tmp, `${name}.db`), '--json'], { out: (s) => (out += s), err: () => {} });
  expect(code).toBe(0);
  return JSON.parse(out) as {
    plants: {
      plantId: string;
      accepted: number;
      firstSeq: number;
      lastSeq: number;
      missing: number;
      refusals: Record<string, number>;
      state: unknown;
    }[];
  };
}
